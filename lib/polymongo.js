'use strict';
// PolyMongo.createWrapper and the wrapper it returns.

const { EventEmitter } = require('node:events');
const { NativeWrapper } = require('../native.js');
const { checkWrapperOptions, checkModelOptions, checkScaleArgs } = require('./options');
const { WrappedModel, isMongooseModel } = require('./model');

class PolyMongoWrapper extends EventEmitter {
  constructor(options) {
    super();
    checkWrapperOptions(options);
    this._native = new NativeWrapper(options);
    this._models = new WeakMap();
    // coldStart: false connects now (the shared pool, and dedicated pools so configured). A failure is
    // reported, and the first operation tries again.
    const report = (err) => this._report(err, { during: 'connect' });
    if (!this._native.coldStart) this._native.connect().catch(report);
    else if ((options.dbSpecific ?? []).some((spec) => spec.options?.coldStart === false)) this._native.openEagerPools().catch(report);
    /** PolyMongo's `scale`: give databases their own pools (optionally on another cluster). */
    this.scale = {
      /** Routes `names` to a pool of their own now; it opens on first use (or now with `coldStart: false`). */
      setDB: (names, options) => this._setDb(names, options, false),
      /** The same, opening the pools now. */
      connectDB: (names, options) => this._setDb(names, options, true),
    };
  }

  _setDb(names, options = {}, open) {
    const list = checkScaleArgs(names, options);
    const { mongoURI, ...pool } = options;
    return this._native.setDb(list.map((dbName) => ({ dbName, mongoURI, options: pool })), open);
  }

  /** The database used by `.db()` / `.db(null)`. */
  get defaultDB() {
    return this._native.defaultDb;
  }

  /** A Mongoose model's collection on this wrapper; `.db(name)` gives it in another database.
   *  Options: `autoIndex` (default: the schema's, on as in Mongoose) builds the schema's indexes
   *  before the first write to each database; `jsonSchema: true` also applies a `$jsonSchema`
   *  validator derived from the schema there. The first call for a model decides its options. */
  wrapModel(model, options) {
    if (!isMongooseModel(model)) {
      throw new TypeError('polymongo-rs: wrapModel() takes a Mongoose model (the result of mongoose.model(...))');
    }
    let wrapped = this._models.get(model);
    if (wrapped === undefined) {
      wrapped = new WrappedModel(this, model, checkModelOptions(options));
      this._models.set(model, wrapped);
    }
    return wrapped.defaultModel;
  }

  /** A background failure (an index build, a validator): an 'error' event when someone listens,
   *  and a process warning either way, never thrown into an unrelated operation. */
  _report(err, context) {
    Object.assign(err, context);
    const where = context.db === undefined ? '' : ` of ${context.db}.${context.collection}`;
    process.emitWarning(`polymongo-rs: ${context.during}${where} failed: ${err.message}`, 'PolyMongoWarning');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Opens the connection now (otherwise it opens on first use); reopens after `disconnect()`. */
  async connect() {
    const alreadyConnected = await this._native.connect();
    return { success: true, alreadyConnected, state: this.getConnectionState() };
  }

  /** Closes every connection; operations fail with code ERR_WRAPPER_CLOSED until `connect()`. */
  async disconnect() {
    await this._native.disconnect();
    return { success: true };
  }

  /** `{ ok: true, latency }` in ms, or `{ ok: false, latency: null, error }` when the server does not answer. */
  async ping(db) {
    try {
      return { ok: true, latency: await this._native.ping(db ?? null) };
    } catch (error) {
      if (error.code === 'ERR_INVALID_DB_NAME') throw error;
      return { ok: false, latency: null, error };
    }
  }

  isConnected() {
    return this._native.state() === 'connected';
  }

  /** 'not initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected' */
  getConnectionState() {
    return this._native.state();
  }
}

const PolyMongo = {
  createWrapper(options) {
    return new PolyMongoWrapper(options);
  },
};

module.exports = { PolyMongo, PolyMongoWrapper };

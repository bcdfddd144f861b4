'use strict';
// PolyMongo.createWrapper and the wrapper it returns.

const { EventEmitter } = require('node:events');
const { createRequire } = require('node:module');
const path = require('node:path');
const { NativeWrapper } = require('../../native.js');
const { checkWrapperOptions, checkModelOptions, checkScaleArgs, checkHookArgs, checkCloseOptions, checkDbNameType } = require('./options');
const { Tenancy, wrappedHandle, isMongooseModel, DEFAULT_TENANT_CACHE_SIZE } = require('./models');
const { logSettings } = require('./logging');
const { contextFor } = require('../driver/mongoose');
const { ours } = require('../driver/errors');
const { endedWith } = require('../driver/session');
const { streamsClosedWith } = require('../driver/change-stream');
const signals = require('./signals');
const { BulkTasks } = require('./bulk');
const { collector } = require('./metrics');
const { statusHandler } = require('./status');

/** The application's model behind what any wrapper's `wrapModel` returned (its handle) or made (a
 *  model's layer, which each database's class extends): so a model wrapped by one wrapper can be given
 *  to another, which wraps the application's model again. */
const WRAPPED_ROOTS = new WeakMap();

/** The data actions of `bulk` (a BulkTasks), under PolyMongo 1.3's names; see lib/wrapper/bulk.js. */
function dataActions(bulk) {
  return {
    exportDB: (db, options) => bulk.export(db, options),
    importDB: (db, data, options) => bulk.import(db, data, options),
    exportDBStream: (db, options) => bulk.exportStream(db, options),
    importDBStream: (db, source, options) => bulk.importStream(db, source, options),
    copyDatabase: (from, to, options) => bulk.copyDatabase(from, to, options),
    dropDatabase: (db, options) => bulk.dropDatabase(db, options),
  };
}

/** How long a graceful close waits for operations already started. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** PolyMongo's names for the events, as `on()` accepts them. */
const EVENT_ALIASES = Object.assign(Object.create(null), { onDbConnect: 'connect', onDbDisconnect: 'disconnect' });
/** The events the engine reports. */
const POOL_EVENTS = new Set(['connect', 'disconnect', 'reconnect']);

class PolyMongoWrapper extends EventEmitter {
  constructor(options) {
    super();
    checkWrapperOptions(options);
    // The log options become the engine's log settings and a sink; the rest go to the engine as they are.
    const { handleSignals = true, tenantCacheSize = DEFAULT_TENANT_CACHE_SIZE, debug, logPath, logger, logMaxBytes, logMaxFiles, ...engineOptions } = options;
    const log = logSettings(options);
    this._native = new NativeWrapper({ ...engineOptions, ...log.native }, log.sink);
    /** Per Mongoose instance, its wrapped models and their databases' connections. */
    this._tenancies = new WeakMap();
    this._tenantCacheSize = tenantCacheSize;
    /** Wrapped models: the application's model → `{ handle, options }` (the first call's, as JSON). */
    this._handles = new WeakMap();
    /** The models wrapped, in order: what `validate: true` checks imports against. */
    this._wrappedModels = new Set();
    this._handleSignals = handleSignals;
    this._inFlight = 0;
    /** The close under way, if any: operations are refused meanwhile. */
    this._closing = null;
    this._drained = null;
    this._native.onEvent((event) => this._dispatch(event));
    // Pool events cross from the engine only while someone listens for them.
    this.on('newListener', (event) => {
      if (POOL_EVENTS.has(EVENT_ALIASES[event] ?? event)) this._native.setEventsWanted(true);
    });
    this.on('removeListener', () => {
      this._native.setEventsWanted([...POOL_EVENTS].some((event) => this.listenerCount(event) > 0));
    });
    if (handleSignals) signals.watch(this);
    // coldStart: false connects now (the shared pool, and dedicated pools so configured). A failure is
    // reported, and the first operation tries again.
    const report = (err) => this._report(this._fromNative(err), { during: 'connect' });
    if (!this._native.coldStart) this._native.connect().catch(report);
    else if ((options.dbSpecific ?? []).some((spec) => spec.options?.coldStart === false)) this._native.openEagerPools().catch(report);
    /** PolyMongo's `scale`: give databases their own pools (optionally on another cluster). */
    this.scale = {
      /** Routes `names` to a pool of their own now; it opens on first use (or now with `coldStart: false`). */
      setDB: (names, options) => this._setDb(names, options, false),
      /** The same, opening the pools now. */
      connectDB: (names, options) => this._setDb(names, options, true),
    };
    /** PolyMongo 1.3's names for `scale`. */
    this.pool = { configure: this.scale.setDB, connect: this.scale.connectDB };
    /** What the wrapper knows about its pools and databases. */
    this.stats = {
      /** Every pool's connections (from the driver's own events) and every database's operations, now.
       *  Synchronous, no I/O. */
      general: () => generalStats(this._native.generalStats()),
      /** A database's size and collections (dbStats / $collStats, read-only) with its pool's numbers. */
      db: (dbName) => this._operation(async () => dbStats(await this._settle(this._native.dbStats(this._dbName(dbName))))),
      /** `[{ dbName, sizeInMB }]` for the main deployment. */
      listDatabases: () => this._operation(() => this._settle(this._native.listDatabases())),
      /** Pools and databases in the Prometheus text format (0.0.4), for a `/metrics` route. No I/O. */
      prometheus: () => this._native.prometheus(),
      /** Registers the same series in an application's prom-client registry; returns an unregister function. */
      collector: (register) => collector(this._native, register),
      /** A `(req, res)` handler (or web `Request` → `Response`) serving a live status page and its JSON. */
      handler: (options) => statusHandler(this.stats.general, options),
    };
    /** PolyMongo 1.3's access to the Mongoose side: the application's mongoose and its connections to
     *  each database, on this wrapper's engine (the connections wrapped models use). */
    this.adv = {
      /** The application's mongoose: the one `require('mongoose')` gives the application's main
       *  module (or, without one, a module in the working directory); else polymongo-rs's own. */
      get mongoose() {
        return appMongoose();
      },
      /** The default database's connection if a model or call has made it yet, else undefined. */
      getPrimaryConnection: () => this._tenancy(appMongoose()).cached(null),
      /** The default database's connection, made now if need be (no I/O). */
      getOrCreatePrimaryConnection: () => this._tenancy(appMongoose()).connection(null),
      /** Database `dbName`'s connection (the default database's when omitted); no I/O. Its pool is the
       *  one the engine routes the database to, shared or its own. */
      getConnection: (dbName) => this._tenancy(appMongoose()).connection(dbName ?? null),
      /** The same as `getConnection`: every database's connection runs on the engine's routing. */
      getSharedConnection: (dbName) => this._tenancy(appMongoose()).connection(dbName ?? null),
    };
    const bulk = new BulkTasks(this);
    this.actions = {
      /** Stops admitting operations, waits up to `timeoutMS` (default 10 s) for those in flight,
       *  then closes every pool. Later operations reject with ERR_WRAPPER_CLOSED until `connect()`. */
      closeAll: (options) => this._close(checkCloseOptions(options).timeoutMS),
      /** The same, without waiting: operations in flight fail. */
      forceCloseAll: () => this._close(0),
      /** Closes the change streams open on database `dbName` (those of its collections too), and
       *  only those; resolves to how many were open, once they are closed. Rejects with a TypeError
       *  `ERR_INVALID_DB_NAME` for anything but a valid name (null too: `closeAllWatches()` closes
       *  every stream). */
      closeDBstream: async (dbName) => {
        checkDbNameType(dbName);
        return this._closeStreams(this._dbName(dbName));
      },
      /** Closes every change stream of the wrapper; resolves to how many were open, once closed. */
      closeAllWatches: () => this._closeStreams(undefined),
      ...dataActions(bulk),
    };
    /** PolyMongo 1.2's names for the data actions (1.3 kept them). */
    this.bulkTasks = {
      export: this.actions.exportDB,
      import: this.actions.importDB,
      exportStream: this.actions.exportDBStream,
      importStream: this.actions.importDBStream,
      copyDatabase: this.actions.copyDatabase,
      dropDatabase: this.actions.dropDatabase,
    };
  }

  /** Listens for 'connect' | 'disconnect' | 'reconnect' | 'error' (and PolyMongo's 'onDbConnect' |
   *  'onDbDisconnect'); returns a function that stops listening. */
  on(event, listener) {
    const name = EVENT_ALIASES[event] ?? event;
    super.on(name, listener);
    return () => this.off(name, listener);
  }

  /** Calls `callback(info)` when a database comes into use: its pool opens, or its first operation on
   *  the shared pool. Returns a function that stops calling it. */
  onDbConnect(callback) {
    return this.on('connect', checkHookArgs(null, callback).callback);
  }

  /** Calls `callback(info)` when a database's pool closes (closed, idle, evicted) or its server is lost. */
  onDbDisconnect(callback) {
    return this.on('disconnect', checkHookArgs(null, callback).callback);
  }

  /** `onDbConnect` for the databases named. */
  onTheseDBConnect(names, callback) {
    return this._onThese('connect', names, callback);
  }

  /** `onDbDisconnect` for the databases named. */
  onTheseDBDisconnect(names, callback) {
    return this._onThese('disconnect', names, callback);
  }

  _onThese(event, names, callback) {
    const { list } = checkHookArgs(names, callback);
    for (const name of list) this._dbName(name);
    const wanted = new Set(list);
    return this.on(event, (info) => {
      if (wanted.has(info.dbName)) callback(info);
    });
  }

  /** A pool event from the engine, in PolyMongo 1.3's shape (the event's name, the database, its
   *  state, an ISO timestamp and, read on demand, the database's Mongoose connection) plus the pool's
   *  `uri`, kind and the reason. Each listener is called on its own, so one that throws is reported
   *  (an 'error' event) and neither stops the others nor reaches the engine. */
  _dispatch(event) {
    const connected = event.kind !== 'disconnect';
    const info = {
      name: event.kind,
      dbName: event.dbName,
      readyState: connected ? 1 : 0,
      state: connected ? 'connected' : 'disconnected',
      timestamp: new Date().toISOString(),
      uri: event.uri,
      pool: event.pool,
      reason: event.reason,
    };
    // Not enumerable: a payload stays loggable as JSON, and no connection is made unless asked for.
    Object.defineProperty(info, 'connection', { get: () => this.adv.getConnection(event.dbName) });
    this._emitEach(event.kind, info);
  }

  _emitEach(event, payload) {
    for (const listener of this.rawListeners(event)) {
      try {
        listener.call(this, payload);
      } catch (err) {
        if (event === 'error') process.emitWarning(`polymongo-rs: an 'error' listener threw: ${err?.message ?? err}`, 'PolyMongoWarning');
        else this._report(err instanceof Error ? err : new Error(String(err)), { during: `a '${event}' listener` });
      }
    }
  }

  /** Runs an operation, unless the wrapper is closing; a graceful close waits for those running. */
  _operation(run) {
    if (this._closing) return Promise.reject(ours(this._native.closedError()));
    this._inFlight++;
    const done = () => {
      if (--this._inFlight === 0) this._drained?.();
    };
    // A synchronous throw becomes a rejection, and still counts as done.
    const pending = new Promise((resolve) => resolve(run()));
    pending.then(done, done);
    return pending;
  }

  /** Stops taking operations, waits up to `timeoutMS` for those started, then closes the engine
   *  (which ends cursors and anything else still using it). A close already under way is joined. */
  _close(timeoutMS = DEFAULT_CLOSE_TIMEOUT_MS) {
    signals.unwatch(this);
    this._closing ??= this._drainAndClose(timeoutMS).finally(() => {
      this._closing = null;
      this._drained = null;
    });
    return this._closing;
  }

  async _drainAndClose(timeoutMS) {
    const started = Date.now();
    if (this._inFlight > 0) {
      let timer;
      await Promise.race([
        new Promise((resolve) => (this._drained = resolve)),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMS).unref())),
      ]);
      clearTimeout(timer);
    }
    await this._native.close(Math.max(0, timeoutMS - (Date.now() - started)));
    endedWith(this._native);
    streamsClosedWith(this._native);
  }

  async _closeStreams(dbName) {
    const closed = await this._settle(this._native.closeStreams(dbName ?? null));
    streamsClosedWith(this._native, dbName);
    return closed;
  }

  /** SIGINT / SIGTERM: a graceful close. */
  _closeOnSignal() {
    return this._close();
  }

  _setDb(names, options = {}, open) {
    const list = checkScaleArgs(names, options);
    for (const name of list) this._dbName(name);
    const { mongoURI, ...pool } = options;
    return this._settle(this._native.setDb(list.map((dbName) => ({ dbName, mongoURI, options: pool })), open));
  }

  /** `name` if it is a database name MongoDB takes, null for null or undefined (the default
   *  database); else throws a TypeError `ERR_INVALID_DB_NAME`, as `.db(name)` does. No I/O. */
  _dbName(name) {
    if (name == null) return null;
    checkDbNameType(name);
    this._native.namespace(name, null);
    return name;
  }

  /** The database used by `.db()` / `.db(null)`. */
  get defaultDB() {
    return this._native.defaultDb;
  }

  /** The Mongoose model `model` on this wrapper's engine: the model of the default database, and
   *  `.db(name)`, the same Mongoose model (a subclass of `model`) in database `name`. Options:
   *  `autoIndex` (default: the schema's, on as in Mongoose) builds the schema's indexes before the
   *  first write to each database; `jsonSchema: true` also applies a `$jsonSchema` validator derived
   *  from the schema there. The first call for a model decides its options. */
  wrapModel(model, options) {
    const checked = checkModelOptions(options);
    // A model a wrapper already wrapped, given again (its handle, or a database's class of it).
    const root = this._wrappedRoot(model);
    if (root !== undefined) model = root;
    else if (!isMongooseModel(model)) {
      throw new TypeError('polymongo-rs: wrapModel() takes a Mongoose model (the result of mongoose.model(...))');
    }
    let entry = this._handles.get(model);
    if (entry === undefined) {
      // `transaction()` runs on the mongoose of the models wrapped first: its documents, plugins and
      // AsyncLocalStorage are theirs.
      this._modelsMongoose ??= model.base;
      const tenancy = this._tenancy(model.base);
      const layer = tenancy.wrap(model, checked);
      entry = { handle: wrappedHandle(tenancy, layer), options: JSON.stringify(checked) };
      this._handles.set(model, entry);
      WRAPPED_ROOTS.set(entry.handle, model);
      WRAPPED_ROOTS.set(layer.Layer, model);
      this._wrappedModels.add(model);
    } else if (options !== undefined && JSON.stringify(checked) !== entry.options) {
      const err = new TypeError(`polymongo-rs: wrapModel(${model.modelName}) was first called with options ${entry.options}; `
        + 'the first call decides them, so later calls must give the same options or none');
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    return entry.handle;
  }

  /** The application's model behind `model` when a wrapper (this one or another) wrapped it: its
   *  handle, or a database's class of it. */
  _wrappedRoot(model) {
    if (typeof model !== 'function') return undefined;
    // A database's class extends the model's layer.
    return WRAPPED_ROOTS.get(model) ?? WRAPPED_ROOTS.get(Object.getPrototypeOf(model));
  }

  /** The models and database connections of Mongoose instance `mongoose` under this wrapper. */
  _tenancy(mongoose) {
    let tenancy = this._tenancies.get(mongoose);
    if (tenancy === undefined) {
      tenancy = new Tenancy(this, mongoose, this._tenantCacheSize);
      this._tenancies.set(mongoose, tenancy);
    }
    return tenancy;
  }

  /** A background failure (an index build, a validator): an 'error' event when someone listens,
   *  and a process warning either way, never thrown into an unrelated operation. */
  _report(err, context) {
    Object.assign(err, context);
    const where = context.db === undefined ? '' : ` of ${context.db}.${context.collection}`;
    const message = `${context.during}${where} failed: ${err.message}`;
    process.emitWarning(`polymongo-rs: ${message}`, 'PolyMongoWarning');
    this._native.log('error', message);
    this._emitEach('error', err);
  }

  /** An error from the engine as operations raise it: the application's `mongodb` classes (those of
   *  the mongoose it resolves to) for the driver's errors, ours (PolyMongoError, ...) for the rest. */
  _fromNative(err) {
    let mongoose;
    try {
      mongoose = appMongoose();
    } catch {
      return ours(err);
    }
    return contextFor(mongoose).errors.fromNative(err);
  }

  /** `pending` (an addon call), its failure as `_fromNative` gives it. */
  _settle(pending) {
    return pending.catch((err) => {
      throw this._fromNative(err);
    });
  }

  /** Opens the connection now (otherwise it opens on first use); reopens after `disconnect()`.
   *  Resolves to PolyMongo 1.3's `{ success, alreadyConnected, defaultDB, connection, state }`. */
  async connect() {
    if (this._handleSignals) signals.watch(this);
    const alreadyConnected = await this._settle(this._native.connect());
    const result = { success: true, alreadyConnected, defaultDB: this.defaultDB, state: this.getConnectionState() };
    Object.defineProperty(result, 'connection', { get: () => this.adv.getOrCreatePrimaryConnection() });
    return result;
  }

  /** `actions.closeAll()`: closes every pool once operations in flight finish (10 s at most);
   *  operations fail with code ERR_WRAPPER_CLOSED until `connect()`. Resolves to PolyMongo 1.3's
   *  `{ success, alreadyDisconnected, state }`. */
  async disconnect() {
    const alreadyDisconnected = this.getConnectionState() !== 'connected';
    await this._close();
    return { success: true, alreadyDisconnected, state: 'disconnected' };
  }

  /** `{ ok: true, latency }` in ms, or `{ ok: false, latency: null, error }` when the server does not answer. */
  async ping(db) {
    try {
      return { ok: true, latency: await this._settle(this._native.ping(this._dbName(db))) };
    } catch (error) {
      if (error.code === 'ERR_INVALID_DB_NAME') throw error;
      return { ok: false, latency: null, error };
    }
  }

  /** Runs `fn(session)` in one transaction, which spans any databases of one pool (every tenant
   *  database of the shared pool), and commits it when `fn` resolves. Mongoose's
   *  `connection.transaction()` on the mongoose of the first wrapped model (the application's before
   *  any): the whole of `fn` is run again on an
   *  error labelled TransientTransactionError and the commit on UnknownTransactionCommitResult, for up
   *  to 120 s, and documents saved in an aborted transaction get their state back. `options`: the
   *  Node driver's TransactionOptions (`readConcern`, `writeConcern`, `maxCommitTimeMS`). Resolves to
   *  what `fn` resolved to; rejects with `fn`'s error after aborting, or with the commit's. */
  transaction(fn, options) {
    if (typeof fn !== 'function') return Promise.reject(new TypeError('polymongo-rs: transaction(fn, options) needs a function'));
    return this._operation(() => this._tenancy(this._modelsMongoose ?? appMongoose()).connection(null).transaction(fn, options));
  }

  /** A change stream of database `dbName` (the default database when omitted), in the shape of
   *  Mongoose's `connection.watch()`: an EventEmitter ('change', 'error', 'close', 'end',
   *  'resumeTokenChanged') with `next()`, `hasNext()`, `close()` and `for await`. `pipeline`: stages
   *  after `$changeStream`; `options`: the Node driver's ChangeStreamOptions (`fullDocument`,
   *  `resumeAfter`, `startAfter`, `startAtOperationTime`, `maxAwaitTimeMS`, ...). The stream resumes
   *  by itself after resumable errors and after the server comes back; it keeps its database's pool
   *  open until closed, and counts against `maxOpenStreams`. */
  watch(dbName, pipeline, options) {
    if (Array.isArray(dbName)) [dbName, pipeline, options] = [undefined, dbName, pipeline];
    return this._tenancy(this._modelsMongoose ?? appMongoose()).connection(dbName ?? null).watch(pipeline ?? [], options);
  }

  isConnected() {
    return this._native.state() === 'connected';
  }

  /** 'not initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected' */
  getConnectionState() {
    return this._native.state();
  }
}

/** PolyMongo's `stats.general()` shape, extended: `primary` and `separateDB` entries carry the driver's
 *  pool counters; `databases` lists each database's operations. */
function generalStats({ shared, dedicated, databases, streams }) {
  const pool = ({ dbName, mongoURI, readyState, state, lastAccessed, isInitialized, poolStats }) =>
    ({ dbName, mongoURI, readyState, state, lastAccessed, isInitialized, poolStats });
  const pools = [shared, ...dedicated];
  return {
    totalActivePools: pools.filter((p) => p.isInitialized).length,
    totalConnectionsAcrossPools: pools.reduce((sum, p) => sum + p.poolStats.totalConnections, 0),
    primary: { ...pool(shared), sharedDatabases: shared.databases },
    separateDB: dedicated.map((p) => ({ ...pool(p), config: p.config })),
    databases: databases.map(database),
    streams: {
      open: streams.reduce((sum, s) => sum + s.open, 0),
      connections: pools.reduce((sum, p) => sum + p.streamConnections, 0),
      byDatabase: Object.fromEntries(streams.map((s) => [s.dbName, s.open])),
    },
  };
}

function database(metrics) {
  return { ...metrics, lastUsed: metrics.lastUsed == null ? null : new Date(metrics.lastUsed) };
}

function dbStats({ sizeMb, collections, pool, metrics }) {
  return {
    sizeMb,
    numCollections: collections.length,
    collections,
    lastUsed: metrics?.lastUsed == null ? null : new Date(metrics.lastUsed),
    mongoURI: pool.mongoURI,
    isInitialized: pool.isInitialized,
    config: pool.config ?? null,
    poolStats: pool.poolStats,
    metrics: metrics ? database(metrics) : null,
  };
}

/** The application's mongoose, resolved from the application (so that a linked or nested copy of
 *  polymongo-rs still gives the application's own instance); polymongo-rs's peer dependency if the
 *  application has none of its own. */
function appMongoose() {
  const from = require.main?.filename ?? path.join(process.cwd(), 'index.js');
  try {
    return createRequire(from)('mongoose');
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND') throw err;
    return require('mongoose');
  }
}

/** PolyMongo's export, a class as PolyMongo 1.3's is: `PolyMongo.createWrapper(options)`, or
 *  `new PolyMongo(options)`; either is a PolyMongoWrapper. */
class PolyMongo extends PolyMongoWrapper {
  static createWrapper(options) {
    return new PolyMongo(options);
  }
}

module.exports = { PolyMongo, PolyMongoWrapper };

'use strict';
// A database and the client in the Node driver's shape, over the engine. `client.db(name)` is free:
// it names a database; the engine routes it to its pool (shared, or its own) on every request.

const { EventEmitter } = require('node:events');
const { EngineCollection } = require('./collection');
const { EngineCursor, AggregationCursor } = require('./cursor');
const { aggregateOptions, bsonOptions, explainVerbosity, refuse } = require('./options');

/** createCollection options that are not part of the `create` command. */
const CREATE_NOT_COMMAND = new Set(['session', 'readPreference', 'readConcern', 'timeoutMS', 'signal', 'ignoreUndefined',
  'serializeFunctions', 'promoteLongs', 'promoteValues', 'promoteBuffers', 'bsonRegExp', 'useBigInt64', 'strict']);

class EngineDb {
  constructor(client, name) {
    this._client = client;
    this._ctx = client._ctx;
    this.databaseName = name;
    try {
      this._native = client._native.namespace(name, null);
    } catch (err) {
      throw this._ctx.errors.fromNative(err);
    }
  }

  get namespace() {
    return this.databaseName;
  }

  get client() {
    return this._client;
  }

  get options() {
    return {};
  }

  collection(name) {
    return new EngineCollection(this, name);
  }

  /** Runs `command` on this database; resolves to the server's reply. */
  async command(command, options) {
    if (options) refuse(options, this._ctx.errors);
    const { codec, errors } = this._ctx;
    const bson = bsonOptions(options, this._ctx);
    let reply;
    try {
      reply = await this._native.execute('command', codec.encode({ command }, bson));
    } catch (err) {
      throw errors.fromNative(err);
    }
    return codec.decode(reply, bson);
  }

  /** Creates collection `name` with `options` (capped, validator, collation, timeseries, ...). */
  async createCollection(name, options = {}) {
    refuse(options, this._ctx.errors);
    const command = { create: name };
    for (const [key, value] of Object.entries(options)) {
      if (!CREATE_NOT_COMMAND.has(key) && value !== undefined) command[key] = value;
    }
    await this.command(command);
    return this.collection(name);
  }

  async dropCollection(name, options) {
    await this.collection(name).drop(options);
    return true;
  }

  async dropDatabase(options = {}) {
    await this.command({ dropDatabase: 1, ...(options.writeConcern ? { writeConcern: options.writeConcern } : {}) }, options);
    return true;
  }

  /** A cursor over `{ name, type, options, info, idIndex }` of each collection. */
  listCollections(filter = {}, options = {}) {
    refuse(options, this._ctx.errors);
    const command = { listCollections: 1, filter, nameOnly: options.nameOnly === true, authorizedCollections: options.authorizedCollections === true };
    if (options.batchSize) command.cursor = { batchSize: options.batchSize };
    const request = { command, batchSize: options.batchSize, options: {} };
    return new EngineCursor(this._native, 'command', request, this._ctx, bsonOptions(options, this._ctx));
  }

  async collections(options) {
    const infos = await this.listCollections({}, { nameOnly: true, ...options }).toArray();
    return infos.filter((info) => !info.name.startsWith('system.')).map((info) => this.collection(info.name));
  }

  renameCollection(from, to, options) {
    return this.collection(from).rename(to, options);
  }

  createIndex(name, spec, options) {
    return this.collection(name).createIndex(spec, options);
  }

  indexInformation(name, options) {
    return this.collection(name).indexInformation(options);
  }

  stats(options = {}) {
    return this.command({ dbStats: 1, ...(options.scale ? { scale: options.scale } : {}) });
  }

  /** A database-level aggregation (`$documents`, `$currentOp`, ...). */
  aggregate(pipeline = [], options) {
    const request = { pipeline: [...pipeline], options: aggregateOptions(options, this._ctx.errors) };
    const cursor = new AggregationCursor(this._native, 'aggregate', request, this._ctx, bsonOptions(options, this._ctx));
    cursor._db = this;
    cursor._explaining = explainVerbosity(options?.explain);
    return cursor;
  }

  /** A command answered with a cursor, iterated. */
  runCursorCommand(command, options = {}) {
    refuse(options, this._ctx.errors);
    return new EngineCursor(this._native, 'command', { command, batchSize: options.batchSize, options: {} }, this._ctx, bsonOptions(options, this._ctx));
  }

  admin() {
    return new EngineAdmin(this._client);
  }

  watch() {
    throw this._ctx.errors.unsupported('change streams (watch) are not supported yet');
  }
}

/** `db.admin()`: commands on the `admin` database. */
class EngineAdmin {
  constructor(client) {
    this._db = client.db('admin');
  }

  command(command, options) {
    return this._db.command(command, options);
  }

  listDatabases(options = {}) {
    const { nameOnly, filter, authorizedDatabases } = options;
    return this.command({ listDatabases: 1, ...clean({ nameOnly, filter, authorizedDatabases }) });
  }

  ping() {
    return this.command({ ping: 1 });
  }

  serverStatus() {
    return this.command({ serverStatus: 1 });
  }

  buildInfo() {
    return this.command({ buildinfo: 1 });
  }

  serverInfo() {
    return this.buildInfo();
  }

  replSetGetStatus() {
    return this.command({ replSetGetStatus: 1 });
  }
}

/** The client in MongoClient's shape: `db(name)` for any database, on the engine's pools. */
class EngineClient extends EventEmitter {
  /** `native`: the NativeWrapper; `ctx`: `{ codec, errors }` of the application's mongodb;
   *  `defaultDb`: the database of `db()`; `owned`: whether `close()` closes the engine; `bson`: the
   *  client's BSON options (`promoteLongs`, `ignoreUndefined`, ...), under each call's own. */
  constructor(native, ctx, { defaultDb, owned = false, bson } = {}) {
    super();
    this._native = native;
    this._ctx = bson ? { ...ctx, bson: bsonOptions(bson) } : ctx;
    this._defaultDb = defaultDb ?? native.defaultDb;
    this._owned = owned;
    this.options = { dbName: this._defaultDb };
  }

  db(name, options) {
    if (options) refuse(options, this._ctx.errors);
    return new EngineDb(this, name ?? this._defaultDb);
  }

  async connect() {
    try {
      await this._native.connect();
    } catch (err) {
      throw this._ctx.errors.fromNative(err);
    }
    return this;
  }

  /** Closes the engine's pools (only for a client that owns its engine), letting operations in
   *  flight finish unless `force`. */
  async close(force = false) {
    if (this._owned) await this._native.close(force === true ? 0 : 10_000);
  }

  startSession() {
    throw this._ctx.errors.unsupported('sessions and transactions are not supported yet');
  }

  async withSession() {
    throw this._ctx.errors.unsupported('sessions and transactions are not supported yet');
  }

  async bulkWrite() {
    throw this._ctx.errors.unsupported('the client-level bulkWrite (MongoDB 8) is not supported; use a collection\'s bulkWrite()');
  }

  watch() {
    throw this._ctx.errors.unsupported('change streams (watch) are not supported yet');
  }
}

function clean(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

module.exports = { EngineClient };

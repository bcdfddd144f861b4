'use strict';
// A database and the client in the Node driver's shape, over the engine. `client.db(name)` is free:
// it names a database; the engine routes it to its pool (shared, or its own) on every request.

const { EventEmitter } = require('node:events');
const { EngineCollection, withId, hasAtomicOperators } = require('./collection');
const { EngineCursor, AggregationCursor } = require('./cursor');
const { EngineChangeStream, streamsClosedWith } = require('./change-stream');
const { aggregateOptions, apart, bsonOptions, explainVerbosity, refuse, toSort, writeOptions } = require('./options');
const { EngineSession, endedWith, inTransaction } = require('./session');

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

  /** Runs `command` on this database, in `options.session` when given; resolves to the server's
   *  reply. */
  async command(command, options) {
    if (options) refuse(apart(options), this._ctx.errors);
    return this._run('command', { command }, bsonOptions(options, this._ctx), options);
  }

  /** Sends request `op` on this database, in the session `options` names; resolves to its reply
   *  document, decoded with `bson`. */
  async _run(op, request, bson, options) {
    const { codec, errors } = this._ctx;
    const session = options?.session == null ? undefined : await this._client._sessionFor(options, this.databaseName);
    if (session !== undefined && options.session.inTransaction()) request = inTransaction(request);
    let reply;
    try {
      reply = await this._native.execute(op, codec.encode(request, bson), undefined, session);
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
    const request = { pipeline: [...pipeline], options: aggregateOptions(apart(options), this._ctx.errors) };
    const cursor = new AggregationCursor(this._native, 'aggregate', request, this._ctx, bsonOptions(options, this._ctx));
    cursor._db = this;
    if (options?.session != null) cursor._inSession(options.session, () => this._client._sessionFor(options, this.databaseName));
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

  /** A change stream of the whole database (lib/driver/change-stream.js), opened now. */
  watch(pipeline = [], options = {}) {
    return new EngineChangeStream(this._client, this.databaseName, null, pipeline, options);
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

/** A command event from the engine in the shape of the Node driver's CommandStartedEvent,
 *  CommandSucceededEvent and CommandFailedEvent (Command Logging and Monitoring specification):
 *  `command` or `reply` decoded with the application's BSON, `failure` its error class. */
function commandEvent(event, ctx) {
  const { document, failure, ...rest } = event;
  const { mongo } = ctx.codec;
  const Class = { commandStarted: mongo.CommandStartedEvent, commandSucceeded: mongo.CommandSucceededEvent, commandFailed: mongo.CommandFailedEvent }[event.name];
  // An instance of the app's class without its constructor, which takes the Node driver's connection.
  const out = Object.assign(Object.create(Class?.prototype ?? Object.prototype), rest, {
    serviceId: undefined,
    serverConnectionId: event.serverConnectionId === undefined ? null : BigInt(event.serverConnectionId),
  });
  if (event.name === 'commandStarted') out.command = ctx.codec.decode(document, ctx.bson);
  else if (event.name === 'commandSucceeded') out.reply = ctx.codec.decode(document, ctx.bson);
  else out.failure = ctx.errors.fromNative(failure);
  return out;
}

/** A heartbeat event from the engine in the shape of the Node driver's ServerHeartbeatStartedEvent,
 *  ServerHeartbeatSucceededEvent and ServerHeartbeatFailedEvent (SDAM monitoring specification):
 *  `connectionId` the server's `host:port`, `reply` decoded with the application's BSON, `failure`
 *  its error class. */
function heartbeatEvent(event, ctx) {
  const { address, reply, failure, ...rest } = event;
  const { mongo } = ctx.codec;
  const Class = { serverHeartbeatStarted: mongo.ServerHeartbeatStartedEvent, serverHeartbeatSucceeded: mongo.ServerHeartbeatSucceededEvent, serverHeartbeatFailed: mongo.ServerHeartbeatFailedEvent }[event.name];
  // An instance of the app's class without its constructor, as command events are.
  const out = Object.assign(Object.create(Class?.prototype ?? Object.prototype), rest, { connectionId: address });
  if (reply !== undefined) out.reply = ctx.codec.decode(reply, ctx.bson);
  if (failure !== undefined) out.failure = ctx.errors.fromNative(failure);
  return out;
}

/** The client in MongoClient's shape: `db(name)` for any database, on the engine's pools. */
class EngineClient extends EventEmitter {
  /** `native`: the NativeWrapper; `ctx`: `{ codec, errors }` of the application's mongodb;
   *  `defaultDb`: the database of `db()`; `owned`: whether `close()` closes the engine; `bson`: the
   *  client's BSON options (`promoteLongs`, `ignoreUndefined`, ...), under each call's own;
   *  `monitorCommands`: the engine was made with it, and this client emits its command events. A
   *  client that owns its engine emits its servers' heartbeat events, as a MongoClient does. */
  constructor(native, ctx, { defaultDb, owned = false, bson, monitorCommands = false } = {}) {
    super();
    if (monitorCommands) native.onCommandEvent((event) => this.emit(event.name, commandEvent(event, this._ctx)));
    if (owned) native.onHeartbeatEvent((event) => this.emit(event.name, heartbeatEvent(event, this._ctx)));
    this._native = native;
    this._ctx = { ...ctx, errors: owned ? ctx.errors.ofOwnedClient() : ctx.errors };
    if (bson) this._ctx.bson = bsonOptions(bson);
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
    if (!this._owned) return;
    await this._native.close(force === true ? 0 : 10_000);
    endedWith(this._native);
    streamsClosedWith(this._native);
  }

  /** A session (the Node driver's ClientSession shape, lib/driver/session.js) with `options`
   *  (`causalConsistency`, `snapshot`, `defaultTransactionOptions`); nothing is sent until a request
   *  runs in it. */
  startSession(options) {
    return new EngineSession(this, options);
  }

  /** Runs `fn(session)` in a new session (`options` as `startSession`'s), ending it after. */
  async withSession(options, fn) {
    const [opts, callback] = typeof options === 'function' ? [{}, options] : [options, fn];
    const session = this.startSession(opts);
    try {
      return await callback(session);
    } finally {
      await session.endSession();
    }
  }

  /** The engine's session for a request on `db` with `options`, or undefined when `options` names
   *  none. Rejects with a MongoInvalidArgumentError for a session of another wrapper, and as
   *  `EngineSession#_forRequest` does. */
  async _sessionFor(options, db) {
    const session = options?.session;
    if (session == null) return undefined;
    if (!(session instanceof EngineSession) || session.client._native !== this._native) {
      throw this._ctx.errors.invalid('ClientSession must be from the same MongoClient');
    }
    return session._forRequest(db);
  }

  /** The Node driver's client-level bulk write (MongoDB 8.0's `bulkWrite` command): `models` of any
   *  namespaces (`{ name: 'insertOne', namespace: 'db.coll', document }`, `updateOne` / `updateMany` /
   *  `replaceOne` / `deleteOne` / `deleteMany` with their filters), all served by the pool of the first
   *  one's database. Inserts get an `_id` of the application's ObjectId class when they have none.
   *  Resolves to the Node driver's ClientBulkWriteResult (`insertResults` / `updateResults` /
   *  `deleteResults` Maps with `verboseResults`); rejects with a MongoClientBulkWriteError
   *  (`writeErrors` Map by index, `writeConcernErrors`, `partialResult`, and `cause` when the command
   *  itself failed). */
  async bulkWrite(models, options = {}) {
    const { codec, errors } = this._ctx;
    if (!Array.isArray(models) || models.length === 0) throw errors.invalid('polymongo-rs: a client bulk write needs at least one model');
    const ops = models.map((model) => this._clientWriteModel(model));
    const request = { models: ops, ...writeOptions(apart(options), errors), verboseResults: options.verboseResults === true };
    if (request.maxTimeMS !== undefined) throw errors.unsupported('option maxTimeMS: a client bulkWrite takes no time limit here');
    await Promise.all([...new Set(ops.map((op) => op.namespace))].map((ns) => this._beforeWrite?.(...splitNamespace(ns))));
    const bson = bsonOptions(options, this._ctx);
    const raw = await this.db(splitNamespace(ops[0].namespace)[0])._run('clientWrite', request, bson, options);
    const result = clientBulkWriteResult(raw, request.verboseResults);
    if (raw.writeErrors === undefined) return result;
    const failed = raw.error === undefined ? 'errors' : 'an error';
    const err = new codec.mongo.MongoClientBulkWriteError({ message: `polymongo-rs: the client bulk write met ${failed}` });
    for (const e of raw.writeErrors) err.writeErrors.set(e.index, { code: e.code, message: e.errmsg });
    err.writeConcernErrors = raw.writeConcernErrors.map((e) => ({ code: e.code, message: e.errmsg }));
    err.partialResult = result;
    if (raw.error !== undefined) err.cause = new codec.mongo.MongoServerError({ ...raw.error, errmsg: raw.error.message });
    throw err;
  }

  /** One client bulk write model, checked as the Node driver checks it, in the engine's shape. */
  _clientWriteModel(model) {
    const { errors } = this._ctx;
    if (model == null || typeof model !== 'object' || typeof model.namespace !== 'string') {
      throw errors.invalid('A client bulk write model needs a namespace ("database.collection")');
    }
    const { name, namespace } = model;
    const pick = (names) => {
      const out = { name, namespace };
      for (const key of names) if (model[key] !== undefined) out[key] = key === 'sort' ? toSort(model[key], errors) : model[key];
      return out;
    };
    switch (name) {
      case 'insertOne':
        return { name, namespace, document: withId(model.document, this._ctx) };
      case 'updateOne':
      case 'updateMany':
        // The Node driver refuses these with a MongoAPIError here (a collection's bulkWrite: MongoInvalidArgumentError).
        if (!hasAtomicOperators(model.update)) throw new this._ctx.codec.mongo.MongoAPIError('polymongo-rs: a client bulk write update needs update operators ($set, ...) or a pipeline');
        return pick(['filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint', ...(name === 'updateOne' ? ['sort'] : [])]);
      case 'replaceOne':
        if (hasAtomicOperators(model.replacement)) throw new this._ctx.codec.mongo.MongoAPIError('polymongo-rs: a client bulk write replacement must not contain update operators');
        return pick(['filter', 'replacement', 'upsert', 'collation', 'hint', 'sort']);
      case 'deleteOne':
      case 'deleteMany':
        return pick(['filter', 'collation', 'hint']);
      default:
        throw errors.invalid(`Invalid client bulk write model name: ${JSON.stringify(name)}`);
    }
  }

  /** A change stream of every database is not supported: the stream reports a
   *  MongoCompatibilityError (ERR_NOT_SUPPORTED) as a failed stream does. Watch a database or a
   *  collection instead. */
  watch(pipeline = [], options = {}) {
    const refusal = this._ctx.errors.unsupported('a change stream of the whole deployment (client.watch) is not supported; watch a database or a collection');
    return new EngineChangeStream(this, this._defaultDb, null, pipeline, options, refusal);
  }
}

/** `'db.coll.name'` as `['db', 'coll.name']`. */
function splitNamespace(namespace) {
  const dot = namespace.indexOf('.');
  return dot === -1 ? [namespace, ''] : [namespace.slice(0, dot), namespace.slice(dot + 1)];
}

/** The Node driver's ClientBulkWriteResult from the engine's outcome: counts, and with `verbose` each
 *  write's result in Maps by index. */
function clientBulkWriteResult(raw, verbose) {
  const byIndex = (entries, shape) => (verbose ? new Map((entries ?? []).map((e) => [e.index, shape(e)])) : undefined);
  return {
    acknowledged: true,
    insertedCount: Number(raw.insertedCount),
    upsertedCount: Number(raw.upsertedCount),
    matchedCount: Number(raw.matchedCount),
    modifiedCount: Number(raw.modifiedCount),
    deletedCount: Number(raw.deletedCount),
    insertResults: byIndex(raw.insertResults, (e) => ({ insertedId: e.insertedId })),
    updateResults: byIndex(raw.updateResults, (e) => {
      const out = { matchedCount: Number(e.matchedCount), modifiedCount: Number(e.modifiedCount), didUpsert: e.upsertedId !== undefined };
      if (e.upsertedId !== undefined) out.upsertedId = e.upsertedId;
      return out;
    }),
    deleteResults: byIndex(raw.deleteResults, (e) => ({ deletedCount: Number(e.deletedCount) })),
  };
}

function clean(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

module.exports = { EngineClient };

'use strict';
// A collection in the Node driver's shape, over the engine: every call becomes one request to the
// engine (an operation name and BSON), which admits it on the database's pool, counts it and runs it.
// Results and errors have the Node driver's shapes and classes, so Mongoose, and code written for the
// driver, read them as they always have.

const { FindCursor, AggregationCursor, EngineCursor } = require('./cursor');
const { EngineChangeStream } = require('./change-stream');
const { findOptions, aggregateOptions, countOptions, writeOptions, bsonOptions, toSort, refuse, apart, explainVerbosity } = require('./options');
const { inTransaction } = require('./session');

/** Whether an update document starts with an operator (`$set`, ...), as the Node driver requires. */
function hasAtomicOperators(update) {
  if (Array.isArray(update)) return update.some(hasAtomicOperators);
  if (update == null || typeof update !== 'object') return false;
  const first = Object.keys(typeof update.toBSON === 'function' ? update.toBSON() : update)[0];
  return first !== undefined && first.startsWith('$');
}

/** `doc` with an `_id` of the application's ObjectId class (`ctx.codec`) when it has none, as the
 *  Node driver gives it (the caller's object gets it too). */
function withId(doc, ctx) {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw ctx.errors.invalid('Document must be a valid JavaScript object');
  }
  // As the Node driver (maybeAddIdToDocuments): a null `_id` is given one too.
  if (doc._id == null) doc._id = new ctx.codec.BSON.ObjectId();
  return doc;
}

/** `'a'`, `['a', 'b']`, `[['a', 1]]`, `{ a: 1 }` or a Map as an index key document. */
function indexKey(spec) {
  if (typeof spec === 'string') return { [spec]: 1 };
  if (spec instanceof Map) return Object.fromEntries(spec);
  if (Array.isArray(spec)) {
    const key = {};
    for (const item of spec) {
      if (typeof item === 'string') key[item] = 1;
      else if (Array.isArray(item)) key[item[0]] = item[1] ?? 1;
      else Object.assign(key, item);
    }
    return key;
  }
  return spec;
}

/** The name the server gives an index with no name: `a_1_b_-1`. */
function indexName(key) {
  return Object.entries(key).map(([field, direction]) => `${field}_${direction}`).join('_');
}

/** Options of the createIndexes command itself; the rest of createIndex's options describe the index. */
const INDEX_COMMAND_OPTIONS = ['commitQuorum', 'maxTimeMS', 'comment', 'writeConcern'];
/** Options of a call that never describe an index. */
const NOT_INDEX_OPTIONS = new Set([...INDEX_COMMAND_OPTIONS, 'session', 'readPreference', 'readConcern', 'timeoutMS', 'signal',
  'ignoreUndefined', 'serializeFunctions', 'promoteLongs', 'promoteValues', 'promoteBuffers', 'bsonRegExp', 'useBigInt64']);

class EngineCollection {
  /** `db`: the EngineDb; `name`: the collection's name, checked by the engine. */
  constructor(db, name) {
    this._db = db;
    this._ctx = db._ctx;
    try {
      this._native = db._client._native.namespace(db.databaseName, name);
    } catch (err) {
      throw this._ctx.errors.fromNative(err);
    }
    this.collectionName = name;
  }

  get dbName() {
    return this._db.databaseName;
  }

  get namespace() {
    return `${this._db.databaseName}.${this.collectionName}`;
  }

  get readConcern() {
    return undefined;
  }

  get readPreference() {
    return undefined;
  }

  get writeConcern() {
    return undefined;
  }

  /** Sends request `op` and resolves to its reply: a document (decoded with `bson`), a count, or null.
   *  With `schema` (a NativeSchema: the fast path), the engine casts the filter by it first; it runs in
   *  `session` (the engine's, when the caller has it already) or the session `options` names, if any. */
  async _execute(op, request, bson = this._ctx.bson, schema = undefined, options = undefined, session = undefined) {
    const { codec, errors } = this._ctx;
    if (session === undefined && options?.session != null) session = await this._sessionFor(options);
    if (session !== undefined && options.session.inTransaction()) request = inTransaction(request);
    let reply;
    try {
      reply = await this._native.execute(op, codec.encode(request, bson), schema, session);
    } catch (err) {
      throw errors.fromNative(err);
    }
    return Buffer.isBuffer(reply) ? codec.decode(reply, bson) : reply;
  }

  /** The engine's session `options` names, or undefined (EngineClient#_sessionFor). */
  async _sessionFor(options) {
    return this._db._client._sessionFor(options, this._db.databaseName);
  }

  /** Waits for what must precede this collection's first write (a model's indexes, set by the
   *  wrapper as `_beforeWrite`), if anything. */
  async _ready() {
    const pending = this._beforeWrite?.();
    if (pending != null) await pending;
  }

  /** A write of `ops` (the engine's write models) with `options`, in `session` (the engine's) or the
   *  session `options` names: the engine's bulk result. */
  async _write(ops, options, session = undefined) {
    const request = { ops, ...writeOptions(apart(options), this._ctx.errors) };
    request.ordered = options?.ordered !== false;
    await this._ready();
    return this._execute('write', request, bsonOptions(options, this._ctx), undefined, options, session);
  }

  async insertOne(doc, options) {
    withId(doc, this._ctx);
    const raw = this._ctx.errors.singleOutcome(await this._write([{ insertOne: { document: doc } }], options));
    return { acknowledged: raw.acknowledged && raw.ok === 1, insertedId: doc._id };
  }

  async insertMany(docs, options) {
    if (!Array.isArray(docs)) throw this._ctx.errors.invalid('Argument "docs" must be an array of documents');
    if (docs.some((d) => d == null)) {
      throw this._ctx.errors.invalid('Collection.insertMany() cannot be called with an array that has null/undefined values');
    }
    const { raw, result } = await this._bulk(docs.map((document) => ({ insertOne: { document } })), options);
    return { acknowledged: raw.acknowledged, insertedCount: result.insertedCount, insertedIds: result.insertedIds };
  }

  /** The Node driver's bulk operations (insertOne, updateOne, updateMany, replaceOne, deleteOne,
   *  deleteMany); resolves to its BulkWriteResult or rejects with a MongoBulkWriteError. */
  async bulkWrite(operations, options) {
    return (await this._bulk(operations, options)).result;
  }

  /** A bulk write: the engine's result (`raw`) and the Node driver's BulkWriteResult of it. */
  async _bulk(operations, options) {
    if (!Array.isArray(operations)) throw this._ctx.errors.invalid('Argument "operations" must be an array of documents');
    if (operations.length === 0) throw this._ctx.errors.invalid('Invalid BulkOperation, Batch cannot be empty');
    const ops = operations.map((op) => this._writeModel(op));
    const ordered = options?.ordered !== false;
    // A session refused is refused as it is, before anything is sent, as the Node driver's.
    const session = options?.session == null ? undefined : await this._sessionFor(options);
    let raw;
    try {
      raw = await this._write(ops, options, session);
    } catch (err) {
      // A request too large or too deep to encode was never sent: as with the Node driver, whose
      // bulk sizes its operations before it runs them, that is the RangeError itself.
      if (err instanceof RangeError) throw err;
      throw this._ctx.errors.bulkFailure(err, ordered, ops);
    }
    return { raw, result: this._ctx.errors.bulkOutcome(raw, ordered, ops) };
  }

  /** One bulkWrite entry as the engine's write model, checked as the Node driver checks it. */
  _writeModel(op) {
    const { errors } = this._ctx;
    const [kind, spec] = Object.entries(op ?? {})[0] ?? [];
    if (spec == null || typeof spec !== 'object') throw errors.invalid('Operation must be an object with an operation key');
    switch (kind) {
      case 'insertOne':
        return { insertOne: { document: withId(spec.document == null ? spec : spec.document, this._ctx) } };
      case 'updateOne':
      case 'updateMany':
        if (!hasAtomicOperators(spec.update)) throw errors.invalid('Update document requires atomic operators');
        return { [kind]: pickStatement(spec, ['filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint', ...sortFor(kind)], errors) };
      case 'replaceOne':
        if (hasAtomicOperators(spec.replacement)) throw errors.invalid('Replacement document must not contain atomic operators');
        return { replaceOne: pickStatement(spec, ['filter', 'replacement', 'upsert', 'collation', 'hint', 'sort'], errors) };
      case 'deleteOne':
      case 'deleteMany':
        return { [kind]: pickStatement(spec, ['filter', 'collation', 'hint']) };
      default:
        throw errors.invalid(`Invalid bulkWrite operation: ${JSON.stringify(kind)}`);
    }
  }

  async _single(kind, statement, options) {
    const raw = this._ctx.errors.singleOutcome(await this._write([{ [kind]: statement }], options));
    // `w: 0` from the call or the connection string; its counts are unknown, as the Node driver leaves them.
    const ack = raw.acknowledged;
    const count = (n) => (ack ? n : undefined);
    if (kind === 'deleteOne' || kind === 'deleteMany') return { acknowledged: ack, deletedCount: count(raw.nRemoved) };
    const upserted = raw.upserted[0];
    return {
      acknowledged: ack,
      modifiedCount: count(raw.nModified),
      upsertedId: upserted ? upserted._id : null,
      upsertedCount: raw.nUpserted,
      matchedCount: count(raw.nMatched),
    };
  }

  updateOne(filter, update, options) {
    return this._update('updateOne', filter, update, options);
  }

  updateMany(filter, update, options) {
    return this._update('updateMany', filter, update, options);
  }

  async _update(kind, filter, update, options = {}) {
    if (!hasAtomicOperators(update)) throw this._ctx.errors.invalid('Update document requires atomic operators');
    const statement = pickStatement(options, ['upsert', 'arrayFilters', 'collation', 'hint', ...sortFor(kind)], this._ctx.errors);
    return this._single(kind, { filter, update, ...statement }, options);
  }

  async replaceOne(filter, replacement, options = {}) {
    if (hasAtomicOperators(replacement)) throw this._ctx.errors.invalid('Replacement document must not contain atomic operators');
    return this._single('replaceOne', { filter, replacement, ...pickStatement(options, ['upsert', 'collation', 'hint', 'sort'], this._ctx.errors) }, options);
  }

  async deleteOne(filter, options = {}) {
    return this._single('deleteOne', { filter, ...pickStatement(options, ['collation', 'hint']) }, options);
  }

  async deleteMany(filter, options = {}) {
    return this._single('deleteMany', { filter, ...pickStatement(options, ['collation', 'hint']) }, options);
  }

  find(filter = {}, options) {
    return this.castFind(undefined, filter, options);
  }

  findOne(filter = {}, options) {
    return this.castFindOne(undefined, filter, options);
  }

  /** `find` with the filter cast by `schema` (a NativeSchema) in the engine: the fast path's. */
  castFind(schema, filter = {}, options = undefined) {
    const request = { filter, options: findOptions(apart(options), this._ctx.errors) };
    const cursor = new FindCursor(this._native, 'find', request, this._ctx, bsonOptions(options, this._ctx), schema);
    cursor._collection = this;
    if (options?.session != null) cursor._inSession(options.session, () => this._sessionFor(options));
    cursor._explaining = explainVerbosity(options?.explain);
    return cursor;
  }

  /** `findOne` with the filter cast by `schema` in the engine: the fast path's. */
  async castFindOne(schema, filter = {}, options = undefined) {
    // With `explain`, the Node driver's findOne yields the server's explanation of a find of one.
    if (options?.explain) return this.castFind(schema, filter, { ...options, limit: 1 }).explain();
    return this._execute('findOne', { filter, options: findOptions(apart(options), this._ctx.errors) }, bsonOptions(options, this._ctx), schema, options);
  }

  aggregate(pipeline = [], options) {
    if (!Array.isArray(pipeline)) throw this._ctx.errors.invalid('"pipeline" must be an array of stages');
    const request = { pipeline: [...pipeline], options: aggregateOptions(apart(options), this._ctx.errors) };
    const cursor = new AggregationCursor(this._native, 'aggregate', request, this._ctx, bsonOptions(options, this._ctx));
    cursor._collection = this;
    if (options?.session != null) cursor._inSession(options.session, () => this._sessionFor(options));
    cursor._explaining = explainVerbosity(options?.explain);
    return cursor;
  }

  countDocuments(filter = {}, options) {
    return this.castCountDocuments(undefined, filter, options);
  }

  /** `countDocuments` with the filter cast by `schema` in the engine: the fast path's. */
  async castCountDocuments(schema, filter = {}, options = undefined) {
    return this._execute('countDocuments', { filter, options: countOptions(apart(options), this._ctx.errors) }, undefined, schema, options);
  }

  async estimatedDocumentCount(options) {
    return this._execute('estimatedDocumentCount', { options: countOptions(apart(options), this._ctx.errors) }, undefined, undefined, options);
  }

  /** The Node driver's deprecated `count()`: the server's `count` command. */
  async count(filter = {}, options = {}) {
    const reply = await this._command({ count: this.collectionName, query: filter, ...countOptions(apart(options), this._ctx.errors) }, undefined, options);
    return reply.n;
  }

  async distinct(key, filter = {}, options) {
    if (typeof key !== 'string') throw this._ctx.errors.invalid(`distinct: the key must be a string, got ${typeof key}`);
    const reply = await this._execute('distinct', { field: key, filter, options: countOptions(apart(options), this._ctx.errors) }, bsonOptions(options, this._ctx), undefined, options);
    return reply.values;
  }

  findOneAndUpdate(filter, update, options) {
    if (!hasAtomicOperators(update)) return Promise.reject(this._ctx.errors.invalid('Update document requires atomic operators'));
    return this._findAndModify(filter, { update }, options);
  }

  findOneAndReplace(filter, replacement, options) {
    if (hasAtomicOperators(replacement)) {
      return Promise.reject(this._ctx.errors.invalid('Replacement document must not contain atomic operators'));
    }
    return this._findAndModify(filter, { update: replacement }, options);
  }

  findOneAndDelete(filter, options) {
    return this._findAndModify(filter, { remove: true }, options);
  }

  /** The server's findAndModify; resolves to the document, or with `includeResultMetadata` to the
   *  server's reply (`{ lastErrorObject, value, ok, ... }`), as the Node driver does. */
  async _findAndModify(filter, change, options = {}) {
    const { errors } = this._ctx;
    const { writeConcern, comment, let: letVars } = writeOptions(apart(options), errors);
    const read = findOptions({ sort: options.sort, projection: options.projection, maxTimeMS: options.maxTimeMS }, errors);
    const command = { findAndModify: this.collectionName, query: filter ?? {}, ...change };
    if (read.sort) command.sort = read.sort;
    if (read.projection !== undefined) command.fields = read.projection;
    if (change.update !== undefined) {
      command.new = options.returnDocument === 'after' || options.returnOriginal === false;
      if (options.upsert !== undefined) command.upsert = Boolean(options.upsert);
      if (options.arrayFilters !== undefined) command.arrayFilters = options.arrayFilters;
      if (options.bypassDocumentValidation !== undefined) command.bypassDocumentValidation = options.bypassDocumentValidation;
    }
    for (const [name, value] of Object.entries({ collation: options.collation, hint: options.hint, maxTimeMS: read.maxTimeMS, writeConcern, comment, let: letVars })) {
      if (value !== undefined) command[name] = value;
    }
    if (change.update !== undefined) await this._ready();
    const reply = await this._command(command, bsonOptions(options, this._ctx), options);
    if (reply.writeConcernError) throw new errors.mongo.MongoWriteConcernError(reply);
    if (options.includeResultMetadata) return reply;
    return reply.value ?? null;
  }

  /** A command run on this collection's database, in the session `options` names, if any. */
  _command(command, bson, options) {
    return this._execute('command', { command }, bson, undefined, options);
  }

  /** One index of `spec`'s keys; `options` hold its description (`unique`, `name`, ...) and the
   *  command's options. Resolves to its name. */
  async createIndex(spec, options = {}) {
    const index = { key: spec };
    for (const [name, value] of Object.entries(options)) {
      if (!NOT_INDEX_OPTIONS.has(name) && value !== undefined) index[name] = value;
    }
    const [name] = await this.createIndexes([index], options);
    return name;
  }

  /** `[{ key, name?, ...index options }]` → their names. */
  async createIndexes(specs, options = {}) {
    refuse(options, this._ctx.errors);
    const indexes = specs.map((spec) => {
      const index = { ...spec, key: indexKey(spec.key) };
      index.name ??= indexName(index.key);
      return index;
    });
    await this._command({ createIndexes: this.collectionName, indexes, ...pickStatement(options, INDEX_COMMAND_OPTIONS) });
    return indexes.map((index) => index.name);
  }

  async dropIndex(name, options = {}) {
    refuse(options, this._ctx.errors);
    return this._command({ dropIndexes: this.collectionName, index: name, ...pickStatement(options, ['maxTimeMS', 'comment', 'writeConcern']) });
  }

  async dropIndexes(options = {}) {
    await this.dropIndex('*', options);
    return true;
  }

  listIndexes(options = {}) {
    refuse(options, this._ctx.errors);
    const request = { command: { listIndexes: this.collectionName, cursor: options.batchSize ? { batchSize: options.batchSize } : {} }, batchSize: options.batchSize, options: {} };
    return new EngineCursor(this._native, 'command', request, this._ctx, bsonOptions(options, this._ctx));
  }

  /** The full index descriptions (`{ v, key, name, ... }`), as `listIndexes`. */
  indexes(options = {}) {
    return this.listIndexes(options).toArray();
  }

  async indexExists(names, options) {
    const existing = new Set((await this.indexes(options)).map((index) => index.name));
    return (Array.isArray(names) ? names : [names]).every((name) => existing.has(name));
  }

  /** `{ name: [[field, direction], ...] }`, or with `full: true` the full descriptions. */
  async indexInformation(options = {}) {
    const indexes = await this.indexes(options);
    if (options.full) return indexes;
    return Object.fromEntries(indexes.map((index) => [index.name, Object.entries(index.key)]));
  }

  async drop(options = {}) {
    refuse(options, this._ctx.errors);
    await this._command({ drop: this.collectionName, ...pickStatement(options, ['writeConcern', 'comment']) });
    return true;
  }

  async rename(newName, options = {}) {
    refuse(options, this._ctx.errors);
    const db = this._db.databaseName;
    const command = { renameCollection: `${db}.${this.collectionName}`, to: `${db}.${newName}`, dropTarget: options.dropTarget === true };
    await this._db._client.db('admin').command(command);
    return this._db.collection(newName);
  }

  /** The collection's creation options (`{}` for none). */
  async options() {
    const [info] = await this._db.listCollections({ name: this.collectionName }).toArray();
    if (info === undefined) throw this._ctx.errors.invalid(`Collection ${this.namespace} not found`);
    return info.options ?? {};
  }

  async isCapped() {
    return Boolean((await this.options()).capped);
  }

  /** A change stream of this collection (lib/driver/change-stream.js), opened now. */
  watch(pipeline = [], options = {}) {
    return new EngineChangeStream(this._db._client, this._db.databaseName, this.collectionName, pipeline, options);
  }

  initializeOrderedBulkOp() {
    throw this._ctx.errors.unsupported('the fluent bulk API is not supported; use bulkWrite()');
  }

  initializeUnorderedBulkOp() {
    throw this._ctx.errors.unsupported('the fluent bulk API is not supported; use bulkWrite()');
  }
}

/** The fields `names` of `source` that are set, a `sort` in the server's form. */
function pickStatement(source, names, errors) {
  const out = {};
  for (const name of names) {
    if (source[name] !== undefined) out[name] = name === 'sort' ? toSort(source[name], errors) : source[name];
  }
  return out;
}

/** A single-document update takes a `sort` (which document it changes), as the Node driver's does; an
 *  updateMany has none to take. */
const sortFor = (kind) => (kind === 'updateOne' ? ['sort'] : []);

module.exports = { EngineCollection, withId, hasAtomicOperators };

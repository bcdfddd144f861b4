'use strict';
// wrapModel: a Mongoose model's collection, reachable in any database through `.db(name)`.

const { Codec } = require('./codec');
const { ModelSchema } = require('./schema');
const { Query } = require('./query');
const { Aggregate } = require('./aggregate');
const { plain, toUpdate, queryOptions } = require('./args');

/** Bound models kept per wrapped model; past this many databases the oldest entry is dropped (it is
 *  rebuilt on its next use, which costs one native call and no I/O). */
const MAX_CACHED_DATABASES = 50_000;

function isMongooseModel(value) {
  return typeof value === 'function' && typeof value.modelName === 'string' && value.schema != null
    && value.base != null && value.base.mongo != null && value.collection != null;
}

/** One Mongoose model under a wrapper: its schema, collection name, BSON, and a bound model per db. */
class WrappedModel {
  constructor(wrapper, model, { autoIndex, jsonSchema = false } = {}) {
    this.wrapper = wrapper;
    this.model = model;
    this.collectionName = model.collection.collectionName;
    this.codec = new Codec(model.base.mongo.BSON);
    this.schema = new ModelSchema(model, this.codec);
    this.autoIndex = autoIndex ?? (model.schema.options.autoIndex !== false && model.db?.config?.autoIndex !== false);
    this.jsonSchema = jsonSchema === true;
    /** Per database, the set-up (indexes, validator) its first write waits for; each runs once. */
    this.setUps = new Map();
    this.bound = new Map();
    this.defaultModel = new BoundModel(this, this.nativeCollection(null));
  }

  nativeCollection(name) {
    return this.wrapper._native.collection(name, this.collectionName, this.schema.native);
  }

  /** Before the first write to a database: its indexes (autoIndex) and `$jsonSchema` validator, once;
   *  the write waits for them, so a unique index holds from the first document. Reads never come
   *  here, so reading a tenant does not create it. A failure is reported on the wrapper, never thrown
   *  into the write that happened to start it. */
  setUp(bound) {
    if (!this.autoIndex && !this.jsonSchema) return undefined;
    const key = bound.dbName;
    let pending = this.setUps.get(key);
    if (pending === undefined) {
      pending = bound._native.setUp(this.jsonSchema).then(
        () => true,
        (err) => {
          // A refusal by the server (an index that conflicts, ...) is reported once; a failure to
          // reach it is tried again by the next write.
          if (typeof err.code !== 'number') this.setUps.delete(key);
          this.wrapper._report(this.codec.error(err), { db: key, collection: this.collectionName, during: 'setUp' });
          return false;
        },
      );
      if (this.setUps.size >= MAX_CACHED_DATABASES) this.setUps.delete(this.setUps.keys().next().value);
      this.setUps.set(key, pending);
    }
    return pending;
  }

  db(name) {
    if (name == null) return this.defaultModel;
    const hit = this.bound.get(name);
    if (hit !== undefined) return hit;
    if (typeof name !== 'string') {
      const err = new TypeError(`polymongo-rs: a database name must be a string, got ${typeof name}`);
      err.code = 'ERR_INVALID_DB_NAME';
      throw err;
    }
    const model = new BoundModel(this, this.nativeCollection(name));
    if (this.bound.size >= MAX_CACHED_DATABASES) this.bound.delete(this.bound.keys().next().value);
    this.bound.set(name, model);
    return model;
  }

}

/** findById's filter. The engine casts the id by the schema (a 24-hex string to an ObjectId); a
 *  missing id matches nothing, as in Mongoose, rather than every document. */
const byId = (id) => ({ _id: id ?? null });

const UPDATE_RESULT = (r) => ({
  acknowledged: true,
  matchedCount: r.matchedCount,
  modifiedCount: r.modifiedCount,
  upsertedCount: r.upsertedCount,
  upsertedId: r.upsertedCount > 0 ? r.upsertedIds['0'] : null,
});
const DELETE_RESULT = (r) => ({ acknowledged: true, deletedCount: r.deletedCount });
/** Counts arrive from the addon as numbers, with nothing to decode. */
const COUNT = (n) => n;

/** The model's API bound to one database. */
class BoundModel {
  constructor(wrapped, native) {
    this._wrapped = wrapped;
    this._native = native;
    this._codec = wrapped.codec;
    this._schema = wrapped.schema;
  }

  get dbName() {
    return this._native.dbName;
  }

  get modelName() {
    return this._wrapped.model.modelName;
  }

  get collectionName() {
    return this._wrapped.collectionName;
  }

  get schema() {
    return this._wrapped.model.schema;
  }

  /** The same model on database `name`; `db()` and `db(null)` are the default database. */
  db(name) {
    return this._wrapped.db(name);
  }

  find(filter, projection, options) {
    return new Query(this, 'find', { filter, projection, options });
  }

  findOne(filter, projection, options) {
    return new Query(this, 'findOne', { filter, projection, options });
  }

  findById(id, projection, options) {
    return this.findOne(byId(id), projection, options);
  }

  countDocuments(filter, options) {
    return new Query(this, 'countDocuments', { filter, options });
  }

  estimatedDocumentCount(options) {
    return new Query(this, 'estimatedDocumentCount', { options });
  }

  exists(filter) {
    return new Query(this, 'exists', { filter, projection: { _id: 1 } });
  }

  distinct(field, filter, options) {
    if (typeof field !== 'string') throw new TypeError('polymongo-rs: distinct() needs a field name');
    return new Query(this, 'distinct', { field, filter, options });
  }

  updateOne(filter, update, options) {
    return new Query(this, 'updateOne', { filter, update, options });
  }

  updateMany(filter, update, options) {
    return new Query(this, 'updateMany', { filter, update, options });
  }

  replaceOne(filter, replacement, options) {
    return new Query(this, 'replaceOne', { filter, update: replacement, options });
  }

  deleteOne(filter, options) {
    return new Query(this, 'deleteOne', { filter, options });
  }

  deleteMany(filter, options) {
    return new Query(this, 'deleteMany', { filter, options });
  }

  findOneAndUpdate(filter, update, options) {
    return new Query(this, 'findOneAndUpdate', { filter, update, options });
  }

  findOneAndReplace(filter, replacement, options) {
    return new Query(this, 'findOneAndReplace', { filter, update: replacement, options });
  }

  findOneAndDelete(filter, options) {
    return new Query(this, 'findOneAndDelete', { filter, options });
  }

  findByIdAndUpdate(id, update, options) {
    return this.findOneAndUpdate(byId(id), update, options);
  }

  findByIdAndDelete(id, options) {
    return this.findOneAndDelete(byId(id), options);
  }

  /** One document → that document; an array → the array, inserted in order. */
  async create(docs, options) {
    if (Array.isArray(docs)) return this.insertMany(docs, { ordered: true, ...options });
    return this.insertOne(docs);
  }

  /** Casts, fills in and validates the document by the schema, inserts it, and resolves to it. */
  insertOne(doc) {
    return this._operation(async () => {
      const { bytes, doc: cast } = await this._schema.castDocument(plain(doc));
      await this._wrapped.setUp(this);
      await this._settle(this._native.insertOne(bytes));
      return cast;
    });
  }

  /** Inserts in order (or not, with `ordered: false`); resolves to the inserted documents, or with
   *  `rawResult: true` to the driver-style result. As in Mongoose, an invalid document stops an ordered
   *  insert before anything is written, and is left out of an unordered one (listed in
   *  `mongoose.validationErrors` of the raw result). A server failure carries `insertedDocs`. */
  insertMany(docs, options) {
    return this._operation(() => this._insertMany(docs, options));
  }

  async _insertMany(docs, { ordered = true, rawResult = false } = {}) {
    if (!Array.isArray(docs)) docs = [docs];
    const valid = [];
    const validationErrors = [];
    for (const doc of docs) {
      try {
        valid.push(await this._schema.castDocument(plain(doc)));
      } catch (err) {
        if (ordered) throw err;
        validationErrors.push(err);
      }
    }
    const documents = valid.map((v) => v.doc);
    const raw = (result) => {
      const out = { acknowledged: true, insertedCount: result.insertedCount, insertedIds: result.insertedIds };
      if (validationErrors.length > 0) out.mongoose = { validationErrors };
      return out;
    };
    if (valid.length === 0) return rawResult ? raw({ insertedCount: 0, insertedIds: {} }) : [];
    await this._wrapped.setUp(this);
    let result;
    try {
      result = await this._settle(this._native.insertMany(valid.map((v) => v.bytes), ordered));
    } catch (err) {
      if (err.insertedIds) err.insertedDocs = Object.keys(err.insertedIds).map((i) => documents[i]);
      throw err;
    }
    return rawResult ? raw(result) : documents;
  }

  /** Mongoose / Node-driver bulk operations; updates without operators are `$set` as in Mongoose.
   *  Inserted and replacement documents are cast and validated by the schema first. */
  bulkWrite(ops, options) {
    return this._operation(() => this._bulkWrite(ops, options));
  }

  async _bulkWrite(ops, { ordered = true } = {}) {
    if (!Array.isArray(ops)) throw new TypeError('polymongo-rs: bulkWrite() takes an array of operations');
    const prepared = [];
    for (const op of ops) {
      const [kind, spec] = Object.entries(op ?? {})[0] ?? [];
      if (kind === 'updateOne' || kind === 'updateMany') {
        const update = toUpdate(spec.update);
        await this._schema.checkUpdate(update);
        prepared.push({ [kind]: { ...spec, update } });
      } else if (kind === 'insertOne') {
        prepared.push({ insertOne: { document: (await this._schema.castDocument(plain(spec.document))).doc } });
      } else if (kind === 'replaceOne') {
        const replacement = (await this._schema.castDocument(plain(spec.replacement), true)).doc;
        prepared.push({ replaceOne: { ...spec, replacement } });
      } else {
        prepared.push(op);
      }
    }
    await this._wrapped.setUp(this);
    return { ok: 1, ...(await this._bulk(prepared, ordered)) };
  }

  aggregate(pipeline, options) {
    return new Aggregate(this, pipeline, options);
  }

  /** Runs a Query: writes first check what only JS can (custom validators, whole documents) and
   *  wait for the database's set-up; filters and updates are cast by the engine. */
  _run(query) {
    return this._operation(() => this._prepare(query));
  }

  /** An operation the wrapper waits for when it closes gracefully. */
  _operation(run) {
    return this._wrapped.wrapper._operation(run);
  }

  async _prepare(query) {
    let update;
    switch (query.op) {
      case 'updateOne':
      case 'updateMany':
      case 'findOneAndUpdate':
        update = toUpdate(query._update);
        await this._schema.checkUpdate(update);
        await this._wrapped.setUp(this);
        break;
      case 'replaceOne':
      case 'findOneAndReplace':
        update = (await this._schema.castDocument(plain(query._update), true)).doc;
        await this._wrapped.setUp(this);
        break;
      default:
    }
    return this._read(query, update);
  }

  /** Sends a Query; `update` is a write's prepared update or cast replacement. */
  _read(query, update) {
    const filter = query._filter;
    const options = query._options;
    switch (query.op) {
      case 'find':
        return query.cursor().toArray();
      case 'findOne':
        return this._call('findOne', { filter, options });
      case 'exists':
        return this._call('findOne', { filter, options }, (doc) => (doc ? { _id: this._codec.decode(doc)._id } : null));
      case 'countDocuments':
        return this._call('countDocuments', { filter, options }, COUNT);
      case 'estimatedDocumentCount':
        return this._call('estimatedDocumentCount', { options }, COUNT);
      case 'distinct':
        return this._call('distinct', { field: query._field, filter, options }, (b) => this._codec.decode(b).values);
      case 'updateOne':
      case 'updateMany':
        return this._write({ [query.op]: { filter, update, ...writeOptions(options) } }).then(UPDATE_RESULT);
      case 'replaceOne':
        return this._write({ replaceOne: { filter, replacement: update, ...writeOptions(options) } }).then(UPDATE_RESULT);
      case 'deleteOne':
      case 'deleteMany':
        return this._write({ [query.op]: { filter, collation: options.collation, hint: options.hint } }).then(DELETE_RESULT);
      case 'findOneAndUpdate':
        return this._call('findOneAndUpdate', { filter, update, options });
      case 'findOneAndReplace':
        return this._call('findOneAndReplace', { filter, replacement: update, options });
      case 'findOneAndDelete':
        return this._call('findOneAndDelete', { filter, options });
      default:
        return Promise.reject(new TypeError(`polymongo-rs: unknown operation ${query.op}`));
    }
  }

  /** Calls a native method with one BSON request; resolves through `decode` (BSON decoding by default). */
  _call(method, request, decode) {
    let pending;
    try {
      pending = this._native[method](this._codec.encode(request));
    } catch (err) {
      return Promise.reject(this._error(err));
    }
    return this._settle(pending, decode);
  }

  /** A native promise resolved through `decode`, or rejected with a complete error. */
  _settle(pending, decode = (bytes) => this._codec.decode(bytes)) {
    return this._codec.settle(pending, decode).catch((err) => {
      throw this._schema.error(err);
    });
  }

  /** An error from the addon, with its BSON details decoded and schema failures as Mongoose errors. */
  _error(err) {
    return this._schema.error(this._codec.error(err));
  }

  _write(op) {
    return this._call('writeOne', op);
  }

  _bulk(ops, ordered) {
    return this._call('bulkWrite', { ops, ordered });
  }

  _nativeFind(query) {
    try {
      return this._native.find(this._codec.encode({ filter: query._filter, options: query._options }));
    } catch (err) {
      throw this._error(err);
    }
  }

  _nativeAggregate(pipeline, options) {
    return this._native.aggregate(this._codec.encode({ pipeline, options: queryOptions(options) }));
  }
}

/** The options an update or replace statement takes. */
function writeOptions({ upsert, arrayFilters, collation, hint }) {
  return { upsert, arrayFilters, collation, hint };
}

module.exports = { WrappedModel, BoundModel, isMongooseModel };

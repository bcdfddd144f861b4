'use strict';
// The fast path: a query Mongoose would only cast and send is served by the engine directly, with the
// filter cast in Rust by the model's schema (the schema bridge), skipping Mongoose's Query machinery.
// It takes only what it implements in full: a `find` / `findOne` (lean, or documents built by
// Mongoose's own `hydrate`, which is what Mongoose's query does with each document it reads) or a
// `countDocuments`, with no user middleware, plugin hook, populate, transform or session, on a schema
// with nothing Mongoose would add to the query (select: false paths, select: true ones with a
// projection, discriminators, aliases, strictQuery, a schema read preference) and no Mongoose option
// that changes queries (sanitizeFilter, strictQuery, translateAliases, a global maxTimeMS, ...), read
// when the query runs. Its filter must be plain data the engine casts as Mongoose does: anything else
// (a function, a Mongoose document, an operator or a path type the engine does not implement) runs
// Mongoose's own path, and so does a filter the engine cannot cast, so that the CastError is
// Mongoose's own, message and reason included. Type-level casts the application changed
// (`Schema.Types.String.cast(false)`, Boolean's `convertToTrue`) send every query to Mongoose.

const { ModelSchema, ownTypeCasts } = require('./schema');

/** The ops served here, with the query options each takes; any other option means Mongoose's path. */
const READ_OPTIONS = new Set(['sort', 'limit', 'skip', 'batchSize', 'maxTimeMS', 'comment', 'hint', 'collation', 'allowDiskUse']);
const COUNT_OPTIONS = new Set(['limit', 'skip', 'maxTimeMS', 'comment', 'hint', 'collation']);
const OPS = { find: READ_OPTIONS, findOne: READ_OPTIONS, countDocuments: COUNT_OPTIONS };

function hasHooks(kareem, name) {
  return kareem != null && ((kareem._pres.get(name)?.length ?? 0) > 0 || (kareem._posts.get(name)?.length ?? 0) > 0);
}

/** The `select` option of every path of `schema` and of its subdocuments' schemas. */
function selections(schema, out = new Set()) {
  schema.eachPath((_path, type) => {
    const select = type.options?.select ?? type.selected;
    if (typeof select === 'boolean') out.add(select);
  });
  for (const child of schema.childSchemas ?? []) selections(child.schema, out);
  return out;
}

/** Whether `schema` makes Mongoose change a query beyond casting its filter (a discriminator
 *  registered later is checked per query). */
function schemaAddsToQueries(root) {
  const { schema } = root;
  const options = schema.options;
  if (schema.discriminatorMapping != null) return true;
  if (Object.keys(schema.aliases ?? {}).length > 0) return true;
  if (options.read != null || options.readConcern != null) return true;
  if (schema._userProvidedOptions?.strictQuery) return true;
  return selections(schema).has(false);
}

/** Mongoose's options (global, or the connection's) that change a query: its sanitizing, strict
 *  and alias casts, debug printing, maxTimeMS and allowDiskUse applied to every query, and the
 *  session it takes from AsyncLocalStorage. */
function optionsAddToQueries(model) {
  for (const options of [model.base.options, model.db.options]) {
    if (options == null) continue;
    if (options.sanitizeFilter || options.sanitizeProjection || options.strictQuery || options.translateAliases || options.debug) return true;
    if (options.maxTimeMS != null || options.allowDiskUse != null || options.transactionAsyncLocalStorage) return true;
  }
  return false;
}

/** BSON classes whose values the engine casts as Mongoose does (of any `bson`: they carry `_bsontype`).
 *  Mongoose casts the others (Double, Int32, Long, Timestamp, ...) by their class, which BSON loses. */
const PLAIN_BSON = new Set(['ObjectId', 'ObjectID', 'Decimal128', 'Binary']);

/** A class instance the engine casts: a valid date, a RegExp, bytes or one of `PLAIN_BSON`. */
function isPlainValue(v) {
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  return v instanceof RegExp || ArrayBuffer.isView(v) || PLAIN_BSON.has(v._bsontype);
}

/** Whether `filter` is plain data, as Mongoose would cast and send it: objects, arrays, strings,
 *  numbers, booleans, null, valid dates, RegExps, bytes and the BSON values of `PLAIN_BSON`, at most
 *  `depth` deep. A function, symbol, bigint or undefined, a Map, a Mongoose document or another
 *  class's instance is Mongoose's to cast (or refuse). */
function plainFilter(value, depth = 16) {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (depth === 0) return false;
  if (Array.isArray(value)) return value.every((v) => plainFilter(v, depth - 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return isPlainValue(value);
  // A plain object posing as a BSON value is js-bson's to refuse, or Mongoose's.
  if (Object.hasOwn(value, '_bsontype')) return false;
  for (const key in value) {
    if (!plainFilter(value[key], depth - 1)) return false;
  }
  return true;
}

/** A projection Mongoose sends as it is: plain paths set to 0 or 1 (not `-path` or `+path`, which
 *  Mongoose rewrites, nor operators). */
function plainProjection(fields) {
  if (fields == null) return true;
  for (const [key, value] of Object.entries(fields)) {
    if (/^[-+$]/.test(key) || !(value === 0 || value === 1 || value === true || value === false)) return false;
  }
  return true;
}

/** The fast path of one model (the application's, wrapped): its schema on the engine, or none when
 *  the model's schema always needs Mongoose. */
class FastPath {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    /** The model's schema on the engine; none when Mongoose's path must always run. */
    this.schema = null;
    /** Whether a path is `select: true`, which Mongoose adds to a projection. */
    this.selectsPaths = false;
    if (schemaAddsToQueries(root)) return;
    this.selectsPaths = selections(root.schema).has(true);
    try {
      this.schema = new ModelSchema(root, ctx);
    } catch {
      // A schema the bridge cannot describe always takes Mongoose's path.
      this.schema = null;
    }
  }

  /** Whether the engine can serve `query` in full. */
  takes(query) {
    if (this.schema === null || query._error != null || this.root.discriminators != null) return false;
    if (this.selectsPaths && query._fields != null) return false;
    const allowed = OPS[query.op];
    if (allowed === undefined) return false;
    const mongooseOptions = query._mongooseOptions;
    for (const key of Object.keys(mongooseOptions)) {
      if (key !== 'lean' || typeof mongooseOptions.lean === 'object') return false;
    }
    for (const key of Object.keys(query.options)) {
      if (!allowed.has(key)) return false;
    }
    if (query._transforms.length > 0 || query._executionStack != null || query._update != null) return false;
    // Documents are hydrated whole: a projection takes Mongoose's path, which records what it selected.
    const documents = query.op !== 'countDocuments' && !mongooseOptions.lean;
    if (query.op === 'countDocuments' || documents ? query._fields != null : !plainProjection(query._fields)) return false;
    if (hasHooks(query._queryMiddleware, query.op) || hasHooks(query._hooks, 'exec')) return false;
    // A filter that is not an object (`find(null)`) is Mongoose's to take or refuse.
    const conditions = query._conditions;
    if (conditions === null || typeof conditions !== 'object' || Array.isArray(conditions)) return false;
    return !optionsAddToQueries(query.model) && ownTypeCasts(query.model.base) && plainFilter(conditions);
  }

  /** Runs `query` on the engine: a `find` / `findOne` resolves to plain documents when lean, else to
   *  the model's documents (`Model.hydrate`), a `countDocuments` to a number. Marks the query
   *  executed, as Mongoose does. A filter the engine cannot cast goes to `mongoosePath()`, which
   *  fails as Mongoose fails. */
  async run(query, mongoosePath) {
    query._executionStack = true;
    const Model = query.model;
    const collection = Model.collection.collection;
    const options = { ...query.options };
    if (query._fields != null) options.projection = query._fields;
    const { native } = this.schema;
    const lean = query._mongooseOptions.lean;
    try {
      if (query.op === 'find') {
        const docs = await collection.castFind(native, query._conditions, options).toArray();
        return lean ? docs : docs.map((doc) => Model.hydrate(doc));
      }
      if (query.op === 'findOne') {
        const doc = await collection.castFindOne(native, query._conditions, options);
        return lean || doc === null ? doc : Model.hydrate(doc);
      }
      return await collection.castCountDocuments(native, query._conditions, options);
    } catch (err) {
      const leftToMongoose = err?.code === 'ERR_NOT_CASTABLE' || (err?.name === 'CastError' && err.schemaErrors !== undefined);
      if (!leftToMongoose) throw err;
      query._executionStack = null;
      return mongoosePath();
    }
  }
}

module.exports = { FastPath };

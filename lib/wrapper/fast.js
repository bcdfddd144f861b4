'use strict';
// The fast path: a query Mongoose would only cast and send is served by the engine directly, with the
// filter cast in Rust by the model's schema (the schema bridge), skipping Mongoose's Query machinery.
// It takes only what it implements in full: a `find` / `findOne` (lean, or documents built by
// Mongoose's own `hydrate`, which is what Mongoose's query does with each document it reads) or a
// `countDocuments`, with no user middleware, plugin hook, populate, transform or session, on a schema
// with nothing Mongoose would add to the query (select: false paths, discriminators, aliases,
// strictQuery, a schema read preference). Anything else runs Mongoose's own path, and so does a query whose filter the engine
// cannot cast, so that the CastError is Mongoose's own, message and reason included.

const { ModelSchema } = require('./schema');

/** The ops served here, with the query options each takes; any other option means Mongoose's path. */
const READ_OPTIONS = new Set(['sort', 'limit', 'skip', 'batchSize', 'maxTimeMS', 'comment', 'hint', 'collation', 'allowDiskUse']);
const COUNT_OPTIONS = new Set(['limit', 'skip', 'maxTimeMS', 'comment', 'hint', 'collation']);
const OPS = { find: READ_OPTIONS, findOne: READ_OPTIONS, countDocuments: COUNT_OPTIONS };

function hasHooks(kareem, name) {
  return kareem != null && ((kareem._pres.get(name)?.length ?? 0) > 0 || (kareem._posts.get(name)?.length ?? 0) > 0);
}

/** Whether `schema` makes Mongoose change a query beyond casting its filter. */
function schemaAddsToQueries(root) {
  const { schema, base } = root;
  const options = schema.options;
  if (root.discriminators != null || schema.discriminatorMapping != null) return true;
  if (Object.keys(schema.aliases ?? {}).length > 0) return true;
  if (options.read != null || options.readConcern != null) return true;
  if (options.strictQuery ?? base.options?.strictQuery) return true;
  if (base.options?.sanitizeFilter || base.options?.translateAliases || base.options?.debug) return true;
  let selectFalse = false;
  schema.eachPath((_path, type) => {
    if (type.options?.select === false || type.selected === false) selectFalse = true;
  });
  return selectFalse;
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
    if (schemaAddsToQueries(root)) return;
    try {
      this.schema = new ModelSchema(root, ctx);
    } catch {
      // A schema the bridge cannot describe always takes Mongoose's path.
      this.schema = null;
    }
  }

  /** Whether the engine can serve `query` in full. */
  takes(query) {
    if (this.schema === null) return false;
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
    return !query.model.base.options?.debug && !query.model.db.options?.debug;
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
      if (err?.name !== 'CastError' || err.schemaErrors === undefined) throw err;
      query._executionStack = null;
      return mongoosePath();
    }
  }
}

module.exports = { FastPath };

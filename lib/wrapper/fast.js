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

const { ModelSchema, ownTypeCasts, timestampPaths } = require('./schema');

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
  if (model.db.config?.sanitizeFilter) return true;
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

/** A class instance the engine casts: a valid date, a RegExp, bytes or one of `PLAIN_BSON`. A
 *  Uint8Array that is not a Buffer is not: BSON makes it the bytes a Buffer makes, and Mongoose's
 *  Buffer cast refuses it. */
function isPlainValue(v) {
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return false;
  return v instanceof RegExp || ArrayBuffer.isView(v) || PLAIN_BSON.has(v._bsontype);
}

/** Whether `filter` is plain data, as Mongoose would cast and send it: objects, arrays, strings,
 *  numbers, booleans, null, valid dates, RegExps, bytes and the BSON values of `PLAIN_BSON`, at most
 *  `depth` deep. A function, symbol, bigint or undefined, a Map, a Mongoose document or another
 *  class's instance is Mongoose's to cast (or refuse). */
function plainFilter(value, depth = 16) {
  return plainData(value, depth, false);
}

/** The walk of `plainFilter` and, with `document`, of `plainDocument`'s further rules. */
function plainData(value, depth, document) {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
      return !document || value.isWellFormed();
    case 'number':
    case 'boolean':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (depth === 0) return false;
  if (Array.isArray(value)) {
    if (!document) return value.every((v) => plainData(v, depth - 1, false));
    for (let i = 0; i < value.length; i++) if (!(i in value) || !plainData(value[i], depth - 1, true)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return isPlainValue(value);
  // A plain object posing as a BSON value is js-bson's to refuse, or Mongoose's.
  if (Object.hasOwn(value, '_bsontype')) return false;
  let empty = true;
  for (const key in value) {
    empty = false;
    const v = value[key];
    if (document && (key.includes('.') || key.startsWith('$') || SPECIAL_KEYS.has(key) || !key.isWellFormed() || (key === '_id' && v == null))) return false;
    if (!plainData(v, depth - 1, document)) return false;
  }
  return !(document && empty);
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

/** Mongoose's own document middleware, which its built-in plugins add to every schema (by function
 *  name, Mongoose 8 and 9): what each does for a new document with no session, no shard key and no
 *  subdocument middleware is what the engine's cast does (validation, timestamps) or nothing. */
const BUILT_IN_HOOKS = new Set([
  'validateBeforeSave', 'saveSubdocsPreSave', 'saveSubdocsPostSave', 'saveSubdocsPreDeleteOne', 'saveSubdocsPostDeleteOne',
  'timestampsPreSave', 'shardingPluginPreSave', 'shardingPluginPostSave', 'shardingPluginPostInit', 'trackTransactionPreSave',
]);
/** The document middleware a new document meets in `create`: saving, validating, and `init`, which
 *  building the returned document with `hydrate` runs. */
const CREATE_HOOKS = ['save', 'validate', 'init'];

function ownHookCount(kareem) {
  let n = 0;
  for (const name of CREATE_HOOKS) {
    for (const list of [kareem._pres.get(name), kareem._posts.get(name)]) {
      for (const hook of list ?? []) if (!BUILT_IN_HOOKS.has(hook.fn?.name)) n++;
    }
  }
  return n;
}

/** The application's hooks on `schema` and on its subdocuments' schemas, now: Mongoose 8 runs a
 *  subdocument's hook added after its model was compiled. */
function hookCount(schema, seen = new Set()) {
  if (seen.has(schema)) return 0;
  seen.add(schema);
  let n = ownHookCount(schema.s.hooks);
  for (const child of schema.childSchemas ?? []) n += hookCount(child.schema, seen);
  return n;
}

/** Whether `fn` is a function of the platform's own (its source is `[native code]`). */
const isNative = (fn) => /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));

/** `Date.now` when this module loaded, and whether it was the platform's: a create compares identity,
 *  and reads a function's source only once fake timers have replaced it. */
const LOADED_NOW = Date.now;
const LOADED_NOW_NATIVE = isNative(LOADED_NOW);

/** Whether a new document reads the clock the engine reads: Mongoose's own `now()` (timestamps; a test
 *  may set `mongoose.now`) and the platform's `Date.now` (`default: Date.now`; fake timers such as
 *  sinon's and Jest's replace it with a function of their own). */
function realClock(base) {
  if (Object.hasOwn(base, 'now')) return false;
  return Date.now === LOADED_NOW ? LOADED_NOW_NATIVE : isNative(Date.now);
}

/** Whether a new document of `schema` is only cast, validated and stamped by Mongoose before its
 *  insert, as the engine does it: no middleware of the application's on it or its subdocuments, no
 *  option that changes the document Mongoose sends (`minimize: false`, a shard key, timestamps with
 *  their own clock or on subdocuments, discriminators of subdocuments) and an ObjectId `_id`
 *  Mongoose makes. */
function createsAsTheEngine(schema) {
  const options = schema.options;
  if (options.minimize === false || options.shardKey != null || options.writeConcern != null) return false;
  if (options.timestamps?.currentTime != null || schema.paths._id?.options?.auto !== true) return false;
  // Timestamps on date paths of the document itself, which the engine sets.
  for (const name of options.timestamps ? Object.values(timestampPaths(options.timestamps)) : []) {
    if (typeof name !== 'string') continue;
    if (name.includes('.') || (schema.paths[name] != null && schema.paths[name].instance !== 'Date')) return false;
  }
  return subdocumentsAsTheEngine(schema, true, new Set());
}

/** Whether Mongoose builds `schema`'s part of a new document as the engine does: no middleware of the
 *  application's, no discriminators, no timestamps on subdocuments, no virtual with a setter (the
 *  input may set it), no method queued with `schema.queue()`, and no path the engine's spec does not describe: a Buffer's `subtype`, an
 *  ObjectId with `auto` beside `_id`, a default given with `.default()` rather than as an option, a
 *  default subdocument or map. */
function subdocumentsAsTheEngine(schema, top, seen) {
  if (seen.has(schema)) return true;
  seen.add(schema);
  if (ownHookCount(schema.s.hooks) > 0 || (!top && schema.options.timestamps)) return false;
  if (Object.values(schema.virtuals ?? {}).some((virtual) => (virtual.setters?.length ?? 0) > 0)) return false;
  // A method queued with `schema.queue()` runs on each document Mongoose builds (applyQueue).
  if ((schema.callQueue ?? []).some(([name]) => name !== 'pre' && name !== 'post' && name !== 'on')) return false;
  let plain = true;
  schema.eachPath((path, type) => {
    const options = type.options ?? {};
    if (type.discriminators != null || type.Constructor?.discriminators != null || type.caster?.discriminators != null) plain = false;
    if (type.instance === 'Buffer' && options.subtype != null) plain = false;
    if (type.instance === 'ObjectId' && options.auto && path !== '_id') plain = false;
    const document = type.$isSingleNested || type.$isMongooseDocumentArray;
    if ((document || type.instance === 'Map') && Object.hasOwn(options, 'default')) plain = false;
    // (An auto `_id`'s default is Mongoose's ObjectId maker, which the spec knows.)
    const ownDefault = Object.hasOwn(options, 'default') ? options.default : undefined;
    if (!type.$isMongooseArray && !document && !options.auto && type.defaultValue !== ownDefault) plain = false;
  });
  if (!plain) return false;
  return (schema.childSchemas ?? []).every((child) => subdocumentsAsTheEngine(child.schema, false, seen));
}

/** What of `schema` and its subdocuments' schemas the fast path read when it was built, to notice a
 *  change made since (a path, validator, default, setter or option added or changed), which it has
 *  not taken in: each schema's options and, per path, its type, options, validators, setters and
 *  default. */
function fingerprint(schema, out = [], seen = new Set()) {
  if (seen.has(schema)) return out;
  seen.add(schema);
  out.push(schema, Object.keys(schema.paths).length, Object.keys(schema.virtuals ?? {}).length, ...Object.values(schema.options));
  for (const type of Object.values(schema.paths)) {
    out.push(type, type.options, type.validators?.length, type.setters?.length, type.defaultValue, type._castFunction);
  }
  for (const child of schema.childSchemas ?? []) fingerprint(child.schema, out, seen);
  return out;
}

function sameFingerprint(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Keys Mongoose drops or treats specially when it sets a document's paths. */
const SPECIAL_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Whether `value`, a document to create, is plain data that the engine casts as Mongoose does and
 *  that Mongoose's document keeps as BSON stores it: as a plain filter (`plainFilter`), with no key
 *  that Mongoose reads as a path (`a.b`), starts with `$` or is special (`__proto__`), no empty object
 *  (Mongoose's document keeps it, its insert does not), no null `_id` (Mongoose makes one), no array
 *  with holes, no string that is not well-formed UTF-16, at most `depth` deep. */
function plainDocument(value) {
  return plainData(value, 16, true);
}

/** The keys of `target`, a document's `_doc` or one of its nested objects as `hydrate` built them,
 *  as Mongoose's new document holds them: those of `source`, the document the engine cast (its key
 *  order, its empty nested objects), in its order. `hydrate` makes every nested object, first, with
 *  its defaults; one `source` does not have is one Mongoose's new document does not build (a nested
 *  path given a primitive, one under a nested object the input gives): left out. Subdocuments are put
 *  in order inside their own `_doc`. */
function inOrderOf(target, source) {
  const ordered = {};
  for (const key of Object.keys(source)) {
    if (!Object.hasOwn(target, key)) continue;
    const value = target[key];
    const from = source[key];
    if (value != null && typeof value === 'object' && from != null && typeof from === 'object' && !Array.isArray(from)) {
      if (value.$__ != null && value._doc != null) value._doc = inOrderOf(value._doc, from);
      else if (Object.getPrototypeOf(value) === Object.prototype) ordered[key] = inOrderOf(value, from);
    } else if (Array.isArray(from) && Array.isArray(value)) {
      from.forEach((element, i) => {
        const sub = value[i];
        if (sub?.$__ != null && sub._doc != null && element != null && typeof element === 'object') sub._doc = inOrderOf(sub._doc, element);
      });
    }
    if (!Object.hasOwn(ordered, key)) ordered[key] = value;
  }
  return ordered;
}

/** The fast path of one model (the application's, wrapped): its schema on the engine, or none when
 *  the model's schema always needs Mongoose. */
class FastPath {
  constructor(root, ctx) {
    this.root = root;
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
      return;
    }
    /** Whether `create` can run here, checked again per call for what may change since. */
    this.creates = this.schema.fnDefaults.length === 0 && this.schema.customChecks === 0 && createsAsTheEngine(root.schema);
    /** The application's hooks on the model's schema and its subdocuments' now: one added later sends
     *  `create` to Mongoose. */
    this.hookCount = hookCount(root.schema);
    /** The schema as the spec was built from it (`fingerprint`). */
    this.built = fingerprint(root.schema);
  }

  /** Whether the model's schema is still the one the spec was built from; once it is not, every call
   *  takes Mongoose's path, which reads the schema as it is now. */
  current() {
    if (this.schema !== null && !sameFingerprint(fingerprint(this.root.schema), this.built)) this.schema = null;
    return this.schema !== null;
  }

  /** Whether the engine can run `Model.create(...args)` in full: one plain object, no options, on a
   *  model whose new documents Mongoose would only cast, validate and stamp (`createsAsTheEngine`),
   *  with Mongoose's own `create`. */
  takesCreate(Model, args) {
    if (!this.creates || args.length !== 1 || this.root.discriminators != null) return false;
    const input = args[0];
    if (input === null || typeof input !== 'object' || Object.getPrototypeOf(input) !== Object.prototype) return false;
    const { base } = this.root;
    if (this.root.create !== base.Model.create || hookCount(this.root.schema) !== this.hookCount) return false;
    if (!realClock(base)) return false;
    // `hydrate` emits 'init' on the model, which Mongoose's create does not.
    if (Model.listeners('init').length > 0) return false;
    // `castNonArrays: false` refuses a single value for an array, which the engine wraps.
    if (base.Schema.Types.Array.options?.castNonArrays === false) return false;
    return !optionsAddToQueries(Model) && ownTypeCasts(base) && plainDocument(input) && this.current();
  }

  /** Creates one document as Mongoose's `create` would: cast, defaulted, validated and stamped by the
   *  engine, inserted, and given back as the model's document (`hydrate`, in Mongoose's key order,
   *  with the state of a document just saved), after the document's and the model's 'save' events.
   *  A document the engine refuses or cannot cast goes to `mongoosePath()`, which fails (or
   *  succeeds) as Mongoose does; a failed insert is Mongoose's error (`_transformDuplicateKeyError`),
   *  given to the model's 'error' listeners too. */
  async create(Model, input, mongoosePath) {
    let doc;
    let held;
    try {
      // The `_id`s are made by the application's ObjectId in Mongoose's order (ModelSchema.nextId), so
      // that they sort as Mongoose's do, and the ids the application makes next sort after them.
      ({ doc, held } = await this.schema.castDocument(input));
    } catch {
      return mongoosePath();
    }
    // Mongoose's own hydrate: a static of the application's of that name is not Mongoose's create.
    const created = this.root.base.Model.hydrate.call(Model, held);
    created._doc = inOrderOf(created._doc, held);
    // A document just validated and saved has no path in the 'init' state (it was built, not read),
    // its required paths in the 'require' state, as Mongoose's constructor puts them, and Mongoose
    // 9's record of a validation that found nothing.
    for (const document of [created, ...created.$getAllSubdocs()]) {
      const paths = document.$__.activePaths;
      paths.clear('init');
      for (const path of document.$__schema.requiredPaths()) paths.require(path);
    }
    if (this.schema.mongooseMajor >= 9) created.$__.validationError = null;
    // Validated: the document's and the model's 'validate' events, while the document is still new.
    created.$isNew = true;
    created.$emit('validate', created);
    Model.emit('validate', created);
    let result;
    try {
      result = await Model.collection.insertOne(doc);
    } catch (err) {
      const error = Model.schema._transformDuplicateKeyError?.(err) ?? err;
      // Document#$__handleReject: the model's 'error' listeners hear a failed save.
      if (Model.listeners('error').length > 0) Model.emit('error', error);
      throw error;
    }
    created.$isNew = false;
    // Mongoose gives an insert's result as the number affected.
    created.$emit('save', created, result);
    Model.emit('save', created, result);
    return created;
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
    return !optionsAddToQueries(query.model) && ownTypeCasts(query.model.base) && plainFilter(conditions) && this.current();
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
    // Mongoose's own hydrate, as its query builds each document (not a static of that name).
    const hydrate = (doc) => this.root.base.Model.hydrate.call(Model, doc);
    try {
      if (query.op === 'find') {
        const docs = await collection.castFind(native, query._conditions, options).toArray();
        return lean ? docs : docs.map(hydrate);
      }
      if (query.op === 'findOne') {
        const doc = await collection.castFindOne(native, query._conditions, options);
        return lean || doc === null ? doc : hydrate(doc);
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

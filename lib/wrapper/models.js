'use strict';
// wrapModel: the application's Mongoose model in any database, as a real Mongoose model on the engine.
//
// `wrapModel(User).db('acme')` is a subclass of `User` bound to a connection of database `acme`
// whose client is the engine (see lib/driver/mongoose.js): documents, middleware, plugins, populate
// and Mongoose's errors are Mongoose's own. Per model, a layer between `User` and its tenant classes
// counts operations for a graceful close and keeps populate inside the tenant; per database, one
// connection holds the database's classes, built on first use and kept in a bounded cache.

const { AsyncLocalStorage } = require('node:async_hooks');
const { EngineClient } = require('../driver/db');
const { contextFor, connectionClass, openConnection, mongooseLib, connectionWatch, iterable } = require('../driver/mongoose');
const { ModelSchema } = require('./schema');
const { checkDbNameType } = require('./options');
const { FastPath } = require('./fast');

/** Databases whose connection and model classes are kept ready unless `tenantCacheSize` says otherwise. */
const DEFAULT_TENANT_CACHE_SIZE = 1000;
/** Databases whose set-up (indexes, validator) is remembered per model; past this, the oldest is
 *  forgotten and runs again (it is idempotent) on its next write. */
const MAX_SET_UPS = 50_000;
/** MongoDB's NamespaceNotFound: collMod on a collection that does not exist yet. */
const NAMESPACE_NOT_FOUND = 26;
/** Schema options that only a `create` command can apply, so a collection is created for them. */
const COLLECTION_OPTIONS = ['capped', 'timeseries', 'clusteredIndex', 'collation', 'expireAfterSeconds', 'changeStreamPreAndPostImages', 'collectionOptions'];

/** The database's class whose `populate` is running, for the schema's ref functions (`refInDatabase`). */
const populating = new AsyncLocalStorage();
/** On a layer, inherited by its databases' classes: the application's model they were built from. */
const ROOT = Symbol('polymongo-rs: root model');
const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];

/** Whether `fn` is an ES class, which only `new` (or `Reflect.construct`) may call. */
function isClass(fn) {
  return /^class\b/.test(Function.prototype.toString.call(fn));
}

function isMongooseModel(value) {
  return typeof value === 'function' && typeof value.modelName === 'string' && value.schema != null
    && value.base != null && value.base.mongo != null && value.collection != null;
}

/** One of Mongoose's private symbols on a model's prototype chain, found by its description. */
function mongooseSymbol(prototype, description) {
  for (let p = prototype; p != null; p = Object.getPrototypeOf(p)) {
    const found = Object.getOwnPropertySymbols(p).find((symbol) => symbol.description === description);
    if (found !== undefined) return found;
  }
  throw new Error(`polymongo-rs: this Mongoose version has no ${description} symbol on its models`);
}

/** The database connections of one Mongoose instance under one wrapper, bounded: past `capacity`, a
 *  database not used since the last sweep is dropped (second chance), the default one never. A
 *  dropped connection stays valid for whoever still holds its models or documents. */
class TenantCache {
  constructor(capacity, pinned) {
    this.capacity = capacity;
    this.pinned = pinned;
    this.entries = new Map();
  }

  get(name) {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.conn;
  }

  set(name, conn) {
    this.entries.set(name, { conn, used: false });
    if (this.entries.size > this.capacity) this.evict();
  }

  /** Drops the oldest entry not used since the last sweep; used ones go to the back, unmarked. */
  evict() {
    for (let tries = this.entries.size; tries > 0; tries--) {
      const [name, entry] = this.entries.entries().next().value;
      this.entries.delete(name);
      if (name === this.pinned || entry.used) {
        entry.used = false;
        this.entries.set(name, entry);
        continue;
      }
      return;
    }
  }
}

/** What a wrapper knows about one Mongoose instance's models: their layers, their databases'
 *  connections, and the engine client those connections share. */
class Tenancy {
  constructor(wrapper, mongoose, capacity) {
    this.wrapper = wrapper;
    this.mongoose = mongoose;
    this.ctx = contextFor(mongoose);
    this.client = new EngineClient(wrapper._native, this.ctx);
    // A client bulkWrite through a database's connection sets up each collection it writes to first,
    // as that collection's own writes do.
    this.client._beforeWrite = (db, coll) => this.cached(db)?.collections[coll]?.collection._ready();
    this.defaultDb = wrapper._native.defaultDb;
    this.cache = new TenantCache(capacity, this.defaultDb);
    /** Per root model (the application's, or one of its discriminators): its layer. */
    this.layers = new Map();
    /** The `Layer` constructors of `layers`: a database's class of this tenancy extends one. */
    this.layerClasses = new WeakSet();
    /** Wrapped models by name, which a tenant's `model(name)` (populate, `this.model()`) finds first. */
    this.named = new Map();
    const tenancy = this;
    const watch = connectionWatch(mongoose);
    /** A database's connection: `model(name)` gives that database's class of any model of this
     *  Mongoose instance, so populate and `this.model()` stay in the database. It has no parent
     *  connection to fall back on (Mongoose's `useDb` falls back to the parent's models). Its
     *  `watch()` opens the stream at once (`connectionWatch`). */
    this.Connection = class TenantConnection extends connectionClass(mongoose) {
      watch(pipeline, options) {
        return watch.call(this, pipeline, options);
      }

      model(name, schema, collection, options) {
        if (schema === undefined && collection === undefined) {
          if (typeof name === 'string') return this.models[name] ?? tenancy.model(tenancy.rootNamed(name), this);
          if (isMongooseModel(name)) return tenancy.model(tenancy.rootOf(name), this);
        }
        return super.model(name, schema, collection, options);
      }
    };
  }

  /** The connection of database `name` (the default database for null), opened on first use. Throws a
   *  TypeError (`ERR_INVALID_DB_NAME`) for a name MongoDB refuses, before any I/O. */
  connection(name) {
    const key = name ?? this.defaultDb;
    let conn = this.cache.get(key);
    if (conn === undefined) {
      checkDbNameType(key);
      conn = this.databaseConnection(this.client.db(key));
      this.cache.set(key, conn);
    }
    return conn;
  }

  /** A database's connection: what differs from one database to another is its own (name, db, models,
   *  collections, listeners); the rest, the same for every database, comes from one template
   *  connection, so a database costs a few hundred bytes rather than a whole Connection. */
  databaseConnection(db) {
    if (this.template === undefined) {
      this.template = openConnection(new this.Connection(this.mongoose), this.client, this.client.db(this.defaultDb));
      // Mongoose's queries read `sanitizeFilter` from their connection's config first, which
      // `useDb` copies from its parent: here, from the wrapped models' own connections.
      Object.defineProperty(this.template.config, 'sanitizeFilter', { get: () => this.sanitizeFilter(), enumerable: true, configurable: true });
    }
    const conn = Object.create(this.template);
    conn.name = db.databaseName;
    conn.$dbName = db.databaseName;
    conn.db = db;
    // Its own config, over the template's: `conn.set('sanitizeFilter', ...)` then sets this
    // database's options alone, as on a connection of `useDb()`.
    conn.config = Object.create(this.template.config);
    conn.models = {};
    conn.collections = {};
    // Listeners are the database's own: EventEmitter makes `_events` on the first listener.
    conn._events = undefined;
    conn._eventsCount = 0;
    return conn;
  }

  /** The `sanitizeFilter` of the databases' connections: true when the connection of any wrapped
   *  model asks for it (its config, as `mongoose.connect(uri, { sanitizeFilter })` sets it, or its
   *  options, as `connection.set()` does), since the databases of one Mongoose instance share
   *  connections; false when every one says false; else undefined, and Mongoose reads the global
   *  option and the query's. */
  sanitizeFilter() {
    let all = this.layers.size > 0;
    for (const { root } of this.layers.values()) {
      const value = root.db?.config?.sanitizeFilter ?? root.db?.options?.sanitizeFilter;
      if (value) return true;
      all &&= value === false;
    }
    return all ? false : undefined;
  }

  /** The connection of database `name` if it is in the cache, else undefined. */
  cached(name) {
    return this.cache.get(name ?? this.defaultDb);
  }

  /** `root`'s class in the database of `conn`, a database's connection. A class built from a model
   *  the application has since replaced under the same name (`overwriteModels`, `deleteModel`) is
   *  built again from the new one, as Mongoose's own `model(name)` gives the new one. */
  model(root, conn) {
    const built = conn.models[root.modelName];
    return built !== undefined && built[ROOT] === root ? built : this.build(this.layer(root), conn);
  }

  /** The application's model of that name: a wrapped one, else one registered on its Mongoose. */
  rootNamed(name) {
    const root = this.named.get(name) ?? this.mongoose.models[name];
    if (root === undefined) throw new this.mongoose.Error.MissingSchemaError(name);
    return this.rootOf(root);
  }

  /** The application's model behind a tenant class or a wrapped model's handle. */
  rootOf(model) {
    for (const layer of this.layers.values()) {
      if (model === layer.root || Object.prototype.isPrototypeOf.call(layer.Layer.prototype, model.prototype ?? null)) return layer.root;
    }
    return model;
  }

  /** A database's class of `layer.root`: a subclass bound to `conn` and its collection, as Mongoose
   *  subclasses a model for another connection, with the database's classes of its discriminators. */
  build(layer, conn) {
    const { root, construct } = layer;
    const Tenant = function model(doc, fields, skipId) {
      if (new.target === undefined && !(this instanceof Tenant)) return new Tenant(doc, fields, skipId);
      // A document of a discriminator is one of this database's discriminator classes.
      const Discriminator = discriminatorOf(Tenant, doc);
      if (Discriminator !== undefined) return new Discriminator(doc, fields, skipId);
      if (construct) return Reflect.construct(root, [doc, fields, skipId], new.target ?? Tenant);
      root.call(this, doc, fields, skipId);
    };
    Object.setPrototypeOf(Tenant, layer.Layer);
    // The prototype holds only `constructor`: its database and collection come from the class,
    // through accessors on the layer's prototype (`perClass`), as a prototype's own properties cost
    // V8 a dictionary of about 450 bytes per database.
    Object.setPrototypeOf(Tenant.prototype, layer.Layer.prototype);
    const collection = this.collectionIn(layer, conn);
    Tenant.db = conn;
    Tenant.collection = collection;
    Tenant.$__collection = collection;
    // Its own listeners (a model is an EventEmitter): else `on()` and `emit()` would use the
    // application model's, and a listener of one database would hear every database's saves.
    Tenant._events = undefined;
    Tenant._eventsCount = 0;
    conn.models[root.modelName] = Tenant;
    const baseRoot = layer.root.baseModelName === undefined ? undefined : this.named.get(layer.root.baseModelName) ?? this.mongoose.models[layer.root.baseModelName];
    const base = baseRoot === undefined ? undefined : this.layer(this.rootOf(baseRoot));
    if (base?.setsUp) {
      // Mongoose leaves the base model's indexes out of a discriminator's: a database whose first
      // writes are a discriminator's documents sets its base model up too, and first, as Mongoose
      // builds the base model's indexes when it compiles it.
      collection.collection._beforeWrite = () => {
        const first = this.setUp(base, this.model(base.root, conn));
        const then = () => (layer.setsUp ? this.setUp(layer, Tenant) : null);
        return first === null ? then() : first.then(then);
      };
    } else if (layer.setsUp) {
      collection.collection._beforeWrite = () => this.setUp(layer, Tenant);
    }
    return Tenant;
  }

  /** `layer.root`'s Mongoose collection in the database of `conn`: Mongoose's own collection layer
   *  (buffering, debug printing, operation events) over the engine's collection. Like connections,
   *  it takes what every database shares from a template collection of the layer's. */
  collectionIn(layer, conn) {
    layer.collectionTemplate ??= this.template.collection(layer.collectionName, layer.collectionOptions);
    const collection = Object.create(layer.collectionTemplate);
    collection.conn = conn;
    collection.collection = conn.db.collection(layer.collectionName);
    conn.collections[layer.collectionName] = collection;
    return collection;
  }

  /** The layer of `root`: statics and methods every database's class of it inherits. */
  layer(root) {
    let layer = this.layers.get(root);
    if (layer === undefined) {
      layer = this.makeLayer(root);
      this.layers.set(root, layer);
    }
    return layer;
  }

  /** A new layer of `root`, with `wrapModel`'s `options`: a constructor between `root` and its
   *  databases' classes whose statics and prototype count operations (`wrapper._operation`), run
   *  queries the engine serves in full on the fast path, keep populate in the database and make
   *  `init()` set a database up; and what setting a database up needs. */
  makeLayer(root, options = {}) {
    const tenancy = this;
    const { wrapper } = this;
    const schema = root.schema;
    const Layer = function Layer() {
      throw new TypeError('polymongo-rs: use wrapModel(Model).db(name) to get a model of a database');
    };
    Object.setPrototypeOf(Layer, root);
    Object.setPrototypeOf(Layer.prototype, root.prototype);
    Object.defineProperty(Layer, ROOT, { value: root });
    this.layerClasses.add(Layer);
    // A document of a discriminator is an instance of its database's class of the base model, as a
    // Mongoose discriminator extends its base (insertMany, populate and `instanceof` checks rely on
    // it); a database's discriminator class extends the discriminator's layer instead.
    Object.defineProperty(Layer, Symbol.hasInstance, {
      value: function isDocumentOf(value) {
        if (ordinaryHasInstance.call(this, value)) return true;
        if (value == null || !ordinaryHasInstance.call(root, value)) return false;
        const Class = value.constructor;
        if (typeof Class !== 'function' || !tenancy.layerClasses.has(Object.getPrototypeOf(Class))) return false;
        return this === Layer || Class.db === this.db;
      },
    });
    // Operations started through a model count until they settle: a graceful close waits for them.
    Layer.Query = function Query(...args) {
      root.Query.apply(this, args);
    };
    Object.setPrototypeOf(Layer.Query.prototype, root.Query.prototype);
    Layer.Query.base = root.Query.base;
    Layer.Query.prototype.constructor = root.Query.prototype.constructor;
    // A query the engine serves in full skips Mongoose's machinery (lib/wrapper/fast.js).
    const fast = new FastPath(root, this.ctx);
    const exec = root.Query.prototype.exec;
    Layer.Query.prototype.exec = function execOnEngine(...args) {
      if (args.length === 0 && fast.takes(this)) return wrapper._operation(() => fast.run(this, () => exec.apply(this, args)));
      return wrapper._operation(() => exec.apply(this, args));
    };
    // A `create` the engine runs in full skips Mongoose's document and save machinery (lib/wrapper/fast.js).
    const create = root.create;
    Layer.create = function createOnEngine(...args) {
      if (fast.schema !== null && fast.takesCreate(this, args)) return wrapper._operation(() => fast.create(this, args[0], () => create.apply(this, args)));
      return create.apply(this, args);
    };
    const save = root.prototype.save;
    // `create()` saves through `$save`, Mongoose's alias of `save`.
    Layer.prototype.save = function saveOnEngine(...args) {
      return wrapper._operation(() => save.apply(this, args));
    };
    Layer.prototype.$save = Layer.prototype.save;
    for (const name of ['insertMany', 'bulkWrite', 'bulkSave']) {
      const run = root[name];
      Layer[name] = function writeOnEngine(...args) {
        return wrapper._operation(() => run.apply(this, args));
      };
    }
    // A discriminator is the application's model's: registered on it, so that every database's class
    // has it, and given back as this database's class of it.
    Layer.discriminator = function discriminatorOfRoot(...args) {
      const Discriminator = root.discriminator(...args);
      return this === Layer ? Discriminator : tenancy.model(Discriminator, this.db);
    };
    // `for await` over Model.watch(), as over the Node driver's stream.
    const watch = root.watch;
    Layer.watch = function watchOnEngine(...args) {
      return iterable(watch.apply(this, args));
    };
    // Populate resolves every model inside this database, including refs given as model classes.
    const populate = root.populate;
    Layer.populate = function populateInDatabase(docs, paths) {
      return populating.run(this, () => populate.call(this, docs, inDatabase(tenancy, this, paths)));
    };
    refsInDatabase(tenancy, schema);
    staticHooksOnThis(Layer, root);
    perClass(tenancy, Layer, root);
    // `init()` readies this database (indexes, validator) instead of the application's connection,
    // and rejects with what failed, as Mongoose's does.
    Layer.init = async function initOnEngine() {
      const layer = tenancy.layer(root);
      const failed = (await tenancy.setUp(layer, this)) ?? layer.setUps.get(this.db.name);
      if (failed instanceof Error) throw failed;
    };
    const autoIndex = options.autoIndex ?? (schema.options.autoIndex ?? root.db?.config?.autoIndex ?? root.base.options?.autoIndex) !== false;
    const layer = {
      root,
      Layer,
      fast,
      // An ES-class model (`mongoose.model(class extends Model {}, schema)`) can only be constructed.
      construct: isClass(root),
      collectionName: root.collection.collectionName,
      collectionOptions: { schemaUserProvidedOptions: schema._userProvidedOptions ?? {}, capped: schema.options.capped },
      autoIndex,
      explicitAutoIndex: options.autoIndex === true,
      jsonSchema: options.jsonSchema === true,
      createsCollection: COLLECTION_OPTIONS.some((name) => schema.options[name] != null && schema.options[name] !== false),
      /** Per database: true once set up, the error the server refused it with, or the set-up under way. */
      setUps: new Map(),
    };
    layer.setsUp = layer.autoIndex || layer.jsonSchema || layer.createsCollection;
    return layer;
  }

  /** Wraps `root` with `options` (`autoIndex`, `jsonSchema`); the first call for a model decides them. */
  wrap(root, options) {
    let layer = this.layers.get(root);
    if (layer === undefined) {
      layer = this.makeLayer(root, options);
      this.layers.set(root, layer);
    }
    this.named.set(root.modelName, root);
    return layer;
  }

  /** Before the first write to a database: its collection (when the schema has collection options),
   *  its `$jsonSchema` validator (with `jsonSchema: true`) and its indexes (autoIndex, by Mongoose's own
   *  `ensureIndexes`), once per database. The write waits, so a unique index holds from the first
   *  document. Reads never come here, so reading a database does not create it. A failure is reported
   *  on the wrapper (an 'error' event), never thrown into the write that started it; a refusal by the
   *  server is not tried again, a failure to reach it is. Null once done; else a promise of the
   *  failure, if any. */
  setUp(layer, Tenant) {
    const db = Tenant.db.name;
    const pending = layer.setUps.get(db);
    if (pending === true || pending instanceof Error) return null;
    if (pending !== undefined) return pending;
    const run = this.runSetUp(layer, Tenant).then(
      () => {
        layer.setUps.set(db, true);
      },
      (err) => {
        if (typeof err.code === 'number') layer.setUps.set(db, err);
        else layer.setUps.delete(db);
        this.wrapper._report(err, { db, collection: layer.collectionName, during: 'setUp' });
        return err;
      },
    );
    if (layer.setUps.size >= MAX_SET_UPS) layer.setUps.delete(layer.setUps.keys().next().value);
    layer.setUps.set(db, run);
    return run;
  }

  async runSetUp(layer, Tenant) {
    if (layer.jsonSchema) {
      const schema = layer.fast.schema ?? new ModelSchema(layer.root, this.ctx);
      layer.validator ??= this.ctx.codec.decode(schema.native.jsonSchema());
      await applyValidator(Tenant.db.db, layer.collectionName, layer.validator);
    } else if (layer.createsCollection) {
      await Tenant.createCollection();
    }
    if (layer.autoIndex) await Tenant.ensureIndexes(layer.explicitAutoIndex ? {} : { _automatic: true });
  }
}

/** What Mongoose keeps per model on its prototype (`db`, `collection`, `$collection` and their
 *  symbols; Model.compile) made accessors on `Layer.prototype` that read a database's class, and its
 *  `discriminators` an accessor on `Layer` giving this database's classes of the root's discriminators
 *  as the root has them now: one registered after a class was built is that database's too (never
 *  the root's own class, which writes to the application's database), and one replaced with
 *  `overwriteModels` is the new one. Assigning one of them (Mongoose's `useConnection` does) makes
 *  it an own property. */
function perClass(tenancy, Layer, root) {
  const own = (target, key, value) => Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: true });
  const fromClass = (key, classKey) => ({
    get() {
      return this.constructor[classKey];
    },
    set(value) {
      own(this, key, value);
    },
    configurable: true,
  });
  const prototype = root.prototype;
  const dbSymbol = mongooseSymbol(prototype, 'mongoose#Model#db');
  const collectionSymbol = mongooseSymbol(prototype, 'mongoose#Model#collection');
  const accessors = { [dbSymbol]: fromClass(dbSymbol, 'db'), [collectionSymbol]: fromClass(collectionSymbol, 'collection') };
  // A schema path (or virtual) named `db` or `collection` is the document's, as in Mongoose, whose
  // compiled schema defines its accessor over the model's own.
  for (const [key, classKey] of [['db', 'db'], ['collection', 'collection'], ['$collection', 'collection']]) {
    if (root.schema.pathType(key) === 'adhocOrUndefined') accessors[key] = fromClass(key, classKey);
  }
  Object.defineProperties(Layer.prototype, accessors);
  const known = new WeakMap();
  Object.defineProperty(Layer, 'discriminators', {
    enumerable: true,
    configurable: true,
    get() {
      const ofRoot = root.discriminators;
      if (ofRoot == null || this === Layer) return ofRoot;
      const names = Object.keys(ofRoot);
      let classes = known.get(this);
      // A discriminator replaced with `overwriteModels` has a new root under the same name.
      if (classes === undefined || Object.keys(classes).length !== names.length || names.some((name) => classes[name]?.[ROOT] !== ofRoot[name])) {
        classes = Object.fromEntries(names.map((name) => [name, tenancy.model(ofRoot[name], this.db)]));
        known.set(this, classes);
      }
      return classes;
    },
    set(value) {
      own(this, 'discriminators', value);
    },
  });
}

/** The discriminator class of `Model` (a database's class) that `doc` names by its discriminator key. */
function discriminatorOf(Model, doc) {
  const discriminators = Model.discriminators;
  if (discriminators == null || doc == null) return undefined;
  const value = doc[Model.schema.options.discriminatorKey];
  if (value == null) return undefined;
  if (Object.hasOwn(discriminators, value) && discriminators[value] !== Model) return discriminators[value];
  return Object.values(discriminators).find((D) => D !== Model && D.schema.discriminatorMapping?.value === value);
}

/** Applies `validator` to the collection, creating it when it does not exist yet. */
async function applyValidator(db, collection, validator) {
  try {
    await db.command({ collMod: collection, validator });
  } catch (err) {
    if (err.code !== NAMESPACE_NOT_FOUND) throw err;
    await db.command({ create: collection, validator });
  }
}

/** A model class given where Mongoose takes a model (a ref, a populate `model`): its modelName. */
function modelNameOf(value) {
  return typeof value === 'function' && typeof value.modelName === 'string' ? value.modelName : undefined;
}

/** The model class a schema path refers to (`ref: Model`, not a name), if any. */
function classRefAt(schema, path) {
  const type = schema.path(path);
  const element = type?.embeddedSchemaType ?? type?.$embeddedSchemaType ?? type?.caster;
  const ref = type?.options?.ref ?? element?.options?.ref ?? schema.virtualpath?.(path)?.options?.ref;
  return modelNameOf(ref) === undefined ? undefined : ref;
}

/** Whether `model` is the application's model of its name rather than one bound to a database: a
 *  wrapped model, its handle or layer, or a model registered on the application's Mongoose. */
function isApplicationModel(tenancy, model) {
  if (tenancy.mongoose.models[model.modelName] === model) return true;
  for (const layer of tenancy.layers.values()) {
    if (model === layer.root || model === layer.Layer || model.prototype === layer.Layer.prototype) return true;
  }
  return false;
}

/** `model` given by a ref or a populate option, as this database's (`conn`'s) class when it is the
 *  application's model; a model already bound to a database (`M.db('catalog')`, another
 *  connection's) is the application's explicit choice and stays as it is. */
function modelIn(tenancy, conn, model) {
  const name = modelNameOf(model);
  return name !== undefined && isApplicationModel(tenancy, model) ? conn.model(name) : model;
}

const IN_DATABASE = Symbol('polymongo-rs: a ref function that resolves in the populating database');

/** `ref` functions in `schema` (and its subdocuments' schemas and virtuals) made to give, while one of
 *  this wrapper's database classes populates, that database's class in place of an application
 *  model they return: Mongoose uses a model returned by a ref function as it is, which would read the
 *  application's default database. Elsewhere (the application's own models on its connections) they
 *  return what they always did. Each function is wrapped once. */
function refsInDatabase(tenancy, schema, seen = new Set()) {
  if (seen.has(schema)) return;
  seen.add(schema);
  const wrap = (options) => {
    const ref = options?.ref;
    if (typeof ref !== 'function' || modelNameOf(ref) !== undefined || ref[IN_DATABASE]) return;
    const inDatabase = function refInDatabase(...args) {
      const value = ref.apply(this, args);
      const Tenant = populating.getStore();
      return Tenant === undefined || modelNameOf(value) === undefined ? value : modelIn(tenancy, Tenant.db, value);
    };
    inDatabase[IN_DATABASE] = true;
    options.ref = inDatabase;
  };
  schema.eachPath((_path, type) => {
    wrap(type.options);
    wrap((type.embeddedSchemaType ?? type.$embeddedSchemaType ?? type.caster)?.options);
  });
  for (const virtual of Object.values(schema.virtuals ?? {})) wrap(virtual.options);
  for (const child of schema.childSchemas ?? []) refsInDatabase(tenancy, child.schema, seen);
}

/** Mongoose 8 binds a model's insertMany middleware and its statics' middleware to the model it
 *  compiled (helpers/model/applyStaticHooks.js: its `$__insertMany` is wrapped with the model as
 *  context), so a database's class would run them, and the write, on the application's connection.
 *  Wrapped again on `Layer` to run on the class they are called on, as Mongoose 9 does. */
function staticHooksOnThis(Layer, root) {
  if (!Object.hasOwn(root, '$__insertMany')) return;
  const hooks = root.schema.s.hooks;
  const kareemOptions = { useErrorHandlers: true, numCallbackParams: 1 };
  Layer.$__insertMany = hooks.createWrapper('insertMany', Object.getPrototypeOf(root).$__insertMany, null, kareemOptions);
  // A static named after built-in middleware takes only hooks registered with `{ model: true }`.
  const constants = mongooseLib(root.base, 'constants') ?? {};
  const builtIn = new Set(['query', 'aggregate', 'model', 'document'].flatMap((kind) => constants[`${kind}MiddlewareFunctions`] ?? []));
  const ownHooks = hooks.filter((hook) => (builtIn.has(hook.name) ? !!hook.model : hook.model !== false));
  for (const [name, fn] of Object.entries(root.schema.statics)) {
    // Mongoose replaced the statics it gave middleware.
    if (root[name] === fn || !ownHooks.hasHooks(name)) continue;
    Layer[name] = function staticOnThisModel(...args) {
      return new Promise((resolve, reject) => {
        ownHooks.execPre(name, this, args, (err) => {
          if (err != null) return reject(err);
          Promise.resolve().then(() => fn.apply(this, args)).then(
            (res) => ownHooks.execPost(name, this, [res], (postErr) => (postErr != null ? reject(postErr) : resolve(res))),
            reject,
          );
        });
      });
    };
  }
}

/** Populate options with every application model given as a class (a `model` option, a schema's
 *  `ref: Model`) replaced by that model's class in `Tenant`'s database, so populate never reads the
 *  application's default connection or another database unless the application names a database's
 *  model itself. */
function inDatabase(tenancy, Tenant, paths) {
  if (Array.isArray(paths)) return paths.map((p) => inDatabase(tenancy, Tenant, p));
  const conn = Tenant.db;
  if (typeof paths === 'string') {
    const list = paths.split(/\s+/).filter(Boolean);
    if (!list.some((path) => classRefAt(Tenant.schema, path))) return paths;
    return list.map((path) => inDatabase(tenancy, Tenant, { path }));
  }
  if (paths == null || typeof paths !== 'object') return paths;
  const given = paths.model ?? (typeof paths.path === 'string' && !paths.path.includes(' ') ? classRefAt(Tenant.schema, paths.path) : undefined);
  const model = modelNameOf(given) === undefined ? given : modelIn(tenancy, conn, given);
  if (model === paths.model || model === given) return paths;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(paths)), paths);
  copy.model = model;
  return copy;
}

/** What `wrapModel()` returns: the model of the default database, with `db(name)` for any other. Its
 *  statics run on the default database's class; `new` makes a document of the default database;
 *  `instanceof` holds for documents of every database. `db` is its own property, read at a plain
 *  property's cost; everything else comes through a proxy behind it. */
function wrappedHandle(tenancy, layer) {
  const { root, Layer } = layer;
  const Model = () => tenancy.model(root, tenancy.connection(null));
  const bound = new Map();
  const statics = new Proxy(function wrappedStatics() {}, {
    get(_, prop) {
      if (prop === Symbol.hasInstance) return (value) => value instanceof Layer;
      const Default = Model();
      const value = Reflect.get(Default, prop, Default);
      // Function's own methods (valueOf, toString, call, ...) stay this handle's: Mongoose's clone of a
      // populate `model` takes its valueOf().
      if (typeof value !== 'function' || prop === 'prototype' || value === Function.prototype[prop]) return value;
      const cached = bound.get(prop);
      if (cached !== undefined && cached.value === value && cached.model === Default) return cached.bound;
      const fn = value.bind(Default);
      bound.set(prop, { value, model: Default, bound: fn });
      return fn;
    },
    set(_, prop, value) {
      Model()[prop] = value;
      return true;
    },
    has(_, prop) {
      return prop in Model();
    },
  });
  const handle = function wrapped(...args) {
    return new (Model())(...args);
  };
  handle.prototype = Layer.prototype;
  handle.db = (name) => tenancy.model(root, tenancy.connection(name ?? null));
  Object.setPrototypeOf(handle, statics);
  return handle;
}

module.exports = { Tenancy, wrappedHandle, isMongooseModel, DEFAULT_TENANT_CACHE_SIZE };

// The contenders of `npm run bench`, each in the shape the workloads drive:
//   tenant(db)         what an app does per request to reach a tenant's data (`.db(name)` or the
//                      peer's equivalent); returns a handle
//   findOne(h, _id), insertOne(h, n), find100(h), slowCount(h)   one operation on that handle
//   save(h, _id, n)    (document contenders) read a document, change a field, `save()` it
//   close()
// Every contender runs with a pool of POOL connections; `lean` contenders read plain objects as
// polymongo-rs does, the others Mongoose documents. The ceiling, a Rust program, is in ceiling.mjs.
import mongoose from 'mongoose';
import PolyMongoJs from 'polymongo';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { PolyMongo } from '../index.mjs';

const require = createRequire(import.meta.url);
export const POOL = 10;
/** The collection every workload reads and writes. */
export const COLLECTION = 'items';
const MODEL = 'Item';
const definition = { n: Number, name: String, email: String, score: Number, tags: [String], active: Boolean, createdAt: Date };

/** The benchmark's document; bench/ceiling/main.rs writes the same. */
export const document = (n) => ({
  n, name: `user ${n}`, email: `user${n}@example.com`, score: (n % 100) / 3, tags: ['alpha', 'beta', 'gamma'], active: n % 2 === 0, createdAt: new Date(),
});

const SLOW_FILTER = { name: /never-there/ };

/** Model-style operations (polymongo-rs, Mongoose, PolyMongo): documents, or plain objects with `lean`. */
function modelOps(lean) {
  const read = (query) => (lean ? query.lean() : query);
  return {
    findOne: (Model, _id) => read(Model.findOne({ _id })),
    insertOne: (Model, n) => Model.create(document(n)),
    find100: (Model) => read(Model.find({}).limit(100)),
    save: async (Model, _id, n) => {
      const doc = await Model.findOne({ _id });
      doc.score = n % 1000;
      return doc.save();
    },
    slowCount: (Model) => Model.countDocuments(SLOW_FILTER),
  };
}

function polymongoRs(uri, lean, options = {}) {
  const wrapper = PolyMongo.createWrapper({ mongoURI: uri, defaultDB: 'bench_default', maxPoolSize: POOL, handleSignals: false, ...options });
  const m = new mongoose.Mongoose();
  const Item = wrapper.wrapModel(m.model(MODEL, new m.Schema(definition)));
  return { tenant: (db) => Item.db(db), ...modelOps(lean), close: () => wrapper.disconnect() };
}

function polymongoJs(uri, lean) {
  // PolyMongo 1.3 builds its connections on the default mongoose instance and registers the model's
  // schema on them. Each wrapper adds SIGINT/SIGTERM/SIGUSR2 listeners that exit the process and are
  // never removed, and each database first used before the pool connects adds a 'connected'
  // listener: raise Node's listener warning limit so the bench's many wrappers do not print it.
  EventEmitter.defaultMaxListeners = 100;
  process.setMaxListeners(100);
  const wrapper = PolyMongoJs.createWrapper({ mongoURI: uri, defaultDB: 'bench_default', maxPoolSize: POOL });
  const Item = wrapper.wrapModel(mongoose.models[MODEL] ?? mongoose.model(MODEL, new mongoose.Schema(definition)));
  return { tenant: (db) => Item.db(db), ...modelOps(lean), close: () => wrapper.disconnect() };
}

function mongooseUseDb(uri, lean) {
  const m = new mongoose.Mongoose();
  const schema = new m.Schema(definition);
  const connection = m.createConnection(uri, { maxPoolSize: POOL });
  return {
    tenant: (db) => connection.useDb(db, { useCache: true }).model(MODEL, schema),
    ...modelOps(lean),
    close: () => connection.close(),
  };
}

function mongoosePoolPerTenant(uri) {
  const m = new mongoose.Mongoose();
  const schema = new m.Schema(definition);
  const models = new Map();
  return {
    tenant: (db) => {
      let Model = models.get(db);
      if (!Model) {
        Model = m.createConnection(uri, { dbName: db, maxPoolSize: POOL }).model(MODEL, schema);
        models.set(db, Model);
      }
      return Model;
    },
    ...modelOps(true),
    close: () => Promise.all([...models.values()].map((Model) => Model.db.close())),
  };
}

function nodeDriver(uri) {
  const client = new mongoose.mongo.MongoClient(uri, { maxPoolSize: POOL });
  return {
    tenant: (db) => client.db(db).collection(COLLECTION),
    findOne: (items, _id) => items.findOne({ _id }),
    insertOne: (items, n) => items.insertOne(document(n)),
    find100: (items) => items.find({}).limit(100).toArray(),
    slowCount: (items) => items.countDocuments(SLOW_FILTER),
    close: () => client.close(),
  };
}

const version = (pkg) => require(`${pkg}/package.json`).version;

/** key → { name, make(uri) }; `key` is how a child process names its contender. */
export const CONTENDERS = {
  'polymongo-rs': { name: `polymongo-rs ${require('../package.json').version} .lean()`, make: (uri) => polymongoRs(uri, true) },
  'polymongo-rs-docs': { name: `polymongo-rs ${require('../package.json').version}`, make: (uri) => polymongoRs(uri, false) },
  'polymongo-rs-share2': { name: 'polymongo-rs, maxConcurrentPerDb 2', make: (uri) => polymongoRs(uri, true, { maxConcurrentPerDb: 2 }) },
  polymongo: { name: `PolyMongo ${version('polymongo')}`, make: (uri) => polymongoJs(uri, false) },
  'polymongo-lean': { name: `PolyMongo ${version('polymongo')} .lean()`, make: (uri) => polymongoJs(uri, true) },
  usedb: { name: `Mongoose ${mongoose.version} useDb`, make: (uri) => mongooseUseDb(uri, false) },
  'usedb-lean': { name: `Mongoose ${mongoose.version} useDb .lean()`, make: (uri) => mongooseUseDb(uri, true) },
  'pool-per-tenant': { name: 'Mongoose createConnection per tenant .lean()', make: mongoosePoolPerTenant },
  driver: { name: `Node driver ${version('mongodb')} client.db()`, make: nodeDriver },
};

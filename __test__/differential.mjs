// Runs the same application code two ways and compares what it saw: through polymongo-rs
// (`wrapModel(M).db(name)`, Mongoose on the engine) and through plain Mongoose on the Node driver
// (`mongoose.createConnection(uri).useDb(name)`), each in a fresh database, on Mongoose 8 or 9.
import { createRequire } from 'node:module';
import { PolyMongo } from '../index.mjs';
import { uniqueDb } from './helpers.mjs';

const require = createRequire(import.meta.url);

/** The Mongoose versions every differential test runs on. */
export const MONGOOSES = [require('mongoose'), require('mongoose9')];

/** `value` with generated ids, dates and hashes masked, as JSON, so two runs compare by content. */
export function normalize(value) {
  const seen = new Map();
  const walk = (v) => {
    if (v === undefined) return '<undefined>';
    const id = (hex) => {
      if (!seen.has(hex)) seen.set(hex, `<id ${seen.size}>`);
      return seen.get(hex);
    };
    if (v === null || typeof v !== 'object') {
      if (typeof v !== 'string') return v;
      if (/^\$2[aby]\$/.test(v)) return '<bcrypt hash>';
      if (/^[0-9a-f]{24}$/.test(v)) return id(v);
      if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) return '<date>';
      return v;
    }
    if (v._bsontype === 'ObjectId' || v._bsontype === 'ObjectID') return id(v.toHexString());
    if (v instanceof Date || v._bsontype === 'Timestamp') return '<date>';
    if (typeof v.toObject === 'function' && v.$__ !== undefined) return walk(v.toObject());
    if (typeof v.toBSON === 'function' && v._bsontype) return `<${v._bsontype} ${v.toString()}>`;
    if (v instanceof Error) return { error: v.name, message: v.message, code: v.code };
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Map) return walk(Object.fromEntries(v));
    return Object.fromEntries(Object.keys(v).map((k) => [k, walk(v[k])]));
  };
  return JSON.stringify(walk(value));
}

/** Both ways of running application code against `uri` with Mongoose module `mongoose`. `open()` once
 *  before use, `close()` after. */
export class TwoWays {
  constructor(mongoose, uri, prefix) {
    this.mongoose = mongoose;
    this.uri = uri;
    this.prefix = prefix;
  }

  async open() {
    this.wrapper = PolyMongo.createWrapper({ mongoURI: this.uri, defaultDB: `${this.prefix}_default`, handleSignals: false });
    this.connections = [];
  }

  async close() {
    await this.wrapper.disconnect();
    await Promise.all(this.connections.map((conn) => conn.close()));
  }

  /** `define(mongoose)` returns `{ ModelName: schema }` (schemas of that Mongoose instance, plugins and
   *  middleware included). Runs `scenario(models, info)` on each side, where `models` are that side's
   *  models of one fresh database and `info` is `{ way: 'ours' | 'theirs', db, models }`; resolves to
   *  `{ ours, theirs }`, each what the scenario returned or the error it threw. */
  async run(define, scenario) {
    const ours = this.#ours(define);
    const theirs = await this.#theirs(define);
    const settle = async (side) => {
      try {
        return await scenario(side.models, side);
      } catch (err) {
        return err;
      }
    };
    return { ours: await settle(ours), theirs: await settle(theirs), oursSide: ours, theirsSide: theirs };
  }

  #ours(define) {
    const base = new this.mongoose.Mongoose();
    const db = uniqueDb(this.prefix);
    const handles = {};
    for (const [name, schema] of Object.entries(define(base))) handles[name] = this.wrapper.wrapModel(base.model(name, schema));
    const models = Object.fromEntries(Object.entries(handles).map(([name, handle]) => [name, handle.db(db)]));
    return { way: 'ours', db, models, handles, base };
  }

  async #theirs(define) {
    // The connection belongs to the Mongoose instance the schemas were made with, so its global
    // plugins apply on both sides.
    const base = new this.mongoose.Mongoose();
    const db = uniqueDb(this.prefix);
    const schemas = define(base);
    const parent = await base.createConnection(this.uri).asPromise();
    this.connections.push(parent);
    const conn = parent.useDb(db);
    const models = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, conn.model(name, schema)]));
    return { way: 'theirs', db, models, base };
  }
}

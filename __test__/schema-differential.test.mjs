// The differential test of the schema bridge, the engine's casts behind the fast path: generated
// schemas × inputs, each run through Mongoose itself and through the bridge, on Mongoose 8 and
// Mongoose 9. Compared per case:
// - documents: accepted or refused, the set of failing paths with their kinds, and the cast document
//   with its key order (Mongoose: `new Model(doc)`, `validateSync()`, `toObject()`; ours: the
//   bridge's cast, inserted and read back);
// - creates: `Model.create(doc)` both ways (ours runs on the engine alone when it can), the stored
//   document with its key order, or the failing paths;
// - filters: the cast filter or the CastError's path (Mongoose: `Query#cast`; ours: the engine's
//   cast, what the fast path sends; a filter it cannot cast goes to Mongoose's path instead);
// - updates: refused or not, and the stored document after the update (both run against the server,
//   Mongoose with `runValidators`; ours as a write cast by the engine).
// It prints the agreement rate; at least 99.5% must agree, and every create. The differences that
// remain are the ones the README documents.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PolyMongo } from '../index.js';
import { openSuite, uniqueDb } from './helpers.mjs';
import { contextFor } from '../lib/driver/mongoose.js';
import { ModelSchema } from '../lib/wrapper/schema.js';
import { makeDocument, makeFilter, makeSchema, makeUpdate, random, recipe } from './schema-cases.mjs';

const require = createRequire(import.meta.url);
const PREFIX = 'pmrs_diff';
const SEED = Number(process.env.DIFF_SEED ?? 20261122);
const SCHEMAS = Number(process.env.DIFF_SCHEMAS ?? 120);
const DOCS_PER_SCHEMA = 12;
const FILTERS_PER_SCHEMA = 4;
const UPDATES_PER_SCHEMA = 3;
const REQUIRED_AGREEMENT = 0.995;

let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

/** The time the test started: a date within a minute of it is a `Date.now` default or timestamp. */
const STARTED = Date.now();

/** A value as canonical Extended JSON with object keys sorted (and, with `masked`, generated ids and
 *  dates of now masked), so two filters or updated documents compare by content. `ordered` keeps each
 *  object's key order instead (a top-level `_id` first, as the server stores it), to compare new
 *  documents by content and key order: Mongoose's order is part of what a fast path for writes must
 *  give (equality matches on embedded documents depend on it). */
function canonical(BSON, value, masked, ordered = false) {
  const bytes = BSON.serialize({ v: value }, { ignoreUndefined: true });
  const ejson = BSON.EJSON.serialize(BSON.deserialize(bytes, { useBigInt64: true }), { relaxed: false });
  const walk = (v, key, depth) => {
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined, depth + 1));
    if (v && typeof v === 'object') {
      if (masked && key === '_id' && v.$oid) return '<generated id>';
      if (masked && v.$date && Math.abs(Number(v.$date.$numberLong) - STARTED) < 60_000 * 30) return '<now>';
      let keys = ordered ? Object.keys(v) : Object.keys(v).sort();
      if (ordered && depth === 0 && keys.includes('_id')) keys = ['_id', ...keys.filter((k) => k !== '_id')];
      return Object.fromEntries(keys.map((k) => [k, walk(v[k], k, depth + 1)]));
    }
    return v;
  };
  return walk(ejson.v, undefined, 0);
}

const normalize = (BSON, value) => JSON.stringify(canonical(BSON, value, true));
const normalizeOrdered = (BSON, value) => JSON.stringify(canonical(BSON, value, true, true));

/** Mongoose results that are Mongoose defects, which polymongo-rs does not copy (README, "Documented
 *  differences"): the reason, or null. */
function mongooseDefect(theirs) {
  if (theirs.error === 'TypeError') return 'Mongoose throws a TypeError from inside its Map cast';
  return null;
}

/** `path:kind` of each failing path of a Mongoose error, or the name of an error without paths. */
function failures(err) {
  if (err == null) return null;
  if (err.errors) return Object.entries(err.errors).map(([path, e]) => `${path}:${e.kind}`).sort();
  return [err.name];
}

const describeInput = (BSON, v) => BSON.EJSON.stringify(v, { relaxed: true });

/** Mongoose's update forms as an update document: top-level paths without an operator are `$set`. */
function toUpdate(update) {
  if (Array.isArray(update)) return update;
  const out = {};
  for (const [key, value] of Object.entries(update)) {
    if (key.startsWith('$')) out[key] = { ...out[key], ...value };
    else out.$set = { ...out.$set, [key]: value };
  }
  return out;
}

/** `doc.validateSync()`, which Mongoose 9 deprecates with a process warning on every call: the
 *  comparison is with it, and thousands of identical warnings would bury the test's output. */
function validateSync(doc) {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return doc.validateSync();
  } finally {
    process.emitWarning = emitWarning;
  }
}

for (const [label, pkg] of [['Mongoose 8', 'mongoose'], ['Mongoose 9', 'mongoose9']]) {
  describe(`differential: ${label}`, () => {
    const mongoose = require(pkg);
    const m = new mongoose.Mongoose();
    const { BSON } = m.mongo;
    let wrapper;
    let dbName;

    before(async () => {
      dbName = uniqueDb(PREFIX);
      wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: dbName });
      await m.connect(suite.uri, { dbName: `${dbName}_mongoose` });
    });

    /** Our collection for schema `s`, read through this Mongoose's own driver and BSON. */
    const stored = (s) => m.connection.getClient().db(dbName).collection(`case${s}`);

    after(async () => {
      await wrapper.disconnect();
      await m.disconnect();
    });

    test(`generated schemas × documents, filters and updates agree with ${label} (>= ${REQUIRED_AGREEMENT * 100}%)`, async () => {
      const r = random(SEED);
      const tally = { documents: [0, 0], creates: [0, 0], filters: [0, 0], updates: [0, 0] };
      const differences = [];
      const defects = {};
      const leftToMongoose = { documents: 0, creates: 0, filters: 0, updates: 0 };
      const record = (area, agree, detail, defect = null) => {
        if (!agree && defect) {
          defects[defect] = (defects[defect] ?? 0) + 1;
          return;
        }
        tally[area][0] += agree ? 1 : 0;
        tally[area][1] += 1;
        if (!agree) differences.push(`${area}: ${detail()}`);
      };

      // Mongoose's save path, counted for the creates that take it on our side.
      let mongooseSaves = 0;
      const $__save = m.Model.prototype.$__save;
      m.Model.prototype.$__save = function counted(...args) {
        mongooseSaves++;
        return $__save.apply(this, args);
      };
      const ctx = contextFor(m);
      for (let s = 0; s < SCHEMAS; s++) {
        const schema = makeSchema(m, r);
        const Model = m.model(`Case${s}`, new m.Schema(schema.definition, { ...schema.options, collection: `case${s}` }));
        const Ours = wrapper.wrapModel(Model, { autoIndex: false }).db(dbName);
        const bridge = new ModelSchema(Model, ctx);
        const engine = Ours.collection.collection;

        for (let d = 0; d < DOCS_PER_SCHEMA; d++) {
          const input = recipe(schema, r, makeDocument);
          let theirs;
          try {
            const doc = new Model(input());
            const err = validateSync(doc);
            theirs = err ? { failures: failures(err) } : { doc: doc.toObject({ depopulate: true, virtuals: false, getters: false, transform: false, flattenMaps: false }) };
          } catch (err) {
            theirs = { failures: failures(err) };
          }
          let ours;
          try {
            // The cast document, inserted as the engine casts it and read back with longs as bigints.
            const { doc: cast } = await bridge.castDocument(input());
            await engine.insertOne(cast);
            const doc = await stored(s).findOne({ _id: cast._id }, { useBigInt64: true });
            delete doc.__v;
            ours = { doc };
          } catch (err) {
            ours = { failures: failures(err), toMongoose: err?.code === 'ERR_NOT_CASTABLE' };
          }
          // A document the engine does not cast as Mongoose would is Mongoose's to cast (a fast path
          // for writes takes Mongoose's path with it): counted as left to Mongoose.
          if (ours.toMongoose) leftToMongoose.documents += 1;
          const a = theirs.doc ? normalizeOrdered(BSON, theirs.doc) : JSON.stringify(theirs.failures);
          const b = ours.toMongoose ? a : ours.doc ? normalizeOrdered(BSON, ours.doc) : JSON.stringify(ours.failures);
          record('documents', a === b, () => `schema ${s} ${JSON.stringify(schema.paths)} input ${describeInput(BSON, input())}\n    mongoose: ${a}\n    ours:     ${b}`);

          // `create` both ways: Mongoose on the Node driver, and ours, which the engine runs alone
          // when it can (lib/wrapper/fast.js). The stored documents and the documents returned (as
          // they hold their paths, empty nested objects included), key order included, or the
          // failing paths.
          const created = async (M, read) => {
            try {
              const doc = await M.create(input());
              const found = await read(doc._id);
              delete found.__v;
              const held = doc.toObject({ minimize: false, depopulate: true, virtuals: false, getters: false, transform: false, flattenMaps: false });
              return { stored: `${normalizeOrdered(BSON, found)} returned ${normalizeOrdered(BSON, held)}` };
            } catch (err) {
              return { refused: JSON.stringify(failures(err)) };
            }
          };
          const theirCreated = await created(Model, (_id) => Model.collection.findOne({ _id }, { useBigInt64: true }));
          const saves = mongooseSaves;
          const ourCreated = await created(Ours, (_id) => stored(s).findOne({ _id }, { useBigInt64: true }));
          // A document refused takes Mongoose's path for Mongoose's error; one stored should not.
          if (mongooseSaves > saves && ourCreated.stored !== undefined) leftToMongoose.creates += 1;
          const [theirCreate, ourCreate] = [theirCreated, ourCreated].map((side) => side.stored ?? side.refused);
          record('creates', theirCreate === ourCreate, () => `schema ${s} ${JSON.stringify(schema.paths)} input ${describeInput(BSON, input())}\n    mongoose: ${theirCreate}\n    ours:     ${ourCreate}`);
        }

        for (let f = 0; f < FILTERS_PER_SCHEMA; f++) {
          const filter = recipe(schema, r, makeFilter);
          let theirs;
          try {
            theirs = { filter: canonical(BSON, Model.find(filter()).cast(Model), false) };
          } catch (err) {
            theirs = { error: err.name, path: err.path };
          }
          let ours;
          try {
            ours = { filter: canonical(BSON, BSON.deserialize(bridge.native.castFilter(BSON.serialize(filter())), { useBigInt64: true }), false) };
          } catch (err) {
            const e = bridge.error(ctx.errors.fromNative(err));
            ours = { error: e.name, path: e.path, code: e.code };
          }
          // A filter the engine cannot cast, or does not cast as Mongoose does, runs Mongoose's own path
          // (lib/wrapper/fast.js): what Mongoose does with it is what the application sees, so only a
          // cast the engine accepts is compared.
          const toMongoose = ours.error === 'CastError' || ours.code === 'ERR_NOT_CASTABLE';
          if (toMongoose) leftToMongoose.filters += 1;
          const [a, b] = toMongoose ? ['fallback', 'fallback'] : [JSON.stringify(theirs), JSON.stringify(ours)];
          record('filters', a === b, () => `schema ${s} ${JSON.stringify(schema.paths)} filter ${describeInput(BSON, filter())}\n    mongoose: ${a}\n    ours:     ${b}`, mongooseDefect(theirs));
        }

        // A document both accept, updated both ways.
        let seed = null;
        for (let tries = 0; tries < 20 && seed === null; tries++) {
          const candidate = recipe(schema, r, makeDocument);
          try {
            if (validateSync(new Model(candidate())) == null) seed = candidate;
          } catch {
            // strict: 'throw' refused it; try another.
          }
        }
        if (seed === null) continue;
        for (let u = 0; u < UPDATES_PER_SCHEMA; u++) {
          const update = recipe(schema, r, makeUpdate);
          // Mongoose's asynchronous validation may refuse what validateSync took; no update case then.
          const theirDoc = await Model.create(seed()).catch(() => null);
          if (theirDoc === null) continue;
          let theirs;
          try {
            await Model.updateOne({ _id: theirDoc._id }, update(), { runValidators: true });
            const stored = await Model.collection.findOne({ _id: theirDoc._id }, { useBigInt64: true });
            delete stored.__v;
            theirs = normalize(BSON, stored);
          } catch (err) {
            theirs = JSON.stringify(failures(err));
          }
          const defect = theirs === '["TypeError"]' ? mongooseDefect({ error: 'TypeError' }) : null;
          const ourDoc = await Ours.create(seed()).catch(() => null);
          let ours;
          if (ourDoc === null) {
            ours = 'could not create the seed document';
          } else {
            try {
              // The update as the fast path sends it: checked in JS, cast and validated by the engine.
              const body = toUpdate(update());
              await bridge.checkUpdate(body);
              const request = ctx.codec.encode({ ops: [{ updateOne: { filter: { _id: ourDoc._id }, update: body } }] }, { ignoreUndefined: true });
              let reply;
              try {
                reply = await engine._native.execute('write', request, bridge.native);
              } catch (e) {
                throw bridge.error(ctx.errors.fromNative(e));
              }
              const raw = ctx.codec.decode(reply);
              if (raw.writeErrors.length > 0) throw new ctx.codec.mongo.MongoServerError(raw.writeErrors[0]);
              const doc = await stored(s).findOne({ _id: ourDoc._id }, { useBigInt64: true });
              delete doc.__v;
              ours = normalize(BSON, doc);
            } catch (err) {
              ours = JSON.stringify(failures(err));
              if (err?.code === 'ERR_NOT_CASTABLE') {
                leftToMongoose.updates += 1;
                ours = theirs;
              }
            }
          }
          record('updates', theirs === ours, () => `schema ${s} ${JSON.stringify(schema.paths)} seed ${describeInput(BSON, seed())} update ${describeInput(BSON, update())}\n    mongoose: ${theirs}\n    ours:     ${ours}`, defect);
        }
      }

      const agreed = Object.values(tally).reduce((n, [a]) => n + a, 0);
      const total = Object.values(tally).reduce((n, [, t]) => n + t, 0);
      const rate = agreed / total;
      const line = Object.entries(tally).map(([area, [a, t]]) => `${area} ${a}/${t}`).join(', ');
      console.log(`${label} ${mongoose.version}: ${agreed}/${total} cases agree (${(rate * 100).toFixed(2)}%): ${line}; seed ${SEED}`);
      console.log(`  left to Mongoose's path (a CastError, or not castable by the engine): ${Object.entries(leftToMongoose).map(([area, n]) => `${area} ${n}/${tally[area][1]}`).join(', ')}`);
      for (const [defect, n] of Object.entries(defects)) console.log(`  not counted, ${n} cases: ${defect}`);
      for (const difference of differences) console.log(`  differs: ${difference}`);
      assert.ok(rate >= REQUIRED_AGREEMENT, `agreement ${(rate * 100).toFixed(2)}% is under ${REQUIRED_AGREEMENT * 100}%`);
      // A create that differs stores a document Mongoose would not have: none may.
      assert.equal(tally.creates[0], tally.creates[1], 'every create agrees');
    });
  });
}

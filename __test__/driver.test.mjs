// The engine's client in the Node driver's shape, which Mongoose (and code that reaches for
// `Model.collection` or `connection.db`) calls: each call is run on it and on the Node driver itself
// in the same test, and results and errors must match. Options and methods the engine cannot honour
// are refused, never ignored; errors are the application's own `mongodb` classes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { normalize } from './differential.mjs';
import { startServer } from '../scripts/test-server.mjs';
import { mongoose, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('driver');
const { mongo } = mongoose;
let suite, wrapper, Thing;

before(async () => {
  suite = await openSuite(PREFIX);
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main`, handleSignals: false });
  Thing = wrapper.wrapModel(mongoose.model('Thing', new mongoose.Schema({}, { strict: false })));
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

/** Runs `scenario(db)` on the engine's database and on the Node driver's, each fresh; asserts the two
 *  saw the same and returns what the engine's saw. */
async function same(scenario) {
  const ours = Thing.db(uniqueDb(PREFIX)).db.db;
  const theirs = suite.client.db(uniqueDb(PREFIX));
  const settle = async (db) => {
    try {
      return await scenario(db);
    } catch (err) {
      return { threw: err.name, code: err.code, message: err.message };
    }
  };
  const [a, b] = [await settle(ours), await settle(theirs)];
  assert.equal(normalize(a), normalize(b));
  return a;
}

/** What an error shows an application. */
const shown = (err) => ({
  name: err.name, code: err.code, codeName: err.codeName, keyValue: err.keyValue, keyPattern: err.keyPattern,
  driverClass: err instanceof mongo.MongoError, server: err instanceof mongo.MongoServerError, labels: err.errorLabels,
  writeErrors: err.writeErrors?.map((e) => [e.index, e.code]), result: err.result && [err.result.insertedCount, err.result.matchedCount],
});

async function caught(fn) {
  try {
    await fn();
    return 'no error';
  } catch (err) {
    return shown(err);
  }
}

describe('collections', () => {
  test('inserts: ids added to the caller\'s documents, results, duplicate keys as MongoServerError', async () => {
    const out = await same(async (db) => {
      const c = db.collection('things');
      const doc = { a: 1 };
      const one = await c.insertOne(doc);
      const many = await c.insertMany([{ a: 2 }, { _id: 7, a: 3 }]);
      return {
        one, idAdded: doc._id !== undefined, many,
        duplicate: await caught(() => c.insertOne({ _id: 7 })),
        bulk: await caught(() => c.insertMany([{ _id: 8 }, { _id: 7 }, { _id: 9 }])),
        unordered: await caught(() => c.insertMany([{ _id: 10 }, { _id: 7 }, { _id: 11 }], { ordered: false })),
        count: await c.countDocuments(),
      };
    });
    assert.deepEqual([out.duplicate.name, out.duplicate.code, out.duplicate.server], ['MongoServerError', 11000, true]);
    assert.equal(out.bulk.name, 'MongoBulkWriteError');
  });

  test('a document that is not an object is refused as an invalid argument (the Node driver throws a TypeError)', async () => {
    const c = Thing.db(uniqueDb(PREFIX)).db.db.collection('things');
    for (const notDocument of [5, 'text', null, [1]]) {
      await assert.rejects(c.insertOne(notDocument), { name: 'MongoInvalidArgumentError' });
    }
  });

  test('a key or pattern BSON cannot hold is the application\'s BSONError, and nothing is written', async () => {
    const out = await same(async (db) => {
      const c = db.collection('things');
      const failures = [];
      for (const call of [() => c.insertOne({ 'a\0b': 1 }), () => c.findOne({ 'a\0b': 1 }), () => c.findOne({ a: /a\0/ })]) {
        failures.push(await call().then(() => 'resolved', (err) => [err.name, err instanceof mongo.BSON.BSONError]));
      }
      return { failures, count: await c.countDocuments() };
    });
    assert.deepEqual(out.failures[0], ['BSONError', true]);
    assert.equal(out.count, 0);
  });

  test('a write concern the server cannot satisfy fails each write as the Node driver\'s does, with the server\'s message', async () => {
    await same(async (db) => {
      const c = db.collection('things');
      const writeConcern = { w: 'noSuchTag' };
      const failures = [];
      for (const call of [() => c.bulkWrite([{ insertOne: { document: { a: 1 } } }], { writeConcern }), () => c.insertMany([{ a: 2 }], { writeConcern }), () => c.insertOne({ a: 3 }, { writeConcern })]) {
        failures.push(await call().then(() => 'resolved', (err) => [err.name, err.code, err.message]));
      }
      return failures;
    });
  });

  test('updates, replaces and deletes: results and refusals', async () => {
    await same(async (db) => {
      const c = db.collection('things');
      await c.insertMany([{ _id: 1, n: 1, tags: ['a', 'b'] }, { _id: 2, n: 2 }]);
      return {
        updateOne: await c.updateOne({ _id: 1 }, { $inc: { n: 1 } }),
        updateMany: await c.updateMany({}, { $set: { seen: true } }),
        upsert: await c.updateOne({ _id: 3 }, { $set: { n: 3 } }, { upsert: true }),
        arrayFilters: await c.updateOne({ _id: 1 }, { $set: { 'tags.$[t]': 'B' } }, { arrayFilters: [{ t: 'b' }] }),
        pipeline: await c.updateOne({ _id: 2 }, [{ $set: { double: { $multiply: ['$n', 2] } } }]),
        replace: await c.replaceOne({ _id: 2 }, { n: 20 }),
        noOperators: await caught(() => c.updateOne({}, { n: 1 })),
        operatorsInReplacement: await caught(() => c.replaceOne({}, { $set: { n: 1 } })),
        deleteOne: await c.deleteOne({ _id: 3 }),
        deleteMany: await c.deleteMany({ n: { $gt: 100 } }),
        // Unacknowledged: no counts, where 0 would claim nothing matched.
        unacknowledged: [
          await c.updateOne({ _id: 99 }, { $set: { n: 1 } }, { writeConcern: { w: 0 } }),
          await c.deleteMany({ _id: 99 }, { writeConcern: { w: 0 } }),
        ].map((r) => Object.entries(r).filter(([, v]) => v !== undefined)),
        docs: await c.find({ _id: { $lt: 99 } }).sort({ _id: 1 }).toArray(),
      };
    });
  });

  test('bulkWrite: counts and ids by index, and the error of a failed write with the result so far', async () => {
    await same(async (db) => {
      const c = db.collection('things');
      const result = await c.bulkWrite([
        { insertOne: { document: { _id: 1 } } },
        { updateOne: { filter: { _id: 1 }, update: { $set: { a: 1 } } } },
        { updateOne: { filter: { _id: 2 }, update: { $set: { a: 2 } }, upsert: true } },
        { replaceOne: { filter: { _id: 2 }, replacement: { b: 1 } } },
        { deleteMany: { filter: { nope: true } } },
      ]);
      return {
        counts: [result.insertedCount, result.matchedCount, result.modifiedCount, result.upsertedCount, result.deletedCount, result.ok],
        ids: [result.insertedIds, result.upsertedIds],
        failed: await caught(() => c.bulkWrite([{ insertOne: { document: { _id: 3 } } }, { insertOne: { document: { _id: 1 } } }, { deleteOne: { filter: { _id: 3 } } }])),
        empty: await caught(() => c.bulkWrite([])),
      };
    });
  });

  test('find-and-modify: returnDocument, projection, sort, upsert, includeResultMetadata', async () => {
    await same(async (db) => {
      const c = db.collection('things');
      await c.insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }]);
      return {
        before: await c.findOneAndUpdate({ _id: 1 }, { $inc: { n: 10 } }),
        after: await c.findOneAndUpdate({}, { $inc: { n: 1 } }, { sort: { n: -1 }, returnDocument: 'after', projection: { _id: 0 } }),
        metadata: await c.findOneAndUpdate({ _id: 3 }, { $set: { n: 3 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true }),
        replaced: await c.findOneAndReplace({ _id: 2 }, { m: 1 }, { returnDocument: 'after' }),
        deleted: await c.findOneAndDelete({ _id: 1 }),
        none: await c.findOneAndDelete({ _id: 99 }),
        noOperators: await caught(() => c.findOneAndUpdate({}, { n: 1 })),
      };
    });
  });

  test('reads: find cursors and their builders, findOne, counts, distinct, aggregate', async () => {
    const out = await same(async (db) => {
      const c = db.collection('things');
      await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, n: i % 7, s: `s${i}` })));
      const cursor = c.find({ n: { $gt: 2 } }).sort({ n: -1, _id: 1 }).skip(2).limit(5).project({ s: 0 });
      const next = c.find({}).sort({ _id: 1 }).batchSize(4);
      const first = [await next.next(), await next.next()];
      await next.close();
      // Closed with results left on the server: the Node driver's killed cursor; read to its end: null.
      const afterClose = await next.next().then((d) => d, (err) => err.name);
      const done = c.find({ _id: { $lt: 2 } });
      await done.toArray();
      return {
        cursor: await cursor.toArray(),
        first,
        afterClose,
        afterEnd: await done.next(),
        mapped: await c.find({ n: 0 }).map((d) => d._id).toArray(),
        forOf: await (async () => { const ids = []; for await (const d of c.find({ n: 1 })) ids.push(d._id); return ids; })(),
        findOne: await c.findOne({ n: 3 }, { sort: { _id: -1 } }),
        none: await c.findOne({ n: 99 }),
        counts: [await c.countDocuments({ n: 1 }), await c.countDocuments({}, { skip: 25 }), await c.estimatedDocumentCount()],
        distinct: (await c.distinct('n', { _id: { $lt: 10 } })).sort(),
        aggregate: await c.aggregate([{ $group: { _id: '$n', count: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray(),
        badFilter: await caught(() => c.find({ $nope: 1 }).toArray()),
        explained: Object.keys((await c.find({ n: 1 }).sort({ _id: 1 }).explain('queryPlanner')).queryPlanner ?? {}).includes('winningPlan'),
        explainOption: (await c.find({ n: 1 }, { explain: 'queryPlanner' }).toArray()).length,
        aggregateExplained: typeof (await c.aggregate([{ $match: { n: 1 } }]).explain()) === 'object',
      };
    });
    assert.deepEqual([out.afterClose, out.afterEnd], ['MongoCursorExhaustedError', null]);
  });

  test('indexes: createIndex, createIndexes, indexes, indexExists, indexInformation, dropIndex, dropIndexes', async () => {
    await same(async (db) => {
      const c = db.collection('things');
      await c.insertOne({ a: 1, b: 1 });
      const names = [await c.createIndex({ a: 1 }), await c.createIndex({ a: 1, b: -1 }, { unique: true, name: 'ab' }), ...(await c.createIndexes([{ key: { b: 1 }, sparse: true }]))];
      const listed = (await c.indexes()).map(({ key, name, unique, sparse }) => ({ key, name, unique, sparse }));
      const info = await c.indexInformation();
      const exists = [await c.indexExists('ab'), await c.indexExists(['ab', 'nope'])];
      await c.dropIndex('ab');
      const afterDrop = (await c.listIndexes().toArray()).map((i) => i.name);
      await c.dropIndexes();
      return { names, listed, info, exists, afterDrop, afterDropAll: (await c.indexes()).map((i) => i.name) };
    });
  });
});

describe('databases', () => {
  test('commands, collections, rename, options, drop', async () => {
    await same(async (db) => {
      await db.createCollection('capped', { capped: true, size: 4096 });
      await db.collection('plain').insertOne({ a: 1 });
      const names = async () => (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
      const before = await names();
      const renamed = await db.collection('plain').rename('renamed');
      return {
        ping: (await db.command({ ping: 1 })).ok,
        before,
        renamed: renamed.collectionName,
        capped: [await db.collection('capped').isCapped(), await db.collection('renamed').isCapped()],
        collections: (await db.collections()).map((c) => c.collectionName).sort(),
        dropped: await db.dropCollection('renamed'),
        after: await names(),
        unknownCommand: await caught(() => db.command({ frobnicate: 1 })),
      };
    });
  });
});

describe('what the engine cannot honour is refused, never ignored', () => {
  test('options: another client\'s session, timeoutMS, raw, a signal; nothing is written', async () => {
    const db = uniqueDb(PREFIX);
    const c = Thing.db(db).db.db.collection('things');
    for (const options of [{ timeoutMS: 100 }, { raw: true }, { signal: new AbortController().signal }, { forceServerObjectId: true }]) {
      await assert.rejects(c.insertOne({ a: 1 }, options), { name: 'MongoCompatibilityError', code: 'ERR_NOT_SUPPORTED' });
      assert.throws(() => c.find({}, options), { code: 'ERR_NOT_SUPPORTED' });
    }
    // A session of another client (here the Node driver's), as the Node driver refuses it.
    const session = suite.client.startSession();
    try {
      const foreign = { name: 'MongoInvalidArgumentError', message: 'ClientSession must be from the same MongoClient' };
      await assert.rejects(c.insertOne({ a: 1 }, { session }), foreign);
      await assert.rejects(c.find({}, { session }).toArray(), foreign);
      await assert.rejects(Thing.db(db).db.db.command({ ping: 1 }, { session }), foreign);
      // A call that runs in no session refuses one.
      await assert.rejects(c.createIndex({ a: 1 }, { session }), { code: 'ERR_NOT_SUPPORTED', message: /does not run in a session/ });
    } finally {
      await session.endSession();
    }
    // A Node-driver option at its default changes nothing and is accepted; Mongoose's own options pass.
    await c.insertOne({ a: 1 }, { checkKeys: false, raw: false, strict: true, lean: true });
    assert.equal(await suite.client.db(db).collection('things').countDocuments(), 1);
  });

  test('methods: a whole-deployment change stream, the fluent bulk API, search indexes', async () => {
    const Things = Thing.db(uniqueDb(PREFIX));
    const c = Things.db.db.collection('things');
    for (const call of [() => c.initializeOrderedBulkOp(), () => c.listSearchIndexes()]) {
      assert.throws(call, { name: 'MongoCompatibilityError', code: 'ERR_NOT_SUPPORTED' });
    }
    // A change stream of every database fails as the Node driver's does when it cannot run: its
    // reads reject, and a 'change' listener gets an 'error' event.
    const stream = Things.db.db.client.watch();
    await assert.rejects(stream.next(), { name: 'MongoCompatibilityError', code: 'ERR_NOT_SUPPORTED' });
    await stream.close();
    const err = await new Promise((resolve) => Things.db.db.client.watch().on('error', resolve).on('change', () => {}));
    assert.equal(err.code, 'ERR_NOT_SUPPORTED');
  });

  test('errors of an unreachable server are the application\'s MongoServerSelectionError', async () => {
    const lost = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200', handleSignals: false });
    const Lost = lost.wrapModel(mongoose.model('Lost', new mongoose.Schema({ a: Number })));
    await assert.rejects(Lost.findOne().lean(), (err) => err instanceof mongo.MongoServerSelectionError && err.name === 'MongoServerSelectionError');
    await assert.rejects(Lost.create({ a: 1 }), (err) => err instanceof mongo.MongoServerSelectionError && typeof err.hasErrorLabel === 'function');
    await lost.disconnect();
  });

  test('a bulk write that fails as a whole (its server gone) is a MongoBulkWriteError around the cause, as the Node driver\'s', { timeout: 60_000 }, async () => {
    const server = await startServer();
    const node = new mongo.MongoClient(server.uri, { serverSelectionTimeoutMS: 300 });
    const gone = PolyMongo.createWrapper({ mongoURI: `${server.uri}/?serverSelectionTimeoutMS=300`, defaultDB: `${PREFIX}_gone`, handleSignals: false });
    try {
      await node.connect();
      const Gone = gone.wrapModel(mongoose.model('Gone', new mongoose.Schema({ a: Number })));
      await Gone.create({ a: 0 });
      await server.stop();
      const seen = [];
      for (const collection of [Gone.collection.collection, node.db(`${PREFIX}_gone`).collection('gones')]) {
        for (const write of [(c) => c.bulkWrite([{ insertOne: { document: { a: 1 } } }, { deleteOne: { filter: { a: 0 } } }]), (c) => c.insertMany([{ a: 1 }], { ordered: false })]) {
          const err = await write(collection).then(() => null, (e) => e);
          seen.push([err instanceof mongo.MongoBulkWriteError, err.writeErrors.length, err.result.insertedCount, Object.keys(err.result.insertedIds), err.code === undefined || typeof err.code === 'number']);
        }
      }
      assert.deepEqual(seen.slice(0, 2), seen.slice(2));
      assert.deepEqual(seen[0], [true, 0, 0, ['0'], true]);
      // Mongoose's insertMany passes it on.
      await assert.rejects(Gone.insertMany([{ a: 2 }]), (err) => err instanceof mongo.MongoBulkWriteError);
    } finally {
      await node.close();
      await gone.disconnect();
      await server.stop();
    }
  });
});

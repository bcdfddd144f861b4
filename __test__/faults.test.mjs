// Faults between the engine and the server, through a TCP proxy (scripts/fault-proxy.mjs) in front of
// a test server of this file's own: replies lost after the server applied a write, connections cut,
// a blackholed server, a restart, replies corrupted on the way. Retryable writes (the specification's lsid + txnNumber) are applied
// exactly once, as with the Node driver in the same scenario; a write that cannot be retried fails
// with the Node driver's error classes and labels; pools recover by themselves. A panic in the addon
// is a JS error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy } from '../scripts/fault-proxy.mjs';
import { startServer } from '../scripts/test-server.mjs';
import { PolyMongo } from '../index.mjs';
import native from '../native.js';
import { model, mongoose } from './helpers.mjs';

const { MongoClient } = mongoose.mongo;
const DB = 'faults';
let server;
let proxy;
let observer;

before(async () => {
  server = await startServer();
  proxy = await startProxy(server.uri);
  observer = await MongoClient.connect(server.uri);
});

after(async () => {
  await observer.close();
  await proxy.close();
  await server.stop();
});

/** Resolves once `condition()` holds; rejects after `ms`. */
async function until(condition, what, ms = 20_000) {
  for (const deadline = Date.now() + ms; !(await condition());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Runs `write` while the proxy drops the server's replies; once `landed()` sees its effect on the
 *  server, cuts every connection, so the client gets a network error for a write the server applied.
 *  Resolves to the write's error, or null when it succeeded. */
async function lostReply(write, landed) {
  proxy.set({ dropReplies: true });
  const outcome = write().then(() => null, (err) => err);
  try {
    await until(landed, 'the write to reach the server');
  } finally {
    proxy.cut();
    proxy.set();
  }
  return outcome;
}

const Item = (wrapper) => wrapper.wrapModel(model('Item', { k: String, n: Number, ids: [String] }));
const items = () => observer.db(DB).collection('items');
const count = (filter) => () => items().countDocuments(filter).then((n) => n > 0);

/** Each write as the wrapper sends it and as the Node driver sends it, with what shows it landed and
 *  what it must have done, once. */
function writes(M, coll, tag) {
  return [
    ['insertOne', () => M.create({ k: `i${tag}` }), () => coll.insertOne({ k: `i${tag}` }), { k: `i${tag}` }],
    ['updateOne', () => M.updateOne({ k: 'counter' }, { $inc: { n: 1 }, $push: { ids: `u${tag}` } }),
      () => coll.updateOne({ k: 'counter' }, { $inc: { n: 1 }, $push: { ids: `u${tag}` } }), { ids: `u${tag}` }],
    ['findOneAndUpdate', () => M.findOneAndUpdate({ k: 'counter' }, { $push: { ids: `f${tag}` } }),
      () => coll.findOneAndUpdate({ k: 'counter' }, { $push: { ids: `f${tag}` } }), { ids: `f${tag}` }],
    ['insertMany', () => M.insertMany([{ k: `m${tag}` }, { k: `m${tag}` }]), () => coll.insertMany([{ k: `m${tag}` }, { k: `m${tag}` }]), { k: `m${tag}` }],
  ];
}

test('a write whose reply is lost is retried with its txnNumber and applied once, as by the Node driver', { timeout: 120_000 }, async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: proxy.uri, defaultDB: DB, handleSignals: false });
  // The Node driver leaves a server selection's timer behind after a cut: a short one lets the
  // process exit soon.
  const node = await MongoClient.connect(proxy.uri, { serverSelectionTimeoutMS: 3000 });
  try {
    const M = Item(wrapper);
    await items().deleteMany({});
    await items().insertOne({ k: 'counter', n: 0, ids: [] });
    for (const [client, tag, pick] of [['polymongo-rs', 'E', 1], ['Node driver', 'N', 2]]) {
      for (const entry of writes(M, node.db(DB).collection('items'), tag)) {
        const [name, landedWhen] = [entry[0], entry[3]];
        // A pooled connection, so the write needs no handshake (whose reply would be dropped too).
        await (pick === 1 ? M.findOne() : node.db(DB).collection('items').findOne());
        const err = await lostReply(entry[pick], count(landedWhen));
        assert.equal(err, null, `${client} ${name}: ${err}`);
        const expected = name === 'insertMany' ? 2 : 1;
        assert.equal(await items().countDocuments(landedWhen), expected, `${client} ${name} applied once`);
      }
    }
    const counter = await items().findOne({ k: 'counter' });
    assert.equal(counter.n, 2);
    assert.deepEqual(counter.ids, ['uE', 'fE', 'uN', 'fN']);
  } finally {
    await node.close();
    await wrapper.disconnect();
  }
});

test('a write that cannot be retried fails with MongoNetworkError and was applied once: retryWrites=false, a multi-document update', { timeout: 60_000 }, async () => {
  const off = PolyMongo.createWrapper({ mongoURI: `${proxy.uri}&retryWrites=false`, defaultDB: DB, handleSignals: false });
  const on = PolyMongo.createWrapper({ mongoURI: proxy.uri, defaultDB: DB, handleSignals: false });
  try {
    await items().deleteMany({});
    await items().insertMany([{ k: 'many' }, { k: 'many' }]);
    for (const [what, M, write, landed] of [
      ['retryWrites=false', Item(off), (M) => M.create({ k: 'off' }), { k: 'off' }],
      ['updateMany', Item(on), (M) => M.updateMany({ k: 'many' }, { $inc: { n: 1 } }), { k: 'many', n: 1 }],
    ]) {
      await M.findOne();
      const err = await lostReply(() => write(M), count(landed));
      assert.ok(err instanceof mongoose.mongo.MongoNetworkError, `${what}: ${err}`);
      assert.deepEqual(err.errorLabels, [], what);
      assert.equal(await items().countDocuments({ k: landed.k }), what === 'updateMany' ? 2 : 1, what);
    }
    assert.equal(await items().countDocuments({ k: 'many', n: 1 }), 2);
  } finally {
    await off.disconnect();
    await on.disconnect();
  }
});

test('a blackholed server: a write fails with a labelled network error and is not applied; the pool recovers by itself', { timeout: 60_000 }, async () => {
  const wrapper = PolyMongo.createWrapper({
    mongoURI: `${proxy.uri}&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&heartbeatFrequencyMS=500`,
    defaultDB: DB,
    handleSignals: false,
  });
  const events = [];
  wrapper.on('disconnect', (info) => events.push(`disconnect ${info.reason}`));
  wrapper.on('reconnect', (info) => events.push(`reconnect ${info.reason}`));
  try {
    const M = Item(wrapper);
    await items().deleteMany({});
    await M.findOne();
    proxy.set({ blackhole: true });
    const err = await M.create({ k: 'hole' }).then(() => null, (e) => e);
    assert.ok(err instanceof mongoose.mongo.MongoNetworkError || err instanceof mongoose.mongo.MongoServerSelectionError, String(err));
    if (err instanceof mongoose.mongo.MongoNetworkError) assert.deepEqual(err.errorLabels, ['RetryableWriteError']);
    proxy.cut();
    proxy.set();
    await until(async () => (await M.create({ k: 'back' }).then(() => true, () => false)), 'a write to succeed again');
    assert.equal(await items().countDocuments({ k: 'hole' }), 0);
    await until(() => events.includes('reconnect found'), 'the reconnect event');
    assert.deepEqual(events, ['disconnect lost', 'reconnect found']);
  } finally {
    await wrapper.disconnect();
  }
});

test('packets sliced into 7-byte writes and delayed still carry whole requests and replies', { timeout: 60_000 }, async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: proxy.uri, defaultDB: DB, handleSignals: false });
  try {
    const M = Item(wrapper);
    await items().deleteMany({});
    await M.findOne();
    proxy.set({ sliceBytes: 7, delayMs: 20 });
    const started = Date.now();
    await M.insertMany(Array.from({ length: 50 }, (_, n) => ({ k: 'sliced', n })));
    const found = await M.find({ k: 'sliced' }).sort({ n: 1 }).lean();
    assert.deepEqual(found.map((d) => d.n), Array.from({ length: 50 }, (_, n) => n));
    // Two round trips, each request and reply held 20 ms: the proxy did stand in the way.
    assert.ok(Date.now() - started >= 80, `${Date.now() - started} ms`);
  } finally {
    proxy.set();
    await wrapper.disconnect();
  }
});

test('a panic in the addon is a JS error, thrown or rejected, never an aborted process', async () => {
  const { panicForTests } = native;
  assert.throws(() => panicForTests('call'), /for tests/);
  process.env.POLYMONGO_RS_TEST_PANICS = '1';
  try {
    assert.throws(() => panicForTests('call'), /a deliberate panic in a call/);
    await assert.rejects(panicForTests('promise'), /a deliberate panic in a promise's work/);
  } finally {
    delete process.env.POLYMONGO_RS_TEST_PANICS;
  }
  // The runtime goes on serving.
  const wrapper = PolyMongo.createWrapper({ mongoURI: server.uri, defaultDB: DB, handleSignals: false });
  try {
    await Item(wrapper).create({ k: 'after panic' });
    assert.equal(await items().countDocuments({ k: 'after panic' }), 1);
  } finally {
    await wrapper.disconnect();
  }
});

test('a request nested deeper than MongoDB allows is refused before it is sent; the server stays up', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: server.uri, defaultDB: DB, handleSignals: false });
  try {
    const M = Item(wrapper);
    let filter = { n: 1 };
    for (let level = 0; level < 500; level++) filter = { $and: [filter] };
    // Sent as it is, a filter 2,000 levels deep overflows the test server's stack and kills it.
    await assert.rejects(M.collection.find(filter).toArray(), { name: 'MongoInvalidArgumentError', message: /deeper than 200 levels/ });
    await assert.rejects(M.collection.countDocuments(filter), { name: 'MongoInvalidArgumentError' });
    let doc = { n: 1 };
    for (let level = 0; level < 300; level++) doc = { a: doc };
    await assert.rejects(M.collection.insertOne(doc), { name: 'MongoInvalidArgumentError', message: /maxBSONDepth/ });
    await M.create({ k: 'still up' });
    assert.equal(await items().countDocuments({ k: 'still up' }), 1);
  } finally {
    await wrapper.disconnect();
  }
});

test('100 tenants under a steady write load through cuts, blackholes and restarts: every acknowledged write is there once, every failed one has a labelled error, the pool recovers by itself', { timeout: 180_000 }, async (t) => {
  const TENANTS = 100;
  const WRITERS = 20;
  const HEARTBEAT_MS = 500;
  const wrapper = PolyMongo.createWrapper({
    mongoURI: `${proxy.uri}&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&heartbeatFrequencyMS=${HEARTBEAT_MS}`,
    defaultDB: 'fleet_0',
    handleSignals: false,
  });
  let events = [];
  wrapper.on('disconnect', (info) => events.push(`disconnect ${info.reason}`));
  wrapper.on('reconnect', (info) => events.push(`reconnect ${info.reason}`));
  const base = new mongoose.Mongoose();
  const Entry = wrapper.wrapModel(base.model('Entry', new base.Schema({ w: String })));
  const Ledger = wrapper.wrapModel(base.model('Ledger', new base.Schema({ _id: String, ids: [String] })));
  // Each write has an id of its own; its acknowledgement or its error is recorded.
  const acknowledged = new Set();
  const failed = new Map();
  let sequence = 0;
  let writing = true;
  let lastAcknowledged = 0;
  const write = [
    (t, id) => Entry.db(t).create({ w: id }),
    (t, id) => Ledger.db(t).updateOne({ _id: 'ledger' }, { $push: { ids: id } }, { upsert: true }),
    (t, id) => Ledger.db(t).findOneAndUpdate({ _id: 'ledger' }, { $push: { ids: id } }, { upsert: true }),
  ];
  const writer = async () => {
    while (writing) {
      const n = sequence++;
      const id = `w${n}`;
      try {
        await write[n % write.length](`fleet_${n % TENANTS}`, id);
        acknowledged.add(id);
        lastAcknowledged = Date.now();
      } catch (err) {
        failed.set(id, err);
        await sleep(50);
      }
    }
  };
  /** Runs one fault; resolves to the ms from the server's return to the next acknowledged write. */
  const recovery = async (fault) => {
    events = [];
    const returned = await fault();
    await until(() => lastAcknowledged > returned, 'a write to be acknowledged again');
    return lastAcknowledged - returned;
  };
  const faults = {
    cut: async () => {
      proxy.cut();
      return Date.now();
    },
    blackhole: async () => {
      proxy.set({ blackhole: true });
      await sleep(2_500);
      proxy.cut();
      proxy.set();
      return Date.now();
    },
    restart: async () => {
      await server.restart({ downMs: 1_000 });
      return Date.now();
    },
  };
  const writers = Array.from({ length: WRITERS }, writer);
  try {
    await until(() => acknowledged.size >= 200, 'the load to start');
    for (const name of ['cut', 'blackhole', 'restart', 'cut', 'blackhole', 'restart', 'cut']) {
      const ms = await recovery(faults[name]);
      // A cut may pass unseen by the topology when the monitor's immediate retry succeeds.
      const expected = name === 'cut' && events.length === 0 ? [] : ['disconnect lost', 'reconnect found'];
      await until(() => events.length >= expected.length, `the ${name}'s events`);
      t.diagnostic(`${name}: first acknowledged write ${ms} ms after the server's return; events ${JSON.stringify(events)}`);
      assert.ok(ms < 6 * HEARTBEAT_MS, `${name}: ${ms} ms`);
      assert.deepEqual(events, expected, name);
      await sleep(1_000);
    }
  } finally {
    writing = false;
    await Promise.all(writers);
    await wrapper.disconnect();
  }
  const landed = new Map();
  for (let n = 0; n < TENANTS; n++) {
    const db = observer.db(`fleet_${n}`);
    const ids = [...(await db.collection('entries').find().toArray()).map((d) => d.w), ...((await db.collection('ledgers').findOne())?.ids ?? [])];
    for (const id of ids) landed.set(id, (landed.get(id) ?? 0) + 1);
    await db.dropDatabase();
  }
  t.diagnostic(`${sequence} writes: ${acknowledged.size} acknowledged, ${failed.size} failed (${[...failed.keys()].filter((id) => landed.has(id)).length} of them applied)`);
  for (const id of acknowledged) assert.equal(landed.get(id), 1, `acknowledged ${id} applied once`);
  for (const [id, err] of failed) {
    assert.ok((landed.get(id) ?? 0) <= 1, `failed ${id} applied at most once`);
    if (err instanceof mongoose.mongo.MongoServerSelectionError) {
      // Never sent: the Retryable Writes spec reports the first attempt's error when the retry finds no server.
      assert.equal(landed.get(id), undefined, `${id} failed server selection and was not applied`);
    } else {
      assert.ok(err instanceof mongoose.mongo.MongoNetworkError, `${id}: ${err}`);
      assert.deepEqual(err.errorLabels, ['RetryableWriteError'], `${id}: ${err}`);
    }
  }
  assert.ok(failed.size > 0, 'the faults did fail some writes');
});

test('a reply with a string that is not UTF-8 fails as with the Node driver, on every path, and the next request is served', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: proxy.uri, defaultDB: DB, handleSignals: false });
  const node = await MongoClient.connect(proxy.uri);
  try {
    const M = Item(wrapper);
    await items().deleteMany({});
    await M.create({ k: 'text <QQ> more', n: 1 });
    // The server's replies carry the string with two bytes that are not UTF-8 where `QQ` was.
    proxy.set({ rewriteReplies: [Buffer.from('<QQ>'), Buffer.from([0x3c, 0xc3, 0x28, 0x3e])] });
    const coll = node.db(DB).collection('items');
    const paths = {
      'find, lean': [() => M.find().lean(), () => coll.find().toArray()],
      'find, documents': [() => M.find(), () => coll.find().toArray()],
      'findOne, lean': [() => M.findOne().lean(), () => coll.findOne()],
      'the driver collection': [() => M.collection.find().toArray(), () => coll.find().toArray()],
      distinct: [() => M.distinct('k'), () => coll.distinct('k')],
      aggregate: [() => M.aggregate([{ $match: {} }]), () => coll.aggregate([{ $match: {} }]).toArray()],
      findOneAndUpdate: [() => M.findOneAndUpdate({}, { $inc: { n: 1 } }), () => coll.findOneAndUpdate({}, { $inc: { n: 1 } })],
    };
    const failure = (run) => run().then(() => null, (err) => err);
    for (const [what, [ours, theirs]] of Object.entries(paths)) {
      const [a, b] = [await failure(ours), await failure(theirs)];
      assert.ok(b instanceof mongoose.mongo.BSON.BSONError, `${what}, the Node driver: ${b}`);
      assert.ok(a instanceof mongoose.mongo.BSON.BSONError, `${what}: ${a}`);
      assert.equal(a.message, b.message, what);
    }
    // Turned off, as with the Node driver, the string is read with replacement characters.
    const [doc] = await M.collection.find({}, { enableUtf8Validation: false }).toArray();
    assert.equal(doc.k, 'text <\uFFFD(> more');
    proxy.set();
    assert.equal((await M.findOne().lean()).k, 'text <QQ> more');
  } finally {
    proxy.set();
    await node.close();
    await wrapper.disconnect();
  }
});

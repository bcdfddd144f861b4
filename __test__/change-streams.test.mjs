// Change streams: what a watch sees (compared with plain Mongoose on the Node driver watching the same
// collection), streams that survive the server going away, the per-wrapper registry
// (closeDBstream, closeAllWatches, stats), pools kept open by streams, operations that still run
// with more streams open than the pool has connections, and the failure paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../scripts/test-server.mjs';
import { mongoose, model, serverConnections, uniqueDb, useSuite } from './helpers.mjs';

const PREFIX = uniqueDb('streams');
const suite = useSuite(PREFIX);
const { wrap } = suite;
const Item = (wrapper) => wrapper.wrapModel(model('Item', { n: Number, tag: String }));

/** Resolves once `stream` (Mongoose's or ours) has its start point: the first resume token. */
const started = (stream) => once(stream, 'resumeTokenChanged');

/** Collects `stream`'s changes; `until(n)` resolves once `n` have arrived (rejects after 10 s). */
function collect(stream) {
  const changes = [];
  stream.on('change', (change) => changes.push(change));
  const until = async (n) => {
    for (const deadline = Date.now() + 10_000; changes.length < n;) {
      if (Date.now() > deadline) throw new Error(`saw ${changes.length} changes of ${n}: ${JSON.stringify(changes.map((c) => c.operationType))}`);
      await sleep(20);
    }
    return changes;
  };
  return { changes, until };
}

test('a watch sees insert, update, replace and delete in order, as plain Mongoose on the Node driver sees them', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const db = `${PREFIX}_crud`;
  const Items = Item(wrapper).db(db);
  const plain = await new mongoose.Mongoose().connect(suite.uri, { dbName: db });
  // On a busy machine the Node driver's stream can still have a getMore in flight after close(),
  // which plain.disconnect() then interrupts: its MongoClientClosedError is the peer's, not ours.
  const peerErrors = [];
  try {
    const Plain = plain.model('Item', new plain.Schema({ n: Number, tag: String }));
    const ours = Items.watch([], { fullDocument: 'updateLookup' });
    const theirs = Plain.watch([], { fullDocument: 'updateLookup' });
    theirs.on('error', (err) => peerErrors.push(err));
    const [a, b] = [collect(ours), collect(theirs)];
    await Promise.all([started(ours), started(theirs)]);
    // Each change reaches both streams before the next is made: `updateLookup` reads the document
    // when the stream reads the change, so a later write would otherwise race it.
    const both = (n) => Promise.all([a.until(n), b.until(n)]);
    const doc = await Items.create({ n: 1, tag: 'x' });
    await both(1);
    await Items.updateOne({ _id: doc._id }, { $inc: { n: 1 } });
    await both(2);
    await Items.replaceOne({ _id: doc._id }, { n: 10, tag: 'y' });
    await both(3);
    await Items.deleteOne({ _id: doc._id });
    const [mine, node] = await both(4);
    assert.deepEqual(mine.map((c) => c.operationType), ['insert', 'update', 'replace', 'delete']);
    assert.deepEqual(mine, node);
    assert.ok(mine[0].fullDocument._id instanceof mongoose.Types.ObjectId);
    assert.equal(mine[1].fullDocument.n, 2);
    assert.deepEqual(ours.driverChangeStream.resumeToken, mine[3]._id);
    await Promise.all([ours.close(), theirs.close()]);
    assert.equal(ours.driverChangeStream.closed, true);
  } finally {
    await plain.disconnect();
    await wrapper.disconnect();
  }
  assert.deepEqual(peerErrors.filter((err) => err.name !== 'MongoClientClosedError'), []);
});

test('next(), hasNext(), tryNext() and for await iterate a stream; resumeAfter and startAfter pass through', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const Items = Item(wrapper).db(`${PREFIX}_iter`);
  try {
    const stream = Items.collection.watch();
    const pending = Promise.all([stream.next(), stream.hasNext()]);
    await Items.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const [first, has] = await pending;
    assert.equal(first.fullDocument.n, 1);
    assert.equal(has, true);
    assert.equal((await stream.tryNext()).fullDocument.n, 2);
    const token = stream.resumeToken;
    assert.equal((await stream.next()).fullDocument.n, 3);
    assert.equal(await stream.tryNext(), null);
    assert.throws(() => stream.on('change', () => {}), { name: 'MongoAPIError', message: /as an EventEmitter after being used as an iterator/ });
    await stream.close();
    assert.equal(await stream.hasNext(), false);
    await assert.rejects(stream.next(), { name: 'MongoAPIError', message: 'ChangeStream is closed' });

    for (const option of ['resumeAfter', 'startAfter']) {
      const again = Items.collection.watch([], { [option]: token });
      const seen = [];
      for await (const change of again) {
        seen.push(change.fullDocument.n);
        if (seen.length === 1) break;
      }
      assert.deepEqual(seen, [3], option);
      assert.equal(again.closed, true);
    }
  } finally {
    await wrapper.disconnect();
  }
});

test('a stream sees the changes of every operation started after watch() returned', { timeout: 60_000 }, async () => {
  const wrapper = wrap();
  const db = `${PREFIX}_after`;
  const Items = Item(wrapper).db(db);
  try {
    // A collection's stream, and a database's: Mongoose's connection.watch() would open the latter
    // on the next turn of the event loop, after the insert below has started.
    for (const open of [() => Items.collection.watch(), () => wrapper.watch(db), () => Items.db.watch()]) {
      for (let n = 0; n < 10; n++) {
        const stream = open();
        const next = stream.next();
        await Items.create({ n });
        assert.equal((await next).fullDocument.n, n, String(open));
        await stream.close();
      }
    }
    // As with Mongoose's own, 'ready' comes after watch() returns.
    const ready = wrapper.watch(db);
    await once(ready, 'ready');
    await ready.close();
    // Closed as soon as it is opened, a database's stream leaves nothing open in the engine.
    const stream = wrapper.watch(db);
    stream.on('change', () => {});
    assert.equal(await wrapper.actions.closeAllWatches(), 1);
    await sleep(300);
    assert.equal(stream.closed, true);
    assert.equal(wrapper.stats.general().streams.open, 0);
  } finally {
    await wrapper.disconnect();
  }
});

test('Mongoose\'s streams take for await, hydrated for Model.watch({ hydrate: true })', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const db = `${PREFIX}_forawait`;
  const M = Item(wrapper).db(db);
  try {
    for (const [stream, hydrated] of [[M.watch([], { hydrate: true }), true], [wrapper.watch(db), false]]) {
      const seen = [];
      const loop = (async () => {
        for await (const change of stream) {
          seen.push(change.fullDocument);
          if (seen.length === 2) break;
        }
      })();
      await M.create([{ n: 1 }, { n: 2 }]);
      await loop;
      assert.deepEqual(seen.map((d) => d.n), [1, 2]);
      assert.equal(seen[0] instanceof M, hydrated);
      assert.equal(stream.driverChangeStream.closed, true);
      await M.deleteMany({});
    }
  } finally {
    await wrapper.disconnect();
  }
});

test('a next(), hasNext() or tryNext() waiting when the stream closes rejects, as the Node driver\'s; a throwing listener is an \'error\' event and the stream goes on', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const db = `${PREFIX}_pending`;
  const M = Item(wrapper).db(db);
  const plain = await mongoose.mongo.MongoClient.connect(suite.uri);
  try {
    const outcomes = async (coll) => {
      const out = [];
      for (const method of ['next', 'hasNext', 'tryNext']) {
        const stream = coll.watch([], { maxAwaitTimeMS: 5000 });
        const settled = stream[method]().then((v) => `resolved ${v}`, (e) => `${e.name}: ${e.message}`);
        await sleep(300);
        await stream.close();
        out.push(await settled);
      }
      return out;
    };
    const [ours, theirs] = [await outcomes(M.collection), await outcomes(plain.db(db).collection('items'))];
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, Array(3).fill('MongoAPIError: ChangeStream is closed'));

    const listened = async (coll, write) => {
      const stream = coll.watch();
      const events = [];
      stream.on('change', (c) => {
        events.push(`change ${c.fullDocument.n}`);
        if (c.fullDocument.n === 1) throw new Error('boom');
      });
      stream.on('error', (e) => events.push(`error ${e.message}`));
      await sleep(300);
      for (const n of [1, 2, 3]) await write(n);
      for (const deadline = Date.now() + 10_000; events.length < 4 && Date.now() < deadline;) await sleep(20);
      const closed = stream.closed;
      await stream.close();
      return [events, closed];
    };
    const mine = await listened(M.collection, (n) => M.create({ n }));
    const node = await listened(plain.db(db).collection('items'), (n) => plain.db(db).collection('items').insertOne({ n }));
    assert.deepEqual(mine, node);
    assert.deepEqual(mine, [['change 1', 'error boom', 'change 2', 'change 3'], false]);
  } finally {
    await plain.close();
    await wrapper.disconnect();
  }
});

test('wrapper.watch follows a whole database, the default one when none is named', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const M = Item(wrapper);
  const Other = wrapper.wrapModel(model('Other', { s: String }));
  try {
    const tenant = wrapper.watch(`${PREFIX}_whole`, [{ $match: { operationType: 'insert' } }]);
    const main = wrapper.watch();
    const [t, d] = [collect(tenant), collect(main)];
    await Promise.all([started(tenant), started(main)]);
    await M.db(`${PREFIX}_whole`).create({ n: 1 });
    await Other.db(`${PREFIX}_whole`).create({ s: 'a' });
    await M.db(`${PREFIX}_whole`).deleteMany({});
    await M.create({ n: 7 });
    const changes = await t.until(2);
    assert.deepEqual(changes.map((c) => c.ns.coll).sort(), ['items', 'others']);
    assert.deepEqual((await d.until(1)).map((c) => [c.ns.db, c.fullDocument.n]), [[`${PREFIX}_main`, 7]]);
    await sleep(200);
    assert.equal(t.changes.length, 2);
  } finally {
    await wrapper.disconnect();
  }
});

test('a stream survives the server going away and delivers every change made after it came back, once', { timeout: 60_000 }, async () => {
  const server = await startServer();
  // Server selection gives up quickly, so the stream's own resume loop, not only the driver's, runs.
  const wrapper = wrap({ mongoURI: `${server.uri}/?serverSelectionTimeoutMS=1000` });
  const Items = Item(wrapper).db(`${PREFIX}_restart`);
  const observer = await mongoose.mongo.MongoClient.connect(server.uri);
  try {
    const stream = Items.watch();
    const { until } = collect(stream);
    await started(stream);
    await Items.create({ n: 1 });
    await until(1);
    await server.restart({ downMs: 3000 });
    // A write by another client as soon as the server is back, before the stream has resumed.
    await observer.db(`${PREFIX}_restart`).collection('items').insertOne({ n: 2 });
    for (;;) {
      try {
        await Items.create({ n: 3 });
        break;
      } catch {
        await sleep(100);
      }
    }
    await Items.create({ n: 4 });
    const changes = await until(4);
    await sleep(300);
    assert.deepEqual(changes.map((c) => c.fullDocument.n), [1, 2, 3, 4]);
  } finally {
    await observer.close();
    await wrapper.disconnect();
    await server.stop();
  }
});

test('closeDBstream closes exactly its database\'s streams; closeAllWatches the rest; stats count them', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const M = Item(wrapper);
  const [a, b] = [`${PREFIX}_reg_a`, `${PREFIX}_reg_b`];
  try {
    const streams = [M.db(a).watch(), M.db(a).collection.watch(), M.db(b).watch()];
    const closed = streams.map(() => false);
    streams.forEach((s, i) => s.on('close', () => (closed[i] = true)));
    const { until } = collect(streams[2]);
    // The driver-level stream flows once it has a 'change' listener, as the Node driver's does.
    streams[1].on('change', () => {});
    await Promise.all(streams.map(started));
    assert.deepEqual(wrapper.stats.general().streams.byDatabase, { [a]: 2, [b]: 1 });
    assert.equal(wrapper.stats.general().streams.open, 3);
    assert.equal(await wrapper.actions.closeDBstream(a), 2);
    assert.deepEqual(closed, [true, true, false]);
    assert.deepEqual(wrapper.stats.general().streams.byDatabase, { [b]: 1 });
    await M.db(b).create({ n: 1 });
    await until(1);
    assert.equal(await wrapper.actions.closeAllWatches(), 1);
    assert.deepEqual(closed, [true, true, true]);
    assert.equal(wrapper.stats.general().streams.open, 0);
    M.db(b).collection.watch().on('change', () => {});
    for (const name of ['bad.name', null, undefined, 42]) {
      await assert.rejects(wrapper.actions.closeDBstream(name), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, String(name));
    }
    assert.equal(wrapper.stats.general().streams.open, 1);
  } finally {
    await wrapper.disconnect();
  }
});

test('a pool with an open stream is not closed by its ttl; closing the stream lets it close', { timeout: 20_000 }, async () => {
  const db = `${PREFIX}_ttl`;
  const wrapper = wrap({ dbSpecific: [{ dbName: db, options: { autoClose: true, ttl: 150 } }] });
  const pool = () => wrapper.stats.general().separateDB.find((p) => p.dbName === db);
  try {
    const stream = Item(wrapper).db(db).watch();
    await started(stream);
    await sleep(800);
    assert.equal(pool().isInitialized, true);
    await stream.close();
    for (const deadline = Date.now() + 5_000; pool().isInitialized && Date.now() < deadline;) await sleep(50);
    assert.equal(pool().isInitialized, false);
  } finally {
    await wrapper.disconnect();
  }
});

test('operations run with more streams open than the pool has connections; N streams hold at most N connections', { timeout: 30_000 }, async () => {
  const wrapper = wrap({ maxPoolSize: 2 });
  const M = Item(wrapper);
  const N = 8;
  try {
    const opPool = () => wrapper.stats.general().primary.poolStats.totalConnections;
    await M.db(`${PREFIX}_busy_0`).findOne({});
    await sleep(200);
    const [before, opBefore] = [await serverConnections(suite.client), opPool()];
    const streams = Array.from({ length: N }, (_, i) => M.db(`${PREFIX}_busy_${i}`).watch());
    await Promise.all(streams.map(started));
    await sleep(1500);
    // What the server counts, less what the operations' pool grew by (the streams' first aggregates
    // run there).
    const held = (await serverConnections(suite.client)) - before - (opPool() - opBefore);
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => M.db(`${PREFIX}_busy_${i % N}`).create({ n: i })));
    const counts = await Promise.all(streams.map((_, i) => M.db(`${PREFIX}_busy_${i}`).countDocuments()));
    const took = Date.now() - startedAt;
    assert.equal(counts.reduce((x, y) => x + y, 0), 40);
    assert.ok(took < 3000, `40 writes and ${N} counts took ${took} ms`);
    // At most one connection per stream (a getMore holds one while it waits for changes), plus the
    // stream client's monitoring connections.
    const { connections } = wrapper.stats.general().streams;
    assert.ok(connections >= 1 && connections <= N, `${connections} stream connections`);
    assert.ok(held >= connections && held <= connections + 2, `${N} streams hold ${held} server connections`);
    console.log(`# ${N} open streams hold ${held} server connections (${connections} stream connections + monitoring)`);
  } finally {
    await wrapper.disconnect();
  }
});

test('maxOpenStreams caps the streams open at once, with a clear error', { timeout: 30_000 }, async () => {
  const wrapper = wrap({ maxOpenStreams: 2 });
  const M = Item(wrapper).db(`${PREFIX}_cap`);
  try {
    const [s1, s2] = [M.collection.watch(), M.collection.watch()];
    const refused = M.collection.watch();
    await assert.rejects(refused.next(), { name: 'PolyMongoError', code: 'ERR_TOO_MANY_STREAMS', message: /maxOpenStreams/ });
    // Through Mongoose, a refused stream is an 'error' event.
    const viaMongoose = M.watch();
    const [error] = await once(viaMongoose, 'error');
    assert.equal(error.code, 'ERR_TOO_MANY_STREAMS');
    await s1.close();
    const s3 = M.collection.watch();
    const pending = s3.next();
    await M.create({ n: 1 });
    assert.equal((await pending).operationType, 'insert');
    await Promise.all([s2.close(), s3.close()]);
  } finally {
    await wrapper.disconnect();
  }
  assert.throws(() => wrap({ maxOpenStreams: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => wrap({ maxOpenStreams: '3' }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('a stream that cannot run fails with the server\'s error, and options it cannot honour are refused', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const M = Item(wrapper).db(`${PREFIX}_fail`);
  try {
    const bad = M.collection.watch([{ $bogus: 1 }]);
    const err = await bad.next().catch((e) => e);
    assert.equal(err.name, 'MongoServerError');
    assert.equal(typeof err.code, 'number');
    assert.equal(bad.closed, true);

    // A stream that cannot open, as an EventEmitter: 'close', then 'error', as the Node driver's.
    const plain = await mongoose.mongo.MongoClient.connect(suite.uri);
    try {
      const events = async (stream) => {
        const order = [];
        const closed = new Promise((resolve) => stream.on('close', () => resolve(order.push(`close ${stream.closed}`))));
        const [error] = await new Promise((resolve) => stream.on('error', (err) => resolve([err, order.push(`error ${stream.closed}`)])));
        await closed;
        return [error.name, order];
      };
      const ours = await events(M.collection.watch([{ $bogus: 1 }]).on('change', () => {}));
      const theirs = await events(plain.db(M.db.name).collection('items').watch([{ $bogus: 1 }]).on('change', () => {}));
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, ['MongoServerError', ['close true', 'error true']]);
      const mongooseStream = M.watch([{ $bogus: 1 }]);
      const [error] = await once(mongooseStream, 'error');
      assert.equal(error.name, 'MongoServerError');
      assert.equal(mongooseStream.closed, true);
    } finally {
      await plain.close();
    }

    for (const [options, pattern] of [
      [{ fullDocument: 'sometimes' }, /fullDocument/],
      [{ timeoutMS: 5 }, /timeoutMS/],
      [{ maxTimeMS: 5 }, /maxTimeMS/],
      [{ readPreference: 'secondary' }, /readPreference/],
      [{ session: M.db.client.startSession() }, /session/],
      [{ comment: 'c' }, /comment/],
    ]) {
      await assert.rejects(M.collection.watch([], options).next(), { message: pattern }, JSON.stringify(Object.keys(options)));
    }
    await assert.rejects(M.db.client.watch().next(), { code: 'ERR_NOT_SUPPORTED' });
  } finally {
    await wrapper.disconnect();
  }
  await assert.rejects(M.collection.watch().next(), { code: 'ERR_WRAPPER_CLOSED' });
  const lost = wrap({ mongoURI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200' });
  await assert.rejects(Item(lost).collection.watch().next(), { name: 'MongoServerSelectionError' });
  await lost.disconnect();
});

test('closing the wrapper closes its streams', { timeout: 30_000 }, async () => {
  const wrapper = wrap();
  const stream = Item(wrapper).db(`${PREFIX}_close`).watch();
  await started(stream);
  const closed = once(stream, 'close');
  await wrapper.disconnect();
  await closed;
  assert.equal(stream.driverChangeStream.closed, true);
  assert.equal(wrapper.stats.general().streams.open, 0);
});

test('a process that opens a stream and closes all watches exits by itself', { timeout: 30_000 }, async () => {
  const script = fileURLToPath(new URL('./fixtures/exit.mjs', import.meta.url));
  const proc = spawn(process.execPath, [script, suite.uri, `${PREFIX}_child`, 'watch'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (data) => (out += data));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const [code, signal] = await once(proc, 'exit');
  clearTimeout(timer);
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
  assert.deepEqual(out.trim().split('\n').map((line) => JSON.parse(line)), [{ ready: 1 }, { change: 'insert' }, { closed: 1 }]);
});

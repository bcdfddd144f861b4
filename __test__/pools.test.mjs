// Pool limits and fairness: a database flooding the shared pool does not hold up the others,
// waitQueueTimeoutMS ends a wait with a coded error, maxOpenPools and maxTotalConnections bound the
// dedicated pools open at once (closing the least recently used idle one), and the server agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PoolLimitError, PolyMongoError, WaitQueueTimeoutError } from '../index.mjs';
import { model, serverConnections, uniqueDb, until, useSuite } from './helpers.mjs';

const PREFIX = uniqueDb('pools');
const suite = useSuite(PREFIX);
const { wrap } = suite;
const Item = (wrapper) => wrapper.wrapModel(model('Item', { n: Number, pad: String }));

/** Starts `count` slow operations on `flood`, then one point read on `light`; tells how many of the
 *  flood's had finished when the light one did. The read is lean, so it reaches the engine at once:
 *  what is measured is the engine's admission, not Mongoose's time to build a query. */
async function floodThenRead(flood, light, count) {
  let done = 0;
  const floodOps = Array.from({ length: count }, () => flood.countDocuments({ pad: /never/ }).then(() => done++));
  const found = await light.findOne({ n: 1 }).lean();
  const doneBeforeLight = done;
  await Promise.all(floodOps);
  assert.equal(found.n, 1);
  return doneBeforeLight;
}

async function seed(wrapper, flood, light) {
  const Items = Item(wrapper);
  await Items.db(flood).insertMany(Array.from({ length: 2000 }, (_, n) => ({ n, pad: 'x'.repeat(100) })));
  await Items.db(light).create({ n: 1 });
  return [Items.db(flood), Items.db(light)];
}

test('a database flooding the shared pool holds at most its share; another database goes straight in', async () => {
  const wrapper = wrap({ maxPoolSize: 4 });
  const [flood, light] = await seed(wrapper, `${PREFIX}_flood`, `${PREFIX}_light`);
  const done = await floodThenRead(flood, light, 200);
  // In one first-come-first-served queue the light read waits for all 200 (measured: 199); with its
  // turn it goes in at once, and a few of the flood's finish meanwhile, more on a busy machine.
  assert.ok(done < 40, `the light read waited for ${done} of the flood's 200 operations`);
  await wrapper.disconnect();
});

test('a database whose slow operations hold the shared pool while others wait gets a smaller share, and its full share back once they stop', async () => {
  // maxPoolSize 4: a share of 2 per database, at least 1.
  const wrapper = wrap({ maxPoolSize: 4 });
  const [flood] = await seed(wrapper, `${PREFIX}_adapt_flood`, `${PREFIX}_adapt_light`);
  const lights = Array.from({ length: 8 }, (_, i) => Item(wrapper).db(`${PREFIX}_adapt_light${i}`));
  await Promise.all(lights.map((light) => light.create({ n: 1 })));
  const floodLimit = () => wrapper.stats.general().databases.find((d) => d.dbName === `${PREFIX}_adapt_flood`)?.concurrencyLimit;
  let lightsRun = true;
  let floodRuns = true;
  const readers = lights.map(async (light) => {
    while (lightsRun) await light.findOne({ n: 1 }).lean();
  });
  const scans = Array.from({ length: 10 }, async () => {
    while (floodRuns) await flood.countDocuments({ pad: /never/ });
  });
  const seen = new Set();
  const watch = async (until, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !until()) {
      const entry = wrapper.stats.general().databases.find((d) => d.dbName === `${PREFIX}_adapt_flood`);
      if (entry) {
        seen.add(entry.concurrencyLimit);
        assert.ok(entry.inFlight <= 2, `the flood had ${entry.inFlight} in flight`);
      }
      await sleep(5);
    }
  };
  try {
    // Its scans, many times slower than the light reads, finish while the lights wait for the full pool.
    await watch(() => floodLimit() === 1, 5_000);
    assert.equal(floodLimit(), 1, `the flood's limit stayed at ${[...seen]}`);
    lightsRun = false;
    await Promise.all(readers);
    // Nobody waits any more: a second after its last decrease it grows back to its share.
    await watch(() => floodLimit() === 2, 5_000);
    assert.equal(floodLimit(), 2);
  } finally {
    lightsRun = false;
    floodRuns = false;
    await Promise.all([...readers, ...scans]);
  }
  // Idle databases leave the admission; one seen again starts with its whole share, nobody having
  // waited for the pool in the last second.
  await sleep(1_100);
  await flood.findOne({}).lean();
  assert.equal(floodLimit(), 2);
  await wrapper.disconnect();
});

test('waiting databases take turns: one waiting operation is not behind another database\'s two hundred', async () => {
  // No per-database share: the whole pool is taken by the flood, so the light read must queue.
  const wrapper = wrap({ maxPoolSize: 2, maxConcurrentPerDb: 2 });
  const [flood, light] = await seed(wrapper, `${PREFIX}_flood2`, `${PREFIX}_light2`);
  const done = await floodThenRead(flood, light, 200);
  // In one first-come-first-served queue the light read waits for all 200 (measured: 199); taking
  // turns, it goes next, and a few of the flood's finish meanwhile, more on a busy machine.
  assert.ok(done < 40, `the light read waited for ${done} of the flood's 200 operations`);
  await wrapper.disconnect();
});

test('waitQueueTimeoutMS ends a wait with a coded error, and what was admitted is written', async () => {
  const wrapper = wrap({ maxPoolSize: 1, waitQueueTimeoutMS: 1 });
  const Items = Item(wrapper).db(`${PREFIX}_timeout`);
  await Items.create({ n: -1 });
  const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, n) => Items.create({ n })));
  const rejected = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
  assert.ok(rejected.length > 0, 'no operation timed out');
  for (const err of rejected) {
    assert.equal(err.name, 'WaitQueueTimeoutError');
    assert.ok(err instanceof WaitQueueTimeoutError && err instanceof PolyMongoError);
    assert.equal(err.code, 'ERR_WAIT_QUEUE_TIMEOUT');
    assert.equal(err.dbName, `${PREFIX}_timeout`);
    assert.match(err.message, /waitQueueTimeoutMS/);
  }
  const written = await suite.client.db(`${PREFIX}_timeout`).collection('items').countDocuments({ n: { $gte: 0 } });
  assert.equal(written, 100 - rejected.length);
  await wrapper.disconnect();
});

test('maxOpenPools 10 with 50 dedicated databases in use: never more than 10 open, and the server agrees', { timeout: 60_000 }, async () => {
  const names = Array.from({ length: 50 }, (_, i) => `${PREFIX}_own${i}`);
  const baseline = await serverConnections(suite.client);
  // What one dedicated pool of one connection costs the server (its monitors included).
  const probe = wrap({ dbSpecific: [{ dbName: `${PREFIX}_probe`, options: { maxConnections: 1 } }] });
  await Item(probe).db(`${PREFIX}_probe`).countDocuments();
  // The driver's second monitor (round-trip times) connects a moment after the first reply: read the
  // count until it holds still, or a pool's cost is under-measured.
  let perPool = 0;
  for (let last = -1; perPool !== last; await sleep(200)) {
    last = perPool;
    perPool = (await serverConnections(suite.client)) - baseline;
  }
  await probe.disconnect();
  // The probe's connections must be gone from the server's count before the peak is measured.
  for (let i = 0; i < 50 && (await serverConnections(suite.client)) > baseline; i++) await sleep(100);

  const wrapper = wrap({ maxOpenPools: 10 });
  await wrapper.scale.setDB(names, { maxConnections: 1 });
  let open = 0;
  let peakOpen = 0;
  let peakServer = 0;
  const reasons = new Set();
  wrapper.on('connect', () => {
    peakOpen = Math.max(peakOpen, ++open);
  });
  wrapper.on('disconnect', (info) => {
    open--;
    reasons.add(info.reason);
  });
  const Items = Item(wrapper);
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      names.map(async (name, i) => {
        await Items.db(name).create({ n: i });
        if (i % 10 === 0) peakServer = Math.max(peakServer, (await serverConnections(suite.client)) - baseline);
      }),
    );
  }
  assert.ok(peakOpen <= 10, `${peakOpen} dedicated pools were open at once`);
  // The server counts a closed pool's connections until it has read their close: the ones of a few
  // pools just closed are still counted as their successors open (seen: 2 pools' worth, and once a
  // connection more on an idle machine). A leak would show as dozens of pools' worth.
  assert.ok(peakServer <= (10 + 5) * perPool, `the server saw ${peakServer} connections, ${perPool} per pool`);
  assert.deepEqual([...reasons], ['evicted']);
  for (const [i, name] of names.entries()) {
    assert.equal(await suite.client.db(name).collection('items').countDocuments({ n: i }), 3);
  }
  await wrapper.disconnect();
  assert.equal(open, 0, 'every pool opened was reported closed');
});

test('maxTotalConnections: a pool that does not fit waits for an idle one, then fails with a coded error', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => `${PREFIX}_budget_${x}`);
  // The shared pool (2) and two pools of 2 fit in 6; a third does not.
  const wrapper = wrap({ maxPoolSize: 2, maxTotalConnections: 6, waitQueueTimeoutMS: 300 });
  await wrapper.scale.setDB([a, b, c], { maxConnections: 2 });
  const Items = Item(wrapper);
  await Items.db(`${PREFIX}_main`).countDocuments();
  const disconnected = [];
  wrapper.onDbDisconnect((info) => disconnected.push([info.dbName, info.reason]));
  const cursors = [];
  for (const name of [a, b]) {
    await Items.db(name).insertMany([{ n: 1 }, { n: 2 }]);
    const cursor = Items.db(name).find({}).batchSize(1).cursor();
    assert.equal((await cursor.next()).n, 1);
    cursors.push(cursor);
  }
  // Both pools hold an open cursor: not idle, so the third cannot open.
  await assert.rejects(Items.db(c).countDocuments(), (err) => {
    assert.equal(err.name, 'PoolLimitError');
    assert.ok(err instanceof PoolLimitError);
    assert.equal(err.code, 'ERR_POOL_LIMIT');
    assert.equal(err.dbName, c);
    assert.match(err.message, /maxTotalConnections \(6\)/);
    return true;
  });
  await cursors[0].close();
  assert.equal(await Items.db(c).countDocuments(), 0);
  assert.deepEqual(disconnected, [[a, 'evicted']]);
  assert.equal((await cursors[1].next()).n, 2);
  await cursors[1].close();
  await wrapper.disconnect();
});

/** Databases `a` and `b` with pools of their own (ttl `TTL`), one open at a time, and the
 *  disconnections seen as `[dbName, reason]`. */
const TTL = 1_000;
async function onePoolAtATime(name) {
  const [a, b] = ['a', 'b'].map((x) => `${PREFIX}_${name}_${x}`);
  const wrapper = wrap({ maxPoolSize: 2, maxOpenPools: 1, waitQueueTimeoutMS: 10_000 });
  await wrapper.scale.setDB([a, b], { maxConnections: 2, ttl: TTL });
  const disconnected = [];
  wrapper.onDbDisconnect((info) => disconnected.push([info.dbName, info.reason]));
  return { a, b, wrapper, Items: Item(wrapper), disconnected };
}

test('a cursor left unread for its pool\'s ttl no longer keeps the pool open: it makes room, or closes as idle, and reading the cursor then fails with a coded error', async () => {
  const { a, b, wrapper, Items, disconnected } = await onePoolAtATime('unread');
  const c = `${PREFIX}_unread_c`;
  await Items.db(a).insertMany(Array.from({ length: 6 }, (_, i) => ({ n: i + 1 })));

  // Read one document every 300 ms: its first batch of 5 takes longer than the ttl to read, but a
  // cursor being read is in use, so the pool stays open and b waits for it.
  const reader = Items.db(a).find({}).sort('n').batchSize(5).cursor();
  const other = Items.db(b).countDocuments();
  const read = [];
  for (let doc = await reader.next(); doc; doc = await reader.next()) {
    read.push(doc.n);
    assert.deepEqual(disconnected, []);
    await sleep(300);
  }
  assert.deepEqual(read, [1, 2, 3, 4, 5, 6]);
  assert.equal(await other, 0);
  assert.deepEqual(disconnected, [[a, 'evicted']]);

  // Abandoned after its first document (not closed, still referenced): a waits for it only TTL ms.
  await Items.db(b).insertMany([{ n: 1 }, { n: 2 }]);
  const abandoned = Items.db(b).find({}).batchSize(1).cursor();
  await abandoned.next();
  const opened = Date.now();
  assert.equal(await Items.db(a).countDocuments(), 6);
  const waited = Date.now() - opened;
  assert.ok(waited >= TTL - 50 && waited < 5_000, `a waited ${waited} ms for b's unread cursor`);
  assert.deepEqual(disconnected, [[a, 'evicted'], [b, 'evicted']]);
  await assert.rejects(abandoned.next(), (err) => {
    assert.equal(err.name, 'PolyMongoError');
    assert.equal(err.code, 'ERR_CURSOR_TIMED_OUT');
    assert.equal(err.dbName, b);
    assert.match(err.message, /went unread for longer than 1000 ms \(the pool's ttl, at least 1 s\)/);
    return true;
  });

  // With autoClose, an unread cursor no longer holds the pool past its ttl either; a ttl below 1 s
  // closes the pool that soon when nothing uses it, but a cursor keeps it for 1 s.
  await wrapper.scale.setDB([c], { maxConnections: 2, autoClose: true, ttl: 0 });
  await Items.db(c).insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  const idle = Items.db(c).find({}).batchSize(1).cursor();
  assert.equal((await idle.next()).n, 1);
  assert.equal((await idle.next()).n, 2);
  // With ttl 0 the pool may already have closed once, between the insert and the query.
  const closesOfC = () => disconnected.filter(([db]) => db === c);
  const before = closesOfC().length;
  assert.ok(await until(() => closesOfC().length > before), 'the pool with an unread cursor did not close');
  assert.deepEqual(closesOfC(), Array(before + 1).fill([c, 'idle']));
  await assert.rejects(idle.next(), { code: 'ERR_CURSOR_TIMED_OUT' });

  // Read after disconnect(), a cursor fails as every operation then does.
  const last = Items.db(a).find({}).batchSize(1).cursor();
  await last.next();
  await wrapper.disconnect();
  await assert.rejects(last.next(), { code: 'ERR_WRAPPER_CLOSED' });
});

test('a session left unused for its pool\'s ttl outside a transaction no longer keeps the pool open, and expires with it', async () => {
  const { a, b, wrapper, Items, disconnected } = await onePoolAtATime('session');
  // A transaction keeps its pool open however long it waits between statements.
  const session = await Items.db(a).startSession();
  session.startTransaction();
  await Items.db(a).create([{ n: 0 }], { session });
  const other = Items.db(b).countDocuments();
  await sleep(TTL + 500);
  assert.deepEqual(disconnected, []);
  await session.commitTransaction();
  // Used every 100 ms outside a transaction, the session keeps it open too, and b waits.
  for (let i = 1; i < 6; i++) {
    await Items.db(a).create([{ n: i }], { session });
    await sleep(100);
  }
  // A transaction started, and its first statement long in coming: the pool stays open meanwhile.
  session.startTransaction();
  await sleep(TTL + 500);
  assert.deepEqual(disconnected, []);
  await Items.db(a).create([{ n: 6 }], { session });
  await session.commitTransaction();
  // Unused (not ended), it holds the pool for TTL ms more, no longer.
  assert.equal(await other, 0);
  assert.deepEqual(disconnected, [[a, 'evicted']]);
  await assert.rejects(Items.db(a).countDocuments({}, { session }), (err) => {
    assert.equal(err.name, 'MongoExpiredSessionError');
    assert.match(err.message, /expired with its pool: it went unused for longer than 1000 ms/);
    return true;
  });
  await session.endSession();
  assert.equal(await Items.db(a).countDocuments(), 7);
  await wrapper.disconnect();
});

test('10,000 tenants with 1,000 operations in flight while 40 pools of their own churn under maxOpenPools 4: every operation completes within the limits and nothing is left waiting', { timeout: 120_000 }, async () => {
  const wrapper = wrap({ maxPoolSize: 10, maxOpenPools: 4, waitQueueTimeoutMS: 60_000 });
  const own = Array.from({ length: 40 }, (_, i) => `${PREFIX}_churn_own${i}`);
  await wrapper.scale.setDB(own, { maxConnections: 2, autoClose: true, ttl: 100 });
  const Items = Item(wrapper);
  let mostOpen = 0;
  const sample = () => {
    const general = wrapper.stats.general();
    mostOpen = Math.max(mostOpen, general.separateDB.filter((pool) => pool.isInitialized).length);
    return general;
  };
  const sampler = setInterval(sample, 5);
  const evicted = new Set();
  wrapper.onDbDisconnect((info) => info.reason === 'evicted' && evicted.add(info.dbName));
  const OPS = 20_000;
  let next = 0;
  let done = 0;
  // Reads of databases that have no data: nothing to seed, and nothing created.
  const worker = async () => {
    for (let i = next++; i < OPS; i = next++) {
      const db = i % 10 === 0 ? own[(i / 10) % own.length] : `${PREFIX}_churn_t${i % 10_000}`;
      assert.equal(await Items.db(db).findOne({ n: i }).lean(), null);
      done++;
    }
  };
  try {
    await Promise.all(Array.from({ length: 1_000 }, worker));
  } finally {
    clearInterval(sampler);
  }
  assert.equal(done, OPS);
  assert.ok(mostOpen <= 4, `${mostOpen} pools of their own were open at once`);
  assert.ok(evicted.size >= 10, `only ${evicted.size} pools were evicted: no churn`);
  const general = sample();
  assert.equal(general.primary.poolStats.waitQueueSize, 0);
  assert.equal(general.primary.poolStats.inFlight, 0);
  assert.deepEqual(general.databases.filter((d) => d.inFlight || d.queued), []);
  await wrapper.disconnect();
});

test('limits that can never be met are refused when the wrapper is created', () => {
  assert.throws(() => wrap({ maxPoolSize: 10, maxTotalConnections: 5 }), { name: 'RangeError', option: 'maxTotalConnections' });
  assert.throws(() => wrap({ maxOpenPools: 0 }), { name: 'RangeError', option: 'maxOpenPools' });
  assert.throws(() => wrap({ maxConcurrentPerDb: 1.5 }), { name: 'RangeError', option: 'maxConcurrentPerDb' });
  assert.throws(() => wrap({ waitQueueTimeoutMS: -1 }), { name: 'RangeError', option: 'waitQueueTimeoutMS' });
  assert.throws(() => wrap({ maxOpenPools: '10' }), { code: 'ERR_INVALID_ARG_TYPE', option: 'maxOpenPools' });
  const wrapper = wrap({ maxPoolSize: 2, maxTotalConnections: 4 });
  assert.throws(() => wrapper.scale.setDB('big', { maxConnections: 5 }), { option: 'dbSpecific.options.maxConnections' });
});

// A soak run: mixed multi-tenant load on one wrapper for a while, sampling what would show a leak.
//   npm run soak                           # 10 minutes, on a local test server it starts
//   SOAK_SECONDS=60 MONGODB_URI=... npm run soak
// The load: 8 workers over 200 tenant databases (create, lean and document reads, updates, counts,
// aggregations), with churn everywhere the wrapper keeps state: 20 of the tenants have pools of
// their own that close after 1 s idle (at most 3 open: `maxOpenPools`), the tenant connection cache
// holds 20 of 200, cursors are abandoned after their first batch, change streams and sessions are
// opened and dropped. Every 10 s (after a GC) it samples RSS, the JS heap, the process's active
// handles and the server's connections; at the end it reports each one's slope (least squares, per
// minute) and whether all came back down after `disconnect()`.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { PolyMongo } from '../index.mjs';
import { startServer } from './test-server.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const TENANTS = 200;
const DEDICATED = 20;
const WORKERS = 8;

/** Least-squares slope of `ys` over `xs`. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Resolves once `condition()` holds, or after `ms`; to whether it held. */
async function settle(condition, ms) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    if (await condition()) return true;
  }
  return condition();
}

/**
 * Runs the soak against `uri` for `durationMs`, sampling every `sampleMs`; `log(line)` gets a line per
 * sample. Resolves to `{ samples, slopes, ops, errors, baseline, after, clean }`:
 * - `samples`: `[{ t (s), rssMB, heapMB, handles, connections, ops }]`;
 * - `slopes`: per minute, over the samples after the first (warm-up): `{ rssMB, heapMB, handles,
 *   connections }`;
 * - `errors`: operations that failed (there should be none), by error name;
 * - `baseline` / `after`: handles and server connections before the wrapper and after `disconnect()`
 *   (when not clean, `after` also lists the server's operations and the process's resources);
 * - `clean`: whether both came back to the baseline.
 */
export async function soak({ uri, durationMs, sampleMs = 10_000, log = () => {} }) {
  const prefix = `soak_${Date.now().toString(36)}`;
  // Polling monitoring: no RTT connection of the observer's own appears after the baseline.
  const observer = await mongoose.mongo.MongoClient.connect(uri, { maxPoolSize: 1, serverMonitoringMode: 'poll' });
  const connections = async () => (await observer.db('admin').command({ serverStatus: 1 })).connections.current;
  const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
  await connections();
  gc();
  const baseline = { handles: handles(), connections: await connections() };
  const tenant = (n) => `${prefix}_${n}`;
  const wrapper = PolyMongo.createWrapper({
    mongoURI: uri,
    defaultDB: `${prefix}_main`,
    handleSignals: false,
    maxPoolSize: 10,
    maxOpenPools: 3,
    tenantCacheSize: 20,
    dbSpecific: Array.from({ length: DEDICATED }, (_, n) => ({ dbName: tenant(n), options: { maxConnections: 2, autoClose: true, ttl: 1_000 } })),
  });
  const base = new mongoose.Mongoose();
  const Order = wrapper.wrapModel(base.model('Order', new base.Schema({ customer: String, total: Number, items: [{ sku: String, qty: Number }] }, { timestamps: true })));
  let ops = 0;
  const errors = {};
  let running = true;
  const pick = () => tenant(Math.floor(Math.random() * TENANTS));
  const steps = [
    (M) => M.create({ customer: `c${ops % 50}`, total: ops % 100, items: [{ sku: 'a', qty: 1 }] }),
    (M) => M.find({ total: { $gte: 50 } }).limit(20).lean(),
    (M) => M.find({ customer: 'c1' }).limit(5),
    (M) => M.updateMany({ total: { $lt: 10 } }, { $inc: { total: 1 } }),
    (M) => M.countDocuments({ customer: { $in: ['c1', 'c2', 'c3'] } }),
    (M) => M.aggregate([{ $group: { _id: '$customer', sum: { $sum: '$total' } } }]),
    async (M) => {
      // A cursor abandoned after its first batch: never closed, never read to the end.
      const cursor = M.find().batchSize(5).cursor();
      await cursor.next();
    },
    async (M) => {
      // A session dropped: ended or not, with or without a transaction.
      const session = await M.startSession();
      if (ops % 2 === 0) {
        await session.withTransaction(() => M.create([{ customer: 'txn', total: 1 }], { session }));
      }
      if (ops % 3 !== 0) await session.endSession();
    },
    async (_M, db) => {
      const stream = wrapper.watch(db);
      await Order.db(db).create({ customer: 'watched', total: 0 });
      await stream.next();
      await stream.close();
    },
  ];
  const weights = [20, 20, 10, 8, 10, 6, 4, 2, 1];
  const table = weights.flatMap((w, i) => Array(w).fill(i));
  const worker = async () => {
    while (running) {
      const db = pick();
      const step = steps[table[Math.floor(Math.random() * table.length)]];
      try {
        await step(Order.db(db), db);
        ops++;
      } catch (err) {
        errors[err.name] = (errors[err.name] ?? 0) + 1;
        log(`error: ${err.name}: ${err.message}`);
      }
    }
  };
  const started = Date.now();
  const samples = [];
  const sample = async () => {
    gc();
    const memory = process.memoryUsage();
    const s = {
      t: Math.round((Date.now() - started) / 1000),
      rssMB: +(memory.rss / 2 ** 20).toFixed(1),
      heapMB: +(memory.heapUsed / 2 ** 20).toFixed(1),
      handles: handles(),
      connections: await connections(),
      ops,
    };
    samples.push(s);
    log(`t=${s.t}s rss=${s.rssMB}MB heap=${s.heapMB}MB handles=${s.handles} server connections=${s.connections} ops=${s.ops}`);
  };
  const workers = Array.from({ length: WORKERS }, worker);
  while (Date.now() - started < durationMs) {
    await sleep(Math.min(sampleMs, durationMs - (Date.now() - started)));
    await sample();
  }
  running = false;
  await Promise.all(workers);
  await wrapper.disconnect();
  gc();
  const clean = await settle(async () => handles() <= baseline.handles && (await connections()) <= baseline.connections, 10_000);
  const after = { handles: handles(), connections: await connections() };
  if (!clean) {
    // What the server still runs for someone: a monitor's awaited hello names its driver.
    const { inprog } = await observer.db('admin').command({ currentOp: 1, $all: true }).catch(() => ({ inprog: [] }));
    after.operations = inprog.map((op) => `${op.clientMetadata?.driver?.name ?? '?'} ${Object.keys(op.command ?? {})[0]}`);
    after.resources = process.getActiveResourcesInfo();
  }
  const { databases } = await observer.db('admin').command({ listDatabases: 1, nameOnly: true });
  await Promise.all(databases.filter((d) => d.name.startsWith(prefix)).map((d) => observer.db(d.name).dropDatabase()));
  await observer.close();
  const steady = samples.slice(1);
  const xs = steady.map((s) => s.t / 60);
  const per = (key) => +slope(xs, steady.map((s) => s[key])).toFixed(2);
  const slopes = { rssMB: per('rssMB'), heapMB: per('heapMB'), handles: per('handles'), connections: per('connections') };
  return { samples, slopes, ops, errors, baseline, after, clean };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.env.SOAK_SECONDS || 600);
  const server = process.env.MONGODB_URI ? null : await startServer();
  try {
    console.log(`soak: ${seconds} s, ${WORKERS} workers over ${TENANTS} tenants`);
    const result = await soak({ uri: process.env.MONGODB_URI || server.uri, durationMs: seconds * 1000, log: (line) => console.log(line) });
    console.log(`ops: ${result.ops} (${Math.round(result.ops / seconds)}/s), failed: ${JSON.stringify(result.errors)}`);
    console.log(`slopes per minute after the first sample: ${JSON.stringify(result.slopes)}`);
    console.log(`after disconnect(): handles ${result.after.handles} (baseline ${result.baseline.handles}), server connections ${result.after.connections} (baseline ${result.baseline.connections}): ${result.clean ? 'clean' : 'NOT clean'}`);
    process.exitCode = result.clean && Object.keys(result.errors).length === 0 ? 0 : 1;
  } finally {
    await server?.stop();
  }
}

// Noisy neighbour: one tenant floods slow queries (collection scans, many in flight) while 20 light
// tenants each do point reads one after another. Reported: the light tenants' p50/p99 latency with
// and without the flood, for polymongo-rs (admission: per-database share, turns across databases)
// and for Mongoose `useDb` on one shared pool, both with maxPoolSize 10, in one run. Contenders
// alternate within each round; the table gives the median of the rounds.
// MONGODB_URI selects a server; without it a local test server is started.
import mongoose from 'mongoose';
import { PolyMongo } from '../index.mjs';
import { startServer } from '../scripts/test-server.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 3000);
const LIGHT_TENANTS = 20;
const FLOOD_IN_FLIGHT = 50;
const FLOOD_DOCS = 20_000;
const POOL = 10;
const PREFIX = `noisy_${process.pid}`;
const FLOOD_DB = `${PREFIX}_flood`;
const lightDb = (i) => `${PREFIX}_light${i}`;
const definition = { n: Number, pad: String };

const server = process.env.MONGODB_URI ? { uri: process.env.MONGODB_URI, stop: async () => {} } : await startServer();

async function seed() {
  const client = await mongoose.mongo.MongoClient.connect(server.uri);
  const pad = 'x'.repeat(150);
  const flood = client.db(FLOOD_DB).collection('items');
  for (let start = 0; start < FLOOD_DOCS; start += 5000) {
    await flood.insertMany(Array.from({ length: 5000 }, (_, i) => ({ n: start + i, pad })));
  }
  const ids = [];
  for (let i = 0; i < LIGHT_TENANTS; i++) {
    const { insertedIds } = await client.db(lightDb(i)).collection('items').insertMany(Array.from({ length: 100 }, (_, n) => ({ n, pad })));
    ids.push(Object.values(insertedIds));
  }
  return { client, ids };
}

/** The contenders: each gives a tenant's collection API and a way to close. polymongo-rs runs with
 *  the default share per database (half the pool) and with a smaller one. */
function polymongo(maxConcurrentPerDb) {
  const options = { mongoURI: server.uri, defaultDB: FLOOD_DB, maxPoolSize: POOL, maxConcurrentPerDb, handleSignals: false };
  const wrapper = PolyMongo.createWrapper(options);
  const m = new mongoose.Mongoose();
  const Item = wrapper.wrapModel(m.model('Item', new m.Schema(definition)));
  const share = maxConcurrentPerDb === undefined ? 'default maxConcurrentPerDb' : `maxConcurrentPerDb ${maxConcurrentPerDb}`;
  return {
    name: `polymongo-rs (maxPoolSize ${POOL}, ${share})`,
    slow: () => Item.db(FLOOD_DB).countDocuments({ pad: /never-there/ }),
    read: (i, id) => Item.db(lightDb(i)).findOne({ _id: id }),
    close: () => wrapper.disconnect(),
  };
}

function mongooseUseDb() {
  const connection = mongoose.createConnection(server.uri, { maxPoolSize: POOL });
  const models = new Map();
  const model = (db) => {
    if (!models.has(db)) models.set(db, connection.useDb(db, { useCache: true }).model('Item', new mongoose.Schema(definition)));
    return models.get(db);
  };
  return {
    name: `Mongoose ${mongoose.version} useDb (one pool, maxPoolSize ${POOL})`,
    slow: () => model(FLOOD_DB).countDocuments({ pad: /never-there/ }),
    read: (i, id) => model(lightDb(i)).findOne({ _id: id }).lean(),
    close: () => connection.close(),
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Light tenants read for PHASE_MS, with the flood running or not; their latencies in ms, sorted. */
async function phase(contender, ids, flooded) {
  const deadline = performance.now() + PHASE_MS;
  const latencies = [];
  let floodOps = 0;
  const flood = async () => {
    while (performance.now() < deadline) {
      await contender.slow();
      floodOps++;
    }
  };
  const light = async (i) => {
    for (let k = 0; performance.now() < deadline; k++) {
      const started = performance.now();
      await contender.read(i, ids[i][k % ids[i].length]);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all([
    ...(flooded ? Array.from({ length: FLOOD_IN_FLIGHT }, flood) : []),
    ...Array.from({ length: LIGHT_TENANTS }, (_, i) => light(i)),
  ]);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), reads: latencies.length, floodOps };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const { client, ids } = await seed();
const makers = [() => polymongo(), mongooseUseDb, () => polymongo(2)];
const results = new Map();
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? makers : [...makers].reverse();
    for (const make of order) {
      const contender = make();
      await phase(contender, ids, false).catch(() => {}); // warm-up: pools open, models built
      const quiet = await phase(contender, ids, false);
      const loud = await phase(contender, ids, true);
      await contender.close();
      if (!results.has(contender.name)) results.set(contender.name, []);
      results.get(contender.name).push({ quiet, loud });
    }
  }
} finally {
  await Promise.all(Array.from({ length: LIGHT_TENANTS }, (_, i) => client.db(lightDb(i)).dropDatabase()));
  await client.db(FLOOD_DB).dropDatabase();
  await client.close();
  await server.stop();
}

const fmt = (ms) => ms.toFixed(2);
console.log(`\nNoisy neighbour: ${LIGHT_TENANTS} light tenants doing point reads, one tenant with ${FLOOD_IN_FLIGHT} collection scans of ${FLOOD_DOCS} documents in flight;`);
console.log(`${PHASE_MS} ms per phase, median of ${ROUNDS} rounds. Latencies in ms.\n`);
console.log('| contender | unloaded p50 | unloaded p99 | flooded p50 | flooded p99 | flooded p99 ÷ unloaded p99 | flood ops/s |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, runs] of results) {
  const m = (pick) => median(runs.map(pick));
  const ratio = m((r) => r.loud.p99 / r.quiet.p99);
  console.log(
    `| ${name} | ${fmt(m((r) => r.quiet.p50))} | ${fmt(m((r) => r.quiet.p99))} | ${fmt(m((r) => r.loud.p50))} | ${fmt(m((r) => r.loud.p99))} | ${ratio.toFixed(2)}× | ${Math.round(m((r) => r.loud.floodOps) / (PHASE_MS / 1000))} |`,
  );
}

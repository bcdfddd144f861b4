// Noisy neighbour: one tenant floods slow queries (collection scans, 50 in flight) while 20 light
// tenants each do point reads one after another. Reported: the light tenants' p50/p99 latency
// without and with the flood, and the flood's own throughput. polymongo-rs runs with its default
// ceiling per database (half the pool, under which each database's share adapts) and with a smaller one.
import { CONTENDERS } from '../contenders.mjs';
import { alternate, percentile, Rows } from '../report.mjs';
import { connect, dropDatabases, seed } from '../data.mjs';

const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 1000);
const LIGHT_TENANTS = 20;
const FLOOD_IN_FLIGHT = 50;
const FLOOD_DOCS = 20_000;
const KEYS = ['polymongo-rs', 'polymongo-rs-share2', 'polymongo-lean', 'usedb-lean', 'pool-per-tenant', 'driver'];

export async function run({ uri, rounds }) {
  const prefix = `bench_noisy_${process.pid}_`;
  const floodDb = `${prefix}flood`;
  const light = Array.from({ length: LIGHT_TENANTS }, (_, i) => `${prefix}light${i}`);
  const rows = new Rows();
  const client = await connect(uri);
  try {
    await seed(client, [floodDb], FLOOD_DOCS);
    const ids = await seed(client, light, 100);
    for (let round = 0; round < rounds; round++) {
      for (const key of alternate(KEYS, round)) {
        const { name, make } = CONTENDERS[key];
        const contender = make(uri);
        try {
          await phase(contender, floodDb, light, ids, false, PHASE_MS / 3); // warm-up: pools open, models built
          const quiet = await phase(contender, floodDb, light, ids, false, PHASE_MS);
          const loud = await phase(contender, floodDb, light, ids, true, PHASE_MS);
          rows.add(key, name, 'p50', quiet.p50);
          rows.add(key, name, 'p99', quiet.p99);
          rows.add(key, name, 'loudP50', loud.p50);
          rows.add(key, name, 'loudP99', loud.p99);
          rows.add(key, name, 'slowdown', loud.p99 / quiet.p99);
          rows.add(key, name, 'flood', loud.floodOps / (PHASE_MS / 1000));
        } finally {
          await contender.close();
        }
      }
    }
  } finally {
    await dropDatabases(client, prefix);
    await client.close();
  }
  return [{
    title: 'Noisy neighbour',
    note: `Pool of 10. ${LIGHT_TENANTS} light tenants do findOne by _id one after another; one tenant keeps ${FLOOD_IN_FLIGHT} countDocuments scans of ${FLOOD_DOCS.toLocaleString('en-US')} documents in flight. ${PHASE_MS} ms per phase; latencies in ms. The target: flooded p99 within 2× of unloaded.`,
    columns: [
      { key: 'p50', label: 'unloaded p50' },
      { key: 'p99', label: 'unloaded p99' },
      { key: 'loudP50', label: 'flooded p50' },
      { key: 'loudP99', label: 'flooded p99' },
      { key: 'slowdown', label: 'flooded p99 ÷ unloaded p99' },
      { key: 'flood', label: 'flood scans/s' },
    ],
    rows: rows.list,
  }];
}

/** Light tenants read for `ms`, with the flood running or not: their p50/p99 and the flood's ops. */
async function phase(contender, floodDb, light, ids, flooded, ms) {
  const deadline = performance.now() + ms;
  const latencies = [];
  let floodOps = 0;
  const flood = async () => {
    while (performance.now() < deadline) {
      await contender.slowCount(contender.tenant(floodDb));
      floodOps++;
    }
  };
  const reader = async (i) => {
    for (let k = 0; performance.now() < deadline; k++) {
      const started = performance.now();
      await contender.findOne(contender.tenant(light[i]), ids[i][k % ids[i].length]);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all([
    ...(flooded ? Array.from({ length: FLOOD_IN_FLIGHT }, flood) : []),
    ...light.map((_, i) => reader(i)),
  ]);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), floodOps };
}

// `npm run bench`: every workload through every contender in one run, contenders in alternating
// order each round. Prints markdown tables (median, min–max, ratio to polymongo-rs) and writes the
// raw figures with the machine's description to bench/results/<time>.json.
//
//   node --expose-gc bench/run.mjs [workload ...]    workloads: switching cpu tenants noisy schema bulk
//
// MONGODB_URI selects a server; without it a local test server is started. BENCH_ROUNDS sets the
// runs per figure (default 3).
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildCeiling } from './ceiling.mjs';
import { CONTENDERS } from './contenders.mjs';
import { connect, dropDatabases, seed } from './data.mjs';
import { machine, markdown } from './report.mjs';
import { startServer } from '../scripts/test-server.mjs';

const WORKLOADS = {
  switching: () => import('./workloads/switching.mjs'),
  cpu: () => import('./workloads/cpu.mjs'),
  tenants: () => import('./workloads/tenants.mjs'),
  noisy: () => import('./workloads/noisy-neighbour.mjs'),
  schema: () => import('./workloads/schema.mjs'),
  bulk: () => import('./workloads/bulk.mjs'),
};

const WARM_UP_MS = Number(process.env.BENCH_WARM_UP_MS ?? 1500);

/**
 * V8 compiles a library's hot paths only after thousands of calls: a contender measured cold costs up
 * to 2× its warm CPU per op. Before any measurement, each contender runs every operation, 64 in
 * flight, for WARM_UP_MS.
 */
async function warmUp(uri) {
  const prefix = `bench_warm_${process.pid}_`;
  const client = await connect(uri);
  try {
    const [ids] = await seed(client, [`${prefix}0`], 100);
    for (const { make } of Object.values(CONTENDERS)) {
      const contender = make(uri);
      const deadline = performance.now() + WARM_UP_MS;
      let n = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (performance.now() < deadline) {
          const tenant = contender.tenant(`${prefix}${n % 2}`);
          const op = n++ % 3;
          await (op === 0 ? contender.findOne(tenant, ids[n % ids.length]) : op === 1 ? contender.insertOne(tenant, n) : contender.find100(tenant));
        }
      }));
      await contender.close();
    }
  } finally {
    await dropDatabases(client, prefix);
    await client.close();
  }
}

const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !WORKLOADS[name]);
if (unknown.length) {
  console.error(`bench: unknown workload ${unknown.join(', ')}; choose from ${Object.keys(WORKLOADS).join(', ')}`);
  process.exit(2);
}
if (!globalThis.gc) {
  console.error('bench: run with node --expose-gc (npm run bench does)');
  process.exit(2);
}
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const local = !process.env.MONGODB_URI;
const ceiling = buildCeiling();
const server = local ? await startServer() : { uri: process.env.MONGODB_URI, stop: async () => {} };
const results = { date: new Date().toISOString(), machine: machine(), server: local ? 'local secantusd-rs test server' : 'MONGODB_URI', rounds, workloads: {} };
const began = performance.now();
const workloads = chosen.length ? chosen : Object.keys(WORKLOADS);
try {
  if (workloads.some((name) => name !== 'schema' && name !== 'bulk')) await warmUp(server.uri);
  for (const name of workloads) {
    const started = performance.now();
    const tables = await (await WORKLOADS[name]()).run({ uri: server.uri, local, rounds, ceiling });
    for (const table of tables) console.log(`\n${markdown(table)}`);
    console.log(`\n(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    results.workloads[name] = tables;
  }
} finally {
  await server.stop();
}
const { cpu, cores, memoryGiB, node } = results.machine;
console.log(`\nMachine: ${cpu}, ${cores} cores, ${memoryGiB} GiB, Node ${node}; ${rounds} runs per figure; ${((performance.now() - began) / 1000).toFixed(0)} s in all.`);
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
const file = new URL(`results/${results.date.replace(/[:.]/g, '-')}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`Raw figures: bench/results/${file.pathname.split('/').pop()}`);

// Client CPU per operation: findOne by _id, insertOne, find of 100 documents, and (documents only) a
// findOne + change + `save()`, one at a time and 64 in flight, each op on the next of 8 tenants (so
// `.db(name)` is part of it, as in a multi-tenant server). The test server shares the machine's
// cores, so the fair figure is the client's own CPU time (user + system, every thread:
// process.cpuUsage, getrusage for the ceiling) per op; ops/s is given too.
import { CONTENDERS } from '../contenders.mjs';
import { askCeiling, CEILING, lineup, nameOf } from '../ceiling.mjs';
import { Rows } from '../report.mjs';
import { connect, dropDatabases, seed } from '../data.mjs';

const TENANTS = 8;
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 100);
const MS = Number(process.env.BENCH_MEASURE_MS ?? 300);
const OPS = ['findOne', 'insertOne', 'find100', 'save'];
const CONCURRENCY = [1, 64];
const KEYS = ['polymongo-rs', 'polymongo-rs-docs', 'polymongo', 'polymongo-lean', 'usedb', 'usedb-lean', 'pool-per-tenant', 'driver'];
/** `.lean()` changes reads only: the lean rows skip insertOne, which the row above measures. */
const LEAN_TWINS = new Set(['polymongo-rs', 'polymongo-lean', 'usedb-lean']);
/** `save()` is a document's: only the contenders that read documents run it. */
const SAVES = new Set(['polymongo-rs-docs', 'polymongo', 'usedb']);
const column = (op, concurrency) => `${op}@${concurrency}`;

export async function run({ uri, rounds, ceiling }) {
  const prefix = `bench_cpu_${process.pid}_`;
  const tenants = Array.from({ length: TENANTS }, (_, i) => `${prefix}t${i}`);
  const cpu = new Rows();
  const throughput = new Rows();
  const client = await connect(uri);
  try {
    const ids = await seed(client, tenants, 200);
    for (let round = 0; round < rounds; round++) {
      for (const key of lineup(KEYS, round, ceiling)) {
        const name = nameOf(key);
        const contender = key === CEILING.key ? undefined : CONTENDERS[key].make(uri);
        try {
          for (const op of OPS) {
            if (op === 'insertOne' && LEAN_TWINS.has(key)) continue;
            if (op === 'save' && !SAVES.has(key)) continue;
            for (const concurrency of CONCURRENCY) {
              const { ops, cpuUs, wallMs } = contender
                ? await measure(contender, tenants, ids, op, concurrency)
                : await askCeiling(ceiling, uri, { workload: 'cpu', tenants, op, concurrency, warmMs: WARM_MS, ms: MS });
              cpu.add(key, name, column(op, concurrency), cpuUs / ops);
              throughput.add(key, name, column(op, concurrency), ops / (wallMs / 1000));
            }
          }
        } finally {
          await contender?.close();
        }
      }
    }
  } finally {
    await dropDatabases(client, prefix);
    await client.close();
  }
  const columns = OPS.flatMap((op) => CONCURRENCY.map((c) => ({ key: column(op, c), label: `${op} @${c}` })));
  return [
    { title: 'Client CPU per operation, µs', note: `Pool of 10, ${TENANTS} tenants in turn, ${MS} ms per run after ${WARM_MS} ms of warm-up. User + system CPU of the client process (all threads) ÷ ops.`, columns, rows: cpu.list },
    { title: 'Throughput, ops/s', note: 'The same runs, wall clock; the server shares the 2 cores, so these figures move with its load.', columns, rows: throughput.list },
  ];
}

async function measure(contender, tenants, ids, op, concurrency) {
  let next = 0;
  const once = () => {
    const n = next++;
    const t = n % tenants.length;
    const handle = contender.tenant(tenants[t]);
    if (op === 'findOne') return contender.findOne(handle, ids[t][Math.floor(n / tenants.length) % ids[t].length]);
    if (op === 'insertOne') return contender.insertOne(handle, n);
    if (op === 'save') return contender.save(handle, ids[t][Math.floor(n / tenants.length) % ids[t].length], n);
    return contender.find100(handle);
  };
  const runFor = async (ms) => {
    const deadline = performance.now() + ms;
    const started = next;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await once();
    }));
    return next - started;
  };
  await runFor(WARM_MS);
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const ops = await runFor(MS);
  const used = process.cpuUsage(cpu);
  return { ops, cpuUs: used.user + used.system, wallMs: performance.now() - started };
}

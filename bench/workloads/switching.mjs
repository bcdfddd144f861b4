// Switching: what reaching a tenant costs. "get tenant" is `.db(name)` (or the peer's equivalent)
// alone, cycling over 100 tenants already in use, in ns; "hot findOne" adds one findOne by _id on
// them, one after another, in µs of wall time; "first use" is `.db(name)` + findOne on a database
// never used before, in ms.
import { ObjectId } from 'mongodb';
import { CONTENDERS } from '../contenders.mjs';
import { askCeiling, CEILING, lineup, nameOf } from '../ceiling.mjs';
import { Rows } from '../report.mjs';
import { connect, dropDatabases } from '../data.mjs';

const HOT = 100;
const ITERATIONS = 100_000;
const FINDS = 300;
const COLD = 30;
const KEYS = ['polymongo-rs', 'polymongo', 'usedb', 'pool-per-tenant', 'driver'];

export async function run({ uri, rounds, ceiling }) {
  const prefix = `bench_switch_${process.pid}_`;
  const hot = Array.from({ length: HOT }, (_, i) => `${prefix}hot${i}`);
  const cold = (key, round) => Array.from({ length: COLD }, (_, i) => `${prefix}${key}_${round}_${i}`);
  const rows = new Rows();
  const record = (key, name, { switchNs, hotFindUs, coldMs }) => {
    rows.add(key, name, 'switch', switchNs);
    rows.add(key, name, 'hot', hotFindUs);
    rows.add(key, name, 'cold', coldMs);
  };
  const client = await connect(uri);
  try {
    for (let round = 0; round < rounds; round++) {
      for (const key of lineup(KEYS, round, ceiling)) {
        const figures = key === CEILING.key
          ? await askCeiling(ceiling, uri, { workload: 'switching', hot, cold: cold(key, round), iterations: ITERATIONS, finds: FINDS })
          : await measure(CONTENDERS[key].make(uri), hot, cold(key, round));
        record(key, nameOf(key), figures);
      }
    }
  } finally {
    await dropDatabases(client, prefix);
    await client.close();
  }
  return [{
    title: 'Switching between tenants',
    note: `Pool of 10. get tenant: \`.db(name)\` or the peer's equivalent over ${HOT} tenants in use, ns; hot findOne: that + findOne by _id, one at a time, µs of wall time; first use: \`.db(name)\` + findOne on a database never used, ms (${COLD} per run).`,
    columns: [{ key: 'switch', label: 'get tenant, ns' }, { key: 'hot', label: 'hot findOne, µs' }, { key: 'cold', label: 'first use, ms' }],
    rows: rows.list,
  }];
}

async function measure(contender, hot, cold) {
  const missing = new ObjectId();
  try {
    for (const db of hot) await contender.findOne(contender.tenant(db), missing);
    let last;
    // Timed on the second pass, once the JIT has compiled the loop for this contender.
    let switchNs;
    for (let pass = 0; pass < 2; pass++) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < ITERATIONS; i++) last = contender.tenant(hot[i % HOT]);
      switchNs = Number(process.hrtime.bigint() - started) / ITERATIONS;
    }
    if (!last) throw new Error('no tenant handle');
    let at = performance.now();
    for (let i = 0; i < FINDS; i++) await contender.findOne(contender.tenant(hot[i % HOT]), missing);
    const hotFindUs = ((performance.now() - at) * 1000) / FINDS;
    at = performance.now();
    for (const db of cold) await contender.findOne(contender.tenant(db), missing);
    return { switchNs, hotFindUs, coldMs: (performance.now() - at) / cold.length };
  } finally {
    await contender.close();
  }
}

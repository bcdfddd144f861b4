// Many tenants: 10,000 databases read once each (findOne by _id, 16 requests in flight), each
// contender in a process of its own so its memory is its own: time, the client's RSS growth per
// tenant (after GC), the connections the server saw opened and at most open, and the databases that
// reading created. RSS growth over the whole run includes what any process grows by when it starts
// working (V8's young generation grows to its full size, malloc's arenas fill: ≈ 20–40 MB, the same
// for a client that keeps nothing per database); what each tenant keeps is the growth over the second
// half of the run alone, divided by its tenants. Pool per tenant reads 1,000 tenants (10,000 pools would be 30,000 connections).
// On the local test server each run gets a fresh server, since some contenders create every
// database they read; with MONGODB_URI the databases are dropped after each run.
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ObjectId } from 'mongodb';
import { CONTENDERS } from '../contenders.mjs';
import { askCeiling, CEILING, lineup, nameOf } from '../ceiling.mjs';
import { Rows } from '../report.mjs';
import { connect, databasesNamed, dropDatabases, serverConnections } from '../data.mjs';
import { startServer } from '../../scripts/test-server.mjs';

const COUNT = Number(process.env.BENCH_TENANTS ?? 10_000);
/** The slowest workload (a process and a fresh server per contender and run) runs at most twice, so
 *  that `npm run bench` stays under 5 minutes; its figures move little between runs. */
const MAX_ROUNDS = 2;
const CONCURRENCY = 16;
const KEYS = ['polymongo-rs', 'polymongo', 'usedb', 'pool-per-tenant', 'driver'];
const countFor = (key) => (key === 'pool-per-tenant' ? Math.min(COUNT, 1_000) : COUNT);

export async function run({ uri, local, rounds: asked, ceiling }) {
  const rounds = Math.min(asked, MAX_ROUNDS);
  const rows = new Rows();
  for (let round = 0; round < rounds; round++) {
    for (const key of lineup(KEYS, round, ceiling)) {
      const name = nameOf(key);
      const count = countFor(key);
      const server = local ? await startServer() : { uri, stop: async () => {} };
      const client = await connect(server.uri);
      const prefix = `bench_tenants_${process.pid}_${round}_`;
      try {
        const before = await serverConnections(client);
        let peak = before.current;
        const watching = setInterval(() => serverConnections(client).then((c) => { peak = Math.max(peak, c.current); }, () => {}), 100);
        const request = { prefix, count, concurrency: CONCURRENCY };
        const child = key === CEILING.key
          ? askCeiling(ceiling, server.uri, { workload: 'tenants', ...request })
          : promisify(execFile)(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), key, server.uri, JSON.stringify(request)], { maxBuffer: 1 << 20 })
            .then(({ stdout }) => JSON.parse(stdout));
        const { ms, rssGrowth, rssSecondHalf } = await child.finally(() => clearInterval(watching));
        const after = await serverConnections(client);
        const label = count === COUNT ? name : `${name} (${count.toLocaleString('en-US')} tenants)`;
        rows.add(key, label, 'ms', ms);
        rows.add(key, label, 'rss', rssGrowth / count / 1024);
        rows.add(key, label, 'kept', rssSecondHalf / (count - Math.floor(count / 2)) / 1024);
        rows.add(key, label, 'opened', after.totalCreated - before.totalCreated);
        rows.add(key, label, 'peak', peak - before.current);
        rows.add(key, label, 'created', (await databasesNamed(client, prefix)).length);
        if (!local) await dropDatabases(client, prefix);
      } finally {
        await client.close();
        await server.stop();
      }
    }
  }
  return [{
    title: `${COUNT.toLocaleString('en-US')} tenants read once each`,
    note: `Pool of 10, ${CONCURRENCY} reads in flight, each contender in its own process, ${rounds} runs. RSS growth after GC ÷ tenants, over the whole run and over its second half alone (the first half grows the process to its working size); connections the server opened during the run and the most open at once (beyond those before it); databases the reads created.`,
    columns: [
      { key: 'ms', label: 'time, ms' },
      { key: 'rss', label: 'client RSS per tenant, KB' },
      { key: 'kept', label: 'RSS kept per tenant (2nd half), KB' },
      { key: 'opened', label: 'server connections opened' },
      { key: 'peak', label: 'most open at once' },
      { key: 'created', label: 'databases created' },
    ],
    rows: rows.list,
  }];
}

/** In the child: read `count` fresh databases through one contender; prints { ms, rssGrowth,
 *  rssSecondHalf } (ms of reading, bytes of RSS grown over the run and over its second half). The
 *  RSS at half-time is taken between two halves, outside the timed reads. */
async function child(key, uri, { prefix, count, concurrency }) {
  const contender = CONTENDERS[key].make(uri);
  const missing = new ObjectId();
  await contender.findOne(contender.tenant(`warm_${prefix}`), missing);
  const rssAfterGc = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage().rss;
  };
  const rss = rssAfterGc();
  let next = 0;
  let ms = 0;
  const readUpTo = async (end) => {
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < end) await contender.findOne(contender.tenant(`${prefix}${next++}`), missing);
    }));
    ms += performance.now() - started;
  };
  await readUpTo(Math.floor(count / 2));
  const half = rssAfterGc();
  await readUpTo(count);
  const end = rssAfterGc();
  process.stdout.write(JSON.stringify({ ms, rssGrowth: end - rss, rssSecondHalf: end - half }));
  await contender.close();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [key, uri, request] = process.argv.slice(2);
  await child(key, uri, JSON.parse(request));
  process.exit(0);
}

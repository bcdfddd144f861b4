// Bulk tasks: export, import and copy of a database of BENCH_BULK_DOCS documents of about 1 KB
// (default 100,000), by polymongo-rs (NDJSON, and mongodump's layout), PolyMongo 1.3's bulkTasks and
// the Rust ceiling (the `mongodb` crate's batches as raw BSON to a file and back, one batch at a time).
// Each task runs in a process of its own (bench/bulk-child.mjs, or the ceiling program), so its peak
// RSS is its own. Reported: documents per second and peak RSS.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { askCeiling, CEILING } from '../ceiling.mjs';
import { alternate, Rows } from '../report.mjs';
import { connect, dropDatabases } from '../data.mjs';

const DOCS = Number(process.env.BENCH_BULK_DOCS ?? 100_000);
/** BENCH_BULK_INDEX=0 leaves the unique index out: the test server builds one on 1,000,000
 *  documents in more than 6 minutes, on one core. */
const INDEX = process.env.BENCH_BULK_INDEX !== '0';
const CHILD = fileURLToPath(new URL('../bulk-child.mjs', import.meta.url));
const CONTENDERS = {
  'polymongo-rs': { name: 'polymongo-rs (NDJSON, Extended JSON)', child: 'polymongo-rs', tasks: { export: 'export', import: 'import', copy: 'copy' } },
  'polymongo-rs-dump': { name: "polymongo-rs (mongodump's layout, BSON)", child: 'polymongo-rs', tasks: { export: 'export-dump', import: 'import-dump' } },
  polymongo: { name: 'PolyMongo 1.3 bulkTasks (NDJSON, plain JSON)', child: 'polymongo', tasks: { export: 'export', import: 'import', copy: 'copy' } },
};

/** A document of about 1 KB: strings, numbers, a date, a nested object and an array. */
function bulkDocument(n) {
  return {
    n,
    name: `customer ${n}`,
    email: `customer${n}@example.com`,
    createdAt: new Date(1_700_000_000_000 + n * 1000),
    score: (n % 1000) / 7,
    active: n % 3 !== 0,
    address: { street: `${n} Long Road`, city: 'Springfield', zip: String(10000 + (n % 90000)), country: 'NL' },
    tags: ['alpha', 'beta', 'gamma', `t${n % 50}`],
    history: Array.from({ length: 10 }, (_, i) => n * 10 + i),
    notes: `Customer ${n} notes. `.repeat(32).slice(0, 640),
  };
}

async function seed(client, db) {
  const items = client.db(db).collection('items');
  for (let start = 0; start < DOCS; start += 10_000) {
    await items.insertMany(Array.from({ length: Math.min(10_000, DOCS - start) }, (_, i) => bulkDocument(start + i)));
  }
  if (INDEX) await items.createIndex({ email: 1 }, { unique: true });
  const { avgObjSize } = await client.db(db).command({ collStats: 'items' });
  return avgObjSize;
}

const child = (args) => promisify(execFile)(process.execPath, [CHILD, ...args], { maxBuffer: 1 << 20 }).then(({ stdout }) => JSON.parse(stdout));

export async function run({ uri, rounds, ceiling }) {
  const prefix = `bench_bulk_${process.pid}_`;
  const source = `${prefix}source`;
  const client = await connect(uri);
  const dir = mkdtempSync(path.join(tmpdir(), 'polymongo-bench-bulk-'));
  const rows = new Rows();
  let size;
  try {
    size = await seed(client, source);
    const keys = [...Object.keys(CONTENDERS), ...(ceiling ? [CEILING.key] : [])];
    for (let round = 0; round < rounds; round++) {
      for (const key of alternate(keys, round)) {
        const file = path.join(dir, `${key}-${round}`);
        for (const task of ['export', 'import', 'copy']) {
          const target = `${prefix}${key.replace(/\W/g, '_')}_${task}_${round}`;
          let result;
          if (key === CEILING.key) {
            result = await askCeiling(ceiling, uri, { workload: 'bulk', task, source, target, file });
          } else {
            const name = CONTENDERS[key].tasks[task];
            if (!name) continue;
            result = await child([CONTENDERS[key].child, name, uri, source, target, file]);
          }
          const name = key === CEILING.key ? CEILING.name : CONTENDERS[key].name;
          rows.add(key, name, `${task}Rate`, DOCS / (result.ms / 1000));
          rows.add(key, name, `${task}Rss`, result.peakRssMB);
          if (task !== 'export') {
            const count = await client.db(target).collection('items').countDocuments();
            if (count !== DOCS) throw new Error(`bench: ${key} ${task} wrote ${count} of ${DOCS} documents`);
            await client.db(target).dropDatabase();
          }
        }
        rmSync(file, { recursive: true, force: true });
      }
    }
  } finally {
    await dropDatabases(client, prefix);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return [{
    title: 'Bulk tasks: export, import, copy',
    note: `${DOCS.toLocaleString('en-US')} documents of ${Math.round(size)} bytes (BSON)${INDEX ? ' and a unique index' : ''}, one database. Documents per second, and each task's peak RSS in MB (its own process). Export writes a file; import reads the contender's own export; copy goes database to database. The ceiling moves raw BSON with the mongodb crate, one batch of 1,000 at a time.`,
    columns: [
      { key: 'exportRate', label: 'export docs/s' },
      { key: 'exportRss', label: 'export peak RSS' },
      { key: 'importRate', label: 'import docs/s' },
      { key: 'importRss', label: 'import peak RSS' },
      { key: 'copyRate', label: 'copy docs/s' },
      { key: 'copyRss', label: 'copy peak RSS' },
    ],
    rows: rows.list,
  }];
}

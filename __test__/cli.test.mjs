// `npx polymongo-rs`, run as a user runs it: a child process per command, its exit code, its output,
// no password printed, and an interrupted export that leaves nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../scripts/test-server.mjs';
import { uniqueDb, useSuite } from './helpers.mjs';

const CLI = fileURLToPath(new URL('../bin/polymongo-rs.js', import.meta.url));
const PREFIX = uniqueDb('cli');
const suite = useSuite(PREFIX);
let dir;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'polymongo-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI with `args`; `env` adds to (or with `undefined` removes from) the environment. */
function cli(args, env = {}) {
  const environment = { ...process.env, MONGODB_URI: suite.uri, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete environment[key];
  const result = spawnSync(process.execPath, [CLI, ...args], { env: environment, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the CLI', () => {
  test('ls, stats, export, import, copy and drop, in plain text and JSON', async () => {
    const db = `${PREFIX}_shop`;
    await suite.client.db(db).collection('users').insertMany(Array.from({ length: 1500 }, (_, i) => ({ i, name: `user ${i}` })));
    await suite.client.db(db).collection('users').createIndex({ i: 1 }, { unique: true });
    await suite.client.db(db).collection('orders').insertOne({ total: 12.5 });

    const ls = cli(['ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`^${db} +\\d`, 'm'));
    const listed = JSON.parse(cli(['--json', 'ls']).stdout);
    assert.ok(listed.some((d) => d.dbName === db));
    const stats = JSON.parse(cli(['--json', 'stats', db]).stdout);
    assert.deepEqual(stats.collections.map((c) => [c.name, c.docCount]).sort(), [['orders', 1], ['users', 1500]]);

    const file = path.join(dir, 'shop.ndjson.gz');
    const exported = cli(['export', db, '--out', file, '--gzip']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /users: \d+/, 'progress lines when stderr is not a terminal');
    const imported = cli(['--json', 'import', `${PREFIX}_restored`, file]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).insertedDocuments, 1501);
    assert.equal(imported.stderr, '', '--json prints no progress');
    assert.equal(await suite.client.db(`${PREFIX}_restored`).collection('users').countDocuments(), 1500);

    const dump = path.join(dir, 'dump');
    assert.equal(cli(['export', db, '--format', 'dump', '--out', dump]).code, 0);
    assert.deepEqual(readdirSync(path.join(dump, db)).sort(), ['orders.bson', 'orders.metadata.json', 'users.bson', 'users.metadata.json']);
    const fromDump = cli(['import', `${PREFIX}_fromdump`, path.join(dump, db)]);
    assert.equal(fromDump.code, 0, fromDump.stderr);
    assert.match(fromDump.stdout, /imported 1501 documents in 2 collections, 1 indexes/);
    assert.equal(cli(['export', db, '--format', 'dump', '--out', dump]).code, 2, 'an existing dump is not overwritten');

    const ndjson = cli(['export', db, '--collections', 'orders']);
    assert.equal(ndjson.stdout.split('\n')[0].includes('"type":"meta"'), true);
    assert.equal(ndjson.stdout.split('\n').filter((l) => l.includes('"type":"document"')).length, 1);
    const mongoexport = cli(['export', db, '--format', 'mongoexport', '--collection', 'orders']);
    assert.deepEqual(Object.keys(JSON.parse(mongoexport.stdout)), ['_id', 'total']);

    const copy = cli(['copy', db, `${PREFIX}_copy`]);
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal(await suite.client.db(`${PREFIX}_copy`).collection('users').countDocuments(), 1500);
    const refused = cli(['drop', `${PREFIX}_copy`]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /pass --force/);
    assert.equal(cli(['drop', `${PREFIX}_copy`, '--force']).code, 0);
    assert.equal((await suite.client.db(`${PREFIX}_copy`).listCollections().toArray()).length, 0);
  });

  test('help, usage errors and failures: exit codes 0, 2 and 1', () => {
    for (const command of [[], ['export'], ['import'], ['copy'], ['drop'], ['ls'], ['stats']]) {
      const help = cli([...command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: polymongo-rs/);
    }
    assert.equal(cli(['frobnicate']).code, 2);
    assert.equal(cli(['export']).code, 2);
    assert.equal(cli(['export', 'x', '--format', 'csv']).code, 2);
    for (const unset of [undefined, '']) {
      // An empty value, as a `.env` template leaves it, is no value.
      const noUri = cli(['ls'], { MONGODB_URI: unset });
      assert.equal(noUri.code, 2);
      assert.match(noUri.stderr, /pass --uri or set MONGODB_URI/);
    }
    const badUri = cli(['--uri', 'localhost:27017', 'ls']);
    assert.equal(badUri.code, 2);
    assert.match(badUri.stderr, /^polymongo-rs: option mongoURI must be/);
    const leaky = cli(['--uri', 'mongodb://app:hunter2?x@127.0.0.1/db', 'ls']);
    assert.equal(leaky.code, 2);
    assert.doesNotMatch(leaky.stderr + leaky.stdout, /hunter2/);
    const missing = cli(['import', 'x', path.join(dir, 'nothing.ndjson')]);
    assert.equal(missing.code, 2);
    const invalid = cli(['export', 'a.b']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /invalid database name/);
  });

  test('an empty MONGODB_URI counts as unset: the demo starts its own server', () => {
    const demo = fileURLToPath(new URL('../examples/multi-tenant.mjs', import.meta.url));
    const result = spawnSync(process.execPath, [demo], { env: { ...process.env, MONGODB_URI: '' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /demo against a local secantusd-rs test server/);
  });

  test('a wrong password fails with exit code 1 and is never printed', async () => {
    const password = 'correct-horse-battery';
    const secured = await startServer({ auth: { user: 'app', password } });
    try {
      const port = new URL(secured.uri).port;
      const wrong = 'Tr0ub4dor-and-3';
      const result = cli(['--uri', `mongodb://app:${wrong}@127.0.0.1:${port}/?authSource=admin`, 'ls']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Authentication failed/);
      assert.doesNotMatch(result.stderr + result.stdout, new RegExp(`${wrong}|${password}`));
      const right = cli(['ls'], { MONGODB_URI: secured.uri });
      assert.equal(right.code, 0, right.stderr);
      assert.doesNotMatch(right.stderr + right.stdout, new RegExp(password));
    } finally {
      await secured.stop();
    }
  });

  test('SIGINT stops an export and leaves no file, partial or whole', async () => {
    const db = `${PREFIX}_big`;
    const docs = Array.from({ length: 10_000 }, (_, i) => ({ i, pad: 'x'.repeat(300) }));
    for (let round = 0; round < 20; round++) await suite.client.db(db).collection('big').insertMany(docs.map(({ i, pad }) => ({ i: i + round * 10_000, pad })));
    const out = path.join(dir, 'interrupted.ndjson');
    const child = spawn(process.execPath, [CLI, 'export', db, '--out', out], { env: { ...process.env, MONGODB_URI: suite.uri } });
    let stderr = '';
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((resolve) => {
      child.stderr.on('data', (data) => {
        stderr += data;
        if (/big: \d+/.test(stderr)) resolve();
      });
    });
    child.kill('SIGINT');
    assert.equal(await exited, 1, stderr);
    assert.match(stderr, /polymongo-rs: interrupted/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('interrupted')), []);
    assert.ok(!existsSync(out));
  });
});

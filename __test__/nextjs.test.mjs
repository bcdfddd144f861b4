// The Next.js example (examples/nextjs), run as a user runs it: `next build`, `next start` and HTTP
// requests to its route handler and server-component page; and its db module evaluated again and
// again, as `next dev` does on every edit, which must not open a pool each time.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installLocalPolymongo } from '../examples/nextjs/install-local-polymongo.mjs';
import { serverConnections, uniqueDb, until, useSuite } from './helpers.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = path.join(ROOT, 'examples', 'nextjs');
const NEXT = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
const DB_MODULE = path.join(EXAMPLE, 'lib', 'db.js');
// Tenant ids must match the example's /^[a-z0-9_]{1,32}$/; uniqueDb's names do (about 25 characters).
const PREFIX = uniqueDb('nextjs');
const suite = useSuite(PREFIX);

/** The environment of a Next.js child: no telemetry, MONGODB_URI as given (`undefined`: none). */
function nextEnv(mongoURI) {
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
  delete env.MONGODB_URI;
  if (mongoURI !== undefined) env.MONGODB_URI = mongoURI;
  return env;
}

/** Runs `next ...args` to its end; resolves to its exit code and output. */
function runNext(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NEXT, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data) => { output += data; });
    child.stderr.on('data', (data) => { output += data; });
    child.once('exit', (code, signal) => resolve({ code: code ?? signal, output }));
  });
}

/** `next start` on a free port; resolves once it serves, to its `url`, its `output()` and `stop()`. */
async function startNext(env) {
  // Its own process group, so stop() reaches whatever it may have started too.
  const child = spawn(process.execPath, [NEXT, 'start', EXAMPLE, '-p', '0', '-H', '127.0.0.1'],
    { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const killOnExit = () => process.kill(-child.pid, 'SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  let output = '';
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`next start did not get ready within 30 s:\n${output}`)), 30_000);
      const scan = (data) => {
        output += data;
        const local = /Local:\s+(http:\/\/\S+)/.exec(output);
        if (local && /Ready in/.test(output)) {
          clearTimeout(timer);
          resolve(local[1]);
        }
      };
      child.stdout.on('data', scan);
      child.stderr.on('data', scan);
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`next start exited with ${code} before it was ready:\n${output}`));
      });
    });
    return { url, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

describe('the Next.js example', () => {
  // polymongo-rs as `npm install polymongo-rs` lays it out, a copy in the example's node_modules
  // (a symlink would be bundled by Next.js: see examples/nextjs/install-local-polymongo.mjs).
  before(() => installLocalPolymongo());

  test('next build and next start: notes per tenant, isolated, rendered by a server component; 400s', async (t) => {
    const tenantA = `${PREFIX}_a`;
    const tenantB = `${PREFIX}_b`;
    t.after(async () => {
      // The example names a tenant's database `tenant_<id>`, which useSuite's prefix does not cover.
      await Promise.all([tenantA, tenantB].map((tenant) => suite.client.db(`tenant_${tenant}`).dropDatabase()));
    });

    let started = performance.now();
    // Without MONGODB_URI: building must not need a database (db.js opens nothing when loaded).
    const build = await runNext(['build', EXAMPLE], nextEnv(undefined));
    assert.equal(build.code, 0, build.output);
    const buildMs = performance.now() - started;

    started = performance.now();
    const server = await startNext(nextEnv(suite.uri));
    t.after(() => server.stop());
    const startMs = performance.now() - started;

    const api = async (tenant, body) => {
      const init = body === undefined ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) };
      const res = await fetch(`${server.url}/api/${tenant}/notes`, init);
      return { status: res.status, body: await res.json() };
    };
    const page = async (tenant) => {
      const res = await fetch(`${server.url}/${tenant}`);
      return { status: res.status, html: await res.text() };
    };
    const texts = (notes) => notes.map((note) => note.text).sort();

    started = performance.now();
    for (const [tenant, text] of [[tenantA, 'first note of A'], [tenantA, 'second note of A'], [tenantB, 'the note of B']]) {
      const created = await api(tenant, { text: `  ${text} ` });
      assert.equal(created.status, 201, `${JSON.stringify(created.body)}\n${server.output()}`);
      assert.equal(created.body.text, text, 'the schema trims');
      assert.match(created.body._id, /^[0-9a-f]{24}$/);
    }

    // Each tenant reads its own database and nothing else.
    const listA = await api(tenantA);
    assert.equal(listA.status, 200);
    assert.deepEqual(texts(listA.body), ['first note of A', 'second note of A']);
    const listB = await api(tenantB);
    assert.deepEqual(texts(listB.body), ['the note of B']);
    assert.deepEqual(await api(`${PREFIX}_c`), { status: 200, body: [] });
    // Checked on the server itself, with another driver: one database per tenant.
    const stored = (tenant) => suite.client.db(`tenant_${tenant}`).collection('notes').find().toArray();
    assert.deepEqual(texts(await stored(tenantA)), ['first note of A', 'second note of A']);
    assert.deepEqual(texts(await stored(tenantB)), ['the note of B']);

    // The server component reads the database as it renders, on every request (not at build time).
    const pageA = await page(tenantA);
    assert.equal(pageA.status, 200);
    assert.match(pageA.html, /first note of A/);
    assert.match(pageA.html, /second note of A/);
    assert.doesNotMatch(pageA.html, /note of B/);
    assert.equal((await api(tenantA, { text: 'third note of A' })).status, 201);
    assert.match((await page(tenantA)).html, /third note of A/);
    assert.match((await page(tenantB)).html, /the note of B/);
    assert.match((await page(`${PREFIX}_c`)).html, /No notes yet/);

    // Refused: tenant ids outside the pattern (also names MongoDB would take), and bad bodies.
    for (const tenant of ['Acme', 'a-b', 'x'.repeat(33), '%24where']) {
      assert.equal((await api(tenant)).status, 400, tenant);
      assert.equal((await api(tenant, { text: 'x' })).status, 400, tenant);
      assert.equal((await page(tenant)).status, 404, tenant);
    }
    for (const body of [{}, { text: '' }, { text: 'x'.repeat(501) }, { text: { $gt: '' } }]) {
      const refused = await api(tenantA, body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.deepEqual(refused.body.fields, ['text'], 'a Mongoose ValidationError');
    }
    assert.equal((await api(tenantA, 'not json')).status, 400);
    assert.equal((await api(tenantA, '"a string"')).status, 400);
    assert.deepEqual(await api(tenantA, '[{"text":"x"}]'), { status: 400, body: { error: 'expected a JSON object' } });
    assert.equal((await stored(tenantA)).length, 3, 'nothing refused was written');
    // Reading a tenant with no notes (the API and the page above) did not create its database.
    const { databases } = await suite.client.db('admin').command({ listDatabases: 1, nameOnly: true });
    assert.deepEqual(databases.map((d) => d.name).filter((name) => name.startsWith(`tenant_${PREFIX}`)).sort(),
      [`tenant_${tenantA}`, `tenant_${tenantB}`]);
    // The status page as an App Router route: the wrapper's handler given the web Request.
    const status = await (await fetch(`${server.url}/admin/polymongo?format=json`)).json();
    assert.equal(status.pools[0].pool, 'shared');
    assert.ok(status.tenants.busiest.some((t) => t.dbName === `tenant_${tenantA}`), JSON.stringify(status.tenants));
    const statusPage = await fetch(`${server.url}/admin/polymongo`);
    assert.equal(statusPage.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(await statusPage.text(), /<title>polymongo-rs status<\/title>/);
    const requestsMs = performance.now() - started;

    started = performance.now();
    await server.stop();
    t.diagnostic(`next build ${Math.round(buildMs)} ms, next start ${Math.round(startMs)} ms, `
      + `requests ${Math.round(requestsMs)} ms, stop ${Math.round(performance.now() - started)} ms`);
  });

  test('re-evaluating lib/db.js, as next dev does, reuses one wrapper: server connections stay flat', async (t) => {
    const EVALUATIONS = 20;
    const tenant = `${PREFIX}_hot`;
    // A fresh module instance per import, as a hot reload gives (mongoose and polymongo-rs, the
    // example's serverExternalPackages, stay loaded once, as they do in next dev).
    const evaluate = (url, i) => import(`${url}?v=${i}`);
    const dbUrl = pathToFileURL(DB_MODULE).href;

    // An empty MONGODB_URI counts as unset: a clear error on first use, not at load.
    const saved = process.env.MONGODB_URI;
    t.after(() => { process.env.MONGODB_URI = saved; });
    process.env.MONGODB_URI = '';
    const unset = await evaluate(dbUrl, 'unset');
    assert.throws(() => unset.notesOf(tenant), /MONGODB_URI is not set/);
    process.env.MONGODB_URI = suite.uri;

    // The same module without the globalThis cache: a wrapper at module scope, per evaluation.
    // Written to a temporary file that imports the example's own mongoose and polymongo-rs.
    const dir = mkdtempSync(path.join(tmpdir(), 'polymongo-nextjs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const resolveFromExample = createRequire(DB_MODULE).resolve;
    const naiveFile = path.join(dir, 'naive-db.mjs');
    writeFileSync(naiveFile, [
      `import mongoose from ${JSON.stringify(pathToFileURL(resolveFromExample('mongoose')).href)};`,
      `import polymongo from ${JSON.stringify(pathToFileURL(resolveFromExample('polymongo-rs')).href)};`,
      "const Note = mongoose.models.Note ?? mongoose.model('Note', new mongoose.Schema({ text: String }));",
      "export const wrapper = polymongo.createWrapper({ mongoURI: process.env.MONGODB_URI, defaultDB: 'notes_app' });",
      "export const notesOf = (tenant) => wrapper.wrapModel(Note).db(`tenant_${tenant}`);",
    ].join('\n'));
    const naiveUrl = pathToFileURL(naiveFile).href;

    const connections = () => serverConnections(suite.client);
    const before = await connections();
    const wrappers = new Set();
    t.after(() => Promise.all([...wrappers].map((wrapper) => wrapper.disconnect())));
    let afterFirst;
    for (let i = 0; i < EVALUATIONS; i++) {
      const db = await evaluate(dbUrl, i);
      assert.deepEqual(await db.notesOf(tenant).find().lean(), []);
      wrappers.add(db.wrapper());
      afterFirst ??= await connections();
    }
    const cached = await connections();

    const naiveWrappers = [];
    t.after(() => Promise.all(naiveWrappers.map((wrapper) => wrapper.disconnect())));
    for (let i = 0; i < EVALUATIONS; i++) {
      const db = await evaluate(naiveUrl, i);
      naiveWrappers.push(db.wrapper);
      assert.deepEqual(await db.notesOf(tenant).find().lean(), []);
    }
    const naive = await connections();
    t.diagnostic(`server connections: ${before} before; example's db.js ${afterFirst} after 1 evaluation, `
      + `${cached} after ${EVALUATIONS}; without the cache ${naive} after ${EVALUATIONS} more`);

    // Flat: no connection after the first evaluation's (a little slack for others on a shared server;
    // one wrapper more costs at least 2: its monitor and a pooled connection).
    assert.ok(cached - afterFirst <= 1, `${afterFirst} connections after 1 evaluation, ${cached} after ${EVALUATIONS}`);
    assert.equal(wrappers.size, 1, 'every evaluation of db.js got the same wrapper');
    // And what the cache prevents: at least one more connection per evaluation, never closed.
    assert.ok(naive - cached >= EVALUATIONS, `without the cache: ${cached} → ${naive} after ${EVALUATIONS} evaluations`);

    // Closing them gives the connections back.
    await Promise.all([...wrappers, ...naiveWrappers].map((wrapper) => wrapper.disconnect()));
    assert.ok(await until(async () => (await connections()) <= before + 1), `${await connections()} connections, ${before} before`);
  });
});

// examples/express, run as a user runs it: `node server.js` in a child process, driven over HTTP.
// Tenants by header and by subdomain, isolation, bcrypt hashes on the server and never in a response,
// pagination and populate, the error paths, /metrics, the status page and a graceful shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { uniqueDb, until, useSuite } from './helpers.mjs';

const SERVER = fileURLToPath(new URL('../examples/express/server.js', import.meta.url));
const PREFIX = uniqueDb('pmexpress');
const suite = useSuite(PREFIX);
const ADMIN_TOKEN = 'correct-horse';
// Tenant `t`'s database: the app's TENANT_DB_PREFIX is set so that the suite's cleanup drops it.
const dbOf = (tenant) => `${PREFIX}_${tenant}`;

/** Starts server.js on a free port (PORT=0; the port is read from its "listening" line). `env`
 *  adds to, or with `undefined` removes from, the environment. */
async function startApp(env = {}) {
  const environment = {
    ...process.env,
    MONGODB_URI: suite.uri,
    PORT: '0',
    TENANT_DB_PREFIX: `${PREFIX}_`,
    BASE_DOMAIN: 'example.test',
    ADMIN_TOKEN,
    ...env,
  };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete environment[key];
  const child = spawn(process.execPath, [SERVER], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk) => { output.stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { output.stderr += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const listening = await Promise.race([
    until(() => /listening on http:\/\/localhost:\d+/.test(output.stdout), 30_000),
    exited.then(() => false),
  ]);
  assert.ok(listening, `server.js did not start: ${output.stderr}`);
  const port = Number(/localhost:(\d+)/.exec(output.stdout)[1]);
  return { child, port, base: `http://127.0.0.1:${port}`, exited, output };
}

/** A request to `server` with fetch; JSON bodies are sent and parsed. */
async function call(server, method, path, { tenant, body, headers = {} } = {}) {
  const response = await fetch(server.base + path, {
    method,
    headers: {
      ...(tenant && { 'x-tenant': tenant }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json = /json/.test(response.headers.get('content-type') ?? '');
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : text };
}

/** The same with a Host header, which fetch() does not let a caller set (it is a forbidden header). */
function callWithHost(server, host, method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      { host: '127.0.0.1', port: server.port, method, path, headers: { host, ...(payload && { 'content-type': 'application/json' }), ...headers } },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => { text += chunk; });
        response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(text) }));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** A success response must carry no password, plain or hashed. */
function assertNoPassword(body) {
  assert.doesNotMatch(JSON.stringify(body), /password|\$2[aby]\$/i);
}

/** Whether something accepts TCP connections on `port`. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('connect', () => socket.destroy());
  });
}

describe('examples/express', () => {
  let app;
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    // The other signal than the shutdown test's: SIGINT closes as gracefully.
    if (app.child.exitCode === null) app.child.kill('SIGINT');
    const { code } = await app.exited;
    assert.equal(code, 0, app.output.stderr);
  });

  const user = (tenant, fields) => call(app, 'POST', '/api/users', { tenant, body: { password: 'long enough', ...fields } });

  test('tenants by header and by subdomain, each its own database', async () => {
    const ann = await user('acme', { name: 'Ann', email: 'ann@example.com' });
    assert.equal(ann.status, 201, JSON.stringify(ann.body));
    assert.equal(ann.headers.get('location'), `/api/users/${ann.body._id}`);
    // The same email in another tenant, which arrives as a subdomain (the Host's port aside).
    const other = await callWithHost(app, 'globex.example.test:8080', 'POST', '/api/users', {
      body: { name: 'Ann of Globex', email: 'ANN@example.com', password: 'long enough' },
    });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    assert.equal(other.body.email, 'ann@example.com', 'lowercased by the schema');
    const bob = await user('acme', { name: 'Bob', email: 'bob@example.com' });
    assert.equal(bob.status, 201);

    const acmeUsers = await call(app, 'GET', '/api/users', { tenant: 'acme' });
    assert.deepEqual(acmeUsers.body.items.map((u) => u.name), ['Ann', 'Bob']);
    assert.equal(acmeUsers.body.total, 2);
    const globexUsers = await callWithHost(app, 'GLOBEX.example.test', 'GET', '/api/users');
    assert.deepEqual(globexUsers.body.items.map((u) => u.name), ['Ann of Globex']);
    const headerWins = await callWithHost(app, 'globex.example.test', 'GET', '/api/users', { headers: { 'x-tenant': 'acme' } });
    assert.equal(headerWins.body.total, 2);

    // Tenant A never sees tenant B's documents, even by id.
    assert.equal((await call(app, 'GET', `/api/users/${other.body._id}`, { tenant: 'acme' })).status, 404);
    assert.equal((await call(app, 'PATCH', `/api/users/${other.body._id}`, { tenant: 'acme', body: { name: 'x' } })).status, 404);
    assert.equal((await call(app, 'DELETE', `/api/users/${other.body._id}`, { tenant: 'acme' })).status, 404);
    assert.equal((await callWithHost(app, 'globex.example.test', 'GET', `/api/users/${other.body._id}`)).body.name, 'Ann of Globex');

    // Unique per tenant: a second Ann in acme is a conflict, on create and on update.
    const duplicate = await user('acme', { name: 'Ann again', email: 'ann@example.com' });
    assert.equal(duplicate.status, 409);
    assert.deepEqual(duplicate.body, { error: 'already exists', fields: ['email'] });
    const renamed = await call(app, 'PATCH', `/api/users/${bob.body._id}`, { tenant: 'acme', body: { email: 'ann@example.com' } });
    assert.equal(renamed.status, 409);

    // On the server: one database per tenant, each with its own unique index.
    const emails = async (tenant) => (await suite.client.db(dbOf(tenant)).collection('users').find().sort({ email: 1 }).toArray()).map((u) => u.email);
    assert.deepEqual(await emails('acme'), ['ann@example.com', 'bob@example.com']);
    assert.deepEqual(await emails('globex'), ['ann@example.com']);
  });

  test('passwords are stored as bcrypt hashes and never sent back', async () => {
    const created = await user('hashes', { name: 'Cy', email: 'cy@example.com', password: 'first password' });
    assert.equal(created.status, 201);
    const users = suite.client.db(dbOf('hashes')).collection('users');
    const stored = await users.findOne({ email: 'cy@example.com' });
    assert.match(stored.password, /^\$2[aby]\$10\$[./A-Za-z0-9]{53}$/);
    assert.ok(await bcrypt.compare('first password', stored.password));

    const path = `/api/users/${created.body._id}`;
    const renamed = await call(app, 'PATCH', path, { tenant: 'hashes', body: { name: 'Cyrus' } });
    assert.equal(renamed.status, 200);
    assert.equal((await users.findOne({ _id: stored._id })).password, stored.password, 'not hashed again when unchanged');
    const changed = await call(app, 'PATCH', path, { tenant: 'hashes', body: { password: 'second password' } });
    assert.equal(changed.status, 200);
    const rehashed = (await users.findOne({ _id: stored._id })).password;
    assert.ok(await bcrypt.compare('second password', rehashed), 'PATCH runs the pre(save) hook');

    const post = await call(app, 'POST', '/api/posts', { tenant: 'hashes', body: { title: 't', author: created.body._id } });
    for (const response of [created, renamed, changed, post, await call(app, 'GET', path, { tenant: 'hashes' }),
      await call(app, 'GET', '/api/users', { tenant: 'hashes' }), await call(app, 'GET', '/api/posts', { tenant: 'hashes' })]) {
      assert.ok(response.status < 300, JSON.stringify(response.body));
      assertNoPassword(response.body);
    }
    const tooShort = await call(app, 'PATCH', path, { tenant: 'hashes', body: { password: 'short' } });
    assert.equal(tooShort.status, 400, 'validated before it is hashed');
    assert.equal((await users.findOne({ _id: stored._id })).password, rehashed);
  });

  test('posts: pagination, capped limit, populated authors of the same tenant', async () => {
    const authors = [];
    for (const name of ['Dee', 'Eve']) authors.push((await user('blog', { name, email: `${name.toLowerCase()}@example.com` })).body);
    // One after another, so that "newest first" is the order they were made in.
    for (let i = 0; i < 25; i++) {
      const created = await call(app, 'POST', '/api/posts', { tenant: 'blog', body: { title: `post ${i}`, body: 'text', author: authors[i % 2]._id } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.author, { _id: authors[i % 2]._id, name: authors[i % 2].name, email: authors[i % 2].email });
    }
    const first = await call(app, 'GET', '/api/posts?page=1&limit=10', { tenant: 'blog' });
    assert.equal(first.status, 200);
    assert.deepEqual({ ...first.body, items: undefined }, { page: 1, limit: 10, total: 25, pages: 3, items: undefined });
    assert.deepEqual(first.body.items.map((p) => p.title), Array.from({ length: 10 }, (_, i) => `post ${24 - i}`));
    assert.deepEqual(first.body.items[0].author, { _id: authors[0]._id, name: 'Dee', email: 'dee@example.com' });
    assert.deepEqual(first.body.items[1].author, { _id: authors[1]._id, name: 'Eve', email: 'eve@example.com' });
    const last = await call(app, 'GET', '/api/posts?page=3&limit=10', { tenant: 'blog' });
    assert.deepEqual(last.body.items.map((p) => p.title), ['post 4', 'post 3', 'post 2', 'post 1', 'post 0']);
    assert.equal((await call(app, 'GET', '/api/posts?page=4&limit=10', { tenant: 'blog' })).body.items.length, 0);
    const capped = await call(app, 'GET', '/api/posts?limit=1000', { tenant: 'blog' });
    assert.equal(capped.body.limit, 100);
    assert.equal(capped.body.items.length, 25);
    const defaults = await call(app, 'GET', '/api/posts?page=abc&limit=-3', { tenant: 'blog' });
    assert.equal(defaults.body.page, 1);
    assert.equal(defaults.body.limit, 1);

    // An author of another tenant is no author here, and the other tenant sees none of these posts.
    const foreign = await call(app, 'POST', '/api/posts', { tenant: 'other', body: { title: 'x', author: authors[0]._id } });
    assert.equal(foreign.status, 400);
    assert.deepEqual(foreign.body.fields, { author: 'no such user' });
    assert.equal((await call(app, 'GET', '/api/posts', { tenant: 'other' })).body.total, 0);

    // Deleting a user deletes their posts.
    assert.equal((await call(app, 'DELETE', `/api/users/${authors[1]._id}`, { tenant: 'blog' })).status, 204);
    assert.equal((await call(app, 'GET', `/api/users/${authors[1]._id}`, { tenant: 'blog' })).status, 404);
    assert.equal((await call(app, 'GET', '/api/posts', { tenant: 'blog' })).body.total, 13);
  });

  test('400 for bad tenants, ids and bodies, 404 for unknown ids and routes', async () => {
    const missing = await call(app, 'GET', '/api/users');
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /X-Tenant/);
    for (const tenant of ['Acme', '1acme', 'a-b', '../admin', 'a.b', 'x'.repeat(33), 'ac me']) {
      const bad = await call(app, 'GET', '/api/users', { tenant });
      assert.equal(bad.status, 400, tenant);
      assert.deepEqual(bad.body, { error: 'invalid tenant' });
    }
    assert.equal((await callWithHost(app, 'a.b.example.test', 'GET', '/api/users')).status, 400);
    assert.equal((await callWithHost(app, 'acme.example.com', 'GET', '/api/users')).status, 400, 'another base domain');

    const badId = await call(app, 'GET', '/api/users/not-an-id', { tenant: 'errors' });
    assert.equal(badId.status, 400);
    assert.deepEqual(badId.body, { error: 'invalid _id' });
    assert.equal((await call(app, 'PATCH', '/api/users/123', { tenant: 'errors', body: {} })).status, 400);
    assert.equal((await call(app, 'DELETE', '/api/users/123', { tenant: 'errors' })).status, 400);
    const unknown = '65a1b2c3d4e5f6a7b8c9d0e1';
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      assert.equal((await call(app, method, `/api/users/${unknown}`, { tenant: 'errors', body: method === 'PATCH' ? {} : undefined })).status, 404, method);
    }

    const invalid = await call(app, 'POST', '/api/users', { tenant: 'errors', body: { name: '', email: 'not an email', password: 'short' } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error, 'validation failed');
    assert.deepEqual(Object.keys(invalid.body.fields).sort(), ['email', 'name', 'password']);
    assert.equal((await call(app, 'POST', '/api/users', { tenant: 'errors' })).status, 400, 'no body at all');
    assert.equal((await call(app, 'POST', '/api/users', { tenant: 'errors', body: '{"name":' })).status, 400, 'malformed JSON');
    const badAuthor = await call(app, 'POST', '/api/posts', { tenant: 'errors', body: { title: 't', author: 'nope' } });
    assert.equal(badAuthor.status, 400);
    assert.deepEqual(Object.keys(badAuthor.body.fields), ['author']);
    assert.equal((await call(app, 'GET', '/api/nothing', { tenant: 'errors' })).status, 404);
    assert.equal((await call(app, 'GET', '/nothing')).status, 404);

    // None of this wrote anything, and reads of an unknown tenant created no database.
    const { databases } = await suite.client.db('admin').command({ listDatabases: 1, nameOnly: true });
    assert.ok(!databases.some((d) => d.name === dbOf('errors')));
  });

  test('/metrics: default metrics and per-tenant series in one registry', async () => {
    await user('metrics', { name: 'Flo', email: 'flo@example.com' });
    const scrape = async () => {
      const response = await call(app, 'GET', '/metrics');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
      return response.body;
    };
    const value = (text, series) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const operations = `polymongo_db_operations_total{db="${dbOf('metrics')}"}`;
    const before = await scrape();
    assert.ok(value(before, 'process_cpu_user_seconds_total') > 0);
    assert.ok(value(before, 'nodejs_heap_size_used_bytes') > 0);
    assert.ok(value(before, operations) >= 1, operations);
    assert.ok(value(before, `polymongo_db_operations_total{db="${dbOf('acme')}"}`) >= 5, 'the first test ran on acme');
    assert.match(before, /^polymongo_pool_connections\{pool="shared",cluster="[^"]+"\} [1-9]/m);

    const { body } = await call(app, 'GET', '/api/users', { tenant: 'metrics' });
    for (let i = 0; i < 5; i++) await call(app, 'GET', `/api/users/${body.items[0]._id}`, { tenant: 'metrics' });
    const later = await scrape();
    // The list is a find and a count; each GET by id one find.
    assert.equal(value(later, operations) - value(before, operations), 7);
    assert.equal(value(later, `polymongo_db_operation_duration_seconds_count{db="${dbOf('metrics')}"}`), value(later, operations));
    assert.equal(value(later, `polymongo_db_errors_total{db="${dbOf('metrics')}"}`), 0);
  });

  test('/admin/status: JSON and HTML behind Basic auth', async () => {
    const anonymous = await call(app, 'GET', '/admin/status?format=json');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="admin"');
    const basic = (password) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });
    assert.equal((await call(app, 'GET', '/admin/status?format=json', { headers: basic('wrong') })).status, 401);

    const status = await call(app, 'GET', '/admin/status?format=json', { headers: basic(ADMIN_TOKEN) });
    assert.equal(status.status, 200);
    assert.equal(status.body.pools[0].pool, 'shared');
    assert.equal(status.body.pools[0].state, 'connected');
    assert.doesNotMatch(JSON.stringify(status.body), /mongodb:\/\//, 'hosts, never a URI');
    assert.ok(status.body.tenants.total >= 5);
    assert.ok(status.body.tenants.busiest.some((t) => t.dbName === dbOf('blog') && t.ops > 25));
    const page = await call(app, 'GET', '/admin/status', { headers: basic(ADMIN_TOKEN) });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.body, /polymongo-rs status/);
  });
});

describe('server.js', () => {
  test('SIGTERM: a request in flight still gets its answer, then the process exits 0', async () => {
    // No ADMIN_TOKEN: the status page is not served at all.
    const app = await startApp({ ADMIN_TOKEN: undefined });
    assert.equal((await call(app, 'GET', '/admin/status?format=json')).status, 404);
    assert.equal((await call(app, 'GET', '/healthz')).status, 200);

    // A request the server is reading when the signal comes: headers sent (`Expect: 100-continue`
    // tells when the server has them), body not yet.
    const socket = net.connect(app.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk) => { received += chunk; });
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    const body = JSON.stringify({ name: 'Late', email: 'late@example.com', password: 'long enough' });
    socket.write(`POST /api/users HTTP/1.1\r\nHost: localhost\r\nX-Tenant: shutdown\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
    assert.ok(await until(() => received.startsWith('HTTP/1.1 100 Continue')));

    app.child.kill('SIGTERM');
    assert.ok(await until(async () => !(await accepts(app.port))), 'stops accepting connections');
    assert.equal(app.child.exitCode, null, 'still running: a request is in flight');
    socket.write(body);
    await socketClosed;
    const answer = received.slice(received.indexOf('\r\n\r\n') + 4);
    assert.match(answer, /^HTTP\/1\.1 201 Created\r\n/);
    // Not kept alive: server.close() would wait for the keep-alive timeout (5 s) before the pools close.
    assert.match(answer, /\r\nConnection: close\r\n/i);
    assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).name, 'Late');

    const { code, signal } = await app.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, app.output.stderr);
    assert.match(app.output.stdout, /SIGTERM: shutting down\nclosed\n$/);
    assert.equal(app.output.stderr, '');
    assert.equal(await suite.client.db(dbOf('shutdown')).collection('users').countDocuments({ email: 'late@example.com' }), 1);
  });

  test('MONGODB_URI unset or empty: a clear message and exit code 1', () => {
    for (const unset of [undefined, '']) {
      const environment = { ...process.env, MONGODB_URI: unset, PORT: '0' };
      if (unset === undefined) delete environment.MONGODB_URI;
      const result = spawnSync(process.execPath, [SERVER], { env: environment, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 1);
      assert.match(result.stderr, /MONGODB_URI is not set/);
      assert.equal(result.stdout, '');
    }
  });
});

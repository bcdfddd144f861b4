// Connection lifecycle: lazy and eager connect, PolyMongo's state names, ping, disconnect and reopen,
// a server that goes away, retries, credentials kept out of errors, graceful and forced close, signals,
// and a wrapper that never keeps Node running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PolyMongo, PolyMongoError } from '../index.mjs';
import { startServer } from '../scripts/test-server.mjs';
import { model, mongoose, openSuite, serverConnections, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('life');
const UNREACHABLE = 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200';
let suite, client;

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
});

after(async () => {
  await suite.close();
});

const Note = () => model('Note', { text: String });

test('coldStart connects on first use, once, however many operations start together', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX, maxPoolSize: 4 });
  const Notes = wrapper.wrapModel(Note());
  assert.equal(wrapper.getConnectionState(), 'not initialized');
  const before = await serverConnections(client);
  await Promise.all(Array.from({ length: 40 }, (_, i) => Notes.db(`${PREFIX}_${i % 4}`).countDocuments()));
  assert.equal(wrapper.getConnectionState(), 'connected');
  assert.equal(wrapper.isConnected(), true);
  assert.ok((await serverConnections(client)) - before <= 4 + 2);
  assert.deepEqual(await wrapper.connect(), { success: true, alreadyConnected: true, defaultDB: PREFIX, state: 'connected' });
  await wrapper.disconnect();
});

test('coldStart: false connects without waiting for an operation', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX, coldStart: false });
  for (let i = 0; i < 100 && wrapper.getConnectionState() !== 'connected'; i++) await sleep(20);
  assert.equal(wrapper.getConnectionState(), 'connected');
  await wrapper.disconnect();
});

test('connect() and ping() report on the connection', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX });
  const connected = await wrapper.connect();
  assert.deepEqual(connected, { success: true, alreadyConnected: false, defaultDB: PREFIX, state: 'connected' });
  assert.equal(connected.connection.name, PREFIX);
  const ping = await wrapper.ping();
  assert.equal(ping.ok, true);
  assert.ok(ping.latency >= 0 && ping.latency < 5000);
  assert.equal((await wrapper.ping(`${PREFIX}_other`)).ok, true);
  await assert.rejects(wrapper.ping('bad.name'), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' });
  await wrapper.disconnect();
});

test('after disconnect() operations fail clearly until connect() reopens, and nothing is lost', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX });
  const Notes = wrapper.wrapModel(Note()).db(`${PREFIX}_closed`);
  await Notes.create({ text: 'kept' });
  assert.deepEqual(await wrapper.disconnect(), { success: true, alreadyDisconnected: false, state: 'disconnected' });
  assert.deepEqual(await wrapper.disconnect(), { success: true, alreadyDisconnected: true, state: 'disconnected' });
  assert.equal(wrapper.getConnectionState(), 'disconnected');
  assert.equal(wrapper.isConnected(), false);
  const closed = (err) => err instanceof PolyMongoError && err.name === 'PolyMongoError' && err.code === 'ERR_WRAPPER_CLOSED';
  await assert.rejects(Notes.find(), closed);
  await assert.rejects(Notes.create({ text: 'lost?' }), closed);
  await assert.rejects(Notes.countDocuments(), closed);
  await assert.rejects(Notes.find().cursor().next(), closed);
  const ping = await wrapper.ping();
  assert.equal(ping.ok, false);
  assert.ok(closed(ping.error));
  assert.equal((await wrapper.connect()).state, 'connected');
  assert.deepEqual((await Notes.find()).map((n) => n.text), ['kept']);
  await wrapper.disconnect();
  await wrapper.disconnect();
});

test('a server that goes away fails operations with the driver\'s error, and ping says so', async () => {
  const own = await startServer();
  const wrapper = PolyMongo.createWrapper({ mongoURI: `${own.uri}/?serverSelectionTimeoutMS=300`, defaultDB: PREFIX });
  const Notes = wrapper.wrapModel(Note());
  await Notes.create({ text: 'before' });
  await own.stop();
  await assert.rejects(Notes.find(), (err) => ['MongoServerSelectionError', 'MongoNetworkError'].includes(err.name) && err instanceof Error);
  assert.equal((await wrapper.ping()).ok, false);
  await wrapper.disconnect();
});

test('an unreachable server: connect() retries with backoff, then rejects; later operations try again', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: UNREACHABLE, retry: 2 });
  const started = Date.now();
  await assert.rejects(wrapper.connect(), { name: 'MongoServerSelectionError' });
  // Three attempts of 200 ms each, with 100 + 200 ms of backoff between them.
  assert.ok(Date.now() - started >= 800, `gave up after ${Date.now() - started} ms`);
  assert.equal(wrapper.getConnectionState(), 'disconnected');
  const Notes = wrapper.wrapModel(Note());
  await assert.rejects(Notes.findOne(), { name: 'MongoServerSelectionError' });
});

test('a password in the URI never appears in an error', async () => {
  const secret = 'Sup3r-Secret-Pw';
  const wrapper = PolyMongo.createWrapper({ mongoURI: `mongodb://app:${secret}@127.0.0.1:1/?serverSelectionTimeoutMS=200` });
  const err = await wrapper.connect().catch((e) => e);
  // The wrapper's own calls fail with the application's driver classes too.
  assert.ok(err instanceof mongoose.mongo.MongoServerSelectionError, `${err.name}: ${err.message}`);
  for (const text of [err.message, err.stack, JSON.stringify(err), String(err)]) assert.ok(!text.includes(secret), text);
  // A connection string the driver cannot use is refused when the wrapper is made.
  const parseError = (() => {
    try {
      PolyMongo.createWrapper({ mongoURI: `mongodb://app:${secret}@127.0.0.1:notaport/` });
    } catch (e) {
      return e;
    }
  })();
  assert.equal(parseError.option, 'mongoURI');
  assert.match(parseError.message, /notaport/);
  for (const text of [parseError.message, parseError.stack, JSON.stringify(parseError)]) assert.ok(!text.includes(secret), text);
});

test('closeAll() lets operations already started finish, then rejects new ones; forceCloseAll() does not wait', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX, maxPoolSize: 2, handleSignals: false });
  const Notes = wrapper.wrapModel(Note()).db(`${PREFIX}_drain`);
  await Notes.create({ text: 'first' });
  const started = Array.from({ length: 300 }, (_, i) => Notes.create({ text: `n${i}` }));
  const closeStarted = Date.now();
  const closing = wrapper.actions.closeAll();
  const again = wrapper.disconnect();
  await assert.rejects(Notes.create({ text: 'late' }), { code: 'ERR_WRAPPER_CLOSED' });
  await Promise.all(started);
  // Both closes end once the operations have, not at the 10 s timeout.
  await Promise.all([closing, again]);
  assert.ok(Date.now() - closeStarted < 5000, `closing took ${Date.now() - closeStarted} ms`);
  assert.equal(wrapper.getConnectionState(), 'disconnected');
  assert.equal(await client.db(`${PREFIX}_drain`).collection('notes').countDocuments(), 301);
  await assert.rejects(Notes.find(), { name: 'PolyMongoError', code: 'ERR_WRAPPER_CLOSED', message: /disconnected/ });

  await wrapper.connect();
  assert.equal(await Notes.countDocuments(), 301);
  const inFlight = Array.from({ length: 50 }, () => Notes.countDocuments().catch((e) => e));
  await wrapper.actions.forceCloseAll();
  await Promise.all(inFlight);
  await assert.rejects(Notes.countDocuments(), { code: 'ERR_WRAPPER_CLOSED' });
  assert.throws(() => wrapper.actions.closeAll({ timeoutMS: '1' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => wrapper.actions.closeAll({ timeoutMS: -1 }), { name: 'RangeError', option: 'closeAll options.timeoutMS' });
});

/** Runs the child script in `mode`; resolves to its exit code, signal and JSON lines. */
function child(mode) {
  const script = new URL('./fixtures/exit.mjs', import.meta.url);
  const proc = spawn(process.execPath, [fileURLToPath(script), suite.uri, `${PREFIX}_child_${mode}`, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (data) => (out += data));
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines: out.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line)) });
    });
  });
}

test('an idle wrapper never keeps Node running', { timeout: 30_000 }, async () => {
  const started = Date.now();
  const { code, signal, lines } = await child('idle');
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
  assert.deepEqual(lines, [{ ready: 1 }]);
  assert.ok(Date.now() - started < 10_000);
});

test('on SIGTERM with no listener of the app\'s, the wrapper closes and the process exits with 143', { timeout: 30_000 }, async () => {
  const { code, lines } = await child('signal');
  assert.equal(code, 143);
  assert.deepEqual(lines, [{ ready: 1 }, { disconnected: `${PREFIX}_child_signal` }]);
});

test('on SIGINT with a listener of the app\'s, the app owns the shutdown: the wrapper serves until it closes it', { timeout: 30_000 }, async () => {
  const { code, lines } = await child('own-signal');
  assert.equal(code, 0);
  assert.deepEqual(lines, [{ ready: 1 }, { state: 'connected', count: 1 }, { disconnected: `${PREFIX}_child_own-signal` }]);
});

test('handleSignals: false leaves signals to Node', { timeout: 30_000 }, async () => {
  const { code, signal, lines } = await child('no-signals');
  assert.deepEqual({ code, signal }, { code: null, signal: 'SIGTERM' });
  assert.deepEqual(lines, [{ ready: 1 }]);
});

// Connection lifecycle: lazy and eager connect, PolyMongo's state names, ping, disconnect and reopen,
// a server that goes away, retries, and credentials kept out of errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PolyMongo } from '../index.mjs';
import { startServer } from '../scripts/test-server.mjs';
import { model, openSuite, serverConnections, uniqueDb } from './helpers.mjs';

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
  assert.deepEqual(await wrapper.connect(), { success: true, alreadyConnected: true, state: 'connected' });
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
  assert.deepEqual(await wrapper.connect(), { success: true, alreadyConnected: false, state: 'connected' });
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
  assert.deepEqual(await wrapper.disconnect(), { success: true });
  assert.equal(wrapper.getConnectionState(), 'disconnected');
  assert.equal(wrapper.isConnected(), false);
  const closed = { name: 'PolyMongoError', code: 'ERR_WRAPPER_CLOSED' };
  await assert.rejects(Notes.find(), closed);
  await assert.rejects(Notes.create({ text: 'lost?' }), closed);
  await assert.rejects(Notes.countDocuments(), closed);
  await assert.rejects(Notes.find().cursor().next(), closed);
  const ping = await wrapper.ping();
  assert.equal(ping.ok, false);
  assert.equal(ping.error.code, 'ERR_WRAPPER_CLOSED');
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
  assert.ok(err instanceof Error);
  for (const text of [err.message, err.stack, JSON.stringify(err), String(err)]) assert.ok(!text.includes(secret), text);
  const bad = PolyMongo.createWrapper({ mongoURI: `mongodb://app:${secret}@127.0.0.1:notaport/` });
  const parseError = await bad.connect().catch((e) => e);
  assert.match(parseError.message, /app:\*\*\*\*@/);
  assert.ok(!parseError.message.includes(secret), parseError.message);
});

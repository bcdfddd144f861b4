// Many databases through one wrapper: each tenant sees only its own data, the server's connection
// count stays within the pool, and reading a tenant never creates its database.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { model, openSuite, serverConnections, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('ten');
const MAX_POOL = 5;
let suite, client;

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
});

after(async () => {
  await suite.close();
});

async function inBatches(count, size, fn) {
  for (let start = 0; start < count; start += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - start) }, (_, i) => fn(start + i)));
  }
}

test('the same collection in two databases never mixes', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main` });
  const Note = wrapper.wrapModel(model('Note', { text: String }));
  await Note.db(`${PREFIX}_a`).create({ text: 'for a' });
  await Note.db(`${PREFIX}_b`).insertMany([{ text: 'for b' }, { text: 'also b' }]);
  await Note.create({ text: 'for main' });
  assert.deepEqual((await Note.db(`${PREFIX}_a`).find()).map((n) => n.text), ['for a']);
  assert.deepEqual((await Note.db(`${PREFIX}_b`).find().sort('text')).map((n) => n.text), ['also b', 'for b']);
  assert.deepEqual((await Note.find()).map((n) => n.text), ['for main']);
  await Note.db(`${PREFIX}_a`).deleteMany({});
  assert.equal(await Note.db(`${PREFIX}_b`).countDocuments(), 2);
  assert.equal(await client.db(`${PREFIX}_a`).collection('notes').countDocuments(), 0);
  await wrapper.disconnect();
});

test('10,000 tenants through one wrapper open no more than maxPoolSize + 2 connections', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main`, maxPoolSize: MAX_POOL });
  const Item = wrapper.wrapModel(model('Item', { n: Number }));
  const before = await serverConnections(client);
  let peak = before;
  // Every tenant is read; one in ten is written first (and so gets a database).
  await inBatches(10_000, 250, async (i) => {
    const Items = Item.db(`${PREFIX}_t${i}`);
    if (i % 10 === 0) await Items.create({ n: i });
    assert.equal((await Items.findOne({}))?.n, i % 10 === 0 ? i : undefined);
    if (i % 1000 === 999) peak = Math.max(peak, await serverConnections(client));
  });
  peak = Math.max(peak, await serverConnections(client));
  assert.ok(peak - before <= MAX_POOL + 2, `opened ${peak - before} connections for maxPoolSize ${MAX_POOL}`);
  await wrapper.disconnect();
  // Closing returns them: the server is back where it started (or below, if another client of the
  // server closed one meanwhile).
  for (let i = 0; i < 50 && (await serverConnections(client)) > before; i++) await new Promise((r) => setTimeout(r, 100));
  const after = await serverConnections(client);
  assert.ok(after <= before, `${after} connections after closing, ${before} before`);
});

test('reading tenants that have no data creates no databases', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main` });
  const Item = wrapper.wrapModel(model('Item', { n: Number }));
  const names = async () => (await client.db('admin').command({ listDatabases: 1, nameOnly: true })).databases.map((d) => d.name);
  const before = await names();
  await inBatches(200, 50, async (i) => {
    const Items = Item.db(`${PREFIX}_ghost${i}`);
    assert.equal(await Items.findOne({ n: 1 }), null);
    assert.equal(await Items.countDocuments(), 0);
    assert.deepEqual(await Items.find().limit(1), []);
  });
  assert.deepEqual((await names()).filter((n) => n.includes('_ghost')), before.filter((n) => n.includes('_ghost')));
  await wrapper.disconnect();
});

test('.db() is cheap: repeated names reuse one bound model and do no I/O', () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1', defaultDB: 'main' });
  const Item = wrapper.wrapModel(model('Item', { n: Number }));
  const first = Item.db('tenant_42');
  for (let i = 0; i < 10_000; i++) assert.equal(Item.db('tenant_42'), first);
  for (let i = 0; i < 10_000; i++) Item.db(`tenant_${i}`);
  assert.equal(wrapper.getConnectionState(), 'not initialized');
});

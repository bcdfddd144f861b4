// Hooks and events: a database coming into use and leaving (once each per open/close), PolyMongo's
// hook names and payload, listeners that throw, and a deployment lost and found (driver SDAM events,
// proven by restarting a server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../scripts/test-server.mjs';
import { model, uniqueDb, useSuite } from './helpers.mjs';

const PREFIX = uniqueDb('events');
const suite = useSuite(PREFIX);
const { wrap } = suite;
const Item = (wrapper) => wrapper.wrapModel(model('Item', { n: Number }));

test('each database on the shared pool connects once at first use and disconnects once at close', async () => {
  const wrapper = wrap();
  const seen = [];
  wrapper.onDbConnect((info) => seen.push(['connect', info.dbName, info.reason]));
  wrapper.onDbDisconnect((info) => seen.push(['disconnect', info.dbName, info.reason]));
  const [a, b] = [`${PREFIX}_a`, `${PREFIX}_b`];
  const Items = Item(wrapper);
  await Promise.all([Items.db(a).findOne({}), Items.db(a).countDocuments(), Items.db(b).findOne({})]);
  await Items.db(a).findOne({});
  assert.deepEqual(seen.sort(), [['connect', a, 'first-use'], ['connect', b, 'first-use']]);
  seen.length = 0;
  await wrapper.disconnect();
  assert.deepEqual(seen.sort(), [['disconnect', a, 'closed'], ['disconnect', b, 'closed']]);
  // Reopened, the databases are announced again; connect() itself announces the default database.
  seen.length = 0;
  await wrapper.connect();
  await Items.db(a).findOne({});
  assert.deepEqual(seen.sort(), [['connect', a, 'first-use'], ['connect', `${PREFIX}_main`, 'opened']]);
  await wrapper.disconnect();
});

test('the payload has PolyMongo\'s fields, the pool kind and the redacted URI', async () => {
  const own = `${PREFIX}_own`;
  const wrapper = wrap({ dbSpecific: [{ dbName: own, options: { maxConnections: 1 } }] });
  const infos = [];
  wrapper.on('connect', (info) => infos.push(info));
  await Item(wrapper).db(own).findOne({});
  assert.equal(infos.length, 1);
  const [info] = infos;
  assert.equal(info.name, 'connect');
  assert.equal(info.dbName, own);
  assert.equal(info.readyState, 1);
  assert.equal(info.state, 'connected');
  assert.ok(!Number.isNaN(Date.parse(info.timestamp)) && info.timestamp.endsWith('Z'));
  // PolyMongo 1.3's connection: the database's Mongoose connection on the engine, made when read.
  assert.equal(info.connection.name, own);
  assert.equal(info.connection, wrapper.adv.getConnection(own));
  assert.doesNotThrow(() => JSON.stringify(info));
  assert.equal(info.pool, 'dedicated');
  assert.equal(info.reason, 'opened');
  assert.equal(info.uri, suite.uri);
  const closed = new Promise((resolve) => wrapper.once('disconnect', resolve));
  await wrapper.disconnect();
  const gone = await closed;
  assert.deepEqual([gone.name, gone.dbName, gone.readyState, gone.state, gone.pool], ['disconnect', own, 0, 'disconnected', 'dedicated']);
});

test('onTheseDBConnect filters by name; unsubscribing stops a hook; PolyMongo\'s event aliases work', async () => {
  const wrapper = wrap();
  const [x, y] = [`${PREFIX}_x`, `${PREFIX}_y`];
  const these = [];
  const theseGone = [];
  const all = [];
  wrapper.onTheseDBConnect([x], (info) => these.push(info.dbName));
  wrapper.onTheseDBDisconnect(y, (info) => theseGone.push(info.dbName));
  const unsubscribe = wrapper.on('onDbConnect', (info) => all.push(info.dbName));
  assert.equal(typeof unsubscribe, 'function');
  const Items = Item(wrapper);
  await Items.db(x).findOne({});
  unsubscribe();
  await Items.db(y).findOne({});
  await wrapper.disconnect();
  assert.deepEqual(these, [x]);
  assert.deepEqual(all, [x]);
  assert.deepEqual(theseGone, [y]);
  assert.throws(() => wrapper.onTheseDBConnect([], () => {}), { code: 'ERR_INVALID_ARG_TYPE', option: 'names' });
  assert.throws(() => wrapper.onDbConnect('nope'), { code: 'ERR_INVALID_ARG_TYPE', option: 'callback' });
});

test('a hook that throws is reported as an error event; other hooks and the operation go on', async () => {
  const wrapper = wrap();
  const errors = [];
  const later = [];
  wrapper.on('error', (err) => errors.push(err));
  wrapper.onDbConnect(() => {
    throw new Error('hook failed');
  });
  wrapper.onDbConnect((info) => later.push(info.dbName));
  const warned = new Promise((resolve) => process.once('warning', resolve));
  const db = `${PREFIX}_throws`;
  assert.equal(await Item(wrapper).db(db).findOne({}), null);
  await warned;
  assert.deepEqual(later, [db]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, 'hook failed');
  assert.equal(errors[0].during, "a 'connect' listener");
  await wrapper.disconnect();
});

test('a deployment that goes away and comes back: disconnect (lost), then reconnect (found), once each', { timeout: 60_000 }, async () => {
  const server = await startServer();
  const own = `${PREFIX}_far`;
  const wrapper = wrap({ dbSpecific: [{ dbName: own, mongoURI: `${server.uri}/?heartbeatFrequencyMS=500`, options: { maxConnections: 2 } }] });
  const seen = [];
  for (const event of ['connect', 'disconnect', 'reconnect']) wrapper.on(event, (info) => seen.push([event, info.reason]));
  const Items = Item(wrapper).db(own);
  try {
    await Items.create({ n: 1 });
    const back = new Promise((resolve) => wrapper.once('reconnect', resolve));
    await server.restart({ downMs: 1000 });
    await back;
    assert.equal(await Items.countDocuments(), 1);
    await sleep(200);
    assert.deepEqual(seen, [['connect', 'opened'], ['disconnect', 'lost'], ['reconnect', 'found']]);
  } finally {
    await wrapper.disconnect();
    await server.stop();
  }
});

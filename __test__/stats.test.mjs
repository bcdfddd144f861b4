// Stats: pool numbers from the driver's own events (checked against the server's count), each
// database's operations and latency, dbStats / $collStats sizes, Prometheus text read by a real
// parser, and stats calls that change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheus from 'parse-prometheus-text-format';
import { model, ObjectId, serverConnections, uniqueDb, until, useSuite } from './helpers.mjs';

const PREFIX = uniqueDb('stats');
const suite = useSuite(PREFIX);
const { wrap } = suite;
const Item = (wrapper) => wrapper.wrapModel(model('Item', { n: Number }));

/** The value of the sample `name{labels}` in Prometheus text. parse-prometheus-text-format (used to
 *  check the whole text) drops the labels of histogram samples, so histogram series are read here. */
function sampleValue(text, name, labels) {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (match?.[1] === name && match[2].split(',').sort().join(',') === wanted) return Number(match[3]);
  }
  return undefined;
}

test('pool connections agree with the server\'s own count, monitoring connections aside', async () => {
  const baseline = await serverConnections(suite.client);
  const own = `${PREFIX}_own`;
  const wrapper = wrap({ dbSpecific: [{ dbName: own, options: { maxConnections: 3 } }] });
  const Items = Item(wrapper);
  await Promise.all(Array.from({ length: 40 }, (_, i) => Items.db(`${PREFIX}_t${i % 4}`).findOne({ n: i })));
  await Promise.all(Array.from({ length: 6 }, () => Items.db(own).findOne({})));
  // The driver checks a connection back in just after handing over the reply.
  const settled = () => {
    const { primary, separateDB } = wrapper.stats.general();
    return [primary, ...separateDB].every((p) => p.poolStats.inUseConnections === 0 && p.poolStats.pendingCheckouts === 0);
  };
  assert.ok(await until(settled));
  const stats = wrapper.stats.general();
  const opened = (await serverConnections(suite.client)) - baseline;
  assert.equal(stats.totalActivePools, 2);
  const { primary, separateDB } = stats;
  assert.ok(primary.poolStats.totalConnections >= 2 && primary.poolStats.totalConnections <= 10, JSON.stringify(primary.poolStats));
  assert.ok(separateDB[0].poolStats.totalConnections >= 1 && separateDB[0].poolStats.totalConnections <= 3);
  assert.equal(stats.totalConnectionsAcrossPools, primary.poolStats.totalConnections + separateDB[0].poolStats.totalConnections);
  // Each open client also has one or two monitoring connections per server, which are no pool's.
  const monitoring = opened - stats.totalConnectionsAcrossPools;
  assert.ok(monitoring >= 2 && monitoring <= 4, `server saw ${opened} new connections, pools report ${stats.totalConnectionsAcrossPools}`);
  for (const { poolStats } of [primary, ...separateDB]) {
    assert.equal(poolStats.inUseConnections, 0);
    assert.equal(poolStats.availableConnections, poolStats.totalConnections);
    assert.equal(poolStats.totalCreated - poolStats.totalClosed, poolStats.totalConnections);
    assert.equal(poolStats.pendingCheckouts, 0);
    assert.equal(poolStats.checkoutFailures, 0);
  }
  assert.equal(primary.poolStats.maxPoolSize, 10);
  assert.equal(separateDB[0].poolStats.maxPoolSize, 3);
  assert.deepEqual(primary.sharedDatabases, [0, 1, 2, 3].map((i) => `${PREFIX}_t${i}`));
  assert.equal(separateDB[0].dbName, own);
  assert.equal(separateDB[0].isInitialized, true);
  assert.deepEqual(separateDB[0].config, { maxConnections: 3, autoClose: false, coldStart: true });

  await wrapper.disconnect();
  const closed = wrapper.stats.general();
  assert.equal(closed.totalActivePools, 0);
  assert.equal(closed.totalConnectionsAcrossPools, 0);
  assert.equal(closed.primary.poolStats.totalClosed, closed.primary.poolStats.totalCreated);
  assert.deepEqual(closed.primary.sharedDatabases, []);
  assert.ok(await until(async () => (await serverConnections(suite.client)) === baseline));
});

test('operation counts, errors and latency histograms match the operations run', async () => {
  const db = `${PREFIX}_count`;
  const wrapper = wrap();
  const Items = Item(wrapper).db(db);
  const started = Date.now();
  for (let i = 0; i < 5; i++) await Items.create({ _id: new ObjectId(), n: i });
  const first = await Items.findOne({ n: 0 });
  for (let i = 0; i < 6; i++) await Items.findOne({ n: i });
  assert.equal((await Items.find({})).length, 5);
  await Items.countDocuments();
  // Two duplicate keys: errors from the server, counted.
  for (let i = 0; i < 2; i++) await assert.rejects(Items.create({ _id: first._id, n: 9 }), { code: 11000 });
  // A value that cannot be cast fails before reaching the engine: not an operation.
  await assert.rejects(Items.create({ n: 'many' }), { name: 'ValidationError' });
  // A cursor read two documents at a time: three chunks from the server.
  let seen = 0;
  for await (const doc of Items.find({}).batchSize(2).cursor()) seen += doc ? 1 : 0;
  assert.equal(seen, 5);
  const expected = { ops: 5 + 1 + 6 + 1 + 1 + 2 + 3, errors: 2 };

  const entry = wrapper.stats.general().databases.find((d) => d.dbName === db);
  assert.deepEqual({ ops: entry.ops, errors: entry.errors }, expected);
  assert.equal(entry.pool, 'shared');
  assert.equal(entry.inFlight, 0);
  assert.equal(entry.queued, 0);
  assert.ok(entry.lastUsed instanceof Date && entry.lastUsed.getTime() >= started);
  const { p50, p95, p99, max, mean } = entry.latencyMs;
  assert.ok(p50 > 0 && p50 <= p95 && p95 <= p99 && p99 <= max && mean > 0, JSON.stringify(entry.latencyMs));

  const text = wrapper.stats.prometheus();
  const families = Object.fromEntries(parsePrometheus(text).map((f) => [f.name, f]));
  const sample = (name) => families[name].metrics.find((m) => m.labels.db === db);
  assert.equal(Number(sample('polymongo_db_operations_total').value), expected.ops);
  assert.equal(Number(sample('polymongo_db_errors_total').value), expected.errors);
  assert.equal(families.polymongo_db_operation_duration_seconds.type, 'HISTOGRAM');
  const histogram = 'polymongo_db_operation_duration_seconds';
  assert.equal(sampleValue(text, `${histogram}_count`, { db }), expected.ops);
  assert.equal(sampleValue(text, `${histogram}_bucket`, { db, le: '+Inf' }), expected.ops);
  assert.ok(sampleValue(text, `${histogram}_sum`, { db }) > 0);
  const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const counts = bounds.map((le) => sampleValue(text, `${histogram}_bucket`, { db, le }));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'buckets are cumulative');
  assert.ok(counts.at(-1) <= expected.ops);
  await wrapper.disconnect();
});

test('operations waiting for their turn show as queued, with at most the per-database cap in flight', async () => {
  const db = `${PREFIX}_queue`;
  const wrapper = wrap({ maxPoolSize: 2, maxConcurrentPerDb: 1 });
  const Items = Item(wrapper).db(db);
  await Items.findOne({});
  const pending = Promise.all(Array.from({ length: 200 }, (_, n) => Items.create({ n })));
  let most = { queued: 0, inFlight: 0, waitQueueSize: 0 };
  let done = false;
  pending.finally(() => (done = true));
  while (!done) {
    const stats = wrapper.stats.general();
    const entry = stats.databases.find((d) => d.dbName === db);
    most = {
      queued: Math.max(most.queued, entry.queued),
      inFlight: Math.max(most.inFlight, entry.inFlight),
      waitQueueSize: Math.max(most.waitQueueSize, stats.primary.poolStats.waitQueueSize),
    };
    await new Promise(setImmediate);
  }
  await pending;
  assert.ok(most.queued > 0 && most.waitQueueSize > 0, JSON.stringify(most));
  assert.equal(most.inFlight, 1);
  const entry = wrapper.stats.general().databases.find((d) => d.dbName === db);
  assert.deepEqual([entry.queued, entry.inFlight, entry.ops], [0, 0, 201]);
  await wrapper.disconnect();
});

test('stats.db sizes a database from dbStats and $collStats; stats.listDatabases lists the deployment', async () => {
  const db = `${PREFIX}_sized`;
  const wrapper = wrap();
  const wrapped = Item(wrapper);
  await wrapped.db(db).insertMany(Array.from({ length: 30 }, (_, n) => ({ n, pad: 'x'.repeat(100) })));
  await wrapper.wrapModel(model('Other', { s: String })).db(db).create({ s: 'a' });
  const stats = await wrapper.stats.db(db);
  assert.equal(stats.numCollections, 2);
  assert.deepEqual(stats.collections.map((c) => [c.name, c.docCount]), [['items', 30], ['others', 1]]);
  assert.ok(stats.sizeMb > 0 && stats.collections.every((c) => c.sizeMb > 0));
  assert.ok(stats.lastUsed instanceof Date);
  assert.equal(stats.mongoURI, suite.uri);
  assert.equal(stats.isInitialized, true);
  assert.equal(stats.metrics.ops, 2);
  assert.ok(stats.poolStats.totalConnections >= 1);

  const list = await wrapper.stats.listDatabases();
  const entry = list.find((d) => d.dbName === db);
  assert.equal(typeof entry.sizeInMB, 'number');
  await wrapper.disconnect();
  await assert.rejects(wrapper.stats.db(db), { code: 'ERR_WRAPPER_CLOSED' });
  await assert.rejects(wrapper.stats.db(''), { code: 'ERR_INVALID_DB_NAME' });
});

test('stats calls change nothing: no pool, connection, database, event or operation count', async () => {
  const own = `${PREFIX}_quiet_own`;
  const wrapper = wrap({ dbSpecific: [{ dbName: own }] });
  await Item(wrapper).findOne({});
  const events = [];
  wrapper.on('connect', (info) => events.push(info.dbName));
  const before = { general: wrapper.stats.general(), server: await serverConnections(suite.client) };
  const never = `${PREFIX}_never_used`;
  for (let i = 0; i < 3; i++) {
    wrapper.stats.general();
    wrapper.stats.prometheus();
    const unused = await wrapper.stats.db(never);
    assert.deepEqual([unused.sizeMb, unused.numCollections, unused.metrics, unused.lastUsed], [0, 0, null, null]);
    await wrapper.stats.db();
    await wrapper.stats.listDatabases();
  }
  const after = { general: wrapper.stats.general(), server: await serverConnections(suite.client) };
  assert.equal(after.server, before.server);
  assert.equal(after.general.totalActivePools, before.general.totalActivePools);
  assert.equal(after.general.totalConnectionsAcrossPools, before.general.totalConnectionsAcrossPools);
  assert.equal(after.general.primary.poolStats.totalCreated, before.general.primary.poolStats.totalCreated);
  assert.equal(after.general.separateDB[0].isInitialized, false);
  assert.deepEqual(after.general.databases.map((d) => [d.dbName, d.ops]), before.general.databases.map((d) => [d.dbName, d.ops]));
  assert.deepEqual(events, []);
  assert.ok(!(await wrapper.stats.listDatabases()).some((d) => d.dbName === never), 'reading stats created no database');
  await wrapper.disconnect();
});

test('the Prometheus text parses, carries pool and database series, and caps database labels', async () => {
  const own = `${PREFIX}_prom_own`;
  const wrapper = wrap({ maxDatabaseLabels: 2, dbSpecific: [{ dbName: own, options: { maxConnections: 2 } }] });
  const Items = Item(wrapper);
  const dbs = [0, 1, 2, 3, 4].map((i) => `${PREFIX}_p${i}`);
  for (const [i, db] of dbs.entries()) for (let k = 0; k <= i; k++) await Items.db(db).findOne({});
  await Items.db(own).findOne({});
  const text = wrapper.stats.prometheus();
  const families = parsePrometheus(text);
  const byName = Object.fromEntries(families.map((f) => [f.name, f]));
  const types = {
    polymongo_pool_connections: 'GAUGE',
    polymongo_pool_connections_created_total: 'COUNTER',
    polymongo_pool_checkouts_pending: 'GAUGE',
    polymongo_db_operations_total: 'COUNTER',
    polymongo_db_operation_duration_seconds: 'HISTOGRAM',
  };
  for (const [name, type] of Object.entries(types)) assert.equal(byName[name]?.type, type, name);
  const pools = byName.polymongo_pool_connections.metrics;
  assert.deepEqual(pools.map((m) => m.labels.pool).sort(), [`db:${own}`, 'shared']);
  assert.ok(pools.every((m) => m.labels.cluster === new URL(suite.uri).host));
  const ops = Object.fromEntries(byName.polymongo_db_operations_total.metrics.map((m) => [m.labels.db, Number(m.value)]));
  // The first two databases used have their own series; the rest are summed.
  assert.deepEqual(ops, { [dbs[0]]: 1, [dbs[1]]: 2, '<other>': 3 + 4 + 5 + 1 });
  assert.equal(sampleValue(text, 'polymongo_db_operation_duration_seconds_count', { db: '<other>' }), 13);
  assert.equal(sampleValue(text, 'polymongo_db_operation_duration_seconds_count', { db: dbs[2] }), undefined);
  await wrapper.disconnect();
});

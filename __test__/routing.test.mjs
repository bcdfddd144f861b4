// Routing: databases given their own pool (dbSpecific, scale.setDB / connectDB) are served by it, on
// another server when it names one; every other database stays on the shared pool. Proven with two
// servers, each checked through its own Node-driver client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { model, mongoose, openSuite, serverConnections, uniqueDb, until } from './helpers.mjs';
import { startServer } from '../scripts/test-server.mjs';

const PREFIX = uniqueDb('routing');
let suite, second, secondClient, wrapper, Item;
const [analytics, moved, tenant] = [`${PREFIX}_analytics`, `${PREFIX}_moved`, `${PREFIX}_tenant`];

before(async () => {
  suite = await openSuite(PREFIX);
  second = await startServer();
  secondClient = await mongoose.mongo.MongoClient.connect(second.uri, { maxPoolSize: 1 });
  wrapper = PolyMongo.createWrapper({
    mongoURI: suite.uri,
    defaultDB: `${PREFIX}_default`,
    dbSpecific: [{ dbName: analytics, mongoURI: second.uri, options: { maxConnections: 3 } }],
  });
  Item = wrapper.wrapModel(model('Item', { name: String, n: Number }));
});

after(async () => {
  await wrapper.disconnect();
  await secondClient.close();
  await second.stop();
  await suite.close();
});

const count = (client, db) => client.db(db).collection('items').countDocuments();

describe('routing', () => {
  test('a dbSpecific database is served by its own cluster for writes, reads, cursors and aggregates', async () => {
    await Item.db(analytics).insertMany([{ name: 'a', n: 1 }, { name: 'b', n: 2 }]);
    await Item.db(tenant).create({ name: 'c', n: 3 });
    assert.equal(await count(secondClient, analytics), 2);
    assert.equal(await count(suite.client, analytics), 0);
    assert.equal(await count(suite.client, tenant), 1);
    assert.equal(await count(secondClient, tenant), 0);
    assert.equal((await Item.db(analytics).find({}).sort({ n: 1 })).length, 2);
    const streamed = [];
    for await (const doc of Item.db(analytics).find({}).cursor()) streamed.push(doc.name);
    assert.deepEqual(streamed.sort(), ['a', 'b']);
    assert.deepEqual(await Item.db(analytics).aggregate([{ $group: { _id: null, total: { $sum: '$n' } } }]), [{ _id: null, total: 3 }]);
    assert.equal((await Item.db(analytics).updateMany({}, { $inc: { n: 10 } })).modifiedCount, 2);
    assert.equal((await secondClient.db(analytics).collection('items').findOne({ name: 'a' })).n, 11);
    assert.equal((await wrapper.ping(analytics)).ok, true);
  });

  test('scale.setDB moves a database, even one a model is already bound to; connectDB opens the pool now', async () => {
    const bound = Item.db(moved);
    await bound.create({ name: 'before' });
    assert.equal(await count(suite.client, moved), 1);
    await wrapper.scale.setDB(moved, { mongoURI: second.uri, maxConnections: 2 });
    await bound.create({ name: 'after' });
    assert.equal(await count(secondClient, moved), 1);
    assert.equal(await count(suite.client, moved), 1);

    const eager = `${PREFIX}_eager`;
    const opened = await serverConnections(secondClient);
    await wrapper.scale.connectDB([eager], { mongoURI: second.uri, maxConnections: 2 });
    assert.ok(await serverConnections(secondClient) > opened, 'connectDB did not open a connection');
    await Item.db(eager).create({ name: 'x' });
    assert.equal(await count(secondClient, eager), 1);
  });

  test('a dbSpecific pool with coldStart: false opens when the wrapper is created', async () => {
    const before = await serverConnections(secondClient);
    const eager = PolyMongo.createWrapper({
      mongoURI: suite.uri,
      dbSpecific: [{ dbName: `${PREFIX}_warm`, mongoURI: second.uri, options: { coldStart: false, maxConnections: 1 } }],
    });
    for (let i = 0; i < 50 && (await serverConnections(secondClient)) <= before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(await serverConnections(secondClient) > before, 'the pool did not open');
    assert.equal(eager.getConnectionState(), 'not initialized', 'the shared pool opened too');
    await eager.disconnect();
  });

  test('bad scale arguments are refused before any change', async () => {
    assert.throws(() => wrapper.scale.setDB([], {}), { code: 'ERR_INVALID_ARG_TYPE', option: 'names' });
    assert.throws(() => wrapper.scale.setDB('x', { pool: 1 }), { option: 'scale options.pool' });
    assert.throws(() => wrapper.scale.setDB('a/b'), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME', dbName: 'a/b' });
    assert.throws(() => wrapper.scale.setDB('ok', { mongoURI: 'http://x' }), { option: 'dbSpecific.mongoURI' });
    assert.throws(() => wrapper.scale.setDB('ok', { maxConnections: 0 }), { name: 'RangeError' });
  });

  test('an autoClose pool closes after ttl without use, not while a cursor is read, and reopens on use', { timeout: 20_000 }, async () => {
    const idle = `${PREFIX}_idle`;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    // The documents go in through the Node driver, so that the pool first opens for the cursor: a
    // pool opened for them could close after its 300 ms before the cursor starts on a busy machine.
    await secondClient.db(idle).collection(Item.collection.collectionName).insertMany(Array.from({ length: 8 }, (_, i) => ({ n: i + 1 })));
    const baseline = await serverConnections(secondClient);
    await wrapper.scale.setDB(idle, { mongoURI: second.uri, maxConnections: 2, autoClose: true, ttl: 300 });
    const hooks = [];
    wrapper.onTheseDBConnect(idle, (info) => hooks.push(`connect ${info.reason}`));
    wrapper.onTheseDBDisconnect(idle, (info) => hooks.push(`disconnect ${info.reason}`));

    // Read every 100 ms for 700 ms, more than twice the ttl: the pool stays open.
    const cursor = Item.db(idle).find({}).sort('n').batchSize(1).cursor();
    for (let n = 1; n <= 7; n++) {
      assert.equal((await cursor.next()).n, n);
      await sleep(100);
    }
    assert.deepEqual(hooks, ['connect opened']);
    assert.ok(await serverConnections(secondClient) > baseline, 'closed while a cursor was read');

    // Left unread, the cursor no longer keeps it: it closes after ttl, and the cursor is gone with it.
    assert.ok(await until(async () => await serverConnections(secondClient) === baseline), 'the idle pool was not closed');
    await assert.rejects(cursor.next(), { code: 'ERR_CURSOR_TIMED_OUT', dbName: idle });
    assert.equal(await Item.db(idle).countDocuments({}), 8);
    assert.ok(await serverConnections(secondClient) > baseline, 'the pool did not reopen');
    assert.deepEqual(hooks, ['connect opened', 'disconnect idle', 'connect opened']);
  });

  test('disconnect closes every pool and connect reopens them', async () => {
    await wrapper.disconnect();
    await assert.rejects(Item.db(analytics).findOne({}), { code: 'ERR_WRAPPER_CLOSED' });
    await wrapper.connect();
    assert.equal(await Item.db(analytics).countDocuments({}), 2);
    assert.equal(await Item.db(tenant).countDocuments({}), 1);
  });
});

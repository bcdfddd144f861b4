// A database is set up for a model before its first write, never on a read: the schema's indexes
// (Mongoose's own ensureIndexes), its collection options, and with `jsonSchema: true` a $jsonSchema
// validator. What landed is read back through the Node driver.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { ObjectId, mongoose, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('schema');
let suite, wrapper, client;
let dbCount = 0;
const nextDb = () => `${PREFIX}_${dbCount++}`;

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_default` });
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

describe('indexes and validators on first write', () => {
  test("the schema's indexes are built in each database before its first write, never on reads", async () => {
    const base = new mongoose.Mongoose();
    const schema = new base.Schema({ email: { type: String, unique: true }, at: { type: Date, expires: '1h' }, a: Number, b: Number });
    schema.index({ a: 1, b: -1 });
    const Indexed = wrapper.wrapModel(base.model('Indexed', schema));
    const [reader, writer] = [nextDb(), nextDb()];
    assert.equal(await Indexed.db(reader).findOne({ email: 'x' }), null);
    await Indexed.db(writer).create({ email: 'a@b.c', at: new Date() });
    await assert.rejects(Indexed.db(writer).create({ email: 'a@b.c' }), { code: 11000 });
    const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    assert.ok(!databases.some((d) => d.name === reader), 'reading a tenant created its database');
    const indexes = await client.db(writer).collection('indexeds').indexes();
    const byName = Object.fromEntries(indexes.map((i) => [i.name, i]));
    assert.equal(byName.email_1.unique, true);
    assert.equal(byName.at_1.expireAfterSeconds, 3600);
    assert.deepEqual(byName['a_1_b_-1'].key, { a: 1, b: -1 });
  });

  test('autoIndex: false builds nothing', async () => {
    const base = new mongoose.Mongoose();
    const Plain = wrapper.wrapModel(base.model('Plain', new base.Schema({ email: { type: String, unique: true } })), { autoIndex: false });
    const db = nextDb();
    await Plain.db(db).create({ email: 'x' });
    assert.deepEqual((await client.db(db).collection('plains').indexes()).map((i) => i.name), ['_id_']);
  });

  test('a failed index build is an error event, and the write that started it still happens', async () => {
    const base = new mongoose.Mongoose();
    const Clash = wrapper.wrapModel(base.model('Clash', new base.Schema({ email: { type: String, unique: true } })));
    const db = nextDb();
    await client.db(db).collection('clashes').createIndex({ email: 1 }, { name: 'email_1', unique: false });
    const reported = new Promise((resolve) => wrapper.once('error', resolve));
    const warned = new Promise((resolve) => process.once('warning', resolve));
    const doc = await Clash.db(db).create({ email: 'x' });
    const err = await reported;
    assert.equal(err.db, db);
    assert.equal(err.during, 'setUp');
    assert.match((await warned).message, /failed/);
    assert.equal((await client.db(db).collection('clashes').findOne({ _id: doc._id })).email, 'x');
  });

  test('a capped schema gets its collection created capped before the first write', async () => {
    const base = new mongoose.Mongoose();
    const Log = wrapper.wrapModel(base.model('Log', new base.Schema({ line: String }, { capped: { size: 4096, max: 3 } })));
    const db = nextDb();
    for (let i = 0; i < 5; i++) await Log.db(db).create({ line: `l${i}` });
    assert.equal(await client.db(db).collection('logs').isCapped(), true);
    assert.deepEqual((await Log.db(db).find().sort({ $natural: 1 })).map((l) => l.line), ['l2', 'l3', 'l4']);
  });

  test('init() sets a database up at once; reading another database still creates nothing', async () => {
    const base = new mongoose.Mongoose();
    const Early = wrapper.wrapModel(base.model('Early', new base.Schema({ code: { type: String, unique: true } })));
    const db = nextDb();
    await Early.db(db).init();
    assert.deepEqual((await client.db(db).collection('earlies').indexes()).map((i) => i.name).sort(), ['_id_', 'code_1']);
  });

  test('jsonSchema: true applies a $jsonSchema validator the server enforces with code 121', async () => {
    const base = new mongoose.Mongoose();
    const Checked = wrapper.wrapModel(base.model('Checked', new base.Schema({
      name: { type: String, required: true },
      age: { type: Number, min: 0 },
      role: { type: String, enum: ['a', 'b'] },
    })), { jsonSchema: true });
    const db = nextDb();
    await Checked.db(db).create({ name: 'ok', age: 3, role: 'a' });
    const raw = client.db(db).collection('checkeds');
    await assert.rejects(raw.insertOne({ age: 3 }), { code: 121 });
    await assert.rejects(raw.insertOne({ name: 'x', age: -1 }), { code: 121 });
    await assert.rejects(raw.insertOne({ name: 'x', role: 'c' }), { code: 121 });
    await raw.insertOne({ name: 'x', age: null });
  });
});

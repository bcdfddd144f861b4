// The schema bridge on the write and read paths: what Mongoose users rely on (casting, defaults,
// timestamps, the version key, strict, validators incl. custom ones, Mongoose's error classes), and
// the indexes and $jsonSchema validator made on a tenant's first write. What landed is read back
// through the Node driver.
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

/** A model on its own Mongoose instance, wrapped; with its raw collection in a fresh database. */
function wrap(name, definition, options, wrapOptions) {
  const base = new mongoose.Mongoose();
  const Model = base.model(name, new base.Schema(definition, options));
  const db = nextDb();
  const Wrapped = wrapper.wrapModel(Model, wrapOptions).db(db);
  return { base, Model: Wrapped, raw: client.db(db).collection(Model.collection.collectionName), db };
}

describe('whole documents', () => {
  test('create casts, trims, fills defaults, stamps timestamps and __v, and drops unknown paths', async () => {
    const { Model, raw } = wrap('User', {
      name: { type: String, trim: true, lowercase: true },
      age: Number,
      born: Date,
      tags: [String],
      role: { type: String, default: 'user' },
      address: { city: String, zip: { type: String, default: '00000' } },
      pets: [new mongoose.Schema({ kind: String })],
      seen: { type: Date, default: Date.now },
    }, { timestamps: true });
    const before = Date.now();
    const doc = await Model.create({ name: '  ANN ', age: '31', born: '1990-05-06', tags: 'x', pets: [{ kind: 'cat' }], extra: 1 });
    const stored = await raw.findOne({ _id: doc._id });
    assert.deepEqual(stored, doc);
    assert.equal(doc.name, 'ann');
    assert.equal(doc.age, 31);
    assert.deepEqual(doc.born, new Date('1990-05-06T00:00:00Z'));
    assert.deepEqual(doc.tags, ['x']);
    assert.equal(doc.role, 'user');
    assert.deepEqual(doc.address, { zip: '00000' });
    assert.ok(doc.pets[0]._id instanceof ObjectId);
    assert.equal(doc.extra, undefined);
    assert.equal(doc.__v, 0);
    assert.ok(doc.createdAt.getTime() >= before && doc.seen.getTime() >= before);
    assert.deepEqual(doc.updatedAt, doc.createdAt);
  });

  test('custom timestamp names, a custom version key, and no version key', async () => {
    const custom = wrap('Custom', { n: Number }, { timestamps: { createdAt: 'made', updatedAt: false }, versionKey: '_rev' });
    const a = await custom.Model.create({ n: 1 });
    assert.ok(a.made instanceof Date);
    assert.equal(a.updatedAt, undefined);
    assert.equal(a._rev, 0);
    const none = wrap('NoVersion', { n: Number }, { versionKey: false });
    const b = await none.Model.create({ n: 1 });
    assert.deepEqual(Object.keys(b).sort(), ['_id', 'n']);
  });

  test('a failing document is a Mongoose ValidationError listing every path, and nothing is written', async () => {
    const { base, Model, raw } = wrap('Person', {
      name: { type: String, required: [true, 'a name, please'] },
      age: { type: Number, min: 18, max: 120 },
      role: { type: String, enum: ['user', 'admin'] },
      code: { type: String, match: /^[A-Z]{3}$/ },
      nick: { type: String, minlength: 2, maxlength: 4 },
      pets: [new mongoose.Schema({ kind: { type: String, required: true } })],
    });
    await assert.rejects(Model.create({ age: 5, role: 'root', code: 'abcd', nick: 'x', pets: [{}] }), (err) => {
      assert.ok(err instanceof base.Error.ValidationError);
      assert.equal(err.name, 'ValidationError');
      assert.deepEqual(Object.keys(err.errors).sort(), ['age', 'code', 'name', 'nick', 'pets.0.kind', 'role']);
      assert.equal(err.errors.name.message, 'a name, please');
      assert.equal(err.errors.age.kind, 'min');
      assert.equal(err.errors.age.value, 5);
      assert.equal(err.errors.age.message, 'Path `age` (5) is less than minimum allowed value (18).');
      assert.ok(err.errors.age instanceof base.Error.ValidatorError);
      assert.equal(err.errors.role.kind, 'enum');
      assert.match(err.message, /^Person validation failed: /);
      return true;
    });
    await assert.rejects(Model.create({ name: 'x', age: 'old' }), (err) => {
      assert.ok(err.errors.age instanceof base.Error.CastError);
      assert.equal(err.errors.age.kind, 'Number');
      assert.equal(err.errors.age.value, 'old');
      return true;
    });
    assert.equal(await raw.countDocuments(), 0);
  });

  test('strict: throw refuses unknown paths with a StrictModeError; strict: false keeps them', async () => {
    const strict = wrap('Strict', { a: Number }, { strict: 'throw' });
    await assert.rejects(strict.Model.create({ a: 1, b: 2 }), (err) => err instanceof strict.base.Error.StrictModeError && /`b`/.test(err.message));
    const loose = wrap('Loose', { a: Number }, { strict: false });
    assert.equal((await loose.Model.create({ a: '1', b: 2 })).b, 2);
  });

  test('custom validators (sync and async), conditional required and default functions run in JS on cast values', async () => {
    let counter = 0;
    const { base, Model } = wrap('Custom', {
      even: { type: Number, validate: { validator: (v) => v % 2 === 0, message: '{VALUE} is odd' } },
      slow: { type: String, validate: async (v) => v !== 'taken' },
      kind: String,
      reason: { type: String, required: function () { return this.kind === 'other'; } },
      password: { type: String, match: /^(?=.*\d).{4,}$/ },
      serial: { type: Number, default: () => ++counter },
      items: [new mongoose.Schema({ sku: String, at: { type: String, default: () => 'now' } }, { _id: false })],
      box: { label: { type: String, default: function () { return `box of ${this.box.size}`; } }, size: Number },
    });
    const input = { even: '4', slow: 'free', password: 'abc1', items: [{ sku: 'a' }], box: { size: 2 } };
    const doc = await Model.create(input);
    assert.equal(doc.serial, 1);
    assert.deepEqual(doc.items, [{ sku: 'a', at: 'now' }]);
    assert.deepEqual(doc.box, { label: 'box of 2', size: 2 });
    assert.deepEqual(input.items, [{ sku: 'a' }], 'the caller\'s document was changed');
    const second = await Model.create({});
    assert.equal(second.serial, 2);
    assert.deepEqual(second.box, { label: 'box of undefined' });
    await assert.rejects(Model.create({ even: 3, slow: 'taken', kind: 'other', password: 'abcd' }), (err) => {
      assert.ok(err instanceof base.Error.ValidationError);
      assert.deepEqual(Object.keys(err.errors).sort(), ['even', 'password', 'reason', 'slow']);
      assert.equal(err.errors.even.message, '3 is odd');
      return true;
    });
  });

  test('insertMany: an ordered batch stops before writing at an invalid document; an unordered one skips it', async () => {
    const { Model, raw } = wrap('Batch', { n: { type: Number, min: 0 } });
    await assert.rejects(Model.insertMany([{ n: 1 }, { n: -1 }, { n: 2 }]), { name: 'ValidationError' });
    assert.equal(await raw.countDocuments(), 0);
    const docs = await Model.insertMany([{ n: 1 }, { n: -1 }, { n: '2' }], { ordered: false });
    assert.deepEqual(docs.map((d) => d.n), [1, 2]);
    const result = await Model.insertMany([{ n: -5 }, { n: 3 }], { ordered: false, rawResult: true });
    assert.equal(result.insertedCount, 1);
    assert.equal(result.mongoose.validationErrors[0].name, 'ValidationError');
    assert.equal(await raw.countDocuments(), 3);
  });

  test('replaceOne and bulkWrite validate whole documents too', async () => {
    const { Model, raw } = wrap('Replace', { name: { type: String, required: true }, n: Number }, { timestamps: true });
    const doc = await Model.create({ name: 'a', n: 1 });
    await assert.rejects(Model.replaceOne({ _id: doc._id }, { n: 2 }), { name: 'ValidationError' });
    await Model.replaceOne({ _id: doc._id }, { name: 'b', n: '3' });
    const stored = await raw.findOne({ _id: doc._id });
    assert.equal(stored.n, 3);
    assert.ok(stored.updatedAt >= doc.updatedAt);
    await assert.rejects(Model.bulkWrite([{ insertOne: { document: { n: 1 } } }]), { name: 'ValidationError' });
    assert.equal(await raw.countDocuments(), 1);
  });
});

describe('filters and updates', () => {
  test('filters cast ids, numbers and dates; an uncastable value is a CastError', async () => {
    const { base, Model } = wrap('Find', { n: Number, at: Date, ref: mongoose.Schema.Types.ObjectId, tags: [String] });
    const ref = new ObjectId();
    const doc = await Model.create({ n: 5, at: '2020-01-02', ref, tags: ['a', 'b'] });
    assert.equal((await Model.findById(doc._id.toHexString())).n, 5);
    assert.equal((await Model.findOne({ _id: doc._id.toHexString() })).n, 5);
    assert.equal(await Model.countDocuments({ n: '5', at: { $gte: '2020-01-01' }, ref: ref.toHexString() }), 1);
    assert.equal(await Model.countDocuments({ n: { $in: ['4', '5'] }, tags: 'a' }), 1);
    await assert.rejects(Model.find({ n: 'five' }), (err) => {
      assert.ok(err instanceof base.Error.CastError);
      assert.equal(err.path, 'n');
      assert.equal(err.value, 'five');
      return true;
    });
    await assert.rejects(Model.updateOne({ _id: 'nope' }, { n: 1 }), { name: 'CastError', path: '_id' });
    await assert.rejects(Model.deleteMany({ at: 'someday' }), { name: 'CastError', path: 'at' });
  });

  test('updates cast and validate the paths they set, keep createdAt, and move updatedAt', async () => {
    const { base, Model, raw } = wrap('Update', {
      n: { type: Number, min: 0 },
      name: { type: String, required: true },
      tags: [{ type: String, enum: ['a', 'b'] }],
    }, { timestamps: true });
    const doc = await Model.create({ name: 'x', n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await Model.updateOne({ _id: doc._id }, { n: '7', $push: { tags: 'a' }, createdAt: new Date(0) });
    const stored = await raw.findOne({ _id: doc._id });
    assert.equal(stored.n, 7);
    assert.deepEqual(stored.tags, ['a']);
    assert.deepEqual(stored.createdAt, doc.createdAt);
    assert.ok(stored.updatedAt > doc.updatedAt);
    await assert.rejects(Model.updateOne({ _id: doc._id }, { n: -1 }), (err) => err instanceof base.Error.ValidationError && err.errors.n.kind === 'min');
    await assert.rejects(Model.updateOne({ _id: doc._id }, { $unset: { name: 1 } }), (err) => err.errors.name.kind === 'required');
    await assert.rejects(Model.updateOne({ _id: doc._id }, { $addToSet: { tags: 'z' } }), { name: 'ValidationError' });
    await assert.rejects(Model.findOneAndUpdate({ _id: doc._id }, { $inc: { n: 'lots' } }), { name: 'CastError', path: 'n' });
    assert.equal((await raw.findOne({ _id: doc._id })).n, 7);
  });

  test('an upsert inserts the defaults, createdAt and __v of the paths it does not set', async () => {
    const { Model, raw } = wrap('Upsert', { name: String, role: { type: String, default: 'user' }, tags: [String] }, { timestamps: true });
    await Model.updateOne({ name: 'new' }, { $set: { tags: ['t'] } }, { upsert: true });
    const stored = await raw.findOne({ name: 'new' });
    assert.equal(stored.role, 'user');
    assert.deepEqual(stored.tags, ['t']);
    assert.equal(stored.__v, 0);
    assert.ok(stored.createdAt instanceof Date && stored.updatedAt instanceof Date);
  });
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

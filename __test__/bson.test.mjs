// BSON types survive the trip through Rust unchanged, and come back exactly as the Node driver reads
// them: same values, same classes (the application's own bson).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { model, mongoose, openSuite, uniqueDb } from './helpers.mjs';

const { BSON } = mongoose.mongo;
const PREFIX = uniqueDb('bson');
let suite, wrapper, client, Thing;

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX });
  Thing = wrapper.wrapModel(model('Thing', {}, { strict: false }));
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

const sample = () => ({
  _id: new BSON.ObjectId(),
  date: new Date('2024-02-29T12:34:56.789Z'),
  decimal: BSON.Decimal128.fromString('1234567890.123456789012345678'),
  binary: new BSON.Binary(Buffer.from([0, 1, 2, 255]), 0),
  uuid: new BSON.UUID('6f9619ff-8b86-d011-b42d-00c04fc964ff'),
  buffer: Buffer.from('raw bytes'),
  smallLong: BSON.Long.fromNumber(42),
  bigLong: BSON.Long.fromString('9223372036854775807'),
  int32: new BSON.Int32(7),
  double: new BSON.Double(2.5),
  wholeDouble: new BSON.Double(3),
  regex: new BSON.BSONRegExp('^ann', 'i'),
  timestamp: new BSON.Timestamp({ t: 1700000000, i: 3 }),
  minKey: new BSON.MinKey(),
  maxKey: new BSON.MaxKey(),
  nested: { deep: { list: [1, 'two', null, true, { three: 3 }] } },
  empty: {},
  nothing: null,
  unicode: 'zoë — 東京 🚀',
});

test('every BSON type comes back as the Node driver gives it', async () => {
  const doc = sample();
  await Thing.create(doc);
  const viaDriver = await client.db(PREFIX).collection('things').findOne({ _id: doc._id });
  const viaUs = await Thing.findById(doc._id).lean();
  assert.deepStrictEqual(viaUs, viaDriver);
  assert.deepStrictEqual(await Thing.find({ _id: doc._id }).lean(), [viaDriver]);
  assert.deepStrictEqual((await Thing.findById(doc._id)).toObject(), viaDriver);
  assert.deepStrictEqual(await Thing.aggregate([{ $match: { _id: doc._id } }]), [viaDriver]);
});

test('values keep the application\'s classes', async () => {
  const doc = sample();
  await Thing.create(doc);
  const back = await Thing.findById(doc._id).lean();
  assert.ok(back._id instanceof mongoose.Types.ObjectId);
  assert.ok(back.date instanceof Date);
  assert.equal(back.date.getTime(), doc.date.getTime());
  assert.ok(back.decimal instanceof BSON.Decimal128);
  assert.equal(back.decimal.toString(), '1234567890.123456789012345678');
  assert.ok(back.binary instanceof BSON.Binary);
  assert.deepEqual([...back.binary.buffer], [0, 1, 2, 255]);
  assert.equal(back.smallLong, 42);
  assert.ok(back.bigLong instanceof BSON.Long);
  assert.equal(back.bigLong.toString(), '9223372036854775807');
  assert.equal(back.int32, 7);
  assert.equal(back.wholeDouble, 3);
  assert.equal(back.unicode, 'zoë — 東京 🚀');
});

test('filters carry BSON types to the server intact', async () => {
  const doc = { ...sample(), decimal: BSON.Decimal128.fromString('42.000000000000000000001') };
  await Thing.create(doc);
  assert.equal(await Thing.countDocuments({ decimal: doc.decimal }), 1);
  assert.equal(await Thing.countDocuments({ decimal: BSON.Decimal128.fromString('42') }), 0);
  assert.equal(await Thing.countDocuments({ _id: doc._id, date: { $gte: new Date('2024-01-01') }, bigLong: doc.bigLong }), 1);
  assert.equal(await Thing.countDocuments({ _id: doc._id, unicode: /東京/ }), 1);
  const updated = await Thing.findOneAndUpdate({ _id: doc._id }, { $set: { when: new Date(0) }, $inc: { smallLong: BSON.Long.fromNumber(1) } }, { new: true }).lean();
  assert.equal(updated.when.getTime(), 0);
  assert.equal(updated.smallLong, 43);
});

test('a request past js-bson\'s 17 MiB working buffer is encoded in parts, byte for byte the same', async () => {
  const { Codec } = await import('../lib/driver/codec.js');
  const codec = new Codec(mongoose.mongo);
  const small = { ops: [{ insertOne: { document: sample() } }, { deleteOne: { filter: { a: null } } }], ordered: true, gone: undefined };
  for (const options of [undefined, { ignoreUndefined: true }]) {
    assert.deepEqual(codec.encodeLarge(small, { checkKeys: false, ignoreUndefined: options?.ignoreUndefined === true }), codec.encode(small, options));
  }
  // 20 MiB in one insertMany: the engine splits it into the server's batches.
  const Big = Thing.db(uniqueDb(PREFIX));
  const docs = Array.from({ length: 20 }, (_, i) => ({ i, s: 'x'.repeat(1024 * 1024 - 64) }));
  await Big.insertMany(docs, { lean: true });
  assert.equal(await Big.countDocuments(), 20);
});

// Every model method with Mongoose's argument shapes, its options, and its failure paths; what landed
// is checked through the Node driver, independently of the addon.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { ObjectId, model, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('crud');
let suite, wrapper, client, User;
let dbCount = 0;
/** A fresh tenant database and its raw-driver view. */
function tenant() {
  const name = `${PREFIX}_${dbCount++}`;
  return { Users: User.db(name), raw: client.db(name).collection('users') };
}

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_default` });
  User = wrapper.wrapModel(model('User', { name: String, age: Number, role: String, tags: [String], seen: Boolean, a: Number }));
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

const people = () => [
  { name: 'ann', age: 31, role: 'admin', tags: ['a'] },
  { name: 'bob', age: 25, role: 'user', tags: ['b'] },
  { name: 'cid', age: 47, role: 'user', tags: ['a', 'c'] },
  { name: 'dee', age: 19, role: 'guest', tags: [] },
];

describe('inserts', () => {
  test('create() of one document returns it with an ObjectId of the application\'s class', async () => {
    const { Users, raw } = tenant();
    const doc = await Users.create({ name: 'ann', age: 31 });
    assert.ok(doc._id instanceof ObjectId);
    assert.deepEqual(await raw.findOne({ _id: doc._id }), { _id: doc._id, name: 'ann', age: 31, tags: [], __v: 0 });
  });

  test('create() of an array and insertMany() insert in order and return the documents', async () => {
    const { Users, raw } = tenant();
    const created = await Users.create(people().slice(0, 2));
    const inserted = await Users.insertMany(people().slice(2));
    assert.deepEqual([...created, ...inserted].map((d) => d.name), ['ann', 'bob', 'cid', 'dee']);
    assert.equal(await raw.countDocuments(), 4);
    const keep = { _id: new ObjectId(), name: 'own id' };
    assert.ok((await Users.insertOne(keep))._id.equals(keep._id));
    const raw2 = await Users.insertMany([{ name: 'x' }], { rawResult: true });
    assert.equal(raw2.insertedCount, 1);
    assert.ok(raw2.insertedIds[0] instanceof ObjectId);
    assert.deepEqual(await Users.insertMany([]), []);
  });

  test('a duplicate _id fails with code 11000, keyPattern and keyValue', async () => {
    const { Users } = tenant();
    const doc = await Users.create({ name: 'ann' });
    await assert.rejects(Users.create({ _id: doc._id, name: 'again' }), (err) => {
      assert.equal(err.name, 'MongoServerError');
      assert.equal(err.code, 11000);
      assert.deepEqual(err.keyPattern, { _id: 1 });
      assert.ok(err.keyValue._id instanceof ObjectId);
      assert.ok(err.keyValue._id.equals(doc._id));
      assert.match(err.message, /E11000/);
      assert.ok(err instanceof Error);
      return true;
    });
  });

  test('ordered insertMany stops at the first duplicate; unordered goes on; both say what was inserted', async () => {
    const { Users, raw } = tenant();
    const id = new ObjectId();
    const batch = () => [{ name: 'a' }, { _id: id, name: 'b' }, { _id: id, name: 'dup' }, { name: 'c' }];
    await assert.rejects(Users.insertMany(batch()), (err) => {
      assert.equal(err.name, 'MongoBulkWriteError');
      assert.equal(err.code, 11000);
      assert.equal(err.writeErrors.length, 1);
      assert.equal(err.writeErrors[0].index, 2);
      assert.equal(err.insertedCount, 2);
      assert.deepEqual(err.insertedDocs.map((d) => d.name), ['a', 'b']);
      return true;
    });
    assert.equal(await raw.countDocuments(), 2);
    await raw.deleteMany({});
    await assert.rejects(Users.insertMany(batch(), { ordered: false }), (err) => {
      assert.equal(err.writeErrors[0].index, 2);
      assert.deepEqual(err.insertedDocs.map((d) => d.name), ['a', 'b', 'c']);
      return true;
    });
    assert.equal(await raw.countDocuments(), 3);
  });

  test('a document that is not an object is refused before it is sent', async () => {
    const { Users } = tenant();
    await assert.rejects(Users.create('ann'), TypeError);
    await assert.rejects(Users.insertMany([{ name: 'ok' }, 7]), TypeError);
  });
});

describe('reads', () => {
  let Users;
  before(async () => {
    ({ Users } = tenant());
    await Users.insertMany(people());
  });

  test('find() with filter, sort, skip, limit and select chains like Mongoose', async () => {
    const docs = await Users.find({ role: 'user' }).sort({ age: -1 }).select('name -_id');
    assert.deepEqual(docs, [{ name: 'cid' }, { name: 'bob' }]);
    const page = await Users.find({}).sort('-age name').skip(1).limit(2).lean();
    assert.deepEqual(page.map((d) => d.name), ['ann', 'bob']);
    assert.deepEqual((await Users.find({}, { name: 1, _id: 0 }, { sort: { name: -1 }, limit: 1 })), [{ name: 'dee' }]);
    assert.deepEqual((await Users.find({}, 'age', { sort: 'age' })).map((d) => d.age), [19, 25, 31, 47]);
    assert.deepEqual(Object.keys((await Users.find().select(['name']).limit(1))[0]).sort(), ['_id', 'name']);
  });

  test('where() narrows the filter without changing the caller\'s object', async () => {
    const filter = { role: 'user' };
    const query = Users.find(filter).where({ age: { $gt: 30 } });
    assert.deepEqual(filter, { role: 'user' });
    assert.deepEqual(query.getFilter(), { role: 'user', age: { $gt: 30 } });
    assert.deepEqual((await query).map((d) => d.name), ['cid']);
    assert.equal((await Users.find(filter)).length, 2);
  });

  test('find() takes batchSize, maxTimeMS, comment, hint and collation', async () => {
    const docs = await Users.find({}).sort({ name: 1 }).batchSize(1).maxTimeMS(5000).comment('crud test').hint({ _id: 1 });
    assert.deepEqual(docs.map((d) => d.name), ['ann', 'bob', 'cid', 'dee']);
    const caseless = await Users.find({ name: 'ANN' }).collation({ locale: 'en', strength: 2 });
    assert.deepEqual(caseless.map((d) => d.name), ['ann']);
  });

  test('exec(), then(), catch() and finally() run the query; awaiting twice runs it twice', async () => {
    const query = Users.find({ role: 'guest' });
    assert.equal((await query.exec()).length, 1);
    assert.equal((await query).length, 1);
    assert.equal(await Users.countDocuments().then((n) => n * 2), 8);
    let finished = false;
    await Users.findOne({ name: 'ann' }).finally(() => { finished = true; });
    assert.ok(finished);
    const caught = await Users.find({ $nope: 1 }).catch((err) => err.code);
    assert.equal(caught, 2);
  });

  test('findOne() and findById() return a document or null', async () => {
    const ann = await Users.findOne({ name: 'ann' });
    assert.equal(ann.age, 31);
    assert.equal((await Users.findOne({}, null, { sort: { age: 1 } })).name, 'dee');
    assert.equal(await Users.findOne({ name: 'nobody' }), null);
    assert.equal((await Users.findById(ann._id)).name, 'ann');
    assert.equal((await Users.findById(ann._id.toHexString())).name, 'ann');
    assert.deepEqual(await Users.findById(ann._id, 'name -_id'), { name: 'ann' });
    assert.equal(await Users.findById(new ObjectId()), null);
    assert.equal(await Users.findById(undefined), null, 'a missing id matched a document');
    await assert.rejects(Users.findById('not-an-id'), { name: 'CastError', path: '_id' });
  });

  test('countDocuments, estimatedDocumentCount, exists and distinct', async () => {
    assert.equal(await Users.countDocuments({ role: 'user' }), 2);
    assert.equal(await Users.countDocuments({}, { limit: 3 }), 3);
    assert.equal(await Users.countDocuments({}, { skip: 3 }), 1);
    assert.equal(await Users.estimatedDocumentCount(), 4);
    const exists = await Users.exists({ name: 'bob' });
    assert.deepEqual(Object.keys(exists), ['_id']);
    assert.ok(exists._id instanceof ObjectId);
    assert.equal(await Users.exists({ name: 'nobody' }), null);
    assert.deepEqual((await Users.distinct('role')).sort(), ['admin', 'guest', 'user']);
    assert.deepEqual((await Users.distinct('tags', { role: 'user' })).sort(), ['a', 'b', 'c']);
    assert.throws(() => Users.distinct(), TypeError);
  });

  test('malformed filters and options fail with the server\'s or the driver\'s error', async () => {
    await assert.rejects(Users.find({ $bad: 1 }), (err) => err.name === 'MongoServerError' && err.code === 2 && err.codeName === 'BadValue');
    await assert.rejects(Users.findOne({ age: { $gt: 1, $in: 5 } }), { name: 'MongoServerError' });
    await assert.rejects(Users.find({}).skip(-1), { name: 'MongoInvalidArgumentError' });
    assert.throws(() => Users.find({}).sort({ age: 'sideways' }), TypeError);
    await assert.rejects(Users.find({}).sort('name').limit('ten'), { name: 'MongoInvalidArgumentError' });
  });
});

describe('updates and deletes', () => {
  test('updateOne and updateMany report matched and modified; bare fields are $set as in Mongoose', async () => {
    const { Users, raw } = tenant();
    await Users.insertMany(people());
    assert.deepEqual(await Users.updateOne({ name: 'ann' }, { $inc: { age: 1 } }),
      { acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    await Users.updateOne({ name: 'ann' }, { role: 'owner', $push: { tags: 'z' } });
    assert.deepEqual(await raw.findOne({ name: 'ann' }, { projection: { _id: 0 } }), { name: 'ann', age: 32, role: 'owner', tags: ['a', 'z'], __v: 0 });
    const many = await Users.updateMany({ role: 'user' }, { $set: { role: 'member' } });
    assert.equal(many.matchedCount, 2);
    assert.equal(many.modifiedCount, 2);
    assert.equal((await Users.updateMany({ role: 'nobody' }, { a: 1 })).matchedCount, 0);
    await Users.updateOne({ name: 'cid' }, [{ $set: { older: { $gt: ['$age', 40] } } }]);
    assert.equal((await raw.findOne({ name: 'cid' })).older, true);
    await Users.updateOne({ name: 'cid' }, { $set: { 'tags.$[t]': 'C' } }, { arrayFilters: [{ t: 'c' }] });
    assert.deepEqual((await raw.findOne({ name: 'cid' })).tags, ['a', 'C']);
  });

  test('upsert inserts when nothing matches and returns the new id', async () => {
    const { Users, raw } = tenant();
    const result = await Users.updateOne({ name: 'eve' }, { $set: { age: 50 } }, { upsert: true });
    assert.equal(result.upsertedCount, 1);
    assert.equal(result.matchedCount, 0);
    assert.ok(result.upsertedId instanceof ObjectId);
    assert.equal((await raw.findOne({ _id: result.upsertedId })).name, 'eve');
  });

  test('replaceOne replaces the whole document and refuses operators', async () => {
    const { Users, raw } = tenant();
    const { _id } = await Users.create({ name: 'ann', age: 31 });
    assert.equal((await Users.replaceOne({ _id }, { name: 'anne' })).modifiedCount, 1);
    assert.deepEqual(await raw.findOne({ _id }), { _id, name: 'anne', tags: [] });
    await assert.rejects(Users.replaceOne({ _id }, { $set: { name: 'x' } }), { name: 'MongoInvalidArgumentError' });
    await assert.rejects(Users.updateOne({ _id }, null), TypeError);
  });

  test('deleteOne and deleteMany report what they deleted', async () => {
    const { Users, raw } = tenant();
    await Users.insertMany(people());
    assert.deepEqual(await Users.deleteOne({ role: 'user' }), { acknowledged: true, deletedCount: 1 });
    assert.deepEqual(await Users.deleteMany({ age: { $gt: 20 } }), { acknowledged: true, deletedCount: 2 });
    assert.deepEqual((await raw.find().toArray()).map((d) => d.name), ['dee']);
    assert.equal((await Users.deleteMany({})).deletedCount, 1);
  });

  test('a unique index violated by an update fails with 11000 and the key', async () => {
    const { Users, raw } = tenant();
    await raw.createIndex({ name: 1 }, { unique: true });
    await Users.insertMany([{ name: 'a' }, { name: 'b' }]);
    await assert.rejects(Users.updateOne({ name: 'b' }, { name: 'a' }), (err) => {
      assert.equal(err.code, 11000);
      assert.deepEqual(err.keyPattern, { name: 1 });
      assert.deepEqual(err.keyValue, { name: 'a' });
      return true;
    });
  });
});

describe('find-and-modify', () => {
  test('findOneAndUpdate returns the document before by default, after with new or returnDocument', async () => {
    const { Users } = tenant();
    await Users.insertMany(people());
    assert.equal((await Users.findOneAndUpdate({ name: 'ann' }, { $inc: { age: 1 } })).age, 31);
    assert.equal((await Users.findOneAndUpdate({ name: 'ann' }, { $inc: { age: 1 } }, { new: true })).age, 33);
    assert.equal((await Users.findOneAndUpdate({ name: 'ann' }, { age: 40 }, { returnDocument: 'after' })).age, 40);
    const projected = await Users.findOneAndUpdate({ role: 'user' }, { $set: { seen: true } }, { new: true, sort: { age: -1 }, projection: 'name seen -_id' });
    assert.deepEqual(projected, { name: 'cid', seen: true });
    assert.equal(await Users.findOneAndUpdate({ name: 'nobody' }, { $set: { a: 1 } }), null);
    const upserted = await Users.findOneAndUpdate({ name: 'zed' }, { $set: { age: 1 } }, { upsert: true, new: true });
    assert.ok(upserted._id instanceof ObjectId);
    await assert.rejects(Users.findOneAndUpdate({}, { $set: { a: 1 } }, { returnDocument: 'later' }), { name: 'MongoInvalidArgumentError' });
  });

  test('findOneAndReplace, findOneAndDelete, findByIdAndUpdate and findByIdAndDelete', async () => {
    const { Users, raw } = tenant();
    const ann = await Users.create({ name: 'ann', age: 31 });
    const replaced = await Users.findOneAndReplace({ _id: ann._id }, { name: 'anne' }, { new: true });
    assert.deepEqual(replaced, { _id: ann._id, name: 'anne', tags: [] });
    assert.equal((await Users.findByIdAndUpdate(ann._id.toHexString(), { age: 5 }, { new: true })).age, 5);
    assert.equal((await Users.findByIdAndDelete(ann._id)).name, 'anne');
    assert.equal(await raw.countDocuments(), 0);
    await Users.insertMany(people());
    assert.equal((await Users.findOneAndDelete({ role: 'user' }, { sort: { age: 1 } })).name, 'bob');
    assert.equal(await Users.findOneAndDelete({ name: 'bob' }), null);
  });
});

describe('bulkWrite', () => {
  test('mixed operations report every count and id, keyed by operation index', async () => {
    const { Users, raw } = tenant();
    await Users.insertMany([{ name: 'ann', age: 1 }, { name: 'bob', age: 2 }]);
    const result = await Users.bulkWrite([
      { insertOne: { document: { name: 'cid' } } },
      { updateOne: { filter: { name: 'ann' }, update: { age: 10 } } },
      { updateMany: { filter: {}, update: { $set: { seen: true } } } },
      { replaceOne: { filter: { name: 'bob' }, replacement: { name: 'bobby' } } },
      { updateOne: { filter: { name: 'dee' }, update: { $set: { age: 4 } }, upsert: true } },
      { deleteOne: { filter: { name: 'cid' } } },
      { deleteMany: { filter: { name: 'nobody' } } },
    ]);
    assert.equal(result.insertedCount, 1);
    assert.equal(result.matchedCount, 5);
    assert.equal(result.modifiedCount, 5);
    assert.equal(result.upsertedCount, 1);
    assert.equal(result.deletedCount, 1);
    assert.deepEqual(Object.keys(result.insertedIds), ['0']);
    assert.deepEqual(Object.keys(result.upsertedIds), ['4']);
    assert.ok(result.upsertedIds[4] instanceof ObjectId);
    assert.deepEqual((await raw.find({}, { projection: { _id: 0, seen: 0 } }).sort({ name: 1 }).toArray()),
      [{ name: 'ann', age: 10, tags: [], __v: 0 }, { name: 'bobby', tags: [] }, { name: 'dee', age: 4, tags: [], __v: 0 }]);
  });

  test('a failed operation fails the bulk write with the result so far', async () => {
    const { Users } = tenant();
    const id = new ObjectId();
    await assert.rejects(Users.bulkWrite([
      { insertOne: { document: { _id: id } } },
      { updateOne: { filter: { _id: id }, update: { $set: { a: 1 } } } },
      { insertOne: { document: { _id: id } } },
      { deleteOne: { filter: { _id: id } } },
    ]), (err) => {
      assert.equal(err.name, 'MongoBulkWriteError');
      assert.equal(err.code, 11000);
      assert.equal(err.writeErrors[0].index, 2);
      assert.equal(err.result.insertedCount, 1);
      assert.equal(err.result.modifiedCount, 1);
      assert.equal(err.result.deletedCount, 0);
      return true;
    });
    await assert.rejects(Users.bulkWrite([]), { name: 'MongoInvalidArgumentError' });
    await assert.rejects(Users.bulkWrite([{ updateOne: { filter: {}, update: {} } }]), { name: 'MongoInvalidArgumentError' });
    await assert.rejects(Users.bulkWrite([{ frobnicate: {} }]), { name: 'MongoInvalidArgumentError' });
  });
});

describe('aggregate', () => {
  test('pipelines run as given or built by chaining, with options', async () => {
    const { Users } = tenant();
    await Users.insertMany(people());
    const byRole = await Users.aggregate([{ $group: { _id: '$role', n: { $sum: 1 } } }]).sort({ _id: 1 });
    assert.deepEqual(byRole, [{ _id: 'admin', n: 1 }, { _id: 'guest', n: 1 }, { _id: 'user', n: 2 }]);
    const chained = await Users.aggregate().match({ age: { $gte: 25 } }).unwind('tags').group({ _id: '$tags', n: { $sum: 1 } })
      .sort('-n _id').limit(1).allowDiskUse(true).exec();
    assert.deepEqual(chained, [{ _id: 'a', n: 2 }]);
    assert.deepEqual(await Users.aggregate().count('total'), [{ total: 4 }]);
    await assert.rejects(Users.aggregate([{ $nope: {} }]), { name: 'MongoServerError' });
    assert.throws(() => Users.aggregate({ $match: {} }), TypeError);
  });

  test('$lookup joins collections of the same tenant database', async () => {
    const { Users, raw } = tenant();
    const ann = await Users.create({ name: 'ann' });
    await raw.db.collection('orders').insertMany([{ user: ann._id, total: 5 }, { user: ann._id, total: 7 }]);
    const [joined] = await Users.aggregate().lookup({ from: 'orders', localField: '_id', foreignField: 'user', as: 'orders' })
      .project({ _id: 0, name: 1, 'orders.total': 1 });
    assert.deepEqual(joined, { name: 'ann', orders: [{ total: 5 }, { total: 7 }] });
  });
});

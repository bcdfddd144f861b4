// Every model method with Mongoose's argument shapes, its options and its failure paths, run through
// polymongo-rs and through plain Mongoose on the Node driver in the same test: results, errors and
// stored documents must be the same.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MONGOOSES, TwoWays, normalize } from './differential.mjs';
import { openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('crud');
let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

const people = () => [
  { name: 'ann', age: 31, role: 'admin', tags: ['a'] },
  { name: 'bob', age: 25, role: 'user', tags: ['b'] },
  { name: 'cid', age: 47, role: 'user', tags: ['a', 'c'] },
  { name: 'dee', age: 19, role: 'guest', tags: [] },
];

const define = (m) => ({ User: new m.Schema({ name: String, age: Number, role: String, tags: [String], seen: Boolean, a: Number }) });

/** The stored documents, by name, read with the Node driver. */
const stored = (db) => suite.client.db(db).collection('users').find({}, { sort: { name: 1 } }).toArray();

/** An error as the app sees it: its class name, code and the fields apps read. */
const seen = (err) => ({
  name: err.name, code: err.code, codeName: err.codeName, keyPattern: err.keyPattern, keyValue: err.keyValue,
  writeErrors: err.writeErrors?.map((e) => ({ index: e.index, code: e.code })), insertedCount: err.insertedCount ?? err.result?.insertedCount,
  insertedDocs: err.insertedDocs?.map((d) => d.name), path: err.path, isMongoError: err instanceof Error,
});

/** `fn()`'s error as `seen` describes it, or a note that it did not fail. */
async function failure(fn) {
  try {
    await fn();
    return 'did not fail';
  } catch (err) {
    return seen(err);
  }
}

for (const mongoose of MONGOOSES) {
  describe(`Mongoose ${mongoose.version}`, () => {
    let two;
    before(async () => {
      two = new TwoWays(mongoose, suite.uri, `${PREFIX}_m${mongoose.version.split('.')[0]}`);
      await two.open();
    });
    after(async () => {
      await two.close();
    });

    async function same(scenario) {
      const { ours, theirs } = await two.run(define, async (models, side) => ({ out: await scenario(models.User, side.db), stored: await stored(side.db) }));
      assert.equal(normalize(ours), normalize(theirs));
      return ours.out;
    }

    test('inserts: create, insertMany (ordered and not, rawResult), duplicate keys, invalid documents', async () => {
      const out = await same(async (Users) => {
        const one = await Users.create({ name: 'ann', age: 31 });
        const many = await Users.create(people().slice(1, 3));
        const inserted = await Users.insertMany([{ name: 'x' }], { rawResult: true });
        const id = new Users.base.Types.ObjectId();
        const batch = () => [{ name: 'p' }, { _id: id, name: 'q' }, { _id: id, name: 'dup' }, { name: 'r' }];
        return {
          one, many, rawCount: inserted.insertedCount, empty: await Users.insertMany([]),
          duplicate: await failure(() => Users.create({ _id: one._id, name: 'again' })),
          ordered: await failure(() => Users.insertMany(batch())),
          unordered: await failure(() => Users.insertMany(batch().map((d, i) => ({ ...d, name: `${d.name}${i}` })).slice(1), { ordered: false })),
          notObject: await failure(() => Users.create('ann')),
        };
      });
      assert.equal(out.duplicate.code, 11000);
      assert.equal(out.ordered.name, 'MongoBulkWriteError');
    });

    test('reads: find with sort, skip, limit, select, where, options; findOne, findById, counts, exists, distinct', async () => {
      await same(async (Users) => {
        await Users.insertMany(people());
        const ann = await Users.findOne({ name: 'ann' });
        return {
          sorted: await Users.find({ role: 'user' }).sort({ age: -1 }).select('name -_id').lean(),
          page: (await Users.find({}).sort('-age name').skip(1).limit(2)).map((d) => d.name),
          projected: await Users.find({}, { name: 1, _id: 0 }, { sort: { name: -1 }, limit: 1 }).lean(),
          where: (await Users.find({ role: 'user' }).where({ age: { $gt: 30 } })).map((d) => d.name),
          options: (await Users.find({}).sort({ name: 1 }).batchSize(1).maxTimeMS(5000).comment('crud').hint({ _id: 1 })).map((d) => d.name),
          collation: (await Users.find({ name: 'ANN' }).collation({ locale: 'en', strength: 2 })).map((d) => d.name),
          byId: (await Users.findById(ann._id.toHexString())).name,
          none: await Users.findOne({ name: 'nobody' }),
          missingId: await Users.findById(undefined),
          badId: await failure(() => Users.findById('not-an-id')),
          counts: [await Users.countDocuments({ role: 'user' }), await Users.countDocuments({}, { limit: 3 }), await Users.estimatedDocumentCount()],
          exists: [Boolean(await Users.exists({ name: 'bob' })), await Users.exists({ name: 'nobody' })],
          distinct: [(await Users.distinct('role')).sort(), (await Users.distinct('tags', { role: 'user' })).sort()],
          thenable: await Users.countDocuments().then((n) => n * 2),
          badFilter: await failure(() => Users.find({ $bad: 1 })),
        };
      });
    });

    test('a negative skip is refused before it is sent (the Node driver sends it and the server refuses it)', async () => {
      const { ours, theirs } = await two.run(define, ({ User }) => failure(() => User.find({}).skip(-1)));
      assert.equal(ours.name, 'MongoInvalidArgumentError');
      assert.equal(theirs.name, 'MongoServerError');
    });

    test('updates and deletes: counts, $set of bare fields, pipelines, arrayFilters, upserts, replace, 11000', async () => {
      await same(async (Users) => {
        await Users.insertMany(people());
        const out = {
          inc: await Users.updateOne({ name: 'ann' }, { $inc: { age: 1 } }),
          bare: await Users.updateOne({ name: 'ann' }, { role: 'owner', $push: { tags: 'z' } }),
          many: await Users.updateMany({ role: 'user' }, { $set: { role: 'member' } }),
          noMatch: await Users.updateMany({ role: 'nobody' }, { a: 1 }),
          pipeline: await Users.updateOne({ name: 'cid' }, [{ $set: { seen: { $gt: ['$age', 40] } } }]),
          arrayFilters: await Users.updateOne({ name: 'cid' }, { $set: { 'tags.$[t]': 'C' } }, { arrayFilters: [{ t: 'c' }] }),
          upsert: await Users.updateOne({ name: 'eve' }, { $set: { age: 50 } }, { upsert: true }),
          replace: await Users.replaceOne({ name: 'dee' }, { name: 'deedee' }),
          replaceOperators: await failure(() => Users.replaceOne({ name: 'deedee' }, { $set: { name: 'x' } })),
          deleteOne: await Users.deleteOne({ role: 'member' }),
          deleteMany: await Users.deleteMany({ age: { $gt: 45 } }),
        };
        await Users.collection.createIndex({ name: 1 }, { unique: true });
        out.duplicate = await failure(() => Users.updateOne({ name: 'eve' }, { name: 'ann' }));
        return out;
      });
    });

    test('find-and-modify: before and after, projections, upserts, replace, delete, by id', async () => {
      await same(async (Users) => {
        await Users.insertMany(people());
        const ann = await Users.findOne({ name: 'ann' });
        return {
          before: (await Users.findOneAndUpdate({ name: 'ann' }, { $inc: { age: 1 } })).age,
          after: (await Users.findOneAndUpdate({ name: 'ann' }, { $inc: { age: 1 } }, { returnDocument: 'after' })).age,
          projected: await Users.findOneAndUpdate({ role: 'user' }, { $set: { seen: true } }, { returnDocument: 'after', sort: { age: -1 }, projection: 'name seen -_id' }).lean(),
          none: await Users.findOneAndUpdate({ name: 'nobody' }, { $set: { a: 1 } }),
          upserted: (await Users.findOneAndUpdate({ name: 'zed' }, { $set: { age: 1 } }, { upsert: true, returnDocument: 'after' })).name,
          replaced: await Users.findOneAndReplace({ _id: ann._id }, { name: 'anne' }, { returnDocument: 'after' }).lean(),
          byId: (await Users.findByIdAndUpdate(ann._id.toHexString(), { age: 5 }, { returnDocument: 'after' })).age,
          deletedById: (await Users.findByIdAndDelete(ann._id)).name,
          deleted: (await Users.findOneAndDelete({ role: 'user' }, { sort: { age: 1 } })).name,
          deletedNone: await Users.findOneAndDelete({ name: 'nobody' }),
        };
      });
    });

    test('bulkWrite: every kind of operation, counts and ids by index; a failed operation and the result so far', async () => {
      await same(async (Users) => {
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
        const id = new Users.base.Types.ObjectId();
        return {
          counts: [result.insertedCount, result.matchedCount, result.modifiedCount, result.upsertedCount, result.deletedCount],
          ids: [Object.keys(result.insertedIds), Object.keys(result.upsertedIds)],
          failed: await failure(() => Users.bulkWrite([
            { insertOne: { document: { _id: id } } },
            { updateOne: { filter: { _id: id }, update: { $set: { a: 1 } } } },
            { insertOne: { document: { _id: id } } },
            { deleteOne: { filter: { _id: id } } },
          ])),
          empty: await failure(() => Users.bulkWrite([])),
        };
      });
    });

    test('aggregate: pipelines as given or chained, options, $lookup within the database, errors', async () => {
      await same(async (Users, db) => {
        await Users.insertMany(people());
        const ann = await Users.findOne({ name: 'ann' });
        await suite.client.db(db).collection('orders').insertMany([{ user: ann._id, total: 5 }, { user: ann._id, total: 7 }]);
        return {
          byRole: await Users.aggregate([{ $group: { _id: '$role', n: { $sum: 1 } } }]).sort({ _id: 1 }),
          chained: await Users.aggregate().match({ age: { $gte: 25 } }).unwind('tags').group({ _id: '$tags', n: { $sum: 1 } })
            .sort('-n _id').limit(1).allowDiskUse(true).exec(),
          count: await Users.aggregate().count('total'),
          lookup: await Users.aggregate().match({ name: 'ann' }).lookup({ from: 'orders', localField: '_id', foreignField: 'user', as: 'orders' })
            .project({ _id: 0, name: 1, 'orders.total': 1 }),
          bad: await failure(() => Users.aggregate([{ $nope: {} }])),
        };
      });
    });
  });
}

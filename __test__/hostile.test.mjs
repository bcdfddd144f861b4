// Hostile input, as request bodies and URLs bring it: operator injection into filters (Mongoose's
// sanitizeFilter and trusted(), on every path the engine's fast path included, compared with plain
// Mongoose), server-side JavaScript refused by `javascriptEnabled: false`, tenant names MongoDB
// forbids or that would alias another, requests nested 10,000 levels deep, documents and filters
// over 16 MB and huge `$in` arrays. Each gets a clear error, or the same answer as Mongoose on the Node driver.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { MONGOOSES, TwoWays, normalize } from './differential.mjs';
import { mongoose, uniqueDb, useSuite } from './helpers.mjs';

const PREFIX = uniqueDb('hostile');
const suite = useSuite(PREFIX);

/** What a request body can put into a filter, run on `User` (a model with `email` and `n`). */
const INJECTIONS = {
  'find, documents': (User) => User.find({ email: { $gt: '' } }),
  'find, lean (the fast path)': (User) => User.find({ email: { $gt: '' } }).lean(),
  'findOne, lean': (User) => User.findOne({ email: { $ne: 'nobody' } }).lean(),
  countDocuments: (User) => User.countDocuments({ email: { $gt: '' } }),
  'nested in $or': (User) => User.find({ $or: [{ email: { $gt: '' } }] }).lean(),
  updateOne: (User) => User.updateOne({ email: { $gt: '' } }, { $inc: { n: 1 } }),
  deleteOne: (User) => User.deleteOne({ email: { $gt: 'zzz' } }),
  findOneAndUpdate: (User) => User.findOneAndUpdate({ email: { $gt: '' } }, { $inc: { n: 1 } }).lean(),
  $where: (User) => User.find({ $where: 'true' }).lean(),
  $expr: (User) => User.find({ $expr: { $eq: [1, 1] } }).lean(),
  'trusted()': (User, base) => User.find({ email: base.trusted({ $gt: '' }) }).lean(),
  'the query option': (User) => User.find({ email: { $gt: '' } }).setOptions({ sanitizeFilter: true }).lean(),
};

/** Each injection's outcome (a count, a document's email, or the error) after one user is stored. */
async function inject(User, base) {
  await User.create({ email: 'ann@x.io', n: 0 });
  const out = {};
  for (const [name, query] of Object.entries(INJECTIONS)) {
    out[name] = await query(User, base).then(
      (r) => (Array.isArray(r) ? r.length : r?.email ?? r?.modifiedCount ?? r?.deletedCount ?? r),
      (err) => ({ error: err.name, message: err.message }),
    );
  }
  return out;
}

const userSchema = (base) => new base.Schema({ email: String, n: Number });

for (const m of MONGOOSES) {
  describe(`sanitizeFilter on Mongoose ${m.version}`, () => {
    test('set globally, or per query: every path sanitizes as plain Mongoose does, the fast path included', async () => {
      const two = new TwoWays(m, suite.uri, `${PREFIX}_s${m.version.split('.')[0]}`);
      await two.open();
      try {
        for (const global of [true, false]) {
          const { ours, theirs } = await two.run((base) => {
            base.set('sanitizeFilter', global);
            return { User: userSchema(base) };
          }, ({ User }, side) => inject(User, side.base));
          assert.equal(normalize(ours), normalize(theirs), `global ${global}`);
          if (global) {
            assert.equal(ours['find, lean (the fast path)'].error, 'CastError');
            assert.match(ours.$where.message, /\$where is not allowed with sanitizeFilter/);
            assert.equal(ours['trusted()'], 1);
          } else {
            assert.equal(ours['find, lean (the fast path)'], 1, 'unsanitized, the operator applies');
          }
        }
      } finally {
        await two.close();
      }
    });

    test('set on the connection of the application\'s models, as useDb() of that connection would', async () => {
      const db = uniqueDb(PREFIX);
      const ourBase = new m.Mongoose();
      ourBase.connection.set('sanitizeFilter', true);
      const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main`, handleSignals: false });
      const theirBase = new m.Mongoose();
      const parent = await theirBase.createConnection(suite.uri, { sanitizeFilter: true }).asPromise();
      try {
        const ours = await inject(wrapper.wrapModel(ourBase.model('User', userSchema(ourBase))).db(db), ourBase);
        const theirs = await inject(parent.useDb(`${db}_theirs`).model('User', userSchema(theirBase)), theirBase);
        assert.equal(normalize(ours), normalize(theirs));
        assert.equal(ours['find, lean (the fast path)'].error, 'CastError');
      } finally {
        await wrapper.disconnect();
        await parent.close();
      }
    });

    test('set on one tenant database\'s connection, as on a connection of useDb(): that database alone', async () => {
      const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main`, handleSignals: false });
      const theirBase = new m.Mongoose();
      const parent = await theirBase.createConnection(suite.uri).asPromise();
      try {
        const ourBase = new m.Mongoose();
        const User = wrapper.wrapModel(ourBase.model('User', userSchema(ourBase)));
        const [a, b] = [uniqueDb(PREFIX), uniqueDb(PREFIX)];
        const sides = {
          ours: [User.db(a), User.db(b), ourBase],
          theirs: [parent.useDb(`${a}_t`).model('User', userSchema(theirBase)), parent.useDb(`${b}_t`).model('User', userSchema(theirBase)), theirBase],
        };
        const seen = {};
        for (const [side, [A, B, base]] of Object.entries(sides)) {
          A.db.set('sanitizeFilter', true);
          seen[side] = [await inject(A, base), await inject(B, base), A.db.get('sanitizeFilter'), B.db.get('sanitizeFilter')];
        }
        assert.equal(normalize(seen.ours), normalize(seen.theirs));
        assert.equal(seen.ours[0]['find, lean (the fast path)'].error, 'CastError');
        assert.equal(seen.ours[1]['find, lean (the fast path)'], 1);
      } finally {
        await wrapper.disconnect();
        await parent.close();
      }
    });
  });
}

test('javascriptEnabled: false refuses server-side JavaScript on every path before it is sent', async () => {
  const db = uniqueDb(PREFIX);
  const refusing = suite.wrap({ javascriptEnabled: false });
  const allowing = suite.wrap();
  const define = (wrapper) => wrapper.wrapModel(new mongoose.Mongoose().model('Item', new mongoose.Schema({ n: Number, tag: String })));
  try {
    const Item = define(refusing).db(db);
    await Item.create([{ n: 1, tag: 'a' }, { n: 2, tag: 'b' }]);
    const fn = { $function: { body: 'function(n) { return n * 2 }', args: ['$n'], lang: 'js' } };
    const attempts = {
      'find $where (documents)': () => Item.find({ $where: 'this.n > 0' }),
      'find $where (lean, the fast path)': () => Item.find({ $where: 'this.n > 0' }).lean(),
      'countDocuments $where': () => Item.countDocuments({ $where: 'true' }),
      'the driver collection': () => Item.collection.find({ $where: 'true' }).toArray(),
      'find $expr $function': () => Item.find({ $expr: { $eq: [fn, 2] } }).lean(),
      'updateMany with a pipeline': () => Item.updateMany({}, [{ $set: { tag: fn } }]),
      'updateOne $where': () => Item.updateOne({ $where: 'true' }, { $set: { tag: 'x' } }),
      'deleteMany $where': () => Item.deleteMany({ $where: 'true' }),
      'aggregate $function': () => Item.aggregate([{ $addFields: { twice: fn } }]),
      'aggregate $accumulator': () => Item.aggregate([{ $group: { _id: null, all: { $accumulator: { init: 'function() { return 0 }', accumulate: 'function(s) { return s }', accumulateArgs: [], merge: 'function(a) { return a }', lang: 'js' } } } }]),
      'a $lookup sub-pipeline': () => Item.aggregate([{ $lookup: { from: 'items', pipeline: [{ $match: { $where: 'true' } }], as: 'all' } }]),
      'bulkWrite': () => Item.bulkWrite([{ deleteMany: { filter: { $where: 'true' } } }]),
      'mapReduce command': () => Item.db.db.command({ mapReduce: 'items', map: 'function() {}', reduce: 'function() {}', out: { inline: 1 } }),
      'a BSON code value': () => Item.collection.find({ $where: new mongoose.mongo.Code('true') }).toArray(),
      'a change stream': async () => {
        const stream = refusing.watch(db, [{ $match: { $where: 'true' } }]);
        try {
          await stream.next();
        } finally {
          await stream.close();
        }
      },
    };
    for (const [what, attempt] of Object.entries(attempts)) {
      await assert.rejects(attempt(), (err) => {
        // A bulk write that fails as a whole is wrapped, as the Node driver wraps any error there.
        assert.equal(err.name, what === 'bulkWrite' ? 'MongoBulkWriteError' : 'PolyMongoError', `${what}: ${err}`);
        assert.equal(err.code, 'ERR_JAVASCRIPT_DISABLED', what);
        assert.match(err.message, /runs JavaScript on the server.*javascriptEnabled: false/, what);
        return true;
      }, what);
    }
    // Nothing was sent: the documents are as they were.
    const docs = await suite.client.db(db).collection('items').find({}, { sort: { n: 1 } }).toArray();
    assert.deepEqual(docs.map((d) => [d.n, d.tag]), [[1, 'a'], [2, 'b']]);
    // Operators that merely look alike still run, documents may hold such strings, and a field may
    // be named as the mapReduce command is.
    assert.equal(await Item.countDocuments({ tag: '$where', n: { $gt: 0 } }), 0);
    await Item.collection.insertOne({ mapReduce: true, n: 3 });
    assert.equal(await Item.countDocuments({ mapReduce: true }), 1);
    await Item.collection.deleteOne({ mapReduce: true });
    // By default a $where reaches the server, which decides (the test server has no JavaScript engine).
    const err = await define(allowing).db(db).find({ $where: 'true' }).lean().then(() => null, (e) => e);
    assert.ok(err === null || err.name === 'MongoServerError', String(err));
  } finally {
    await refusing.disconnect();
    await allowing.disconnect();
  }
});

test('tenant names from URLs: every name MongoDB forbids, and names that would alias another, are refused before any I/O', async () => {
  const wrapper = suite.wrap();
  const User = wrapper.wrapModel(mongoose.model('HostileUser', userSchema(mongoose)));
  try {
    const refused = ['', '..', '../admin', 'a\0b', 'a.b', 'a/b', 'a b', '$where', 'é'.repeat(32), 'x'.repeat(64),
      // JS strings with lone surrogates reach the engine as UTF-8 with U+FFFD: they would all name 'a\uFFFD'.
      'a\uD800', 'a\uDC00', 'a\uFFFD'];
    for (const name of refused) {
      assert.throws(() => User.db(name), (err) => err.name === 'TypeError' && err.code === 'ERR_INVALID_DB_NAME' && err.dbName !== undefined, JSON.stringify(name));
      await assert.rejects(wrapper.ping(name), { code: 'ERR_INVALID_DB_NAME' }, JSON.stringify(name));
      await assert.rejects(wrapper.stats.db(name), { code: 'ERR_INVALID_DB_NAME' }, JSON.stringify(name));
      assert.throws(() => wrapper.watch(name), { code: 'ERR_INVALID_DB_NAME' }, JSON.stringify(name));
    }
    for (const notAName of [42, {}, ['a'], null]) {
      const what = JSON.stringify(notAName);
      if (notAName !== null) {
        await assert.rejects(wrapper.ping(notAName), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, what);
        await assert.rejects(wrapper.stats.db(notAName), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, what);
      }
      await assert.rejects(wrapper.actions.closeDBstream(notAName), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, what);
    }
    for (const name of ['a.b', '', 'a\uD800']) {
      assert.throws(() => wrapper.scale.setDB([name]), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, JSON.stringify(name));
      assert.throws(() => wrapper.onTheseDBConnect([name], () => {}), { name: 'TypeError', code: 'ERR_INVALID_DB_NAME' }, JSON.stringify(name));
    }
    assert.doesNotThrow(() => User.db('é'.repeat(31)), '62 bytes of UTF-8');
    // Names are case-sensitive, as MongoDB's: two names, and MongoDB itself refuses to create the
    // second database (13297, DatabaseDifferCase); a server that allows it keeps them apart.
    const lower = uniqueDb(PREFIX);
    const upper = lower.toUpperCase();
    await User.db(lower).create({ email: 'lower' });
    const second = await User.db(upper).create({ email: 'upper' }).then(() => null, (e) => e);
    if (second === null) {
      assert.deepEqual((await User.db(lower).find().lean()).map((u) => u.email), ['lower']);
      assert.deepEqual((await User.db(upper).find().lean()).map((u) => u.email), ['upper']);
      await suite.client.db(upper).dropDatabase();
    } else {
      assert.equal(second.code, 13297, String(second));
    }
  } finally {
    await wrapper.disconnect();
  }
});

test('requests 10,000 levels deep fail as with Mongoose on the Node driver; 400 levels are refused before they are sent', async () => {
  const wrapper = suite.wrap();
  const base = new mongoose.Mongoose();
  const schema = new base.Schema({ n: Number, a: {} });
  const db = uniqueDb(PREFIX);
  const parent = await base.createConnection(suite.uri).asPromise();
  try {
    const Ours = wrapper.wrapModel(base.model('Deep', schema)).db(db);
    const Theirs = parent.useDb(`${db}_theirs`).model('Deep', schema);
    const nest = (levels, inner, wrap) => {
      let value = inner;
      for (let level = 0; level < levels; level++) value = wrap(value);
      return value;
    };
    const requests = (levels) => {
      const filter = nest(levels, { n: 1 }, (f) => ({ $and: [f] }));
      const doc = nest(levels, { n: 1 }, (d) => ({ a: d }));
      return {
        'find, documents': (M) => M.find(filter),
        'find, lean': (M) => M.find(filter).lean(),
        countDocuments: (M) => M.countDocuments(filter),
        'the driver collection': (M) => M.collection.find(filter).toArray(),
        create: (M) => M.create(doc),
        updateOne: (M) => M.updateOne({}, { $set: doc }),
        aggregate: (M) => M.aggregate([{ $match: filter }]),
        bulkWrite: (M) => M.bulkWrite([{ insertOne: { document: doc } }]),
        insertMany: (M) => M.collection.insertMany([doc]),
      };
    };
    const outcome = async (run) => {
      try {
        await run();
        return 'ok';
      } catch (err) {
        return err.name;
      }
    };
    for (const [what, run] of Object.entries(requests(10_000))) {
      const ours = await outcome(() => run(Ours));
      assert.equal(ours, await outcome(() => run(Theirs)), what);
      assert.ok(['RangeError', 'MongoInvalidArgumentError'].includes(ours), `${what}: ${ours}`);
    }
    // Deep enough for MongoDB to refuse (maxBSONDepth, 200), and for the test server to crash on: the
    // engine refuses it itself. (Not sent through the Node driver, for that reason.)
    for (const [what, run] of Object.entries(requests(400))) {
      // A bulk write wraps it, as the Node driver wraps what fails as its batch runs.
      const expected = what === 'bulkWrite' || what === 'insertMany' ? 'MongoBulkWriteError' : 'MongoInvalidArgumentError';
      assert.equal(await outcome(() => run(Ours)), expected, what);
    }
    await Ours.create({ n: 1 });
    assert.equal(await Ours.countDocuments({ n: 1 }), 1, 'the server is up');
  } finally {
    await wrapper.disconnect();
    await parent.close();
  }
});

test('a document over 16 MB is a RangeError, as with the Node driver; a $in of 200,000 values works', async () => {
  const wrapper = suite.wrap();
  const db = uniqueDb(PREFIX);
  try {
    const Item = wrapper.wrapModel(new mongoose.Mongoose().model('Item', new mongoose.Schema({ n: Number, s: String }))).db(db);
    const huge = { s: 'x'.repeat(17 * 1024 * 1024) };
    const ours = await Item.collection.insertOne({ ...huge }).then(() => null, (e) => e);
    const theirs = await suite.client.db(db).collection('items').insertOne({ ...huge }).then(() => null, (e) => e);
    assert.ok(theirs instanceof RangeError, String(theirs));
    assert.ok(ours instanceof RangeError, String(ours));
    assert.equal(await Item.countDocuments(), 0);
    // MongoDB's largest document, 16 MiB exactly (30 bytes are the _id, the key and the framing), is
    // stored; one byte more is the server's error, both ways (helper-15).
    const outcomes = [];
    for (const size of [2 ** 24, 2 ** 24 + 1]) {
      const doc = () => ({ _id: new mongoose.Types.ObjectId(), s: 'x'.repeat(size - 30) });
      const [mine, node] = await Promise.all([
        Item.collection.insertOne(doc()).then(() => 'stored', (e) => e.code ?? e.name),
        suite.client.db(db).collection('edge').insertOne(doc()).then(() => 'stored', (e) => e.code ?? e.name),
      ]);
      assert.equal(mine, node, `${size} bytes`);
      outcomes.push(mine);
    }
    assert.equal(outcomes[0], 'stored');
    assert.notEqual(outcomes[1], 'stored');
    await Item.deleteMany({});
    await Item.create({ n: 7, s: 'x'.repeat(15 * 1024 * 1024) });
    await Item.insertMany(Array.from({ length: 100 }, (_, n) => ({ n: n * 3 })));
    const values = Array.from({ length: 200_000 }, (_, n) => n * 2);
    assert.equal(await Item.countDocuments({ n: { $in: values } }), 50);
    assert.equal((await Item.find({ n: { $in: values } }, { n: 1 }).lean()).length, 50);
  } finally {
    await wrapper.disconnect();
  }
});

test('a filter around 17 MiB, where js-bson cuts its output short, is a RangeError: never a request that lost its projection or limit', async () => {
  const wrapper = suite.wrap();
  try {
    const base = new mongoose.Mongoose();
    const User = wrapper.wrapModel(base.model('User', new base.Schema({ name: String, password: { type: String, select: false } }))).db(uniqueDb(PREFIX));
    await User.create([{ name: 'ann', password: 's3cret' }, { name: 'bob', password: 'hunter2' }]);
    // js-bson's working buffer is 17 MiB: filters of these sizes overflow it by a few bytes.
    const outcomes = new Set();
    for (let size = 17 * 2 ** 20 - 100; size < 17 * 2 ** 20 + 10; size++) {
      const found = await User.find({ name: { $ne: 'x'.repeat(size) } }).limit(1).lean().then((users) => users, (err) => err);
      if (found instanceof Error) {
        assert.ok(found instanceof RangeError, `${size}: ${found}`);
        outcomes.add('RangeError');
      } else {
        assert.equal(found.length, 1, `${size}: limit(1)`);
        assert.equal(found[0].password, undefined, `${size}: select: false`);
        outcomes.add('served');
      }
    }
    assert.ok(outcomes.has('RangeError'));
  } finally {
    await wrapper.disconnect();
  }
});

test('system collections are the server\'s to allow or refuse, as with the Node driver', async () => {
  const wrapper = suite.wrap();
  try {
    const db = uniqueDb(PREFIX);
    const Item = wrapper.wrapModel(new mongoose.Mongoose().model('Item', new mongoose.Schema({ n: Number }))).db(db);
    const outcome = (run) => run().then((docs) => docs.length, (err) => err.name);
    const ours = await outcome(() => Item.db.db.collection('system.profile').find().toArray());
    const theirs = await outcome(() => suite.client.db(db).collection('system.profile').find().toArray());
    assert.equal(ours, theirs);
  } finally {
    await wrapper.disconnect();
  }
});

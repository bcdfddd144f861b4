// Sessions and transactions on the engine: `wrapper.transaction()` across tenant databases, Mongoose's
// sessions and `connection.transaction()` on wrapped models (compared with plain Mongoose on the Node
// driver, Mongoose 8 and 9), the retry of a transaction that met a write conflict, the errors raised
// before anything is sent, and what a session keeps open or aborts. What landed is read with a
// separate Node-driver client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo, mongooseDriver } from '../index.mjs';
import { MONGOOSES, TwoWays, normalize } from './differential.mjs';
import { model, mongoose, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('txn');
let suite, wrapper, Item;
const db = (name) => `${PREFIX}_${name}`;
const stored = (name) => suite.client.db(db(name)).collection('items').find({}, { projection: { _id: 0 } }).sort({ n: 1 }).toArray();

before(async () => {
  suite = await openSuite(PREFIX);
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db('default'), handleSignals: false });
  Item = wrapper.wrapModel(model('Item', { name: String, n: Number }));
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

describe('wrapper.transaction', () => {
  test('plain writes after a transaction succeed, each once: their retryable-write numbers never collide with the ended transaction\'s session', async () => {
    const name = db('after');
    for (let round = 0; round < 5; round++) {
      await wrapper.transaction(async (session) => {
        await Item.db(name).create([{ name: 'in', n: round }], { session });
      });
      // The next writes may reuse the transaction's server session: retryable writes number their
      // statements above any transaction the server remembers on it (else 217 / 225).
      await Item.db(name).create({ name: 'after', n: round });
      await Item.db(name).insertMany([{ name: 'many', n: round }]);
      await Item.db(name).deleteOne({ name: 'many', n: round });
    }
    assert.equal(await suite.client.db(name).collection('items').countDocuments({ name: 'in' }), 5);
    assert.equal(await suite.client.db(name).collection('items').countDocuments({ name: 'after' }), 5);
    assert.equal(await suite.client.db(name).collection('items').countDocuments({ name: 'many' }), 0);
  });

  test('a session has the Node driver\'s operationTime and clusterTime once a request ran in it', async () => {
    const session = await Item.db(db('times')).startSession();
    assert.equal(session.operationTime, undefined);
    await Item.db(db('times')).create([{ name: 't', n: 1 }], { session });
    assert.ok(session.operationTime instanceof mongoose.mongo.Timestamp);
    assert.ok(session.clusterTime.clusterTime instanceof mongoose.mongo.Timestamp);
    await session.endSession();
  });

  test('commits when the connection string reads from secondaries: a transaction reads from the primary', async () => {
    const uri = `${suite.uri}${suite.uri.includes('?') ? '&' : '/?'}readPreference=secondaryPreferred`;
    const reading = PolyMongo.createWrapper({ mongoURI: uri, defaultDB: db('rp'), handleSignals: false });
    try {
      const M = reading.wrapModel(model('Item', { name: String, n: Number }));
      await reading.transaction(async (session) => {
        await M.create([{ name: 'rp', n: 1 }], { session });
        assert.equal(await M.countDocuments({}).session(session), 1);
      });
      await assert.rejects(reading.transaction(async (session) => M.find({}).read('secondary').session(session)), { name: 'MongoTransactionError' });
      assert.equal(await suite.client.db(db('rp')).collection('items').countDocuments({ name: 'rp' }), 1);
    } finally {
      await reading.disconnect();
    }
  });

  test('commits the writes of two tenant databases together, and a throw inside writes nothing in either', async () => {
    const result = await wrapper.transaction(async (session) => {
      await Item.db(db('a')).create([{ name: 'a', n: 1 }], { session });
      await Item.db(db('b')).insertMany([{ name: 'b', n: 2 }], { session });
      await Item.db(db('b')).updateOne({ n: 2 }, { $set: { name: 'b2' } }, { session });
      // Inside, the transaction's reads see its writes; outside, nothing yet.
      assert.equal(await Item.db(db('a')).countDocuments({}).session(session), 1);
      assert.deepEqual((await Item.db(db('b')).find({}).session(session).lean()).map((d) => d.name), ['b2']);
      assert.equal((await stored('a')).length, 0);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual(await stored('a'), [{ name: 'a', n: 1, __v: 0 }]);
    assert.deepEqual(await stored('b'), [{ name: 'b2', n: 2, __v: 0 }]);

    const oops = new Error('oops');
    await assert.rejects(wrapper.transaction(async (session) => {
      await Item.db(db('a')).create([{ name: 'a', n: 3 }], { session });
      await Item.db(db('b')).deleteMany({}, { session });
      const doc = await Item.db(db('b')).findOne({ n: 2 }).session(session);
      assert.equal(doc, null);
      throw oops;
    }), oops);
    assert.deepEqual(await stored('a'), [{ name: 'a', n: 1, __v: 0 }]);
    assert.deepEqual(await stored('b'), [{ name: 'b2', n: 2, __v: 0 }]);
  });

  test('a write conflict between two transactions is retried until both commit', async () => {
    const [doc] = await Item.db(db('conflict')).create([{ name: 'counter', n: 0 }]);
    let firstWrote;
    const wrote = new Promise((resolve) => { firstWrote = resolve; });
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    const first = wrapper.transaction(async (session) => {
      await Item.db(db('conflict')).updateOne({ _id: doc._id }, { $inc: { n: 1 } }, { session });
      firstWrote();
      await released;
    });
    await wrote;
    let attempts = 0;
    const second = wrapper.transaction(async (session) => {
      attempts++;
      try {
        await Item.db(db('conflict')).updateOne({ _id: doc._id }, { $inc: { n: 10 } }, { session });
      } finally {
        release();
      }
    });
    await Promise.all([first, second]);
    assert.ok(attempts >= 2, `the second transaction ran ${attempts} time(s)`);
    assert.equal((await Item.db(db('conflict')).findById(doc._id).lean()).n, 11);
  });

  test('refuses, before anything is sent: an ended session, one of another wrapper, a database of another pool', async () => {
    const session = await Item.db(db('refused')).startSession();
    await session.endSession();
    assert.equal(session.hasEnded, true);
    // Mongoose refuses an ended session on a document itself; the driver, on every other call.
    await assert.rejects(Item.db(db('refused')).create([{ n: 1 }], { session }), { name: 'MongooseError' });
    const expired = { name: 'MongoExpiredSessionError', message: 'Use of expired sessions is not permitted' };
    await assert.rejects(Item.db(db('refused')).collection.insertOne({ n: 1 }, { session }), expired);
    await assert.rejects(Item.db(db('refused')).find({}).session(session), expired);
    // As the Node driver's: a transaction may be started, and its first request fails.
    session.startTransaction();
    await assert.rejects(Item.db(db('refused')).collection.insertOne({ n: 1 }, { session }), expired);

    const other = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db('other'), handleSignals: false });
    try {
      const foreign = await other.wrapModel(model('Item', { n: Number })).db(db('other')).startSession();
      await assert.rejects(Item.db(db('refused')).create([{ n: 2 }], { session: foreign }), { name: 'MongoInvalidArgumentError', message: 'ClientSession must be from the same MongoClient' });
    } finally {
      await other.disconnect();
    }

    wrapper.scale.setDB(db('own'), { maxConnections: 2 });
    await assert.rejects(wrapper.transaction(async (s) => {
      await Item.db(db('refused')).create([{ n: 3 }], { session: s });
      await Item.db(db('own')).create([{ n: 4 }], { session: s });
    }), (err) => err.name === 'MongoInvalidArgumentError' && /served by another pool than the session's/.test(err.message));
    await assert.rejects(wrapper.transaction(async (s) => Item.db(db('refused')).estimatedDocumentCount({ session: s })), { name: 'MongoInvalidArgumentError' });
    assert.deepEqual(await stored('refused'), []);
    assert.deepEqual(await stored('own'), []);
    await assert.rejects(wrapper.transaction('not a function'), { name: 'TypeError' });
  });

  test('the session\'s state machine answers as the Node driver\'s', async () => {
    const session = await Item.db(db('states')).startSession();
    try {
      assert.equal(session.inTransaction(), false);
      await assert.rejects(session.commitTransaction(), { name: 'MongoTransactionError', message: 'No transaction started' });
      session.startTransaction();
      assert.throws(() => session.startTransaction(), { name: 'MongoTransactionError', message: 'Transaction already in progress' });
      assert.equal(session.transaction.state, 'STARTING_TRANSACTION');
      await session.commitTransaction();
      assert.equal(session.transaction.state, 'TRANSACTION_COMMITTED_EMPTY');
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      await Item.db(db('states')).create([{ n: 1 }], { session });
      assert.equal(session.transaction.state, 'TRANSACTION_IN_PROGRESS');
      assert.ok(session.id.id, 'the lsid');
      await session.abortTransaction();
      await assert.rejects(session.abortTransaction(), { name: 'MongoTransactionError', message: 'Cannot call abortTransaction twice' });
      await assert.rejects(session.commitTransaction(), { message: 'Cannot call commitTransaction after calling abortTransaction' });
      assert.throws(() => session.startTransaction({ readPreference: 'secondary' }), { name: 'MongoTransactionError', message: 'Read preference in a transaction must be primary, not: secondary' });
      // Outside a transaction, the session's requests run as they are.
      await Item.db(db('states')).create([{ n: 3 }], { session });
    } finally {
      await session.endSession();
    }
    assert.deepEqual((await stored('states')).map((d) => d.n), [3]);
  });

  test('inside a transaction a statement\'s own read and write concerns are left out, as the Node driver leaves them; a write\'s maxTimeMS is sent', async () => {
    const [doc] = await Item.db(db('concerns')).create([{ name: 'locked', n: 1 }]);
    const session = await Item.db(db('concerns')).startSession();
    try {
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      await Item.db(db('concerns')).updateOne({ _id: doc._id }, { $set: { n: 2 } }, { session, writeConcern: { w: 1 } });
      await Item.db(db('concerns')).collection.findOneAndUpdate({ _id: doc._id }, { $inc: { n: 1 } }, { session, writeConcern: { w: 1 } });
      assert.equal((await Item.db(db('concerns')).findById(doc._id).readConcern('majority').session(session).lean()).n, 3);
      assert.equal(await Item.db(db('concerns')).countDocuments({}).readConcern('local').session(session), 1);
      assert.equal((await Item.db(db('concerns')).aggregate([{ $match: {} }]).option({ readConcern: { level: 'local' } }).session(session)).length, 1);
      // The document is locked by the transaction: a write outside it waits, for maxTimeMS at most.
      for (const write of [
        () => Item.db(db('concerns')).updateOne({ _id: doc._id }, { $set: { n: 9 } }).maxTimeMS(300),
        () => Item.db(db('concerns')).collection.deleteOne({ _id: doc._id }, { maxTimeMS: 300 }),
      ]) {
        await assert.rejects(write(), { codeName: 'MaxTimeMSExpired' });
      }
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    assert.deepEqual((await stored('concerns')).map((d) => d.n), [3]);
  });

  test('closing the wrapper ends its sessions as the Node driver\'s client close does: transactions aborted', async () => {
    const own = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db('closed'), handleSignals: false });
    const Own = own.wrapModel(model('Item', { n: Number }));
    const session = await Own.db(db('closed')).startSession();
    session.startTransaction();
    await Own.db(db('closed')).create([{ n: 1 }], { session });
    await own.disconnect();
    assert.equal(session.hasEnded, true);
    assert.equal(session.transaction.state, 'TRANSACTION_ABORTED');
    await assert.rejects(session.commitTransaction(), { name: 'MongoTransactionError', message: 'Cannot call commitTransaction after calling abortTransaction' });
    assert.deepEqual(await stored('closed'), []);
  });

  test('runs on the wrapped models\' Mongoose, here Mongoose 9 beside the application\'s 8: its AsyncLocalStorage, its documents\' state and its errors\' labels', async () => {
    const m9 = new MONGOOSES[1].Mongoose();
    m9.set('transactionAsyncLocalStorage', true);
    const own = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db('m9'), handleSignals: false });
    try {
      const Nine = own.wrapModel(m9.model('Item', new m9.Schema({ name: String, n: Number })));
      const [counter] = await Nine.db(db('m9')).create([{ name: 'counter', n: 0 }]);
      // Three read-modify-write transactions at once: the write conflicts are retried.
      let calls = 0;
      await Promise.all([1, 2, 3].map(() => own.transaction(async () => {
        calls++;
        const doc = await Nine.db(db('m9')).findById(counter._id);
        doc.n += 1;
        await doc.save();
      })));
      assert.equal((await Nine.db(db('m9')).findById(counter._id).lean()).n, 3);
      assert.ok(calls > 3, `${calls} calls`);
      // Calls with no { session } take part through AsyncLocalStorage; an abort rolls them back, and
      // a document saved with the session is new again (Mongoose 9's own bookkeeping).
      const fresh = new (Nine.db(db('m9')))({ name: 'fresh', n: 1 });
      await assert.rejects(own.transaction(async (session) => {
        await Nine.db(db('m9')).create({ name: 'als', n: 1000 });
        await fresh.save({ session });
        throw new Error('abort');
      }), /abort/);
      assert.equal(fresh.isNew, true);
      assert.deepEqual((await stored('m9')).map((d) => d.name), ['counter']);
    } finally {
      await own.disconnect();
    }
  });

  test('a session in a transaction keeps its autoClose pool open past its ttl; closing the wrapper aborts its transaction', { timeout: 20_000 }, async () => {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const idle = db('idle');
    await wrapper.scale.setDB(idle, { maxConnections: 2, autoClose: true, ttl: 200 });
    const hooks = [];
    wrapper.onTheseDBDisconnect(idle, (info) => hooks.push(info.reason));
    const own = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db('closing'), handleSignals: false });
    const Own = own.wrapModel(model('Item', { n: Number }));
    const session = await Item.db(idle).startSession();
    const closing = await Own.db(db('closing')).startSession();
    try {
      session.startTransaction();
      await Item.db(idle).create([{ n: 1 }], { session });
      await sleep(700);
      assert.deepEqual(hooks, [], 'closed as idle with a transaction open');
      await session.commitTransaction();
      assert.deepEqual((await stored('idle')).map((d) => d.n), [1]);

      closing.startTransaction();
      await Own.db(db('closing')).create([{ n: 5 }], { session: closing });
    } finally {
      await session.endSession();
      await own.disconnect();
    }
    await sleep(700);
    assert.deepEqual(hooks, ['idle']);
    assert.deepEqual(await stored('closing'), []);
  });
});

for (const m of MONGOOSES) {
  describe(`Mongoose ${m.version} sessions on wrapped models, as plain Mongoose's`, () => {
    let two;
    before(async () => {
      two = new TwoWays(m, suite.uri, PREFIX);
      await two.open();
    });
    after(() => two.close());

    const define = (base) => ({ Person: new base.Schema({ name: String, n: Number, tags: [String] }) });

    test('connection.transaction(): documents, queries and aggregates in it; an aborted one gives documents their state back', async () => {
      const { ours, theirs } = await two.run(define, async ({ Person }) => {
        const out = [];
        const res = await Person.db.transaction(async (session) => {
          const [ann] = await Person.create([{ name: 'ann', n: 1 }], { session });
          const bob = new Person({ name: 'bob', n: 2 });
          await bob.save({ session });
          ann.tags.push('x');
          await ann.save();
          out.push(ann.$session() === session);
          out.push(await Person.countDocuments({}).session(session));
          out.push(await Person.aggregate([{ $group: { _id: null, n: { $sum: '$n' } } }]).session(session));
          out.push((await Person.find({ n: { $gte: 1 } }).sort({ n: 1 }).session(session)).map((d) => d.name));
          await Person.deleteOne({ name: 'bob' }, { session });
          return 'ok';
        });
        out.push(res === 'ok' || res, await Person.find().sort({ n: 1 }).select('-_id name tags').lean());

        const carl = new Person({ name: 'carl', n: 3 });
        const ann = await Person.findOne({ name: 'ann' });
        await Person.db.transaction(async (session) => {
          await carl.save({ session });
          ann.$session(session);
          ann.n = 10;
          await ann.save();
          throw new Error('abort');
        }).catch((err) => out.push(err.message));
        ann.$session(null);
        out.push(carl.isNew, ann.isModified('n'), await Person.countDocuments({}), (await Person.findOne({ name: 'ann' }).lean()).n);

        const session = await Person.startSession();
        out.push(await session.withTransaction(async () => {
          await Person.updateOne({ name: 'ann' }, { $inc: { n: 1 } }, { session });
          return 'with';
        }));
        await session.endSession();
        out.push((await Person.findOne({ name: 'ann' }).lean()).n, session.hasEnded);
        return normalize(out);
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.ok(!(theirs instanceof Error), theirs?.stack);
      assert.equal(ours, theirs);
    });

    test('with transactionAsyncLocalStorage, calls without { session } inside connection.transaction() take part in it', async () => {
      const { ours, theirs } = await two.run(define, async ({ Person }, side) => {
        side.base.set('transactionAsyncLocalStorage', true);
        await Person.create({ name: 'before', n: 0 });
        const out = [];
        await Person.db.transaction(async () => {
          await Person.create({ name: 'als', n: 1 });
          await Person.updateOne({ name: 'before' }, { $set: { n: 5 } });
          out.push(await Person.countDocuments({}), (await Person.find().sort({ n: 1 }).lean()).map((d) => d.n));
          throw new Error('abort');
        }).catch((err) => out.push(err.message));
        out.push((await Person.find().lean()).map((d) => [d.name, d.n]));
        return normalize(out);
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.equal(ours, theirs);
      assert.equal(theirs, normalize([2, [1, 5], 'abort', [['before', 0]]]));
    });
  });
}

describe('mongooseDriver', () => {
  test('a whole app\'s connection runs transactions on the engine', async () => {
    const m = new mongoose.Mongoose();
    m.setDriver(mongooseDriver(m));
    const conn = await m.createConnection(suite.uri, { dbName: db('driver') }).asPromise();
    try {
      const Thing = conn.model('Item', new m.Schema({ name: String, n: Number }));
      await Thing.init();
      await conn.transaction(async (session) => {
        await Thing.create([{ name: 'kept', n: 1 }], { session });
      });
      await assert.rejects(conn.transaction(async (session) => {
        await Thing.create([{ name: 'dropped', n: 2 }], { session });
        throw new Error('no');
      }), /no/);
      assert.deepEqual((await stored('driver')).map((d) => d.name), ['kept']);
    } finally {
      await conn.close();
    }
  });
});

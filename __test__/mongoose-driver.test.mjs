// The whole-app switch: `mongoose.setDriver(mongooseDriver(mongoose))` runs every connection of that
// Mongoose instance on the engine. The same app code runs on it and on plain Mongoose, on Mongoose 8
// and 9, and must see the same.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mongooseDriver } from '../index.js';
import { MONGOOSES, normalize } from './differential.mjs';
import { openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('mdriver');
let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

/** An app: connects, defines its models, works in its database and in another through useDb. */
async function app(m, uri, dbName) {
  await m.connect(uri, { dbName, maxPoolSize: 5, serverSelectionTimeoutMS: 2000, autoIndex: true });
  const Author = m.model('Author', new m.Schema({ name: { type: String, unique: true } }));
  const bookSchema = new m.Schema({ title: String, author: { type: m.Schema.Types.ObjectId, ref: 'Author' }, pages: Number }, { timestamps: true });
  bookSchema.pre('save', function upper() {
    this.title = this.title.toUpperCase();
  });
  const Book = m.model('Book', bookSchema);
  await Author.init();
  const ann = await Author.create({ name: 'Ann' });
  await Book.create([{ title: 'one', author: ann._id, pages: 10 }, { title: 'two', author: ann._id, pages: 20 }]);
  const duplicate = await Author.create({ name: 'Ann' }).catch((err) => ({ name: err.name, code: err.code }));
  const books = await Book.find().sort('title').populate('author');
  const other = m.connection.useDb(`${dbName}_other`);
  const Note = other.model('Note', new m.Schema({ text: String }));
  await Note.create({ text: 'elsewhere' });
  const out = {
    state: m.connection.readyState,
    name: m.connection.name,
    books: books.map((b) => [b.title, b.author.name, b.pages]),
    lean: await Book.find({ pages: { $gt: 15 } }).lean(),
    count: await Book.countDocuments(),
    duplicate,
    notes: (await Note.find()).map((n) => n.text),
    indexes: (await Author.listIndexes()).map((i) => i.name).sort(),
    collections: (await m.connection.listCollections()).map((c) => c.name).sort(),
  };
  await m.disconnect();
  out.after = m.connection.readyState;
  return out;
}

/** `scenario(m)` run on a Mongoose instance with the driver set, then on a plain one (the Node driver). */
async function bothWays(mongoose, scenario) {
  const onEngine = new mongoose.Mongoose();
  onEngine.setDriver(mongooseDriver(onEngine));
  const ours = await scenario(onEngine);
  return { ours, theirs: await scenario(new mongoose.Mongoose()) };
}

for (const mongoose of MONGOOSES) {
  describe(`Mongoose ${mongoose.version}`, () => {
    test('an app runs the same on the engine as on the Node driver', async () => {
      const { ours, theirs } = await bothWays(mongoose, (m) => app(m, suite.uri, uniqueDb(PREFIX)));
      assert.equal(normalize({ ...ours, name: '' }), normalize({ ...theirs, name: '' }));
      assert.equal(ours.duplicate.code, 11000);
      assert.equal(ours.after, 0);
    });

    test('createConnection(uri) runs on the engine; an option it cannot honour is refused', async () => {
      const m = new mongoose.Mongoose();
      m.setDriver(mongooseDriver(m));
      const db = uniqueDb(PREFIX);
      const conn = await m.createConnection(`${suite.uri}/${db}`).asPromise();
      assert.equal(conn.name, db);
      const plain = await new mongoose.Mongoose().createConnection(`${suite.uri}/${db}`).asPromise();
      assert.deepEqual([conn.host, conn.port, conn.useDb('other').port], [plain.host, plain.port, plain.port]);
      await plain.close();
      assert.equal(conn.db.constructor.name, 'EngineDb');
      const Thing = conn.model('Thing', new m.Schema({ n: Number }));
      await Thing.create({ n: 1 });
      assert.equal(await suite.client.db(db).collection('things').countDocuments(), 1);
      await conn.close();
      await assert.rejects(m.createConnection(suite.uri, { autoEncryption: {} }).asPromise(), { code: 'ERR_NOT_SUPPORTED', message: /autoEncryption/ });
    });

    test('after close(), calls fail with the Node driver\'s MongoNotConnectedError, and the connection opens again', async () => {
      /** A connection's model and raw collection used after close(), then after opening again. */
      const closeAndReopen = async (m) => {
        const db = uniqueDb(PREFIX);
        const conn = await m.createConnection(`${suite.uri}/${db}`).asPromise();
        const Thing = conn.model('Thing', new m.Schema({ n: Number }, { bufferCommands: false }));
        await Thing.create({ n: 1 });
        const raw = conn.db.collection('things');
        await conn.close();
        const failures = [];
        for (const call of [() => raw.findOne({}), () => Thing.findOne().lean(), () => raw.insertOne({ n: 2 })]) {
          failures.push(await call().then(() => 'resolved', (err) => [err.constructor.name, err instanceof m.mongo.MongoNotConnectedError]));
        }
        await conn.openUri(`${suite.uri}/${db}`);
        const count = await Thing.countDocuments();
        await conn.close();
        return { failures, count };
      };
      const { ours, theirs } = await bothWays(mongoose, closeAndReopen);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours.failures[0], ['MongoNotConnectedError', true]);
    });

    test('the client emits its servers\' heartbeats as the Node driver\'s events, and the connection notes the last one', async () => {
      const watch = async (m) => {
        // 500 ms: the shortest heartbeat interval the Rust driver takes.
        const conn = await m.createConnection(`${suite.uri}/${uniqueDb(PREFIX)}?heartbeatFrequencyMS=500`).asPromise();
        const child = conn.useDb(uniqueDb(PREFIX));
        const before = Date.now();
        const succeeded = await new Promise((resolve) => conn.getClient().once('serverHeartbeatSucceeded', resolve));
        await sleep(5);
        const noted = [conn._lastHeartbeatAt >= before, child._lastHeartbeatAt === conn._lastHeartbeatAt];
        await conn.close();
        return {
          event: `${succeeded.constructor.name} ${succeeded.name ?? 'serverHeartbeatSucceeded'}`,
          connectionId: succeeded.connectionId,
          awaited: typeof succeeded.awaited,
          duration: typeof succeeded.duration,
          replyOk: succeeded.reply?.ok,
          noted,
        };
      };
      const { ours, theirs } = await bothWays(mongoose, watch);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours.noted, [true, true]);
    });

    test('monitorCommands: the client emits the Node driver\'s command events, failures as its error classes', async () => {
      const watch = async (m) => {
        const db = uniqueDb(PREFIX);
        const conn = await m.createConnection(`${suite.uri}/${db}`, { monitorCommands: true }).asPromise();
        const seen = [];
        for (const name of ['commandStarted', 'commandSucceeded', 'commandFailed']) conn.getClient().on(name, (event) => seen.push(event));
        const onConnection = [];
        conn.on('commandStarted', (event) => onConnection.push(event));
        const Thing = conn.model('Thing', new m.Schema({ n: Number }));
        await Thing.create({ n: 1 });
        await Thing.findOne({ n: 1 }).lean();
        await conn.db.command({ noSuchCommand: 1 }).catch(() => {});
        // The engine's events reach JS from its thread, possibly after the operation settles.
        await sleep(20);
        await conn.close();
        assert.ok(onConnection.length > 0 && onConnection.every((e) => seen.includes(e)), 'the connection re-emits its client\'s events');
        return seen.filter((e) => ['insert', 'find', 'noSuchCommand'].includes(e.commandName)).map((e) => ({
          event: `${e.constructor.name} ${e.name} ${e.commandName}`,
          thisDb: e.databaseName === db,
          ids: [typeof e.requestId, typeof e.connectionId, typeof e.address, typeof e.serverConnectionId],
          timed: typeof e.duration,
          sent: e.command && [e.command[e.commandName], e.command.documents?.map((d) => d.n), e.command.filter],
          reply: e.reply && [e.reply.ok, e.reply.n, e.reply.cursor?.firstBatch?.map((d) => d.n)],
          failure: e.failure && [e.failure instanceof m.mongo.MongoServerError, e.failure.code],
        }));
      };
      const { ours, theirs } = await bothWays(mongoose, watch);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours.map((e) => e.event.split(' ').slice(1).join(' ')), ['commandStarted insert', 'commandSucceeded insert', 'commandStarted find', 'commandSucceeded find', 'commandStarted noSuchCommand', 'commandFailed noSuchCommand']);
      assert.equal(ours[0].event.split(' ')[0], 'CommandStartedEvent');
    });

    test('connection strings: a second one on an open connection is refused, a percent-encoded database name decoded, w=0 unacknowledged', async () => {
      const db = uniqueDb(PREFIX);
      const run = async (m) => {
        const out = {};
        const conn = await m.createConnection(`${suite.uri}/${db}_a`).asPromise();
        out.second = await conn.openUri(`${suite.uri}/${db}_b`).then(() => 'opened', (err) => [err.name, /active connection with different connection strings/.test(err.message)]);
        out.name = conn.name === `${db}_a`;
        await conn.close();
        const encoded = await m.createConnection(`${suite.uri}/${db}%5Fenc`).asPromise();
        out.decoded = encoded.name === `${db}_enc`;
        await encoded.model('Thing', new m.Schema({ n: Number })).create({ n: 1 });
        out.stored = await suite.client.db(`${db}_enc`).collection('things').countDocuments();
        await encoded.close();
        const unacknowledged = await m.createConnection(`${suite.uri}/${db}_w0?w=0`).asPromise();
        const things = unacknowledged.db.collection('things');
        out.w0 = [await things.insertOne({ n: 1 }), await things.updateMany({}, { $set: { n: 2 } }), await things.deleteOne({})].map((r) => r.acknowledged);
        await unacknowledged.close();
        out.unparsable = await m.createConnection(`${suite.uri}/${db}?serverSelectionTimeoutMS=soon`).asPromise().then(() => 'opened', (err) => err.name);
        await suite.client.db(`${db}_enc`).dropDatabase();
        return out;
      };
      const { ours, theirs } = await bothWays(mongoose, run);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, { second: ['MongooseError', true], name: true, decoded: true, stored: 1, w0: [false, false, false], unparsable: 'MongoParseError' });
    });

    test('credentials the server refuses fail with its MongoServerError (code 18), as on the Node driver', async () => {
      const refused = async (m) => {
        const conn = m.createConnection(suite.uri.replace('mongodb://', 'mongodb://nobody:wrong@'), { serverSelectionTimeoutMS: 3000 });
        return conn.asPromise().then(() => 'connected', (err) => [err.name, err instanceof m.mongo.MongoServerError, err.code, err.codeName, err.message]);
      };
      const { ours, theirs } = await bothWays(mongoose, refused);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours.slice(0, 4), ['MongoServerError', true, 18, 'AuthenticationFailed']);
    });

    test('serverApi: every command declares the Stable API version; an unknown version is a MongoParseError', async () => {
      const run = async (m) => {
        const out = [];
        for (const serverApi of [{ version: '1', strict: true, deprecationErrors: true }, '1', { version: '2' }]) {
          const conn = m.createConnection(`${suite.uri}/${uniqueDb(PREFIX)}`, { serverApi, monitorCommands: true });
          try {
            await conn.asPromise();
          } catch (err) {
            out.push(err.name);
            continue;
          }
          const sent = [];
          conn.getClient().on('commandStarted', (e) => e.commandName === 'insert' && sent.push(e.command));
          await conn.model('Thing', new m.Schema({ n: Number })).create({ n: 1 });
          // The engine's events reach JS from its thread, possibly after the operation settles.
          await sleep(20);
          out.push(sent.map((c) => [c.apiVersion, c.apiStrict, c.apiDeprecationErrors]));
          await conn.close();
        }
        return out;
      };
      const { ours, theirs } = await bothWays(mongoose, run);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, [[['1', true, true]], [['1', undefined, undefined]], 'MongoParseError']);
    });

    test('a connection string with several hosts (a replica set\'s seed list) reads as the Node driver reads it', async () => {
      const seeds = 'mongodb://app:p%40ss@127.0.0.1:1,127.0.0.1:2,[::1]:3/shop?authSource=admin';
      const open = async (m) => {
        const conn = m.createConnection(seeds, { serverSelectionTimeoutMS: 300, appName: 'seeds' });
        const err = await conn.asPromise().then(() => null, (e) => e);
        const seen = { host: conn.host, port: conn.port, name: conn.name, error: err?.name };
        await conn.close();
        return seen;
      };
      const { ours, theirs } = await bothWays(mongoose, open);
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, { host: undefined, port: undefined, name: undefined, error: 'MongooseServerSelectionError' });
    });

    test('a connection\'s BSON options apply to each of its calls, under a call\'s own', async () => {
      const m = new mongoose.Mongoose();
      m.setDriver(mongooseDriver(m));
      const db = uniqueDb(PREFIX);
      const conn = await m.createConnection(`${suite.uri}/${db}`, { promoteLongs: false, ignoreUndefined: true, enableUtf8Validation: false }).asPromise();
      const things = conn.db.collection('things');
      await things.insertOne({ _id: 1, big: m.mongo.Long.fromNumber(5), gone: undefined });
      const stored = await things.findOne({ _id: 1 });
      assert.equal(stored.big._bsontype, 'Long');
      assert.ok(!('gone' in stored), 'ignoreUndefined left the undefined value out');
      assert.equal((await things.findOne({ _id: 1 }, { promoteLongs: true })).big, 5);
      await conn.close();
    });

    test('connection options Mongoose reads itself: read preferences against indexes, empty credentials', async () => {
      /** What each way makes of `options`: the connection's config and shouldAuthenticate(), or the error. */
      const open = async (m, options) => {
        const db = uniqueDb(PREFIX);
        try {
          const conn = await m.createConnection(`${suite.uri}/${db}`, options).asPromise();
          const seen = { autoIndex: conn.config.autoIndex, autoCreate: conn.config.autoCreate, authenticates: conn.shouldAuthenticate() };
          await conn.close();
          return seen;
        } catch (err) {
          return { error: err.name };
        }
      };
      const onEngine = new mongoose.Mongoose();
      onEngine.setDriver(mongooseDriver(onEngine));
      const plain = new mongoose.Mongoose();
      const cases = [
        { readPreference: 'secondaryPreferred' },
        { readPreference: 'nearest' },
        { readPreference: 'primaryPreferred', autoIndex: true },
        { readPreference: 'secondary', autoIndex: true },
        { readPreference: 'secondaryPreferred', config: { autoIndex: true }, autoIndex: false },
        { readPreference: 'secondary', autoCreate: true },
        { user: '', pass: '' },
      ];
      for (const options of cases) {
        assert.deepEqual(await open(onEngine, options), await open(plain, options), JSON.stringify(options));
      }
      assert.deepEqual(await open(onEngine, { readPreference: 'secondary', autoIndex: true }), { error: 'MongooseError' });
    });

    test('the client-level bulkWrite (Connection#bulkWrite, client.bulkWrite) gives the Node driver\'s results and errors', async () => {
      /** Runs the same bulk writes through `m` (connected to a fresh database) and describes what came back. */
      const run = async (m) => {
        const db = uniqueDb(PREFIX);
        const conn = await m.createConnection(`${suite.uri}/${db}`).asPromise();
        const Item = conn.model('Item', new m.Schema({ sku: { type: String, unique: true }, qty: Number }));
        await Item.init();
        const settle = (p) => p.then((r) => r, (e) => e);
        const describe = (r) => {
          if (!(r instanceof Error)) return normalize(r);
          return normalize({ name: r.name, writeErrors: [...(r.writeErrors ?? new Map())].map(([i, e]) => [i, e.code]), partial: r.partialResult, results: r.results?.map((x) => x?.name ?? x) });
        };
        const other = `${db}_other.things`;
        const out = [
          describe(await settle(conn.bulkWrite([
            { model: 'Item', name: 'insertOne', document: { sku: 'a', qty: 1 } },
            { model: Item, name: 'insertOne', document: { sku: 'b', qty: 2 } },
            { model: Item, name: 'updateOne', filter: { sku: 'a' }, update: { $inc: { qty: 5 } } },
          ]))),
          describe(await settle(conn.bulkWrite([
            { model: Item, name: 'insertOne', document: { sku: 'c', qty: 3 } },
            { model: Item, name: 'insertOne', document: { sku: 'a', qty: 9 } },
            { model: Item, name: 'insertOne', document: { sku: 'd', qty: 4 } },
          ]))),
          describe(await settle(conn.bulkWrite([
            { model: Item, name: 'insertOne', document: { sku: 'a', qty: 9 } },
            { model: Item, name: 'deleteOne', filter: { sku: 'b' } },
            { model: Item, name: 'insertOne', document: { sku: 'e', qty: 'not a number' } },
          ], { ordered: false }))),
          describe(await settle(conn.client.bulkWrite([
            { name: 'insertOne', namespace: other, document: { _id: 1, n: 1 } },
            { name: 'updateOne', namespace: other, filter: { _id: 2 }, update: { $set: { n: 2 } }, upsert: true },
            { name: 'replaceOne', namespace: other, filter: { _id: 1 }, replacement: { n: 10 } },
            { name: 'updateMany', namespace: other, filter: {}, update: { $inc: { n: 1 } } },
            { name: 'deleteMany', namespace: other, filter: { n: { $gt: 100 } } },
          ], { verboseResults: true }))),
          describe(await settle(conn.client.bulkWrite([{ name: 'updateOne', namespace: other, filter: {}, update: { n: 1 } }]))),
          normalize(await Item.find().sort('sku').select('-_id sku qty').lean()),
          normalize(await conn.client.db(`${db}_other`).collection('things').find().sort({ _id: 1 }).toArray()),
        ];
        await conn.close();
        return out;
      };
      const { ours, theirs } = await bothWays(mongoose, run);
      assert.deepEqual(ours, theirs);
      assert.match(theirs[1], /MongoClientBulkWriteError/);
      assert.match(theirs[3], /insertResults/);
    });

    test('a Mongoose the driver cannot find the files of (a bundled copy) is refused by name', () => {
      const bundled = Object.create(new mongoose.Mongoose(), { Mongoose: { value: class Bundled {} } });
      assert.throws(() => mongooseDriver(bundled), { name: 'TypeError', message: /bundled/ });
    });
  });
}

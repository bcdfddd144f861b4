// What a database's model class promises beyond Mongoose's own behaviour: populate never leaves the
// database (where Mongoose's useDb falls back to the parent connection's models), sessions the engine
// cannot honour are refused before anything is written, the bounded cache of classes evicts without
// breaking documents the application still holds, lean reads are served by the engine directly, and
// the package exports PolyMongo's shapes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PolyMongo } from '../index.mjs';
import DefaultExport from '../index.mjs';
import { MONGOOSES } from './differential.mjs';
import { ObjectId, mongoose, openSuite, uniqueDb } from './helpers.mjs';

const require = createRequire(import.meta.url);
const PREFIX = uniqueDb('tenancy');
let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

const raw = (db, collection) => suite.client.db(db).collection(collection);

test('CommonJS exports the PolyMongo class itself, and { PolyMongo }; ESM exports both too', () => {
  const cjs = require('../index.js');
  assert.equal(typeof cjs.createWrapper, 'function');
  assert.equal(cjs.PolyMongo, cjs);
  assert.equal(typeof cjs.PolyMongo.createWrapper, 'function');
  assert.equal(PolyMongo, cjs);
  assert.equal(DefaultExport, cjs);
});

for (const m of MONGOOSES) {
  describe(`Mongoose ${m.version}`, () => {
    let wrapper;
    before(() => {
      wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_main`, handleSignals: false, tenantCacheSize: 3 });
    });
    after(async () => {
      await wrapper.disconnect();
    });

    function models() {
      const base = new m.Mongoose();
      const Org = base.model('Org', new base.Schema({ name: String }));
      const User = base.model('User', new base.Schema({
        name: String,
        org: { type: base.Schema.Types.ObjectId, ref: 'Org' },
        owner: { type: base.Schema.Types.ObjectId, ref: Org },
      }));
      return { base, Org: wrapper.wrapModel(Org), User: wrapper.wrapModel(User) };
    }

    test('populate stays in the database: two tenants with the same ids each see their own', async () => {
      const { Org, User } = models();
      const orgId = new m.Types.ObjectId();
      const [a, b] = [uniqueDb(PREFIX), uniqueDb(PREFIX)];
      // The default database has the same ids too, with other data: useDb would read it.
      await Org.create({ _id: orgId, name: 'main org' });
      await Org.db(a).create({ _id: orgId, name: 'org of a' });
      await Org.db(b).create({ _id: orgId, name: 'org of b' });
      for (const [db, name] of [[a, 'org of a'], [b, 'org of b']]) {
        await User.db(db).create({ name: 'u', org: orgId, owner: orgId });
        const byName = await User.db(db).findOne().populate('org');
        const byClassRef = await User.db(db).findOne().populate('owner');
        const byModel = await User.db(db).findOne().populate({ path: 'org', model: Org });
        const lean = await User.db(db).findOne().populate('org').lean();
        assert.deepEqual([byName.org.name, byClassRef.owner.name, byModel.org.name, lean.org.name], [name, name, name, name]);
        assert.equal(byName.org.constructor.db.name, db);
      }
    });

    test('a session from elsewhere is refused before anything is sent: nothing is written outside its transaction', async () => {
      const { User } = models();
      const db = uniqueDb(PREFIX);
      const Users = User.db(db);
      // A session of another client (here the Node driver's) passed to a model.
      const session = suite.client.startSession();
      try {
        session.startTransaction();
        const foreign = { name: 'MongoInvalidArgumentError', message: 'ClientSession must be from the same MongoClient' };
        await assert.rejects(Users.create([{ name: 'in a transaction' }], { session }), foreign);
        await assert.rejects(Users.find({}).session(session), foreign);
        await assert.rejects(Users.updateOne({}, { name: 'x' }, { session }), foreign);
        await assert.rejects(Users.insertMany([{ name: 'y' }], { session }), foreign);
      } finally {
        await session.endSession();
      }
      assert.equal(await raw(db, 'users').countDocuments(), 0);
    });

    test('the cache of database classes is bounded; an evicted class\'s documents still save to their database', async () => {
      const { User } = models();
      const dbs = Array.from({ length: 6 }, () => uniqueDb(PREFIX));
      const first = User.db(dbs[0]);
      const doc = await first.create({ name: 'held' });
      for (const db of dbs.slice(1)) await User.db(db).countDocuments();
      assert.notEqual(User.db(dbs[0]), first, 'the first database\'s class was evicted and built again');
      doc.name = 'saved after eviction';
      await doc.save();
      assert.equal((await raw(dbs[0], 'users').findOne({ _id: new ObjectId(doc._id.toHexString()) })).name, 'saved after eviction');
      assert.equal(await raw(dbs.at(-1), 'users').countDocuments(), 0);
      // The default database is never evicted.
      assert.equal(User.db(), User.db(null));
    });

    test('reads and counts with no middleware are served by the engine, with Mongoose\'s results', async () => {
      const { base, User } = models();
      const db = uniqueDb(PREFIX);
      const Users = User.db(db);
      await Users.create([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      const calls = [];
      for (const name of ['_find', '_findOne', '_countDocuments']) {
        const original = base.Query.prototype[name];
        base.Query.prototype[name] = function counted(...args) {
          calls.push(name);
          return original.apply(this, args);
        };
      }
      const lean = await Users.find({ name: { $in: ['a', 'c'] } }).sort({ name: -1 }).select('name -_id').lean();
      const one = await Users.findOne({ name: 'b' }, 'name').lean();
      const count = await Users.countDocuments({ name: { $ne: 'a' } });
      assert.deepEqual(lean, [{ name: 'c' }, { name: 'a' }]);
      assert.equal(one.name, 'b');
      assert.equal(count, 2);
      // `-_id` is Mongoose's to rewrite: that one query took Mongoose's path.
      assert.deepEqual(calls, ['_find']);
      // Documents are Mongoose's own, hydrated as Mongoose's query hydrates them: they save to their
      // database.
      const doc = await Users.findOne({ name: 'a' });
      assert.deepEqual([doc.constructor, doc.isNew, doc.isModified(), doc.db.name], [Users, false, false, db]);
      // What Mongoose keeps on a model's prototype is the database's, read through the document.
      assert.ok([doc.collection, doc.$collection].every((c) => c === Users.collection && c.conn.name === db));
      doc.name = 'aa';
      await doc.save();
      assert.deepEqual((await Users.find().sort('name')).map((d) => d.name), ['aa', 'b', 'c']);
      assert.deepEqual(calls, ['_find']);
      // A projection on documents, and a cast the engine refuses, take Mongoose's path and do as it does.
      assert.deepEqual((await Users.find({}, 'name').sort('name')).map((d) => d.isSelected('org')), [false, false, false]);
      await assert.rejects(Users.findOne({ _id: 'nope' }).lean(), (err) => err instanceof base.Error.CastError && /for model "User"/.test(err.message));
      assert.deepEqual(calls, ['_find', '_find', '_findOne']);
    });
  });
}

test('a wrapped model is not a database\'s class: it has no documents of its own to make in other databases', () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1', defaultDB: 'main', handleSignals: false });
  const base = new mongoose.Mongoose();
  const User = wrapper.wrapModel(base.model('User', new base.Schema({ name: String })));
  const doc = new User({ name: 'a' });
  assert.equal(doc.db.name, 'main');
  assert.ok(doc instanceof User);
  assert.ok(new (User.db('other'))({ name: 'b' }) instanceof User);
  assert.equal(typeof User.db, 'function');
  assert.equal(User.db('other').db.name, 'other');
});

test('adv.mongoose is the mongoose the application resolves, not a copy polymongo-rs resolves for itself', () => {
  // An application with a mongoose of its own (as when polymongo-rs is linked in from elsewhere).
  const app = mkdtempSync(path.join(tmpdir(), 'pmrs-app-'));
  try {
    mkdirSync(path.join(app, 'node_modules', 'mongoose'), { recursive: true });
    writeFileSync(path.join(app, 'node_modules', 'mongoose', 'index.js'), 'module.exports = { appsOwn: true };');
    const main = path.join(app, 'main.js');
    writeFileSync(main, `const { PolyMongo } = require(${JSON.stringify(require.resolve('../index.js'))});
const w = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1', handleSignals: false });
process.stdout.write(String(w.adv.mongoose.appsOwn));`);
    assert.equal(execFileSync(process.execPath, [main], { cwd: app }).toString(), 'true');
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

test('a discriminator registered after a database was used is that database\'s too, and writes there', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_late`, handleSignals: false });
  try {
    const base = new mongoose.Mongoose();
    const root = base.model('Event', new base.Schema({ at: Date }, { discriminatorKey: 'kind' }));
    const Event = wrapper.wrapModel(root);
    const [a, b] = [uniqueDb(PREFIX), uniqueDb(PREFIX)];
    await Event.db(a).create({ at: new Date() });
    // On the application's model, after the database's class was built.
    root.discriminator('Click', new base.Schema({ url: String }));
    const click = await Event.db(a).create({ kind: 'Click', url: '/x' });
    assert.equal(click.db.name, a);
    assert.equal(Event.db(a).discriminators.Click.db.name, a);
    // On the wrapped model: every database has it.
    const Tap = Event.discriminator('Tap', new base.Schema({ finger: Number }));
    assert.equal(Tap.db.name, `${PREFIX}_late`);
    await Event.db(b).create({ kind: 'Tap', finger: 2 });
    await Event.db(b).discriminators.Click.create({ url: '/y' });
    assert.deepEqual((await raw(a, 'events').find({}, { projection: { _id: 0, at: 0, __v: 0 } }).toArray()), [{}, { kind: 'Click', url: '/x' }]);
    assert.deepEqual((await raw(b, 'events').find({}, { projection: { _id: 0, __v: 0 } }).toArray()), [{ kind: 'Tap', finger: 2 }, { kind: 'Click', url: '/y' }]);
    assert.equal(await raw(`${PREFIX}_late`, 'events').countDocuments(), 0);
  } finally {
    await wrapper.disconnect();
  }
});

test('a client bulkWrite through a database\'s connection sets its collections up first, and stays on one pool', async () => {
  const own = uniqueDb(PREFIX);
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_cbw`, handleSignals: false, dbSpecific: [{ dbName: own, options: { maxConnections: 2 } }] });
  try {
    const base = new mongoose.Mongoose();
    const Sku = wrapper.wrapModel(base.model('Sku', new base.Schema({ code: { type: String, unique: true } })));
    const db = uniqueDb(PREFIX);
    const conn = Sku.db(db).db;
    assert.equal(conn.model('Sku'), Sku.db(db));
    // The unique index is built before the first write, so the second insert is the duplicate.
    const err = await conn.bulkWrite([
      { model: 'Sku', name: 'insertOne', document: { code: 'x' } },
      { model: 'Sku', name: 'insertOne', document: { code: 'x' } },
    ]).catch((e) => e);
    assert.equal(err.name, 'MongoClientBulkWriteError');
    assert.deepEqual([...err.writeErrors].map(([i, e]) => [i, e.code]), [[1, 11000]]);
    assert.equal(await raw(db, 'skus').countDocuments(), 1);
    // A database with a pool of its own cannot share the command.
    await assert.rejects(conn.client.bulkWrite([
      { name: 'insertOne', namespace: `${db}.skus`, document: { code: 'y' } },
      { name: 'insertOne', namespace: `${own}.skus`, document: { code: 'z' } },
    ]), { name: 'MongoInvalidArgumentError', message: /another pool/ });
    assert.equal(await raw(db, 'skus').countDocuments(), 1);
  } finally {
    await wrapper.disconnect();
  }
});

test('adv: the application\'s mongoose, and connections to any database on the engine', async () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_adv`, handleSignals: false });
  try {
    assert.equal(wrapper.adv.mongoose, mongoose);
    assert.equal(wrapper.adv.getPrimaryConnection(), undefined);
    const primary = wrapper.adv.getOrCreatePrimaryConnection();
    assert.equal(wrapper.adv.getPrimaryConnection(), primary);
    assert.equal(primary.name, `${PREFIX}_adv`);
    const db = uniqueDb(PREFIX);
    const conn = wrapper.adv.getConnection(db);
    assert.equal(wrapper.adv.getSharedConnection(db), conn);
    assert.equal(conn.readyState, 1);
    // A model of the application's mongoose, in that database, through the connection.
    mongoose.models.AdvThing ?? mongoose.model('AdvThing', new mongoose.Schema({ n: Number }));
    const Things = conn.model('AdvThing');
    await Things.create({ n: 1 });
    assert.equal(await raw(db, 'advthings').countDocuments(), 1);
    assert.equal(Things.db, conn);
    assert.equal(wrapper.getConnectionState(), 'connected');
  } finally {
    await wrapper.disconnect();
  }
});

for (const base of MONGOOSES) {
  test(`Mongoose ${base.version}: a path named db and listeners of one database as on Mongoose's useDb; a discriminator's first writes build the base model's indexes`, async () => {
    const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_paths`, handleSignals: false });
    const plainConn = await new base.Mongoose().createConnection(suite.uri).asPromise();
    try {
      const schemas = (m) => ({
        account: new m.Schema({ email: { type: String, unique: true }, db: String }, { discriminatorKey: 'kind' }),
        admin: new m.Schema({ level: Number }),
      });
      const m = new base.Mongoose();
      const root = m.model('Account', schemas(m).account);
      root.discriminator('Admin', schemas(m).admin);
      // The application's model has a listener, as with `Model.on('index', ...)`.
      root.on('save', () => {});
      const Account = wrapper.wrapModel(root);
      const run = async (Model, Other) => {
        const heard = [];
        Model.on('save', (doc) => heard.push(doc.email));
        const doc = await Model.create({ email: 'a@x', db: 'orders' });
        doc.db = 'invoices';
        await doc.save();
        await Other.create({ email: 'b@x' });
        return { path: [typeof doc.db, doc.db, (await raw(Model.db.name, 'accounts').findOne({ email: 'a@x' })).db], heard };
      };
      const [a, b, c, d] = [uniqueDb(PREFIX), uniqueDb(PREFIX), uniqueDb(PREFIX), uniqueDb(PREFIX)];
      const plainModel = (db) => {
        const Model = plainConn.useDb(db).model('Account', schemas(base).account);
        if (Model.discriminators == null) Model.discriminator('Admin', schemas(base).admin);
        return Model;
      };
      const ours = await run(Account.db(a), Account.db(b));
      const theirs = await run(plainModel(c), plainModel(d));
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, { path: ['string', 'invoices', 'invoices'], heard: ['a@x', 'a@x'] });
      assert.equal(root.listenerCount('save'), 1);
      // A database whose first writes are a discriminator's documents has its base model's unique
      // index, as a database of Mongoose's has it from when the base model was compiled.
      const Admins = Account.db(uniqueDb(PREFIX)).discriminators.Admin;
      await Admins.create({ email: 'admin@x', level: 1 });
      await assert.rejects(Admins.create({ email: 'admin@x', level: 2 }), { code: 11000 });
      const email = (await raw(Admins.db.name, 'accounts').indexes()).find((index) => index.name === 'email_1');
      assert.deepEqual([email.unique, email.partialFilterExpression], [true, undefined]);
    } finally {
      await plainConn.close();
      await wrapper.disconnect();
    }
  });
}

for (const base of MONGOOSES) {
  test(`Mongoose ${base.version}: discriminator documents are instances of their database's base class, ES-class models and replaced discriminators, as on Mongoose's useDb`, async () => {
    const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${PREFIX}_classes`, handleSignals: false });
    const plainConn = await new base.Mongoose().createConnection(suite.uri).asPromise();
    try {
      const petSchema = (m) => new m.Schema({ name: String }, { discriminatorKey: 'kind' });
      const v1 = (m) => new m.Schema({ old: String });
      const v2 = (m) => new m.Schema({ fresh: String });
      const m = new base.Mongoose();
      const root = m.model('Pet', petSchema(m));
      root.discriminator('Dog', v1(m));
      class Widget extends m.Model {
        hello() {
          return `hi ${this.name}`;
        }
      }
      const Widgets = wrapper.wrapModel(m.model(Widget, new m.Schema({ name: String })));
      const Pet = wrapper.wrapModel(root);
      const plain = (db) => {
        const Model = plainConn.useDb(db).model('Pet', petSchema(base));
        if (Model.discriminators == null) Model.discriminator('Dog', v1(base));
        return Model;
      };
      class PlainWidget extends base.Model {
        hello() {
          return `hi ${this.name}`;
        }
      }
      const plainWidgets = (db) => plainConn.useDb(db).model(PlainWidget, new base.Schema({ name: String }));
      const run = async (Pets, Other, Model) => {
        const Dog = Pets.discriminators.Dog;
        const dog = new Dog({ name: 'rex', old: 'o' });
        const facts = [dog instanceof Pets, dog instanceof Other, Dog.prototype instanceof Pets, new Pets({}) instanceof Dog];
        // insertMany takes the document itself when it is an instance of the model (Mongoose's
        // insertMany), so the document is no longer new and its next save is an update.
        const [inserted] = await Pets.insertMany([dog]);
        facts.push(inserted === dog, dog.isNew);
        dog.old = 'p';
        await dog.save();
        facts.push(await Pets.countDocuments({ name: 'rex' }), (await Pets.findOne({ name: 'rex' }).lean()).old);
        // An ES-class model runs its constructor and methods in a database.
        const widget = await Model.create({ name: 'w' });
        facts.push(widget.hello(), widget.db.name === Pets.db.name, widget instanceof Model);
        return facts;
      };
      const [a, b, c, d] = [uniqueDb(PREFIX), uniqueDb(PREFIX), uniqueDb(PREFIX), uniqueDb(PREFIX)];
      const ours = await run(Pet.db(a), Pet.db(b), Widgets.db(a));
      const theirs = await run(plain(c), plain(d), plainWidgets(c));
      assert.deepEqual(ours, theirs);
      assert.deepEqual(ours, [true, false, true, false, true, false, 1, 'p', 'hi w', true, true]);
      // A discriminator replaced with overwriteModels is the new one in a database that used the old.
      const Dogs = Pet.db(a).discriminators.Dog;
      assert.ok(Dogs.schema.path('old'));
      root.discriminator('Dog', v2(m), { overwriteModels: true });
      const plainA = plain(c);
      plainA.discriminator('Dog', v2(base), { overwriteModels: true });
      const stored = async (Pets) => {
        const doc = await Pets.create({ name: 'x', kind: 'Dog', fresh: 'F', old: 'O' });
        return [Pets.discriminators.Dog.schema.path('fresh') != null, await Pets.findById(doc._id).select('-_id -__v').lean()];
      };
      assert.deepEqual(await stored(Pet.db(a)), await stored(plainA));
      assert.deepEqual(await stored(Pet.db(a)), [true, { name: 'x', kind: 'Dog', fresh: 'F' }]);
    } finally {
      await plainConn.close();
      await wrapper.disconnect();
    }
  });
}

// Wrapped models are Mongoose models: a SaaS app's models (bcrypt in pre('save'), methods, statics,
// virtuals, a toJSON transform, soft delete in pre('find'), a plugin, populate, select: false) run
// unchanged through polymongo-rs and through plain Mongoose on the Node driver, on Mongoose 8 and 9,
// and must see the same results and store the same documents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { MONGOOSES, TwoWays, normalize } from './differential.mjs';
import { openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('models');
let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

/** The stored documents of `collection` in `db`, read with the Node driver, by insertion order. */
const stored = (db, collection = 'users') => suite.client.db(db).collection(collection).find({}, { sort: { _id: 1 } }).toArray();

/** A SaaS app's models, as such apps write them. */
function saas(m) {
  const audit = [];
  const org = new m.Schema({ name: String });
  const user = new m.Schema({
    email: { type: String, required: true, unique: true, lowercase: true, trim: true },
    password: { type: String, select: false },
    first: String,
    last: String,
    role: { type: String, enum: ['admin', 'user'], default: 'user' },
    org: { type: m.Schema.Types.ObjectId, ref: 'Org' },
    deleted: { type: Boolean, default: false },
    settings: m.Schema.Types.Mixed,
    tags: [String],
  }, {
    timestamps: true,
    toJSON: { virtuals: true, transform: (_doc, ret) => { delete ret.password; return ret; } },
  });
  user.plugin((schema) => {
    schema.add({ stampedBy: String });
    schema.pre('save', function stamp() {
      this.stampedBy ??= 'plugin';
    });
  });
  user.pre('save', async function hashPassword() {
    if (this.isModified('password')) this.password = await bcrypt.hash(this.password, 4);
  });
  user.pre('findOneAndUpdate', async function hashNewPassword() {
    const update = this.getUpdate();
    const target = 'password' in update ? update : update.$set ?? {};
    if (target.password) target.password = await bcrypt.hash(target.password, 4);
  });
  user.pre('find', function hideDeleted() {
    this.where({ deleted: false });
  });
  user.post('save', (doc) => audit.push(`saved ${doc.email}`));
  user.methods.comparePassword = function comparePassword(candidate) {
    return bcrypt.compare(candidate, this.password);
  };
  user.statics.findByEmail = function findByEmail(email) {
    return this.findOne({ email });
  };
  user.statics.audit = () => audit;
  user.virtual('fullName').get(function fullName() {
    return `${this.first} ${this.last}`;
  });
  return { Org: org, User: user };
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

    /** Runs `scenario` both ways on the SaaS models; asserts both saw the same and returns ours. */
    async function same(scenario, define = saas) {
      const { ours, theirs, oursSide, theirsSide } = await two.run(define, scenario);
      assert.equal(normalize(ours), normalize(theirs));
      return { ours, theirs, db: oursSide.db, theirDb: theirsSide.db, side: oursSide };
    }

    test('pre(\'save\') hashes the password before it is stored, plugins\' hooks run, post(\'save\') runs', async () => {
      const { ours, db } = await same(async ({ User }, { db }) => {
        const user = await User.create({ email: ' Ann@X.io ', password: 's3cret!', first: 'Ann', last: 'Lee' });
        return { docs: await stored(db), returned: user.password, audit: User.audit() };
      });
      const [doc] = await stored(db);
      assert.ok(await bcrypt.compare('s3cret!', doc.password), 'a bcrypt hash is stored');
      assert.equal(doc.stampedBy, 'plugin');
      assert.equal(doc.email, 'ann@x.io');
      assert.deepEqual(ours.audit, ['saved ann@x.io']);
    });

    test('toJSON transforms, virtuals, select: false and +path, methods and statics', async () => {
      const { ours } = await same(async ({ User }) => {
        await User.create({ email: 'a@x', password: 'pw', first: 'Ann', last: 'Lee' });
        const found = await User.findByEmail('a@x');
        const withPassword = await User.findOne({ email: 'a@x' }).select('+password');
        return {
          json: JSON.parse(JSON.stringify(found)),
          password: found.password,
          fullName: found.fullName,
          id: found.id === String(found._id),
          withPassword: Object.keys(withPassword.toObject()).sort(),
          matches: await withPassword.comparePassword('pw'),
          wrong: await withPassword.comparePassword('nope'),
        };
      });
      assert.equal(ours.json.password, undefined);
      assert.equal(ours.json.fullName, 'Ann Lee');
      assert.equal(ours.password, undefined);
      assert.ok(ours.withPassword.includes('password') && ours.withPassword.includes('email'));
      assert.deepEqual([ours.matches, ours.wrong, ours.id], [true, false, true]);
    });

    test('pre(\'find\') middleware (soft delete) and Query helpers: where, equals, in, M.where', async () => {
      const { ours } = await same(async ({ User }) => {
        await User.create([
          { email: 'a@x', role: 'admin' }, { email: 'b@x' }, { email: 'c@x', role: 'admin', deleted: true },
        ]);
        const names = (docs) => docs.map((d) => d.email).sort();
        return {
          all: names(await User.find({})),
          admins: names(await User.find({}).where('role', 'admin')),
          equals: names(await User.find().where('role').equals('user')),
          in: names(await User.find().where('email').in(['a@x', 'c@x'])),
          modelWhere: names(await User.where('role', 'admin')),
          countAll: await User.countDocuments(),
        };
      });
      assert.deepEqual(ours.all, ['a@x', 'b@x']);
      assert.deepEqual(ours.admins, ['a@x']);
      assert.equal(ours.countAll, 3);
    });

    test('documents: save, isModified/markModified, deleteOne, new Model(data).save(), orFail', async () => {
      const { ours } = await same(async ({ User }, { db }) => {
        const doc = new User({ email: 'n@x', settings: { theme: 'dark' } });
        await doc.save();
        doc.first = 'Neo';
        const modified = [doc.isModified('first'), doc.isModified('last')];
        doc.settings.theme = 'light';
        doc.markModified('settings');
        await doc.save();
        const afterSave = await stored(db);
        const again = await User.findById(doc._id);
        again.tags.push('x');
        await again.save();
        await again.deleteOne();
        let missing;
        try {
          await User.findOne({ email: 'n@x' }).orFail();
        } catch (err) {
          missing = err;
        }
        return { modified, afterSave, afterDelete: await stored(db), missing: missing?.name };
      });
      assert.deepEqual(ours.modified, [true, false]);
      assert.equal(ours.afterSave[0].settings.theme, 'light');
      assert.deepEqual(ours.afterDelete, []);
      assert.equal(ours.missing, 'DocumentNotFoundError');
    });

    test('pre(\'findOneAndUpdate\') hashes a new password; includeResultMetadata, timestamps: false, setDefaultsOnInsert: false', async () => {
      const { ours, db } = await same(async ({ User }, { db }) => {
        await User.create({ email: 'u@x', password: 'old' });
        await User.findOneAndUpdate({ email: 'u@x' }, { password: 'new' });
        const [before] = await stored(db);
        await User.updateOne({ email: 'u@x' }, { first: 'Quiet' }, { timestamps: false });
        const [afterQuiet] = await stored(db);
        const meta = await User.findOneAndUpdate({ email: 'v@x' }, { first: 'V' }, { upsert: true, new: true, includeResultMetadata: true });
        await User.updateOne({ email: 'w@x' }, { first: 'W' }, { upsert: true, setDefaultsOnInsert: false });
        return {
          updatedAtKept: before.updatedAt.getTime() === afterQuiet.updatedAt.getTime(),
          meta: { ok: meta.ok, updatedExisting: meta.lastErrorObject.updatedExisting, upserted: Boolean(meta.lastErrorObject.upserted), value: meta.value.email },
          // By email: an upsert's _id is the server's, which sorts before or after the client's by chance.
          docs: (await stored(db)).sort((a, b) => a.email.localeCompare(b.email)),
        };
      });
      const user = (await stored(db)).find((d) => d.email === 'u@x');
      assert.ok(await bcrypt.compare('new', user.password));
      assert.equal(ours.updatedAtKept, true);
      assert.deepEqual(ours.meta, { ok: 1, updatedExisting: false, upserted: true, value: 'v@x' });
      const w = ours.docs.find((d) => d.email === 'w@x');
      assert.equal(w.role, undefined, 'no schema defaults with setDefaultsOnInsert: false');
    });

    test('stored documents keep Mongoose\'s field order, defaults in schema order', async () => {
      await same(async ({ User }, { db }) => {
        await User.create({ tags: ['t'], email: 'o@x', last: 'L' });
        const [doc] = await stored(db);
        return Object.keys(doc);
      });
    });

    test('Mongoose\'s errors: ValidationError, CastError, E11000 with keyPattern and keyValue, VersionError', async () => {
      const { ours } = await same(async ({ User }) => {
        await User.init();
        const errors = {};
        const attempt = async (name, fn) => {
          try {
            await fn();
          } catch (err) {
            errors[name] = { name: err.name, code: err.code, keyPattern: err.keyPattern, keyValue: err.keyValue, paths: err.errors && Object.keys(err.errors), kind: err.kind, path: err.path };
          }
        };
        await User.create({ email: 'e@x' });
        await attempt('validation', () => User.create({ email: 'f@x', role: 'boss' }));
        await attempt('cast', () => User.findOne({ _id: 'not-an-id' }));
        await attempt('duplicate', () => User.create({ email: 'e@x' }));
        await User.create({ email: 'g@x' });
        // A findAndModify refused by the server: its reply's keyPattern and keyValue are kept too.
        await attempt('duplicateByFindOneAndUpdate', () => User.findOneAndUpdate({ email: 'g@x' }, { email: 'e@x' }));
        await attempt('duplicateByFindOneAndUpdateLean', () => User.findOneAndUpdate({ email: 'g@x' }, { email: 'e@x' }).lean());
        const [a, b] = [await User.findOne({ email: 'e@x' }), await User.findOne({ email: 'e@x' })];
        a.tags.push('one');
        await a.save();
        b.tags.pull('zero');
        b.tags.set(0, 'two');
        await attempt('version', () => b.save());
        return errors;
      });
      assert.equal(ours.validation.name, 'ValidationError');
      assert.deepEqual(ours.validation.paths, ['role']);
      assert.equal(ours.cast.name, 'CastError');
      assert.equal(ours.duplicate.code, 11000);
      assert.deepEqual(ours.duplicate.keyValue, { email: 'e@x' });
      assert.deepEqual(ours.duplicateByFindOneAndUpdate.keyValue, { email: 'e@x' });
      assert.deepEqual(ours.duplicateByFindOneAndUpdateLean.keyPattern, { email: 1 });
      assert.equal(ours.version.name, 'VersionError');
    });

    test('populate resolves in the same database, by name, by a model given as a class, and by a ref to a class', async () => {
      const { ours } = await same(async ({ User, Org }) => {
        const org = await Org.create({ name: 'ACME' });
        await User.create({ email: 'p@x', org: org._id });
        const byRef = await User.findOne({ email: 'p@x' }).populate('org');
        const byModel = await User.findOne({ email: 'p@x' }).populate({ path: 'org', model: Org });
        const doc = await User.findOne({ email: 'p@x' });
        await doc.populate('org');
        return { byRef: byRef.org.name, byModel: byModel.org.name, doc: doc.org.name, lean: (await User.findOne().populate('org').lean()).org.name };
      });
      assert.deepEqual(ours, { byRef: 'ACME', byModel: 'ACME', doc: 'ACME', lean: 'ACME' });
    });

    test('insertMany middleware and statics with middleware run in this database (Mongoose 8 binds them to the model it compiled)', async () => {
      const define = (m) => {
        const item = new m.Schema({ a: Number });
        const log = [];
        item.pre('insertMany', function before() { log.push(`pre insertMany ${this.modelName}`); });
        item.post('insertMany', function after(docs) { log.push(`post insertMany ${docs.length}`); });
        item.static('byA', function byA(a) { return this.find({ a }).lean(); });
        item.pre('byA', function beforeByA() { log.push(`pre byA ${this.modelName}`); });
        item.statics.log = () => log;
        return { Item: item };
      };
      const { ours, db } = await same(async ({ Item }, { db }) => {
        await Item.insertMany([{ a: 1 }, { a: 2 }]);
        const found = await Item.byA(1);
        return { found: found.map((d) => d.a), stored: (await stored(db, 'items')).map((d) => d.a), log: Item.log() };
      }, define);
      assert.deepEqual(ours.stored, [1, 2]);
      assert.deepEqual(ours.found, [1]);
      assert.deepEqual(ours.log, ['pre insertMany Item', 'post insertMany 2', 'pre byA Item']);
      assert.equal((await stored(`${PREFIX}_m${mongoose.version.split('.')[0]}_default`, 'items')).length, 0, 'nothing in the default database');
      assert.ok(db);
    });

    test('populate by a ref function that returns a model stays in this database; a database\'s model given as `model` is used as given', async () => {
      const define = (m) => ({
        Org: new m.Schema({ name: String }),
        Post: new m.Schema({ byFn: { type: m.Schema.Types.ObjectId, ref: () => m.models.Org }, byName: { type: m.Schema.Types.ObjectId, ref: 'Org' } }),
      });
      const { ours } = await two.run(define, async ({ Org, Post }, { db, handles }) => {
        if (handles === undefined) return null;
        const _id = new Org.base.Types.ObjectId();
        const catalog = `${db}_catalog`;
        await handles.Org.create({ _id, name: 'default' });
        await handles.Org.db(catalog).create({ _id, name: 'catalog' });
        await Org.create({ _id, name: 'this' });
        await Post.create({ byFn: _id, byName: _id });
        return {
          byFn: (await Post.findOne().populate('byFn')).byFn?.name,
          byFnLean: (await Post.findOne().populate('byFn').lean()).byFn?.name,
          byFnDoc: (await (await Post.findOne()).populate('byFn')).byFn?.name,
          applicationModel: (await Post.findOne().populate({ path: 'byName', model: handles.Org })).byName?.name,
          databaseModel: (await Post.findOne().populate({ path: 'byName', model: handles.Org.db(catalog) })).byName?.name,
          onTheDefault: (await handles.Post.findOne().populate('byFn'))?.byFn?.name ?? null,
        };
      });
      assert.deepEqual(ours, { byFn: 'this', byFnLean: 'this', byFnDoc: 'this', applicationModel: 'this', databaseModel: 'catalog', onTheDefault: null });
    });

    test('discriminators: documents of each kind, in this database', async () => {
      const define = (m) => {
        const event = new m.Schema({ at: Date }, { discriminatorKey: 'kind' });
        return { Event: event };
      };
      const { ours, side } = await same(async ({ Event }) => {
        const Click = Event.discriminators?.Click ?? Event.discriminator('Click', new Event.base.Schema({ x: Number }));
        await Click.create({ x: 3 });
        await Event.create({ kind: 'Click', x: 4 });
        await Event.create({});
        const all = await Event.find({}).sort({ _id: 1 });
        return { kinds: all.map((e) => e.kind ?? null), xs: all.map((e) => e.x ?? null), clicks: await Click.countDocuments(), isClick: all[1] instanceof Click };
      }, define);
      assert.deepEqual(ours.kinds, ['Click', 'Click', null]);
      assert.equal(ours.isClick, true);
      assert.equal(side.models.Event.db.name, side.db);
    });

    test('middleware order and this, cursors and eachAsync with documents, syncIndexes', async () => {
      const define = (m) => {
        const log = [];
        const schema = new m.Schema({ n: { type: Number, index: true } });
        schema.pre('save', function one() { log.push(`pre save 1 ${this.constructor.modelName} ${this.isNew}`); });
        schema.pre('save', async function two() { log.push(`pre save 2 ${this.n}`); });
        schema.post('save', function three() { log.push(`post save ${this.isNew}`); });
        schema.pre('countDocuments', function four() { log.push(`pre count ${this.op} ${this.model.modelName}`); });
        schema.post('find', (docs) => log.push(`post find ${docs.length}`));
        schema.statics.log = () => log;
        return { Step: schema };
      };
      const { ours } = await same(async ({ Step }) => {
        await Step.create([{ n: 1 }, { n: 2 }, { n: 3 }]);
        await Step.countDocuments();
        await Step.find({});
        const seen = [];
        await Step.find({}).sort({ n: -1 }).cursor().eachAsync((doc) => seen.push([doc.n, typeof doc.save]));
        const dropped = await Step.syncIndexes();
        const indexes = (await Step.listIndexes()).map((i) => i.name).sort();
        return { log: Step.log(), seen, dropped, indexes };
      }, define);
      assert.deepEqual(ours.seen, [[3, 'function'], [2, 'function'], [1, 'function']]);
      assert.deepEqual(ours.indexes, ['_id_', 'n_1']);
    });
  });
}

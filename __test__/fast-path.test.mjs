// The fast path serves a query only when its answer is Mongoose's own: filters the engine casts as
// Mongoose does, and every other filter (a type, setter or operator the engine does not implement, a
// value that is not plain data, a query Mongoose has already refused) through Mongoose's own path.
// Each case runs through polymongo-rs and through plain Mongoose on the Node driver, on Mongoose 8
// and 9, and must give the same documents, count or error. Also here: options the Node driver takes
// that the engine passes on (`sort` on single-document updates, fractional limits, negative batch
// sizes), and Mongoose options set after the models were wrapped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MONGOOSES, TwoWays, normalize } from './differential.mjs';
import { openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('fast');
const UID = '0b3d0a5e-4a8e-4d52-9b0a-6b1f2c3d4e5f';
let suite;

before(async () => {
  suite = await openSuite(PREFIX);
});

after(async () => {
  await suite.close();
});

function define(m) {
  const { Types } = m.Schema;
  return {
    Person: new m.Schema({
      name: String,
      email: { type: String, set: (v) => (typeof v === 'string' ? v.toLowerCase() : v) },
      lower: { type: String, lowercase: true },
      n: Number,
      at: Date,
      dec: Types.Decimal128,
      uid: Types.UUID,
      i32: Types.Int32,
      dbl: Types.Double,
      secret: String,
      flag: Boolean,
      tags: [String],
      pets: [{ kind: String, age: Number }],
    }),
  };
}

const PEOPLE = [
  { name: 'ann', email: 'ann@x.com', lower: 'ann', n: 1, at: new Date('2026-01-01T00:00:00'), dec: '1', uid: UID, i32: 5, dbl: 2.5, secret: 's1', flag: true, tags: ['a', 'b'], pets: [{ kind: 'cat', age: 2 }] },
  { name: 'bob', email: 'bob@x.com', lower: 'bob', n: 2, flag: false, tags: ['c'] },
  { name: 'cy', n: 3 },
];

/** `{ $and: [{ $and: [ ... { n: 1 } ] }] }`, `depth` deep. */
function nested(depth) {
  let filter = { n: 1 };
  for (let i = 0; i < depth; i++) filter = { $and: [filter] };
  return filter;
}

/** Filters the engine must leave to Mongoose: what Mongoose casts its own way, refuses, or never sends. */
const MONGOOSES_OWN = {
  'a custom setter': () => ({ email: 'ANN@X.COM' }),
  'a UUID path': () => ({ uid: UID }),
  'an Int32 path': () => ({ i32: '5' }),
  'a Double path': () => ({ dbl: '2.5' }),
  '$exists as a string': () => ({ n: { $exists: 'false' } }),
  '$exists as "0"': () => ({ n: { $exists: '0' } }),
  '$in of one value': () => ({ name: { $in: 'ann' } }),
  '$nin of one value': () => ({ name: { $nin: 'ann' } }),
  '$all of one value': () => ({ tags: { $all: 'a' } }),
  '$mod of strings': () => ({ n: { $mod: ['4', '2'] } }),
  '$bitsAllSet of a string': () => ({ n: { $bitsAllSet: '2' } }),
  'an unknown operator': () => ({ name: { $foo: 1 } }),
  'an invalid date': () => ({ at: new Date('x') }),
  'a function value': () => ({ secret: function secret() {} }),
  'a symbol value': () => ({ secret: Symbol('s') }),
  'a bigint value': () => ({ n: 2n }),
  'an undefined value': () => ({ secret: undefined }),
  '$gt on a Boolean': () => ({ flag: { $gt: false } }),
  '$not in $not': () => ({ n: { $not: { $not: { $gt: 1 } } } }),
  '$not of a RegExp on a number': () => ({ n: { $not: /1/ } }),
  'a RegExp on a number': () => ({ n: /1/ }),
  '$regex on an array': () => ({ tags: { $regex: 'a' } }),
  'an empty $or': () => ({ $or: [] }),
  '$where': () => ({ $where: function where() { return false; } }),
  'a filter 40 deep': () => nested(40),
  'a Map': () => ({ name: new Map([['$eq', 'ann']]) }),
  'bytes on a string path': () => ({ name: new Uint8Array([97, 110, 110]) }),
  'a plain object posing as an ObjectId': () => ({ name: { _bsontype: 'ObjectId', id: 'x' } }),
  'an array in an array on a number path': () => ({ n: [[1]] }),
  'a Double on a Decimal128 path': (m) => ({ dec: new m.mongo.BSON.Double(1) }),
  'an Int32 on a number path': (m) => ({ n: new m.mongo.BSON.Int32(1) }),
  'a date on a string path': () => ({ name: new Date(0) }),
  'null (Mongoose 8 reads everything, 9 refuses it)': () => null,
  ...localDates(),
};

/** Date strings JS reads in the process's time zone (run here in UTC and in New York). */
function localDates() {
  const out = {};
  for (const s of ['2026-01-01T00:00:00', '2026/01/01', '01/01/2026', '2026-1-1', ' 2026-01-01 ', '0', '-1']) {
    out[`the local date ${JSON.stringify(s)}`] = () => ({ at: s });
  }
  return out;
}

/** Filters the engine casts itself. */
const CASTABLE = {
  'numbers as strings': () => ({ n: { $gte: '1', $lt: '3' } }),
  '$in of strings': () => ({ name: { $in: ['ann', 'bob'] } }),
  'a lowercase path': () => ({ lower: 'ANN' }),
  '$regex without setters': () => ({ lower: { $regex: 'AN', $options: 'i' } }),
  '$elemMatch on values': () => ({ tags: { $elemMatch: { $gt: 'a' } } }),
  '$elemMatch on subdocuments': () => ({ pets: { $elemMatch: { age: '2' } } }),
  '$exists and $type': () => ({ n: { $exists: true, $type: 'number' } }),
  'a date as a string': () => ({ at: { $lt: '2027-01-01' } }),
  '$or of $and': () => ({ $or: [{ $and: [{ n: '1' }] }, { name: 'cy' }] }),
};

/** The ways a filter is read: documents, lean, one, a count. */
const READS = {
  find: (M, f) => M.find(f).sort({ n: 1 }),
  'find lean': (M, f) => M.find(f).sort({ n: 1 }).lean(),
  'findOne lean': (M, f) => M.findOne(f).sort({ n: 1 }).lean(),
  countDocuments: (M, f) => M.countDocuments(f),
};

/** What a read resolved to or the error it threw, by content. */
const outcome = (result) => (result instanceof Error ? normalize({ error: result.name, message: result.message }) : normalize(result));

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

    /** Runs each read of each filter both ways; returns the reads that took Mongoose's `_find`,
     *  `_findOne` or `_countDocuments` on our side. */
    async function compare(filters) {
      const mongooseRan = [];
      const { ours, theirs } = await two.run(define, async ({ Person }, side) => {
        await Person.insertMany(PEOPLE);
        const results = {};
        for (const [name, filter] of Object.entries(filters)) {
          for (const [read, run] of Object.entries(READS)) {
            const before = mongooseRan.length;
            const original = {};
            for (const method of ['_find', '_findOne', '_countDocuments']) {
              original[method] = side.base.Query.prototype[method];
              side.base.Query.prototype[method] = function counted(...args) {
                if (side.way === 'ours') mongooseRan.push(`${read} ${name}`);
                return original[method].apply(this, args);
              };
            }
            try {
              results[`${read} ${name}`] = outcome(await run(Person, filter(side.base)).then((r) => r, (e) => e));
            } finally {
              Object.assign(side.base.Query.prototype, original);
            }
            assert.ok(mongooseRan.length - before <= 1);
          }
        }
        return results;
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.ok(!(theirs instanceof Error), theirs?.stack);
      for (const key of Object.keys(theirs)) assert.equal(ours[key], theirs[key], key);
      return mongooseRan;
    }

    test('filters only Mongoose casts give Mongoose\'s answer', async () => {
      const mongooseRan = await compare(MONGOOSES_OWN);
      // Each one ran Mongoose's path (or Mongoose refused it before it ran).
      assert.ok(mongooseRan.length > 0);
    });

    test('filters the engine casts give Mongoose\'s answer without Mongoose\'s path', async () => {
      assert.deepEqual(await compare(CASTABLE), []);
    });

    test('date strings read in the local time zone give Mongoose\'s answer outside UTC too', async () => {
      const tz = process.env.TZ;
      process.env.TZ = 'America/New_York';
      try {
        assert.notEqual(new Date('2026-01-01T00:00:00').getTime(), Date.UTC(2026, 0, 1), 'the time zone took effect');
        await compare(localDates());
      } finally {
        if (tz === undefined) delete process.env.TZ;
        else process.env.TZ = tz;
      }
    });

    test('a select: true path joins a projection, as Mongoose adds it', async () => {
      const { ours, theirs } = await two.run((m) => ({ Role: new m.Schema({ name: String, role: { type: String, select: true } }) }), async ({ Role }) => {
        await Role.create({ name: 'a', role: 'admin' });
        return [await Role.find({}, { name: 1, _id: 0 }).lean(), await Role.findOne({}, 'name -_id').lean()];
      });
      assert.deepEqual(ours, theirs);
      assert.deepEqual(theirs[0], [{ name: 'a', role: 'admin' }]);
    });

    test('queries Mongoose refused before they ran are refused, not served', async () => {
      const { ours, theirs } = await two.run(define, async ({ Person }) => {
        await Person.insertMany(PEOPLE);
        const settle = (q) => q.then((r) => outcome(r), (e) => outcome(e));
        return [await settle(Person.find('a')), await settle(Person.findOne('a').lean()), await settle(Person.find(['a']).lean()), await settle(Person.countDocuments('a'))];
      });
      assert.deepEqual(ours, theirs);
      assert.match(theirs[0], /ObjectParameterError/);
    });

    test('Mongoose options set after the models were wrapped apply', async () => {
      for (const [option, value] of [['sanitizeFilter', true], ['strictQuery', true], ['strictQuery', 'throw'], ['translateAliases', true]]) {
        const { ours, theirs } = await two.run(define, async ({ Person }, side) => {
          await Person.insertMany(PEOPLE);
          side.base.set(option, value);
          const settle = (q) => q.then((r) => outcome(r), (e) => outcome(e));
          return [
            await settle(Person.findOne({ name: 'ann', secret: { $ne: 'guess' } }).lean()),
            await settle(Person.find({ notInSchema: 'zzz' }).lean()),
            await settle(Person.countDocuments({ notInSchema: 'zzz' })),
          ];
        });
        assert.deepEqual(ours, theirs, `${option}: ${value}`);
      }
    });

    test('type-level casts changed after the models were wrapped apply (String.cast(false), Boolean\'s values)', async () => {
      const changes = [
        (m) => m.Schema.Types.String.cast(false),
        (m) => m.Schema.Types.Number.cast((v) => { if (typeof v !== 'number') throw new Error('numbers only'); return v; }),
        (m) => m.Schema.Types.Boolean.convertToTrue.delete('yes'),
      ];
      const { ours, theirs } = await two.run(define, async ({ Person }, side) => {
        await Person.insertMany(PEOPLE);
        const { Types } = side.base.Schema;
        const saved = { string: Types.String._cast, number: Types.Number._cast };
        const settle = (q) => q.then((r) => outcome(r), (e) => outcome({ name: e.name, path: e.path }));
        const out = [];
        try {
          for (const change of changes) {
            change(side.base);
            out.push(await settle(Person.find({ name: 5 }).lean()), await settle(Person.countDocuments({ n: '1' })), await settle(Person.find({ flag: 'yes' }).lean()));
          }
        } finally {
          Types.String.cast(saved.string);
          Types.Number.cast(saved.number);
          Types.Boolean.convertToTrue.add('yes');
        }
        return out;
      });
      assert.deepEqual(ours, theirs);
      assert.match(theirs[0], /CastError/);
    });

    test('single-document updates take the Node driver\'s sort', async () => {
      const { ours, theirs } = await two.run(define, async ({ Person }) => {
        await Person.insertMany(PEOPLE);
        await Person.updateOne({}, { $set: { secret: 'top' } }, { sort: { n: -1 } });
        await Person.replaceOne({}, { name: 'replaced', n: 0 }, { sort: { n: 1 } });
        await Person.bulkWrite([{ updateOne: { filter: {}, update: { $set: { secret: 'bulk' } }, sort: { n: -1, name: 1 } } }]);
        await Person.collection.updateOne({}, { $set: { lower: 'sorted' } }, { sort: [['n', -1]] });
        return Person.find().sort({ n: 1 }).select('name n secret lower -_id').lean();
      });
      assert.deepEqual(ours, theirs);
      assert.deepEqual(theirs.map((p) => [p.name, p.secret, p.lower]), [['replaced', undefined, undefined], ['bob', undefined, 'bob'], ['cy', 'bulk', 'sorted']]);
    });

    test('fractional limits, negative batch sizes and options that are not numbers read as the Node driver reads them', async () => {
      const { ours, theirs } = await two.run(define, async ({ Person }) => {
        await Person.insertMany(PEOPLE);
        const names = (docs) => docs.map((d) => d.name);
        return [
          names(await Person.find().sort({ n: 1 }).limit(1.5).lean()),
          names(await Person.find().sort({ n: 1 }).limit(3).batchSize(-2).lean()),
          names(await Person.find().sort({ n: 1 }).limit(-2).lean()),
          names(await Person.find().sort({ n: 1 }).batchSize(1.5).lean()),
          names(await Person.find().sort({ n: 1 }).limit(Number.MAX_SAFE_INTEGER).skip(1.5).lean()),
          names(await Person.find().sort({ n: 1 }).limit(NaN).maxTimeMS('5000').lean()),
          names(await Person.find().sort({ n: 1 }).batchSize(2 ** 33)),
          names(await Person.collection.find({}, { limit: 2 ** 40, sort: { n: -1 } }).toArray()),
          await Person.countDocuments().limit(-1).then(() => 'counted', (e) => e.name !== undefined),
          // What the Node driver leaves out, not being numbers or booleans (helper-15).
          names(await Person.find().sort({ n: 1 }).limit(null).skip(null).maxTimeMS(null).lean()),
          names(await Person.find().sort({ n: 1 }).limit(false).lean()),
          names(await Person.find().sort({ n: 1 }).limit(-0).lean()),
          names(await Person.find().sort({ n: 1 }).limit(Infinity).lean()),
          names(await Person.find().sort({ n: 1 }).limit(2 ** 63).lean()),
          names(await Person.find().sort({ n: 1 }).allowDiskUse('yes').lean()),
          await Person.countDocuments({}, { limit: null }),
          // helper-16: an infinite skip skips everything; bigints and booleans are not numbers; a
          // count's skip must be whole (the server refuses it otherwise).
          names(await Person.find().sort({ n: 1 }).skip(Infinity).lean()),
          names(await Person.find().sort({ n: 1 }).limit(2n).lean()),
          names(await Person.find().sort({ n: 1 }).limit(true).lean()),
          await Person.countDocuments().skip(2.5).then(() => 'counted', (e) => e instanceof Error),
        ];
      });
      assert.deepEqual(ours, theirs);
      const all = ['ann', 'bob', 'cy'];
      assert.deepEqual(theirs, [['ann'], ['ann', 'bob'], ['ann', 'bob'], all, ['bob', 'cy'], all, all, ['cy', 'bob', 'ann'], true, all, all, all, all, all, all, 3, [], all, all, true]);
    });

    // Values other seeds of the schema differential (DIFF_SEED=1..5) found the engine casting unlike
    // Mongoose: bytes on paths that are not Buffers, arrays on nested paths, falsy elements of an
    // array of subdocuments, empty objects inside an update's nested value, an array set on a
    // subdocument, a subdocument given only unknown paths; and (helper-15) subdocuments matched whole
    // in filters. Mongoose's answer, by either path.
    test('creates, updates and filters of odd values give Mongoose\'s documents, counts and errors', async () => {
      const edges = (m) => ({
        Edge: new m.Schema({
          n: Number,
          nested: { k: String, t: Date },
          deep: { a: { k: { type: String, default: 'k' } }, x: Number },
          sub: new m.Schema({ x: Number, s: String }, { _id: false }),
          dated: new m.Schema({ p: String, q: { type: Number, default: 1 } }),
          docs: [new m.Schema({ y: String })],
          counts: { type: Map, of: Number },
        }),
      });
      const outcome = (err) => ({ error: err.name, paths: Object.keys(err.errors ?? {}).sort() });
      const { ours, theirs } = await two.run(edges, async ({ Edge }) => {
        const { Decimal128 } = Edge.base.mongo.BSON;
        const creates = [
          { n: Buffer.alloc(0) }, { n: Buffer.from('7') }, { counts: Buffer.alloc(0) },
          { nested: [null] }, { deep: [[1]] },
          { docs: '' }, { docs: [0, { y: 'a' }] }, { docs: [null] },
          { sub: { z: 1 } }, { sub: new Decimal128('1.5') },
        ];
        const created = [];
        for (const input of creates) {
          try {
            const doc = await Edge.create(input);
            created.push({ returned: doc.toObject({ minimize: false }), stored: await Edge.collection.findOne({ _id: doc._id }) });
          } catch (err) {
            created.push(outcome(err));
          }
        }
        const updates = [
          { $set: { deep: { a: {} } } }, { $set: { dated: [['a']] } }, { $set: { counts: Buffer.alloc(0) } },
          { $inc: { n: Buffer.from('2') } },
        ];
        const updated = [];
        for (const update of updates) {
          const { _id } = await Edge.create({ n: 1 });
          try {
            await Edge.updateOne({ _id }, update, { runValidators: true });
            updated.push(await Edge.collection.findOne({ _id }));
          } catch (err) {
            updated.push(outcome(err));
          }
        }
        // A subdocument matched whole: Mongoose builds it (schema key order, defaults, an _id) first.
        await Edge.create({ sub: { x: 5, s: 'b' }, dated: { p: 'z' }, docs: [{ y: 'c' }] });
        const queried = [
          await Edge.countDocuments({ sub: { s: 'b', x: 5 } }),
          await Edge.countDocuments({ sub: { $ne: { s: 'b', x: 5 } } }),
          await Edge.countDocuments({ dated: { p: 'z' } }),
          (await Edge.find({ docs: { $in: [{ y: 'c' }] } }).lean()).length,
        ];
        return { created, updated, queried };
      });
      assert.equal(normalize(ours), normalize(theirs));
      assert.equal(theirs.queried[0], 1);
      // What Mongoose does with them, so that this test sees them at all.
      assert.equal(theirs.created[5].error, 'ValidationError');
      assert.deepEqual(theirs.created[8].returned.sub, {});
      assert.deepEqual(theirs.updated[0].deep, { a: {} });
    });

    // Found by helper-15: what the engine would have done differently, now left to Mongoose.
    test('create under a stubbed clock, with a subdocument hook added after wrapping, or given a Uint8Array for a Buffer, is Mongoose\'s', async () => {
      const FIXED = Date.UTC(2001, 0, 1);
      const clocked = (m) => ({
        Clocked: new m.Schema({ n: Number, at: { type: Date, default: Date.now }, sub: new m.Schema({ a: Number }, { _id: false }), bin: Buffer }, { timestamps: true }),
      });
      const { ours, theirs } = await two.run(clocked, async ({ Clocked }, side) => {
        const stored = async (input) => {
          try {
            const doc = await Clocked.create(input);
            const found = await Clocked.collection.findOne({ _id: doc._id });
            return { createdAt: found.createdAt.getTime(), at: found.at.getTime(), sub: found.sub };
          } catch (err) {
            return { error: err.name, paths: Object.keys(err.errors ?? {}) };
          }
        };
        // Mongoose's own hook for stubbing timestamps.
        side.base.now = () => new Date(FIXED);
        const mongooseNow = await stored({ n: 1 });
        delete side.base.now;
        // A fake timer's Date (as sinon's and Jest's): its `now` is not the platform's.
        const RealDate = globalThis.Date;
        globalThis.Date = class extends RealDate {
          constructor(...args) {
            if (args.length > 0) super(...args);
            else super(FIXED);
          }
          static now() {
            return FIXED;
          }
        };
        let fakeDate;
        try {
          fakeDate = await stored({ n: 2 });
        } finally {
          globalThis.Date = RealDate;
        }
        Clocked.schema.path('sub').schema.pre('save', function late() {
          this.a = 99;
        });
        const lateHook = await stored({ sub: { a: 1 } });
        const uint8 = await stored({ bin: new Uint8Array([1, 2]) });
        return { mongooseNow: mongooseNow.createdAt, fakeDate: fakeDate.createdAt, lateHook: lateHook.sub, uint8 };
      });
      assert.deepEqual(ours, theirs);
      assert.deepEqual([theirs.mongooseNow, theirs.fakeDate, theirs.uint8.error], [FIXED, FIXED, 'ValidationError']);
    });

    /** Counts, with `count()`, the Mongoose saves (Mongoose's path of `create`) of `Model`'s documents
     *  on our side; returns what restores `Model`. On `Model`'s own prototype: Mongoose 8 gives a
     *  compiled model a `$__save` of its own (its save middleware), which a hook on `Model` of the
     *  Mongoose instance would miss. */
    const countSaves = (Model, side, count) => {
      const proto = Model.prototype;
      const own = Object.hasOwn(proto, '$__save');
      const { $__save } = proto;
      proto.$__save = function counted(...args) {
        if (side.way === 'ours') count();
        return $__save.apply(this, args);
      };
      return () => {
        if (own) proto.$__save = $__save;
        else delete proto.$__save;
      };
    };

    /** A schema whose new documents Mongoose only casts, defaults, validates and stamps. */
    const accounts = (m) => {
      const pet = new m.Schema({ kind: { type: String, required: true }, age: { type: Number, default: 1 }, seen: { type: Date, default: Date.now } });
      return {
        Account: new m.Schema({
          email: { type: String, required: true, trim: true, lowercase: true, unique: [true, 'that email is taken'] },
          role: { type: String, enum: ['user', 'admin'], default: 'user' },
          profile: { name: String, prefs: { theme: { type: String, default: 'light' } }, lang: { type: String, default: 'en' } },
          tags: [String],
          pets: [pet],
          best: pet,
          joined: { type: Date, default: Date.now },
          score: { type: Number, min: 0 },
        }, { timestamps: true }),
      };
    };

    /** A document's public state: its keys in order (nested, subdocuments), what it reports of its
     *  paths, and its state machine without its empty states. */
    const documentState = (doc) => {
      const states = (d) => Object.fromEntries(Object.entries(d.$__.activePaths.states).filter(([, paths]) => Object.keys(paths).length > 0).map(([state, paths]) => [state, Object.keys(paths).sort()]));
      return normalize({
        object: doc.toObject(),
        json: Object.keys(doc.toJSON()),
        profile: Object.keys(doc._doc.profile ?? {}),
        pet: doc.pets[0] ? Object.keys(doc.pets[0]._doc) : null,
        isNew: doc.isNew,
        modified: doc.modifiedPaths(),
        isDefault: ['role', 'joined', 'profile.lang'].map((path) => doc.$isDefault(path)),
        isInit: ['email', 'role'].map((path) => doc.isInit(path)),
        states: [states(doc), ...doc.$getAllSubdocs().map(states)],
      });
    };

    test('create runs on the engine alone and gives Mongoose\'s document: content, key order, state, events, and its next save', async () => {
      let mongooseSaves = 0;
      const { ours, theirs } = await two.run(accounts, async ({ Account }, side) => {
        const restore = countSaves(Account, side, () => mongooseSaves++);
        const heard = [];
        Account.on('save', (doc, n) => heard.push(['model', doc.email, n]));
        try {
          const out = [];
          for (const input of [
            { email: '  Ann@X.com ', extra: 1, pets: [{ kind: 'cat' }], best: { age: '3', kind: 'dog' }, profile: { lang: 'fr', name: 'Ann' } },
            { score: '5', email: 'bob@x.com', tags: 'solo', role: 'admin' },
            { email: 'cy@x.com', profile: { prefs: null } },
          ]) {
            const doc = await Account.create(input);
            out.push(documentState(doc), normalize(await Account.collection.findOne({ _id: doc._id })));
          }
          const [first] = await Account.find().sort({ email: 1 });
          const dee = await Account.create({ email: 'dee@x.com', pets: [{ kind: 'emu' }] });
          // None of the creates ran Mongoose's save.
          out.push(side.way === 'ours' ? mongooseSaves : 0);
          dee.role = 'admin';
          dee.pets.push({ kind: 'yak' });
          await dee.save();
          out.push(normalize(await Account.collection.findOne({ _id: dee._id })), first.email, normalize(heard));
          return out;
        } finally {
          restore();
        }
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.deepEqual(ours, theirs);
      assert.match(theirs[1], /"email":"ann@x.com","role":"user","profile":\{"name":"Ann","lang":"fr","prefs":\{"theme":"light"\}\}/);
    });

    test('create makes the _ids as Mongoose makes them: by the application\'s ObjectId, the document\'s first, then its subdocuments\' in schema order', async () => {
      let mongooseSaves = 0;
      const { ours, theirs } = await two.run(accounts, async ({ Account }, side) => {
        const restore = countSaves(Account, side, () => mongooseSaves++);
        try {
          const out = [];
          // Given out of schema order: `best` before `pets`, and `email` last.
          for (const input of [{ best: { kind: 'dog' }, pets: [{ kind: 'cat' }, { kind: 'cow' }], email: 'ids@x.com' }, { pets: [{ kind: 'emu', _id: new side.base.Types.ObjectId() }, { kind: 'yak' }], email: 'given@x.com' }]) {
            const doc = await Account.create(input);
            const next = new side.base.Types.ObjectId();
            // Where each id comes when the ids are sorted: creation order if one maker made them in turn.
            const ids = [doc._id, ...doc.pets.map((p) => p._id), doc.best?._id, next].filter(Boolean).map(String);
            out.push([...ids].sort().map((id) => ids.indexOf(id)));
          }
          out.push(side.way === 'ours' ? mongooseSaves : 0);
          return out;
        } finally {
          restore();
        }
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.deepEqual(ours, theirs);
      // The id given in the second input was made before the create: it sorts first.
      assert.deepEqual(theirs, [[0, 1, 2, 3, 4], [1, 0, 2, 3], 0]);
    });

    test('create gives the nested objects Mongoose\'s new document holds: built when left out, none for a primitive or under a nested object given', async () => {
      let mongooseSaves = 0;
      const define = (m) => ({
        Holder: new m.Schema({ name: String, t: { a: String }, items: [new m.Schema({ v: String, n: { a: String, deep: { b: String } } })], top: { mid: { low: String } }, d: { x: { type: String, default: 'dx' } } }),
      });
      const { ours, theirs } = await two.run(define, async ({ Holder }, side) => {
        const restore = countSaves(Holder, side, () => mongooseSaves++);
        try {
          const out = [];
          for (const input of [{ name: 'x' }, { items: [{ v: '1', n: { a: 'q' } }], name: 'y', t: 'str', d: 5 }, { t: { a: 'z' }, top: { mid: {} }, name: 'z' }]) {
            const doc = await Holder.create(input);
            out.push(normalize([doc.toObject({ minimize: false }), doc.toJSON({ minimize: false }), doc.get('t'), doc.items[0]?.n.deep, doc.$isEmpty('top'), await Holder.collection.findOne({ _id: doc._id })]));
          }
          return out;
        } finally {
          restore();
        }
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.deepEqual(ours, theirs);
      // The first two ran on the engine alone; the third, with an empty object, Mongoose's save.
      assert.equal(mongooseSaves, 1);
    });

    test('create leaves to Mongoose what the engine does not do alone, and fails as Mongoose fails', async () => {
      const define = (m) => {
        const schemas = accounts(m);
        const Hooked = new m.Schema({ password: String, at: { type: Date, default: () => new Date(0) } });
        Hooked.pre('save', function hash() {
          this.password = `hashed:${this.password}`;
        });
        return { ...schemas, Hooked };
      };
      const { ours, theirs } = await two.run(define, async ({ Account, Hooked }) => {
        const settle = (p) => p.then((r) => normalize(r), (e) => normalize({ name: e.name, message: e.message, code: e.code, keyValue: e.keyValue, errors: Object.keys(e.errors ?? {}) }));
        // The unique index exists on both sides before the duplicate (plain Mongoose builds it without waiting).
        await Account.init();
        await Account.create({ email: 'taken@x.com' });
        const heard = [];
        Account.on('error', (e) => heard.push(e.message));
        return [
          heard,
          await settle(Hooked.create({ password: 'p' })),
          await settle(Account.create([{ email: 'a1@x.com' }, { email: 'a2@x.com' }])),
          await settle(Account.create({ email: 'opt@x.com' }, { validateBeforeSave: true })),
          await settle(Account.create({ email: 'undef@x.com', role: undefined })),
          await settle(Account.create({ email: 'dot@x.com', 'profile.name': 'Dotted' })),
          await settle(Account.create({ role: 'root', score: -1 })),
          await settle(Account.create({ email: 'TAKEN@x.com' })),
          await settle(Account.create({ email: 'e@x.com', pets: [{ age: 'old' }] })),
          await settle(Account.create({ email: 'map@x.com', best: new Map([['kind', 'cat']]) })),
          normalize(await Account.find({ email: { $in: ['undef@x.com', 'dot@x.com'] } }).sort({ email: 1 }).lean()),
        ];
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      assert.deepEqual(ours, theirs);
      // The model heard each failed create, the duplicate (refused by the server) among them.
      assert.equal(theirs[0].length, 5);
      assert.ok(theirs[0].includes('that email is taken'));
      assert.match(theirs[1], /hashed:p/);
      assert.match(theirs[6], /ValidationError/);
      assert.match(theirs[7], /that email is taken/);
    });

    test('create gives Mongoose\'s stored document, returned document and error in the cases a first trial found different', async () => {
      const { Schema } = mongoose;
      const cases = {
        'a Buffer subtype': { schema: (m) => new m.Schema({ a: { type: Buffer, subtype: 4 } }), input: () => ({ a: Buffer.alloc(16, 1) }) },
        'timestamps on nested paths': { schema: (m) => new m.Schema({ a: String }, { timestamps: { createdAt: 'meta.c', updatedAt: 'meta.u' } }), input: () => ({ a: 'x' }) },
        'timestamps on a Number path': { schema: (m) => new m.Schema({ a: String, createdAt: Number }, { timestamps: true }), input: () => ({ a: 'x' }) },
        'empty objects': { schema: (m) => new m.Schema({ m: m.Schema.Types.Mixed, s: new m.Schema({ x: String }, { _id: false }) }), input: () => ({ m: {}, s: {} }) },
        'an empty unknown object': { schema: (m) => new m.Schema({ a: String }, { strict: false }), input: () => ({ a: 'x', n: {} }) },
        'special keys': { schema: (m) => new m.Schema({ a: String, n: m.Schema.Types.Mixed }, { strict: false }), input: () => JSON.parse('{"a":"x","__proto__":{"admin":true},"n":{"__proto__":{"admin":true},"y":2}}') },
        'an ObjectId with auto': { schema: (m) => new m.Schema({ ref: { type: m.Schema.Types.ObjectId, auto: true }, name: String }), input: () => ({ name: 'x' }) },
        'Date.now on other types': { schema: (m) => new m.Schema({ n: { type: Number, default: Date.now }, s: { type: String, default: Date.now } }), input: () => ({}) },
        'a default given by path().default()': {
          schema: (m) => {
            const schema = new m.Schema({ a: String, b: String, s: [new m.Schema({ x: String }, { _id: false })] });
            schema.path('a').default('dd');
            schema.path('s').schema.path('x').default('sx');
            return schema;
          },
          input: () => ({ b: 'x', s: [{}] }),
        },
        'virtual setters': {
          schema: (m) => {
            const schema = new m.Schema({ first: String, last: String });
            schema.virtual('full').set(function setFull(v) {
              [this.first, this.last] = v.split(' ');
            });
            return schema;
          },
          input: () => ({ full: 'Ada Lovelace' }),
        },
        'a null _id': { schema: (m) => new m.Schema({ a: String }), input: () => ({ _id: null, a: 'x' }) },
        'a default of subdocuments': { schema: (m) => new m.Schema({ s: { type: [new m.Schema({ a: String })], default: [{ a: 'd' }] } }), input: () => ({}) },
        'a map with a default': { schema: (m) => new m.Schema({ m: { type: Map, of: Number, default: { a: 1 } } }), input: () => ({}) },
        'bounds of another type': { schema: (m) => new m.Schema({ d: { type: Date, max: '2021-01-01' }, n: { type: Number, max: '5' } }), input: () => ({ d: '2021-06-01', n: 7 }) },
        'patterns as JavaScript reads them': {
          schema: (m) => new m.Schema({ a: { type: String, match: /^.$/ }, b: { type: String, match: /b/y }, c: { type: String, match: /^a.b$/ }, d: { type: String, match: /^ſ$/i } }),
          input: () => ({ a: '😀', b: 'ab', c: 'a\u2028b', d: 's' }),
        },
        'a lone surrogate': { schema: (m) => new m.Schema({ a: String }), input: () => ({ a: 'a\ud800b' }) },
        'a sparse array': { schema: (m) => new m.Schema({ a: [Number] }), input: () => ({ a: [1, , 3] }) }, // eslint-disable-line no-sparse-arrays
        'a static named hydrate': {
          schema: (m) => {
            const schema = new m.Schema({ a: String });
            schema.static('hydrate', function hydrate(...args) {
              const doc = m.Model.hydrate.apply(this, args);
              doc.$locals.viaHydrate = true;
              return doc;
            });
            return schema;
          },
          input: () => ({ a: 'x' }),
        },
        'a validator added after the model was wrapped': {
          schema: (m) => new m.Schema({ a: String }),
          input: () => ({ a: 'x' }),
          before: (Model) => Model.schema.path('a').validate((v) => v.length > 3, 'a too short'),
        },
        'an array of arrays given flat values': { schema: (m) => new m.Schema({ grid: [[Number]] }), input: () => ({ grid: [1, 2] }) },
        'a method queued on the schema': {
          schema: (m) => {
            const schema = new m.Schema({ name: String, tag: String });
            schema.method('tagged', function tagged() {
              this.tag = 'acme';
            });
            schema.queue('tagged', []);
            return schema;
          },
          input: () => ({ name: 'x' }),
        },
        'castNonArrays turned off': {
          schema: (m) => new m.Schema({ tags: [String] }),
          input: () => ({ tags: 'x' }),
          before: (_Model, base) => {
            base.Schema.Types.Array.options.castNonArrays = false;
          },
        },
      };
      const now = Date.now();
      const near = (n) => Math.abs(Number(n) - now) < 10 * 60_000;
      /** A value as canonical Extended JSON in its key order, with ids and times of now masked. */
      const ordered = (BSON, value) => JSON.stringify(BSON.EJSON.serialize(value, { relaxed: false }), (key, v) => {
        if (v?.$oid !== undefined) return '<id>';
        if (v?.$date?.$numberLong !== undefined && near(v.$date.$numberLong)) return '<now>';
        if (v?.$numberLong !== undefined && near(v.$numberLong)) return '<now>';
        if (typeof v === 'string' && /^\d{13}$/.test(v) && near(v)) return '<now>';
        return v;
      });
      const define = (m) => Object.fromEntries(Object.entries(cases).map(([name, c], i) => [`Case${i}`, c.schema(m)]));
      const { ours, theirs } = await two.run(define, async (models, side) => {
        const { BSON } = side.base.mongo;
        const out = {};
        const names = Object.keys(cases);
        for (const [i, name] of names.entries()) {
          const Model = models[`Case${i}`];
          const { input, before } = cases[name];
          const castNonArrays = Schema.Types.Array.options.castNonArrays;
          try {
            before?.(Model, side.base);
            const events = [];
            for (const event of ['init', 'validate', 'save']) Model.on(event, () => events.push(event));
            const doc = await Model.create(input());
            const stored = await Model.collection.find({}).toArray();
            const again = await Model.create(input()).then(() => 'created again', (e) => e.name);
            out[name] = [ordered(BSON, stored), ordered(BSON, doc.toObject()), JSON.stringify(doc.$locals), doc.modifiedPaths(), doc.a?.map?.((v) => (v === undefined ? 'undefined' : v)) ?? JSON.stringify(doc.a), again, events, doc.$__.validationError];
          } catch (err) {
            out[name] = [err.name, err.message];
          } finally {
            side.base.Schema.Types.Array.options.castNonArrays = castNonArrays;
          }
        }
        return out;
      });
      assert.ok(!(ours instanceof Error), ours?.stack);
      for (const name of Object.keys(cases)) assert.deepEqual(ours[name], theirs[name], name);
      assert.match(theirs['bounds of another type'][1], /more than maximum allowed value \(5\)/);
    });

    test('init() rejects with the index build the server refused, as Mongoose\'s', async () => {
      const [plainDb, ourDb] = [uniqueDb(PREFIX), uniqueDb(PREFIX)];
      for (const db of [plainDb, ourDb]) await suite.client.db(db).collection('members').insertMany([{ email: 'a' }, { email: 'a' }]);
      const base = new mongoose.Mongoose();
      const schema = () => new base.Schema({ email: { type: String, unique: true } });
      const conn = await base.createConnection(suite.uri).asPromise();
      two.wrapper.on('error', () => {});
      try {
        const settle = (p) => p.then(() => 'ok', (e) => `${e.name} ${e.code}`);
        const run = async (Member) => [await settle(Member.init()), await settle(Member.create({ email: 'b' })), await settle(Member.init())];
        const theirs = await run(conn.useDb(plainDb).model('Member', schema()));
        const ours = await run(two.wrapper.wrapModel(base.model('Member', schema())).db(ourDb));
        assert.deepEqual(ours, theirs);
        assert.deepEqual(theirs, ['MongoServerError 11000', 'ok', 'MongoServerError 11000']);
      } finally {
        await conn.close();
      }
    });

    test('collectionOptions make the collection before the first write, as Mongoose\'s', async () => {
      const define = (m) => ({ Checked: new m.Schema({ email: String }, { collectionOptions: { validator: { $jsonSchema: { bsonType: 'object', required: ['email'] } } } }) });
      const { ours, theirs } = await two.run(define, async ({ Checked }, side) => {
        const settle = (p) => p.then(() => 'ok', (e) => `${e.name} ${e.code}`);
        // Plain Mongoose creates the collection when the model is compiled, without waiting: its
        // first write may come first unless init() is awaited. The engine's first write waits.
        await Checked.init();
        const out = [await settle(Checked.create({ name: 'no email' })), await settle(Checked.create({ email: 'e' }))];
        // Ours without init(): the first write waits for the collection.
        if (side.way === 'ours') out.push(await settle(side.handles.Checked.db(uniqueDb(PREFIX)).create({ name: 'no email' })));
        return out;
      });
      assert.deepEqual(ours.slice(0, 2), theirs);
      assert.deepEqual(theirs, ['MongoServerError 121', 'ok']);
      assert.equal(ours[2], 'MongoServerError 121');
    });

    test('what the engine cannot ask the server for is a clear error', async () => {
      const { ours } = await two.run(define, async ({ Person }) => {
        await Person.insertMany(PEOPLE);
        return [
          await Person.find().batchSize(-2).lean().catch((e) => e),
          await Person.distinct({ a: 1 }).catch((e) => e),
          await Person.find().skip(-1).lean().catch((e) => e),
          await Person.find().maxTimeMS(-5).catch((e) => e),
        ];
      });
      assert.equal(ours[0].name, 'MongoCompatibilityError');
      assert.match(ours[0].message, /negative batchSize needs a limit/);
      assert.equal(ours[1].name, 'MongoInvalidArgumentError');
      assert.match(ours[1].message, /key must be a string/);
      // The server refuses these (a MongoServerError on the Node driver); the Rust driver cannot send them.
      for (const err of ours.slice(2)) assert.equal(err.name, 'MongoInvalidArgumentError');
      assert.match(ours[2].message, /skip must not be negative, got -1/);
      assert.match(ours[3].message, /maxTimeMS must not be negative, got -5/);
    });
  });
}

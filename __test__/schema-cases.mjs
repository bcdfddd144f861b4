// Generated schemas and inputs for the differential test: many schemas × documents, filters and
// updates, each with valid, castable, uncastable, missing, out-of-bounds and wrongly shaped values.
// Deterministic for a seed, so a disagreement can be replayed.

/** mulberry32: a small seeded PRNG. */
export function random(seed) {
  let a = seed >>> 0;
  return withNext(() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

function withNext(next) {
  return {
    next,
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
  };
}

/** The kinds of path a schema may have: how to declare one, and values to feed it. */
function kinds(m) {
  const { Schema } = m;
  const { ObjectId, Decimal128 } = m.mongo.BSON;
  const hex = '0123456789abcdef01234567';
  return {
    string: {
      declare: (r) => {
        const d = { type: String };
        if (r.chance(0.3)) d.required = true;
        if (r.chance(0.25)) d.enum = ['red', 'green', 'blue'];
        else {
          if (r.chance(0.25)) d.minlength = 2;
          if (r.chance(0.25)) d.maxlength = 6;
          if (r.chance(0.2)) d.match = r.pick([/^[a-z]+$/i, /^\w+$/, /^a/]);
        }
        if (r.chance(0.3)) d[r.pick(['trim', 'lowercase', 'uppercase'])] = true;
        if (r.chance(0.2)) d.default = r.pick(['red', 'x', '']);
        return d;
      },
      values: ['red', 'Blue', '  green ', 'abc', 'a', 'abcdefgh', '', 42, 2.5, true, ['red'], {}, { a: 1 }, null, 'ab_c', new ObjectId(hex)],
      query: ['red', 42, ['a'], { $in: ['red', 7] }, { $ne: 'x' }],
    },
    number: {
      declare: (r) => {
        const d = { type: Number };
        if (r.chance(0.3)) d.required = true;
        if (r.chance(0.2)) d.enum = [1, 2, 3];
        if (r.chance(0.3)) d.min = 0;
        if (r.chance(0.3)) d.max = 100;
        if (r.chance(0.2)) d.default = r.pick([0, 7, 2.5]);
        return d;
      },
      values: [5, -3, 2.5, 150, '42', ' 7 ', '', 'abc', '0x10', '1e3', true, false, [1], {}, null, NaN, 3, '-Infinity', new Date(5)],
      query: ['42', 'abc', { $gt: '5' }, { $in: ['1', 2] }, { $in: ['x'] }, { $exists: true }, [1, '2']],
    },
    boolean: {
      declare: (r) => ({ type: Boolean, ...(r.chance(0.3) ? { required: true } : {}), ...(r.chance(0.2) ? { default: false } : {}) }),
      values: [true, false, 'yes', 'no', 'true', '0', 1, 0, 'maybe', 2, null, {}, []],
      query: ['yes', 'maybe', 1, { $ne: 'false' }],
    },
    date: {
      declare: (r) => {
        const d = { type: Date };
        if (r.chance(0.3)) d.required = true;
        if (r.chance(0.2)) d.min = new Date('2000-01-01T00:00:00Z');
        if (r.chance(0.2)) d.max = new Date('2030-01-01T00:00:00Z');
        if (r.chance(0.15)) d.default = new Date('2020-06-01T00:00:00Z');
        return d;
      },
      values: [new Date('2021-03-04T05:06:07Z'), '2020-01-02', '2020-01-02T03:04:05.678Z', '2020-01-02T03:04:05+02:00', 86_400_000, '1990-05-05',
        'garbage', true, '', null, {}, '2040-01-01', 1e20],
      query: ['2020-01-02', 'garbage', { $gte: '2020-01-01T00:00:00Z' }, { $lt: 0 }],
    },
    objectId: {
      declare: (r) => ({ type: Schema.Types.ObjectId, ...(r.chance(0.3) ? { required: true } : {}) }),
      values: [new ObjectId(hex), hex, 'xyz', 5, null, { _id: new ObjectId(hex) }, '0123456789abcdef0123456z', []],
      query: [hex, 'nope', { $in: [hex] }, { $in: [hex, 'bad'] }],
    },
    buffer: {
      declare: (r) => ({ type: Buffer, ...(r.chance(0.3) ? { required: true } : {}) }),
      values: [Buffer.from('hi'), 'text', 5, [1, 2, 300], true, null, Buffer.alloc(0), {}],
      query: [],
    },
    decimal: {
      declare: (r) => ({ type: Schema.Types.Decimal128, ...(r.chance(0.3) ? { required: true } : {}) }),
      values: [Decimal128.fromString('1.5'), '2.25', 3, 2.5, 'abc', true, null, {}, '-0'],
      query: ['2.25', 'abc'],
    },
    bigint: {
      declare: (r) => ({ type: BigInt, ...(r.chance(0.3) ? { required: true } : {}) }),
      values: [12n, '12', 7, 1.5, 'abc', null, ' 9 ', '99999999999999999999', -5n, '', true],
      query: ['12', 'abc', { $gt: 3 }],
    },
    mixed: {
      declare: () => ({ type: Schema.Types.Mixed }),
      values: [{ a: 1 }, {}, 'x', [1, 'a'], { a: {} }, 5, null, { a: { b: 2 } }],
      query: [{ a: 1 }],
    },
    strings: {
      declare: (r) => (r.chance(0.3) ? { type: [String], enum: ['a', 'b', 'c'] } : [{ type: String, lowercase: r.chance(0.5) }]),
      values: [['a', 'b'], 'single', ['A', 'x'], [1, 'c'], [{}], null, [], [['a']]],
      query: ['a', ['a', 'b'], { $all: ['a'] }, { $size: '2' }],
    },
    numbers: {
      declare: (r) => [{ type: Number, min: r.chance(0.4) ? 0 : undefined }],
      values: [[1, '2'], ['x'], 5, [], [-1, 3], null, [[1]], '7'],
      query: ['3', ['1', 2], { $elemMatch: { $gt: '1' } }, 'x'],
    },
    nested: {
      declare: (r) => ({ a: { type: Number, ...(r.chance(0.3) ? { required: true } : {}) }, b: { type: String, default: r.chance(0.5) ? 'dflt' : undefined } }),
      values: [{ a: '5', b: 'x' }, { a: 'x' }, 'str', {}, { a: 1, c: 2 }, { b: 7 }],
      query: [],
    },
    // A nested object inside a nested object, with static and `Date.now` defaults at both depths:
    // where Mongoose puts each key depends on what the input gives.
    deep: {
      declare: () => ({ a: { k: { type: String, default: 'k' }, t: { type: Date, default: Date.now } }, x: Number, y: { type: String, default: 'y' } }),
      values: [{ x: '1' }, { a: {} }, { a: null }, { a: 5, x: 2 }, {}, null, 'str', { y: 'q', a: { k: 'z' } }, { a: { t: '2020-01-02' } }],
      query: [],
    },
    stamp: {
      declare: () => ({ type: Date, default: Date.now }),
      values: [new Date('2021-03-04T05:06:07Z'), null, 'garbage', '2020-01-02'],
      query: [],
    },
    dated: {
      declare: () => new Schema({ p: String, q: { type: Number, default: 1 }, r: { type: Date, default: Date.now } }),
      values: [{ p: 'x' }, {}, { q: '2', p: 'a' }, null, { r: '2020-01-02', p: 'b' }],
      query: [],
    },
    subdoc: {
      declare: (r) => new Schema({ x: { type: Number, required: r.chance(0.5) }, s: String }, { _id: r.chance(0.5) }),
      values: [{ x: '5' }, { x: 'bad' }, 5, {}, null, { x: 1, s: 2, z: 3 }, 'str'],
      query: [{ x: 5 }],
    },
    docs: {
      declare: (r) => [new Schema({ y: { type: String, required: r.chance(0.5) }, n: Number }, { _id: r.chance(0.5) })],
      values: [[{ y: 'a' }, {}], 'x', [], [{ y: 5, n: '3' }], [{ n: 'bad' }], null, [null], { y: 'z' }],
      query: [{ $elemMatch: { n: '3' } }],
    },
    map: {
      declare: () => ({ type: Map, of: Number }),
      values: [{ k: '3' }, { k: 'z' }, 3, {}, { a: 1, b: '2' }, null, 'x'],
      query: [],
    },
  };
}

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta'];

/** A schema definition of 3–8 paths and its options, with each path's kind. Inputs are made as
 *  recipes (`make`) and built afresh for each side (`build`), for Mongoose mutates what it casts. */
export function makeSchema(m, r) {
  const table = kinds(m);
  const kindNames = Object.keys(table);
  const definition = {};
  const paths = {};
  const count = r.int(3, 8);
  for (let i = 0; i < count; i++) {
    const kind = r.pick(kindNames);
    definition[NAMES[i]] = table[kind].declare(r);
    paths[NAMES[i]] = kind;
  }
  const options = { strict: r.pick([true, true, true, false, 'throw']) };
  return { definition, options, paths, table, fresh: () => kinds(m) };
}

/** Makes an input with `make(schema, r)` and returns a function that makes the same input again from
 *  fresh values (the same random draws, a new table of values): Mongoose casts some inputs in place. */
export function recipe(schema, r, make) {
  const draws = [];
  make(schema, withNext(() => {
    const x = r.next();
    draws.push(x);
    return x;
  }));
  return () => {
    let i = 0;
    return make({ ...schema, table: schema.fresh() }, withNext(() => draws[i++]));
  };
}

/** An input document for a schema: each path absent or given one of its kind's values (or another
 *  kind's, to be wrong), and sometimes a path the schema does not have. */
export function makeDocument(schema, r) {
  const doc = {};
  for (const [name, kind] of Object.entries(schema.paths)) {
    if (r.chance(0.2)) continue;
    const from = r.chance(0.15) ? r.pick(Object.keys(schema.table)) : kind;
    doc[name] = r.pick(schema.table[from].values);
  }
  if (r.chance(0.15)) doc.unknown = r.pick([1, 'x', { a: 1 }]);
  return doc;
}

/** A filter on one or two paths, with values of their kind's query values or any kind's values. */
export function makeFilter(schema, r) {
  const filter = {};
  for (const name of Object.keys(schema.paths).slice(0, r.int(1, 2))) {
    const { query, values } = schema.table[schema.paths[name]];
    const pool = query.length > 0 && r.chance(0.7) ? query : values;
    const value = r.pick(pool);
    if (value !== null && value !== undefined) filter[name] = value;
  }
  if (r.chance(0.2)) filter.$or = [{ _id: r.pick(['0123456789abcdef01234567', 'bad']) }];
  return filter;
}

/** An update: $set, $unset, $inc, $push or $addToSet on one path. */
export function makeUpdate(schema, r) {
  const names = Object.keys(schema.paths);
  const name = r.pick(names);
  const kind = schema.paths[name];
  const value = r.pick(schema.table[r.chance(0.8) ? kind : r.pick(Object.keys(schema.table))].values);
  const isArray = kind === 'strings' || kind === 'numbers' || kind === 'docs';
  const op = isArray ? r.pick(['$set', '$push', '$addToSet', '$unset']) : kind === 'number' ? r.pick(['$set', '$inc', '$unset']) : r.pick(['$set', '$set', '$unset']);
  if (op === '$unset') return { $unset: { [name]: 1 } };
  if (op === '$push' || op === '$addToSet') {
    let element = Array.isArray(value) ? value[0] ?? 'a' : value;
    // Mongoose 8's update validators throw an uncaught ValidatorError (outside the update's promise)
    // for a date pushed onto an array of subdocuments with a required path.
    if (kind === 'docs' && element instanceof Date) element = {};
    return { [op]: { [name]: element } };
  }
  return { [op]: { [name]: value } };
}

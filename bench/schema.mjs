// Validate + cast of one 20-field document: polymongo-rs's schema bridge (BSON encode, the Rust cast
// and validation, decode of the cast document: what create() does before the insert) against
// Mongoose's own `new Model(doc)` + `validateSync()` + `toObject()`, on Mongoose 8 and 9, in one run.
// Contenders alternate within each round; the table gives the median of the rounds.
import { createRequire } from 'node:module';
import { ModelSchema } from '../lib/schema.js';
import { Codec } from '../lib/codec.js';

const require = createRequire(import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DOCS_PER_ROUND = Number(process.env.BENCH_DOCS ?? 20_000);

function definition(m) {
  const { Schema } = m;
  return {
    name: { type: String, required: true, trim: true, minlength: 2, maxlength: 60 },
    email: { type: String, required: true, lowercase: true, match: /^[^@\s]+@[^@\s]+$/ },
    age: { type: Number, min: 0, max: 150 },
    score: { type: Number, default: 0 },
    active: { type: Boolean, default: true },
    role: { type: String, enum: ['user', 'admin', 'owner'], default: 'user' },
    born: Date,
    joined: { type: Date, default: Date.now },
    manager: Schema.Types.ObjectId,
    balance: Schema.Types.Decimal128,
    visits: BigInt,
    tags: [String],
    ratings: [{ type: Number, min: 1, max: 5 }],
    address: { street: String, city: { type: String, required: true }, zip: String },
    phone: { type: String, match: /^\+?[0-9 ]+$/ },
    notes: String,
    prefs: { type: Map, of: Boolean },
    meta: Schema.Types.Mixed,
    level: { type: Number, enum: [1, 2, 3] },
    nickname: { type: String, uppercase: true },
  };
}

const input = () => ({
  name: '  Ada Lovelace ', email: 'ADA@Example.com', age: '36', score: 12, active: 'true', role: 'admin',
  born: '1815-12-10', manager: '0123456789abcdef01234567', balance: '1024.50', visits: '42',
  tags: ['math', 'poetry'], ratings: ['5', 4], address: { street: '12 St James Sq', city: 'London', zip: 'SW1' },
  phone: '+44 20 7946 0000', notes: 'first programmer', prefs: { email: true, sms: false }, meta: { source: 'import' },
  level: '2', nickname: 'enchantress',
});

function contenders() {
  const out = [];
  for (const [label, pkg] of [['Mongoose 8', 'mongoose'], ['Mongoose 9', 'mongoose9']]) {
    const mongoose = require(pkg);
    const m = new mongoose.Mongoose();
    const Model = m.model('Bench', new m.Schema(definition(m), { timestamps: true }));
    const schema = new ModelSchema(Model, new Codec(m.mongo.BSON));
    out.push({
      name: `${label} ${mongoose.version}: new Model + validateSync + toObject`,
      peer: label,
      run: () => {
        const doc = new Model(input());
        if (doc.validateSync()) throw new Error('Mongoose refused the benchmark document');
        return doc.toObject();
      },
    });
    out.push({
      name: `polymongo-rs on ${label}: encode + Rust cast/validate + decode`,
      peer: label,
      ours: true,
      run: () => {
        const bytes = schema.native.castDocument(schema.codec.encode(schema.applyDefaults(input())), false);
        return schema.codec.decode(bytes);
      },
    });
  }
  return out;
}

const list = contenders();
for (const c of list) for (let i = 0; i < 2000; i++) c.run();
const samples = new Map(list.map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of round % 2 === 0 ? list : [...list].reverse()) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < DOCS_PER_ROUND; i++) c.run();
    samples.get(c).push(Number(process.hrtime.bigint() - start) / DOCS_PER_ROUND / 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = list.map((c) => ({ c, us: median(samples.get(c)) }));
console.log(`validate + cast of a 20-field document, µs per document (median of ${ROUNDS} rounds × ${DOCS_PER_ROUND} documents)`);
console.log('| contender | µs/doc | vs Mongoose |');
console.log('|---|---|---|');
for (const { c, us } of rows) {
  const peer = rows.find((r) => r.c.peer === c.peer && !r.c.ours).us;
  console.log(`| ${c.name} | ${us.toFixed(2)} | ${(us / peer).toFixed(2)}× |`);
}

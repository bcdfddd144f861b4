// Validate + cast of one 20-field document: polymongo-rs's schema bridge (BSON encode, the Rust cast
// and validation, decode of the cast document: what a fast path for writes will do before the insert)
// against Mongoose's own `new Model(doc)` + `validateSync()` + `toObject()`, on Mongoose 8 and 9.
import { createRequire } from 'node:module';
import { ModelSchema } from '../../lib/wrapper/schema.js';
import { contextFor } from '../../lib/driver/mongoose.js';
import { alternate, Rows } from '../report.mjs';

const require = createRequire(import.meta.url);
const DOCS_PER_ROUND = Number(process.env.BENCH_DOCS ?? 10_000);

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
    const schema = new ModelSchema(Model, contextFor(m));
    out.push({
      name: `Mongoose ${mongoose.version}: new Model + validateSync + toObject`,
      key: 'mongoose',
      peer: label,
      run: () => {
        const doc = new Model(input());
        // Mongoose 9 warns on every validateSync() call; $__validateSync is the same check, unwarned.
        if ((doc.$__validateSync ?? doc.validateSync).call(doc)) throw new Error('Mongoose refused the benchmark document');
        return doc.toObject();
      },
    });
    out.push({
      name: `polymongo-rs on ${label}: encode + Rust cast/validate + decode`,
      key: 'polymongo-rs',
      peer: label,
      run: () => {
        const bytes = schema.native.castDocument(schema.codec.encode(schema.applyDefaults(input()), { ignoreUndefined: true }), false, schema.nextId);
        return schema.codec.decode(bytes);
      },
    });
  }
  return out;
}

export async function run({ rounds }) {
  const list = contenders();
  for (const c of list) for (let i = 0; i < 2000; i++) c.run();
  const rows = new Map(list.map((c) => [c, new Rows()]));
  for (let round = 0; round < rounds; round++) {
    for (const c of alternate(list, round)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < DOCS_PER_ROUND; i++) c.run();
      rows.get(c).add(c.key, c.name, 'us', Number(process.hrtime.bigint() - start) / DOCS_PER_ROUND / 1000);
    }
  }
  return [...new Set(list.map((c) => c.peer))].map((peer) => ({
    title: `Validate + cast of a 20-field document on ${peer}`,
    note: `µs per document, ${rounds} runs × ${DOCS_PER_ROUND.toLocaleString('en-US')} documents; no server involved.`,
    columns: [{ key: 'us', label: 'µs/doc' }],
    rows: list.filter((c) => c.peer === peer).map((c) => rows.get(c).list[0]),
  }));
}

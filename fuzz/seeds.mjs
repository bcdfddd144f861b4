// The seeds AFL++ starts from (`fuzz/seeds/`): one input per entry point of
// crates/engine/tests/fuzz_target, its first byte the pick (target + 6 × variant), the rest a BSON
// request, filter, document or update from the fuzzing schema (crates/engine/tests/fixtures), a
// database name or a URI. `node fuzz/seeds.mjs` writes them again.
import { BSON } from 'bson';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const { serialize } = BSON;
const seeds = {
  'request-find': [0, serialize({ filter: { email: 'x', age: { $gt: '5' } }, options: { limit: 1, sort: { age: -1 } } })],
  'request-write': [24, serialize({ ops: [{ insertOne: { document: { a: 1 } } }, { updateOne: { filter: { a: 1 }, update: { $set: { b: 2 } } } }], ordered: true })],
  'request-aggregate': [6, serialize({ pipeline: [{ $match: { a: 1 } }, { $lookup: { from: 'x', pipeline: [{ $match: { $where: 'x' } }], as: 'y' } }], options: {} })],
  'request-command': [30, serialize({ command: { mapReduce: 'x', map: new BSON.Code('function(){}') } })],
  'filter': [1, serialize({ email: 'A@B.c', age: { $in: ['1', 2] }, at: { $gte: '2020-01-01' }, pets: { $elemMatch: { age: '3' } }, $or: [{ flag: 'true' }, { big: '12' }], 'address.zip': 7, tags: { $all: ['a'] }, ref: '0123456789abcdef01234567' })],
  'document': [2, serialize({ email: ' A@B.c ', age: '42', score: '1.5', big: '9', at: '2020-01-02T03:04:05Z', flag: 'yes', tags: ['x', 1], nums: [[1, '2']], pets: [{ name: 'p', age: '2' }, null], best: { age: '3' }, address: { zip: '1', geo: { lat: '1.5' } }, map: { k: '1' }, any: { $x: [] }, blob: 'hi' })],
  'document-replace': [8, serialize({ _id: new BSON.ObjectId('0123456789abcdef01234567'), email: 'a@b.c', status: 'active' })],
  'update': [3, serialize({ u: { $set: { age: '5', 'pets.$[p].age': '2' }, $push: { tags: { $each: ['x'], $slice: -2 } }, $inc: { score: '1' }, $unset: { best: 1 }, $setOnInsert: { email: 'z' } }, f: { email: 'x' } })],
  'update-upsert': [9, serialize({ u: { $addToSet: { nums: [1] }, $min: { at: '2020' }, $currentDate: { at: true } }, f: { age: { $gt: 1 } } })],
  'name': [4, Buffer.from('tenant_1')],
  'uri': [5, Buffer.from('mongodb://user:secretpw@host:27017/db?authSource=admin')],
};
for (const [name, [pick, body]] of Object.entries(seeds)) writeFileSync(fileURLToPath(new URL(`seeds/${name}`, import.meta.url)), Buffer.concat([Buffer.from([pick]), Buffer.from(body)]));

// Bulk tasks (actions.exportDB / importDB / exportDBStream / importDBStream / copyDatabase /
// dropDatabase, and bulkTasks' names): every BSON type comes back byte for byte through each format,
// with indexes and collection options; PolyMongo 1.3's exports are taken back; failures name the
// collection and the line or document, and leave no collection half-written.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { model, mongoose, uniqueDb, useSuite } from './helpers.mjs';

const require = createRequire(import.meta.url);
const PREFIX = uniqueDb('bulk');
const suite = useSuite(PREFIX);
const { ObjectId, Decimal128, Long, Int32, Double, Binary, BSONRegExp, Timestamp, MinKey, MaxKey, Code, UUID } = mongoose.mongo;

let dbCount = 0;
const freshDb = () => `${PREFIX}_${dbCount++}`;

/** A document with every BSON type the issue lists. */
function everyType() {
  return {
    _id: new ObjectId(),
    before1970: new Date(-1e12),
    farFuture: new Date(8.64e15),
    decimal: Decimal128.fromString('1.2345E+6000'),
    long: Long.fromString('-9223372036854775808'),
    int: new Int32(5),
    double: new Double(1),
    nan: NaN,
    infinity: Infinity,
    negativeInfinity: -Infinity,
    negativeZero: new Double(-0),
    tiny: 5e-324,
    binary0: new Binary(Buffer.from('hi'), 0),
    uuid: new UUID(),
    md5: new Binary(Buffer.alloc(16, 2), 5),
    user: new Binary(Buffer.from('x'), 128),
    regex: new BSONRegExp('a.b', 'imsx'),
    timestamp: new Timestamp({ t: 5, i: 7 }),
    min: new MinKey(),
    max: new MaxKey(),
    code: new Code('function () { return 1; }'),
    nested: [[1, [2, { a: { $x: 1, 'a.b': 2, $regex: 'not a regex' } }]], []],
    'ключ 🔑': 'значение',
    empty: {},
    nil: null,
    bool: false,
  };
}

/** Fills a database with every BSON type, a 15 MB document, a capped collection, a validator, a view
 *  and unique, partial, TTL and compound indexes (and a text index where the server has them). */
async function fill(db) {
  const d = suite.client.db(db);
  await d.collection('types').insertMany([everyType(), everyType(), { _id: 'string id', n: new Int32(1) }]);
  await d.collection('large').insertOne({ _id: 1, blob: new Binary(Buffer.alloc(15 * 1024 * 1024, 7)) });
  await d.createCollection('capped', { capped: true, size: 100_000, max: 50 });
  await d.collection('capped').insertMany([{ i: 1 }, { i: 2 }]);
  await d.createCollection('validated', { validator: { $jsonSchema: { bsonType: 'object', required: ['a'] } }, validationLevel: 'strict' });
  await d.collection('validated').insertOne({ a: 1 });
  const indexed = d.collection('indexed');
  // Dated now, so that the TTL index (1e9 s) deletes nothing while the tests run.
  await indexed.insertMany(Array.from({ length: 2500 }, (_, i) => ({ a: i, b: i % 7, t: new Date() })));
  await indexed.createIndex({ a: 1 }, { unique: true });
  await indexed.createIndex({ b: 1 }, { partialFilterExpression: { b: { $gt: 2 } } });
  await indexed.createIndex({ t: 1 }, { expireAfterSeconds: 1e9 });
  await indexed.createIndex({ a: 1, b: -1 });
  await indexed.createIndex({ s: 'text' }).catch((err) => assert.equal(err.code, 67, 'only a server without text indexes may refuse one'));
  await d.createCollection('view', { viewOn: 'indexed', pipeline: [{ $match: { b: 1 } }] });
}

/** What a database holds, read with the Node driver: each collection's type, options, indexes and
 *  documents as raw BSON. */
async function snapshot(db) {
  const d = suite.client.db(db);
  const result = {};
  for (const info of (await d.listCollections().toArray()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (info.name.startsWith('system.')) continue;
    const entry = { type: info.type, options: info.options };
    if (info.type === 'collection') {
      entry.indexes = (await d.collection(info.name).indexes()).sort((a, b) => a.name.localeCompare(b.name));
      const docs = await d.collection(info.name).find({}, { raw: true }).toArray();
      entry.documents = docs.map((doc) => Buffer.from(doc).toString('base64')).sort();
    }
    result[info.name] = entry;
  }
  return result;
}

let source;
let expected;
const sourceDb = async () => {
  if (!source) {
    source = freshDb();
    await fill(source);
    expected = await snapshot(source);
    assert.deepEqual(Object.keys(expected), ['capped', 'indexed', 'large', 'types', 'validated', 'view']);
  }
  return source;
};

const text = async (stream) => {
  const pieces = [];
  for await (const piece of stream) pieces.push(piece);
  return Buffer.concat(pieces).toString('utf8');
};

describe('bulk tasks', () => {
  test('NDJSON: exportDBStream then importDBStream gives the same documents byte for byte, indexes and options', async () => {
    const from = await sourceDb();
    const wrapper = suite.wrap();
    try {
      const events = [];
      const stream = wrapper.actions.exportDBStream(from);
      stream.on('progress', (event) => events.push(event));
      const ndjson = await text(stream);
      const lines = ndjson.trimEnd().split('\n').map((line) => JSON.parse(line));
      assert.deepEqual(lines[0].type, 'meta');
      assert.deepEqual([lines[0].format, lines[0].version, lines[0].database], ['polymongo.ndjson', 2, from]);
      assert.equal(lines.filter((l) => l.type === 'document').length, 3 + 1 + 2 + 1 + 2500);
      const types = lines.find((l) => l.type === 'document' && l.collection === 'types').document;
      assert.deepEqual(types.int, { $numberInt: '5' });
      assert.deepEqual(types.negativeZero, { $numberDouble: '-0.0' });
      assert.deepEqual(types.before1970, { $date: { $numberLong: '-1000000000000' } });
      assert.ok(events.length >= 1 && events.every((e) => typeof e.collection === 'string' && e.documents >= 0 && e.bytes >= 0));

      const to = freshDb();
      const chunks = ndjson.match(/[\s\S]{1,65536}/g);
      const summary = await wrapper.bulkTasks.importStream(to, Readable.from(chunks));
      assert.equal(summary.database, to);
      assert.equal(summary.insertedDocuments, 2507);
      assert.deepEqual(summary.failures, []);
      assert.deepEqual(await snapshot(to), expected);
    } finally {
      await wrapper.disconnect();
    }
  });

  test('the export object survives JSON.stringify and importDB takes it back; copyDatabase copies in the engine', async () => {
    const from = await sourceDb();
    const wrapper = suite.wrap();
    try {
      const exported = await wrapper.bulkTasks.export(from, { collections: { exclude: ['large'] } });
      assert.equal(exported.database, from);
      assert.deepEqual(Object.keys(exported.collections).sort(), ['capped', 'indexed', 'types', 'validated', 'view']);
      assert.equal(exported.collections.capped.options.capped, true);
      const to = freshDb();
      await wrapper.actions.importDB(to, JSON.parse(JSON.stringify(exported)));
      const { large, ...rest } = expected;
      assert.ok(large);
      assert.deepEqual(await snapshot(to), rest);

      const copy = freshDb();
      const events = [];
      const summary = await wrapper.actions.copyDatabase(from, copy).on('progress', (e) => events.push(e));
      assert.deepEqual([summary.source, summary.target, summary.insertedDocuments], [from, copy, 2507]);
      assert.deepEqual(await snapshot(copy), expected);
      assert.ok(events.length >= 1 && events.every((e) => Object.hasOwn(expected, e.collection)), JSON.stringify(events));
    } finally {
      await wrapper.disconnect();
    }
  });

  test("PolyMongo 1.3's exportDB object and NDJSON stream are taken back", async () => {
    const from = freshDb();
    const id = new ObjectId();
    await suite.client.db(from).collection('users').insertMany([
      { _id: id, name: 'Ada', price: Decimal128.fromString('9.99'), at: new Date(1e12) },
      { name: 'Bob', n: 2 },
    ]);
    await suite.client.db(from).collection('users').createIndex({ name: 1 }, { unique: true });
    const PolyMongo13 = require('polymongo');
    const theirs = PolyMongo13.createWrapper({ mongoURI: suite.uri, defaultDB: from });
    const wrapper = suite.wrap();
    try {
      const exported = await theirs.actions.exportDB(from);
      const to = freshDb();
      const summary = await wrapper.actions.importDB(to, exported);
      assert.equal(summary.insertedDocuments, 2);
      const ada = await suite.client.db(to).collection('users').findOne({ name: 'Ada' });
      assert.ok(ada._id.equals(id), 'an ObjectId stays an ObjectId');
      assert.equal(ada.price.toString(), '9.99');
      assert.deepEqual(ada.at, new Date(1e12));
      const indexes = await suite.client.db(to).collection('users').indexes();
      assert.ok(indexes.some((i) => i.name === 'name_1' && i.unique));

      const streamed = freshDb();
      const result = await wrapper.actions.importDBStream(streamed, theirs.actions.exportDBStream(from));
      assert.equal(result.insertedDocuments, 2);
      assert.equal(await suite.client.db(streamed).collection('users').countDocuments({ name: 'Bob', n: 2 }), 1);
    } finally {
      await wrapper.disconnect();
      await theirs.actions.forceCloseAll();
    }
  });

  test('a failing document names its collection and line, and its collection is rolled back', async () => {
    const wrapper = suite.wrap();
    const to = freshDb();
    try {
      const lines = [
        '{"type":"meta","format":"polymongo.ndjson","version":2,"database":"x"}',
        '{"type":"collection","collection":"fine"}',
        '{"type":"document","collection":"fine","document":{"_id":1}}',
        '{"type":"collectionEnd","collection":"fine"}',
        '{"type":"collection","collection":"dup"}',
        '{"type":"document","collection":"dup","document":{"_id":1}}',
        '{"type":"document","collection":"dup","document":{"_id":1}}',
        '{"type":"collectionEnd","collection":"dup"}',
        '{"type":"end"}',
      ];
      await assert.rejects(wrapper.actions.importDBStream(to, Readable.from([lines.join('\n')])), (err) => {
        assert.equal(err.name, 'MongoServerError');
        assert.equal(err.code, 11000);
        assert.equal(err.collection, 'dup');
        assert.equal(err.line, 7);
        assert.match(err.message, /^collection "dup", line 7: .*duplicate key/);
        return true;
      });
      const names = (await suite.client.db(to).listCollections().toArray()).map((c) => c.name);
      assert.deepEqual(names, ['fine'], 'the failed collection and its temporary collection are gone');

      // Appending to an existing collection: what the import inserted is deleted again.
      const existing = freshDb();
      await suite.client.db(existing).collection('dup').insertOne({ _id: 5, kept: true });
      await assert.rejects(wrapper.actions.importDBStream(existing, Readable.from([lines.join('\n')])), /line 7/);
      assert.deepEqual(await suite.client.db(existing).collection('dup').find().toArray(), [{ _id: 5, kept: true }]);

      // ordered: false writes the others and lists each refusal; stopOnError: false goes on.
      const unordered = await wrapper.actions.importDBStream(freshDb(), Readable.from([lines.join('\n')]), { ordered: false });
      assert.equal(unordered.insertedDocuments, 2);
      assert.equal(unordered.failureCount, 1);
      assert.deepEqual([unordered.failures[0].collection, unordered.failures[0].line, unordered.failures[0].code], ['dup', 7, 11000]);
      const goOn = [...lines.slice(0, 1), ...lines.slice(4, 8), ...lines.slice(1, 4), lines[8]].join('\n');
      const other = freshDb();
      const skipped = await wrapper.actions.importDBStream(other, Readable.from([goOn]), { stopOnError: false });
      assert.deepEqual(skipped.collections.map((c) => c.collection), ['fine']);
      assert.equal(skipped.failures[0].rolledBack, true);
      assert.deepEqual((await suite.client.db(other).listCollections().toArray()).map((c) => c.name), ['fine']);

      // Lines that are not records, and a stream that is not ours.
      const bad = [lines[0], lines[1], '{"type":"document","collection":"fine","document":{"a":{"$numberInt":"x"}}}'].join('\n');
      await assert.rejects(wrapper.actions.importDBStream(freshDb(), Readable.from([bad])), /collection "fine", line 3: .*Extended JSON/);
      await assert.rejects(wrapper.actions.importDBStream(freshDb(), Readable.from(['{"a":1}\n'])), /line 1 of the import stream/);
      await assert.rejects(wrapper.actions.importDBStream(freshDb(), Readable.from(['not json\n'])), /line 1 of the import stream/);

      // A collection left out is read and skipped, and a failure in its lines undoes nothing of it.
      const kept = freshDb();
      await suite.client.db(kept).collection('keep').insertOne({ _id: 'mine' });
      const leftOut = [lines[0], '{"type":"collection","collection":"keep"}', '{"type":"document","collection":"keep","document":{"_id":{"$oid":"x"}}}'];
      await assert.rejects(wrapper.actions.importDBStream(kept, Readable.from([leftOut.join('\n')]), { collections: { exclude: ['keep'] } }), /collection "keep", line 3/);
      assert.deepEqual(await suite.client.db(kept).collection('keep').find().toArray(), [{ _id: 'mine' }]);
      const onlyFine = await wrapper.actions.importDBStream(kept, Readable.from([lines.join('\n')]), { collections: ['fine'] });
      assert.deepEqual(onlyFine.collections.map((c) => c.collection), ['fine']);

      // A field named as an Extended JSON type would come back as that type: the export refuses it.
      const ambiguous = freshDb();
      await suite.client.db(ambiguous).collection('c').insertMany([{ ok: 1 }, { q: { $oid: '5f0000000000000000000000' } }]);
      await assert.rejects(text(wrapper.actions.exportDBStream(ambiguous)), (err) => {
        assert.deepEqual([err.collection, err.document], ['c', 1]);
        assert.match(err.message, /^collection "c", document 1: .*field "q.\$oid" .*format 'dump'/);
        return true;
      });
    } finally {
      await wrapper.disconnect();
    }
  });

  test('a stream cut short, or a source that fails, fails the import and leaves no collection half-written', async () => {
    const from = await sourceDb();
    const wrapper = suite.wrap();
    try {
      const ndjson = await text(wrapper.actions.exportDBStream(from, { collections: ['capped', 'indexed', 'types'] }));
      const lines = ndjson.trimEnd().split('\n');
      const at = (predicate) => lines.findIndex((l) => predicate(JSON.parse(l)));
      const inIndexed = at((r) => r.type === 'document' && r.collection === 'indexed') + 1000;
      const afterIndexed = at((r) => r.type === 'collectionEnd' && r.collection === 'indexed') + 1;
      const names = async (db) => (await suite.client.db(db).listCollections().toArray()).map((c) => c.name).sort();
      // Cut inside a collection, between two collections, and before the end record.
      for (const [cut, kept] of [[inIndexed, ['capped']], [afterIndexed, ['capped', 'indexed']], [lines.length - 1, ['capped', 'indexed', 'types']]]) {
        const to = freshDb();
        await assert.rejects(wrapper.actions.importDBStream(to, Readable.from([`${lines.slice(0, cut).join('\n')}\n`])), (err) => {
          assert.equal(err.name, 'MongoInvalidArgumentError');
          assert.match(err.message, /cut short/);
          assert.equal(typeof err.line, 'number');
          return true;
        });
        assert.deepEqual(await names(to), kept, `cut at line ${cut}`);
      }
      await assert.rejects(wrapper.actions.importDBStream(freshDb(), Readable.from([])), /the stream is empty/);
      // A collection whose end record counts more documents than came.
      const short = [...lines.slice(0, inIndexed), lines[afterIndexed - 1], ...lines.slice(afterIndexed)].join('\n');
      await assert.rejects(wrapper.actions.importDBStream(freshDb(), Readable.from([short])), /collection "indexed", line \d+: .*counts 2500 documents and the stream had \d+/);

      // A source that fails midway: its collection is rolled back, no temporary collection stays.
      for (const drop of [false, true]) {
        const to = freshDb();
        if (drop) await suite.client.db(to).collection('indexed').insertOne({ old: true });
        async function* failing() {
          yield `${lines.slice(0, inIndexed).join('\n')}\n`;
          throw new Error('disk gone');
        }
        await assert.rejects(wrapper.actions.importDBStream(to, failing(), { drop }), /disk gone/);
        assert.deepEqual(await names(to), drop ? ['capped', 'indexed'] : ['capped']);
        if (drop) assert.deepEqual(await suite.client.db(to).collection('indexed').find({}, { projection: { _id: 0 } }).toArray(), [{ old: true }]);
      }

      // The object form names a failing document by its place in its array.
      const dupes = { version: 2, collections: { c: { type: 'collection', options: {}, indexes: [], documents: [{ _id: { $numberInt: '1' } }, { _id: { $numberInt: '1' } }] } } };
      await assert.rejects(wrapper.actions.importDB(freshDb(), dupes), (err) => err.code === 11000 && err.document === 1 && err.line === undefined);
      const listed = await wrapper.actions.importDB(freshDb(), dupes, { ordered: false });
      assert.deepEqual(listed.failures.map((f) => [f.collection, f.document, f.line]), [['c', 1, undefined]]);
    } finally {
      await wrapper.disconnect();
    }
  });

  test('an AbortSignal stops an import and leaves no collection half-written', async () => {
    const wrapper = suite.wrap();
    const to = freshDb();
    try {
      const controller = new AbortController();
      async function* endless() {
        yield '{"type":"meta","format":"polymongo.ndjson","version":2}\n{"type":"collection","collection":"big"}\n';
        for (let i = 0; ; i++) {
          if (i === 3000) controller.abort();
          yield `{"type":"document","collection":"big","document":{"i":${i}}}\n`;
        }
      }
      const task = wrapper.actions.importDBStream(to, endless(), { signal: controller.signal, batchSize: 100 });
      await assert.rejects(task, (err) => err.name === 'AbortError' && err.code === 'ABORT_ERR');
      assert.deepEqual(await suite.client.db(to).listCollections().toArray(), []);

      const already = AbortSignal.abort();
      await assert.rejects(wrapper.actions.copyDatabase(await sourceDb(), freshDb(), { signal: already }), { name: 'AbortError' });
      const stream = wrapper.actions.exportDBStream(await sourceDb(), { signal: AbortSignal.abort() });
      await assert.rejects(text(stream), { name: 'AbortError' });
    } finally {
      await wrapper.disconnect();
    }
  });

  test("mongodump's layout, plain and gzipped: written, read back byte for byte, and mongodump's own files read", async () => {
    const from = await sourceDb();
    const wrapper = suite.wrap();
    const dir = mkdtempSync(path.join(tmpdir(), 'polymongo-dump-'));
    try {
      // A field named as an Extended JSON type travels in BSON.
      await suite.client.db(from).collection('ambiguous').insertOne({ q: { $oid: '5f0000000000000000000000' } });
      const withAmbiguous = { ...expected, ambiguous: await snapshot(from).then((s) => s.ambiguous) };
      for (const gzip of [false, true]) {
        const out = path.join(dir, gzip ? 'gz' : 'plain');
        const written = await wrapper.actions.exportDB(from, { format: 'dump', dir: out, gzip });
        assert.equal(written.path, path.join(out, from));
        const gz = gzip ? '.gz' : '';
        const files = readdirSync(path.join(out, from)).sort();
        assert.deepEqual(files, ['ambiguous', 'capped', 'indexed', 'large', 'types', 'validated'].flatMap((c) => [`${c}.bson${gz}`, `${c}.metadata.json${gz}`]).concat(`view.metadata.json${gz}`).sort());
        const read = (file) => {
          const bytes = readFileSync(path.join(out, from, file + gz));
          return gzip ? gunzipSync(bytes) : bytes;
        };
        // mongodump's metadata: canonical Extended JSON, options left out when empty, then indexes,
        // collectionName and type.
        const capped = JSON.parse(read('capped.metadata.json'));
        assert.deepEqual(Object.keys(capped), ['options', 'indexes', 'collectionName', 'type']);
        assert.deepEqual(capped.options, { capped: true, size: { $numberInt: '100000' }, max: { $numberInt: '50' } });
        assert.deepEqual(Object.keys(JSON.parse(read('types.metadata.json'))), ['indexes', 'collectionName', 'type']);
        assert.equal(JSON.parse(read('view.metadata.json')).type, 'view');
        // The .bson file is the documents' raw BSON, end to end.
        const raw = await suite.client.db(from).collection('capped').find({}, { raw: true }).toArray();
        assert.deepEqual(read('capped.bson'), Buffer.concat(raw.map((d) => Buffer.from(d))));

        const to = freshDb();
        const summary = await wrapper.actions.importDB(to, { dir: written.path });
        assert.equal(summary.insertedDocuments, 2508);
        assert.deepEqual(await snapshot(to), withAmbiguous);
      }

      // A folder as mongodump writes it: escaped and hashed names, legacy metadata with `ns` and plain
      // numbers, a metadata file without a .bson, system.profile and prelude.json (skipped).
      const shop = freshDb();
      const dumped = path.join(dir, 'mongodump', shop);
      mkdirSync(dumped, { recursive: true });
      const { BSON } = mongoose.mongo;
      const bson = (...docs) => Buffer.concat(docs.map((d) => BSON.serialize(d)));
      writeFileSync(path.join(dumped, 'caf%C3%A9s+%26+bars.bson'), bson({ _id: 1, n: 'é' }, { _id: 2 }));
      writeFileSync(path.join(dumped, 'caf%C3%A9s+%26+bars.metadata.json'), '{"options":{},"indexes":[{"v":1,"key":{"_id":1},"name":"_id_","ns":"shop.cafés & bars"},{"v":1,"key":{"n":-1},"name":"n_-1","ns":"shop.cafés & bars"}]}');
      const long = 'é'.repeat(100);
      const { createHash } = await import('node:crypto');
      const stem = `${encodeURIComponent(long).slice(0, 208)}%24${createHash('sha1').update(long).digest('base64url')}`;
      assert.equal(stem.length, 238);
      writeFileSync(path.join(dumped, `${stem}.bson.gz`), gzipSync(bson({ _id: 'long' })));
      writeFileSync(path.join(dumped, `${stem}.metadata.json.gz`), gzipSync(JSON.stringify({ indexes: [], collectionName: long, type: 'collection' })));
      writeFileSync(path.join(dumped, 'empty.metadata.json'), '{"options":{"capped":true,"size":{"$numberInt":"4096"}},"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"uuid":"ffa7054f30dc422696fa9607e150cb53","collectionName":"empty","type":"collection"}');
      writeFileSync(path.join(dumped, 'system.profile.bson'), bson({ op: 'query' }));
      // mongo-tools before 2021 escaped names as a path segment (`a+b` kept, a space as %20): the
      // metadata's collectionName says which collection a file holds.
      writeFileSync(path.join(dumped, 'a+b.bson'), bson({ _id: 'plus' }));
      writeFileSync(path.join(dumped, 'a+b.metadata.json'), '{"indexes":[],"collectionName":"a+b","type":"collection"}');
      writeFileSync(path.join(dumped, 'a%20b.bson'), bson({ _id: 'space' }));
      writeFileSync(path.join(dumped, 'a%20b.metadata.json'), '{"indexes":[],"collectionName":"a b","type":"collection"}');
      writeFileSync(path.join(dumped, 'prelude.json'), '{"ServerVersion":"7.0.16","ToolVersion":"100.10.0"}');
      // The folder holding the database's folder, as mongodump's --out.
      const imported = await wrapper.actions.importDB(shop, { dir: path.dirname(dumped) });
      assert.equal(imported.insertedDocuments, 5);
      const names = (await suite.client.db(shop).listCollections().toArray()).map((c) => c.name).sort();
      assert.deepEqual(names, ['a b', 'a+b', 'cafés & bars', 'empty', long].sort());
      assert.deepEqual(await suite.client.db(shop).collection('a+b').find().toArray(), [{ _id: 'plus' }]);
      const cafes = suite.client.db(shop).collection('cafés & bars');
      assert.deepEqual(await cafes.find().toArray(), [{ _id: 1, n: 'é' }, { _id: 2 }]);
      assert.ok((await cafes.indexes()).some((i) => i.name === 'n_-1'));
      const empty = (await suite.client.db(shop).listCollections({ name: 'empty' }).toArray())[0];
      assert.equal(empty.options.capped, true);

      // Errors name the file and the document; nothing of the collection is left.
      writeFileSync(path.join(dumped, 'cut.bson'), bson({ _id: 1 }, { _id: 2 }).subarray(0, -3));
      const broken = freshDb();
      await assert.rejects(wrapper.actions.importDB(broken, { dir: dumped }), (err) => {
        assert.equal(err.collection, 'cut');
        assert.match(err.message, /cut\.bson: a document is cut short/);
        return true;
      });
      assert.ok(!(await suite.client.db(broken).listCollections().toArray()).some((c) => c.name === 'cut' || c.name.startsWith('tmp.')));
      await assert.rejects(wrapper.actions.importDB(freshDb(), { dir: path.join(dir, 'nothing-here') }), /nothing-here/);
      await assert.rejects(wrapper.actions.exportDB(from, { format: 'dump' }), /with `dir`/);
    } finally {
      await suite.client.db(from).collection('ambiguous').drop();
      await wrapper.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("one collection as mongoexport's NDJSON, relaxed or canonical, both ways", async () => {
    const from = await sourceDb();
    const wrapper = suite.wrap();
    try {
      const relaxed = await text(wrapper.actions.exportDBStream(from, { format: 'mongoexport', collection: 'indexed', query: { indexed: { a: { $lt: 3 } } } }));
      const lines = relaxed.trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 3);
      assert.deepEqual(Object.keys(lines[0]), ['_id', 'a', 'b', 't']);
      assert.equal(typeof lines[0].a, 'number', 'relaxed numbers are JSON numbers');
      assert.match(lines[0].t.$date, /^\d{4}-\d\d-\d\dT/);
      const canonical = await text(wrapper.actions.exportDBStream(from, { format: 'mongoexport', collection: 'types', jsonFormat: 'canonical' }));
      // Relaxed dates after 9999 stay exact (as numbers of milliseconds).
      const relaxedTypes = JSON.parse((await text(wrapper.actions.exportDBStream(from, { format: 'mongoexport', collection: 'types' }))).split('\n')[0]);
      assert.deepEqual(relaxedTypes.farFuture, { $date: { $numberLong: '8640000000000000' } });
      assert.deepEqual(relaxedTypes.before1970, { $date: { $numberLong: '-1000000000000' } });
      assert.equal(JSON.parse(canonical.split('\n')[0]).int.$numberInt, '5');

      const to = freshDb();
      const summary = await wrapper.actions.importDBStream(to, Readable.from([canonical]), { format: 'mongoexport', collection: 'types' });
      assert.equal(summary.insertedDocuments, 3);
      assert.deepEqual((await snapshot(to)).types.documents, expected.types.documents);
      await wrapper.actions.importDBStream(to, Readable.from([relaxed]), { format: 'mongoexport', collection: 'some' });
      assert.equal(await suite.client.db(to).collection('some').countDocuments({ a: { $lt: 3 } }), 3);

      assert.throws(() => wrapper.actions.exportDBStream(from, { format: 'mongoexport' }), /name it with `collection`/);
      assert.throws(() => wrapper.actions.exportDBStream(from, { format: 'mongoexport', collection: 'x', jsonFormat: 'pretty' }), /jsonFormat/);
      assert.throws(() => wrapper.actions.exportDBStream(from, { format: 'csv' }), /format is 'ndjson'/);
    } finally {
      await wrapper.disconnect();
    }
  });

  test("validate: true writes only the documents the wrapped model's schema takes, as Mongoose's validateSync judges them", async () => {
    const wrapper = suite.wrap();
    try {
      const User = model('User', { name: { type: String, required: true }, age: { type: Number, min: 0 }, role: { type: String, enum: ['a', 'b'] } });
      wrapper.wrapModel(User);
      const docs = [{ name: 'Ada', age: 36 }, { age: 3 }, { name: 'Bob', age: -1 }, { name: 'Cy', role: 'z' }, { name: 'Di', age: '41' }, { name: 'Ed', age: { $numberLong: '7' } }];
      const lines = [
        '{"type":"meta","format":"polymongo.ndjson","version":2}',
        '{"type":"collection","collection":"users"}',
        ...docs.map((document) => JSON.stringify({ type: 'document', collection: 'users', document })),
        '{"type":"collectionEnd","collection":"users"}',
        '{"type":"collection","collection":"other"}',
        '{"type":"document","collection":"other","document":{"anything":true}}',
        '{"type":"collectionEnd","collection":"other"}',
        '{"type":"end"}',
      ];
      const to = freshDb();
      const summary = await wrapper.actions.importDBStream(to, Readable.from([lines.join('\n')]), { validate: true });
      // Mongoose's own judgement of the same documents.
      const { EJSON } = mongoose.mongo.BSON;
      // As the Node driver reads each document back (a Long within 2^53 as a number).
      const refusedByMongoose = docs.map((d, i) => [i + 3, new User(EJSON.deserialize(d)).validateSync()]).filter(([, err]) => err);
      assert.deepEqual(summary.failures.map((f) => [f.line, f.stage, f.rolledBack]), refusedByMongoose.map(([line]) => [line, 'validate', false]));
      for (const [i, [, err]] of refusedByMongoose.entries()) {
        assert.deepEqual(Object.keys(err.errors), summary.failures[i].message.match(/validation failed: (.*)/)[1].split(', ').map((p) => p.split(':')[0]));
      }
      assert.equal(summary.insertedDocuments, docs.length - refusedByMongoose.length + 1);
      // Written as they came: the import does not cast.
      assert.deepEqual(await suite.client.db(to).collection('users').find({}, { projection: { _id: 0 } }).toArray(), [{ name: 'Ada', age: 36 }, { name: 'Di', age: '41' }, { name: 'Ed', age: 7 }]);

      const Custom = model('Custom', { code: { type: String, validate: (v) => v.length === 3 } });
      wrapper.wrapModel(Custom);
      assert.throws(() => wrapper.actions.importDBStream(freshDb(), Readable.from([lines.join('\n')]), { validate: true }), (err) => {
        assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
        assert.match(err.message, /model Custom \(collection customs\) cannot be checked in the engine: its validators of code run in JavaScript/);
        return true;
      });
      const without = await wrapper.actions.copyDatabase(to, freshDb(), { validate: true, collections: { exclude: ['customs'] } });
      assert.equal(without.insertedDocuments, 4);
    } finally {
      await wrapper.disconnect();
    }
  });

  test('copy and drop across pools: a database with a pool of its own (dbSpecific)', async () => {
    const from = await sourceDb();
    const own = freshDb();
    const wrapper = suite.wrap({ dbSpecific: [{ dbName: own, mongoURI: suite.uri, options: { maxConnections: 2 } }] });
    try {
      const summary = await wrapper.actions.copyDatabase(from, own, { collections: ['indexed', 'capped'] });
      assert.equal(summary.insertedDocuments, 2502);
      const pool = (await wrapper.stats.db(own)).poolStats;
      assert.equal(pool.maxPoolSize, 2, "the copy wrote through the database's own pool");
      const back = freshDb();
      await wrapper.actions.copyDatabase(own, back);
      assert.equal(await suite.client.db(back).collection('indexed').countDocuments(), 2500);
      await wrapper.actions.dropDatabase(own);
      assert.deepEqual(await suite.client.db(own).listCollections().toArray(), []);
    } finally {
      await wrapper.disconnect();
    }
  });

  test('dropDatabase refuses the default database without force, and names that are not databases', async () => {
    const wrapper = suite.wrap();
    try {
      const db = freshDb();
      await suite.client.db(db).collection('c').insertOne({ a: 1 });
      await wrapper.actions.dropDatabase(db);
      assert.equal((await suite.client.db(db).listCollections().toArray()).length, 0);
      await assert.rejects(wrapper.actions.dropDatabase(wrapper.defaultDB), /without \{ force: true \}/);
      await assert.rejects(wrapper.actions.dropDatabase('admin'), /without \{ force: true \}/);
      await wrapper.bulkTasks.dropDatabase(wrapper.defaultDB, { force: true });
      await assert.rejects(wrapper.actions.dropDatabase(''), { code: 'ERR_INVALID_DB_NAME' });
      await assert.rejects(wrapper.actions.dropDatabase('a.b'), { code: 'ERR_INVALID_DB_NAME' });
      await assert.rejects(async () => wrapper.actions.dropDatabase(undefined), { code: 'ERR_INVALID_DB_NAME' });
      assert.throws(() => wrapper.actions.exportDBStream(db, { colections: [] }), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => wrapper.actions.importDB(db, { nope: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => wrapper.actions.copyDatabase(db, db, { batchSize: 0 }), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(wrapper.actions.copyDatabase(db, db), /onto itself/);
    } finally {
      await wrapper.disconnect();
    }
  });
});

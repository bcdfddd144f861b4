// Large results stream in chunks through the engine's cursors, under Mongoose's QueryCursor, for-await
// and Node streams.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PolyMongo } from '../index.mjs';
import { model, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('cur');
const COUNT = 10_000;
let suite, wrapper, client, Rows;

before(async () => {
  suite = await openSuite(PREFIX);
  client = suite.client;
  wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: PREFIX });
  const Row = wrapper.wrapModel(model('Row', { i: Number, pad: String }));
  Rows = Row.db(`${PREFIX}_big`);
  const pad = 'x'.repeat(200);
  await Rows.insertMany(Array.from({ length: COUNT }, (_, i) => ({ i, pad })));
});

after(async () => {
  await wrapper.disconnect();
  await suite.close();
});

test('10,000 documents arrive in bounded chunks, in order', async () => {
  // The collection's own cursor (what Mongoose's QueryCursor reads) holds one chunk at a time.
  const cursor = Rows.collection.find({}, { sort: { i: 1 } });
  let seen = 0;
  let largest = 0;
  let chunks = 0;
  while (await cursor.hasNext()) {
    chunks++;
    largest = Math.max(largest, cursor.bufferedCount());
    for (const doc of cursor.readBufferedDocuments()) assert.equal(doc.i, seen++);
  }
  assert.equal(seen, COUNT);
  assert.ok(chunks >= 10, `${chunks} chunks`);
  assert.ok(largest <= 1000, `a chunk held ${largest} documents`);
  const small = Rows.collection.find({}).batchSize(100);
  assert.ok(await small.hasNext());
  assert.equal(small.bufferedCount(), 100);
  await small.close();
  assert.ok(small.closed);
});

test('streaming all documents keeps what is held flat', async () => {
  // What the heap holds, not what it has yet to collect: measured after a full collection.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const held = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  for (const lean of [true, false]) {
    const start = held();
    let peak = start;
    let n = 0;
    for await (const doc of Rows.find({}).batchSize(500).lean(lean)) {
      n += doc.i >= 0;
      if (n % 2000 === 0) peak = Math.max(peak, held());
    }
    assert.equal(n, COUNT);
    // All 10,000 documents are ~3 MB as plain objects, more as Mongoose documents; a streaming read
    // holds one chunk of 500 at a time.
    assert.ok(peak - start < 2 * 1024 * 1024, `lean ${lean}: the heap held ${((peak - start) / 1e6).toFixed(1)} MB more`);
  }
});

test('next(), eachAsync(), and a Readable stream', async () => {
  const cursor = Rows.find({ i: { $lt: 3 } }).sort('i').cursor();
  assert.equal((await cursor.next()).i, 0);
  assert.equal((await cursor.next()).i, 1);
  assert.equal((await cursor.next()).i, 2);
  assert.equal(await cursor.next(), null);
  assert.equal(await cursor.next(), null);
  const seen = [];
  await Rows.find({ i: { $lt: 5 } }).sort('-i').cursor().eachAsync((doc) => { seen.push(doc.i); });
  assert.deepEqual(seen, [4, 3, 2, 1, 0]);
  let piped = 0;
  await pipeline(Rows.find({ i: { $lt: 2500 } }).cursor(), new Writable({ objectMode: true, write(_doc, _enc, cb) { piped++; cb(); } }));
  assert.equal(piped, 2500);
});

test('close() releases the server cursor, and aggregate cursors stream too', async () => {
  const cursor = Rows.find({}).cursor();
  let n = 0;
  for await (const doc of cursor) {
    if (doc && ++n === 5) break;
  }
  assert.equal(n, 5);
  await cursor.close();
  assert.ok(cursor.cursor.closed);
  let total = 0;
  for await (const group of Rows.aggregate([{ $group: { _id: { $mod: ['$i', 10] }, n: { $sum: 1 } } }]).cursor()) total += group.n;
  assert.equal(total, COUNT);
});

test('next() racing close() gives the document already fetched, as the Node driver\'s cursor does', async () => {
  const race = async (cursor) => {
    await cursor.next();
    const [next] = await Promise.all([cursor.next(), cursor.close()]);
    return next?.i;
  };
  const ours = await race(Rows.collection.find({}, { sort: { i: 1 }, batchSize: 5 }));
  const theirs = await race(client.db(`${PREFIX}_big`).collection('rows').find({}, { sort: { i: 1 }, batchSize: 5 }));
  assert.deepEqual([ours, theirs], [1, 1]);
  assert.equal(await race(Rows.find({}).sort('i').batchSize(5).lean().cursor()), 1);
});

test('a failing query rejects from the cursor', async () => {
  await assert.rejects(Rows.find({ $bad: 1 }).cursor().next(), { name: 'MongoServerError', code: 2 });
});

'use strict';
// A Mongoose-style QueryCursor: `next()`, `eachAsync()`, `close()`, async iteration, and a Readable
// stream in object mode. Documents arrive from the addon a chunk at a time, so memory stays bounded.

const { Readable } = require('node:stream');

class QueryCursor extends Readable {
  constructor(native, codec) {
    super({ objectMode: true });
    this._native = native;
    this._codec = codec;
    this._docs = [];
    this._at = 0;
    this._exhausted = false;
    this._fetching = null;
  }

  /** The next document, or null when there are no more. */
  async next() {
    while (this._at >= this._docs.length) {
      if (this._exhausted) return null;
      await this._fetch();
    }
    const doc = this._docs[this._at];
    this._docs[this._at++] = undefined;
    return doc;
  }

  /** The documents of the next chunk, all at once; an empty array when there are no more. */
  async nextChunk() {
    if (this._at < this._docs.length) {
      const rest = this._docs.slice(this._at);
      this._at = this._docs.length;
      return rest;
    }
    if (this._exhausted) return [];
    await this._fetch();
    return this.nextChunk();
  }

  _fetch() {
    this._fetching ??= this._codec.settle(this._native.nextChunk(), (chunk) => {
      this._docs = this._codec.decodeChunk(chunk);
      this._at = 0;
      this._exhausted = chunk.done;
    }).finally(() => {
      this._fetching = null;
    });
    return this._fetching;
  }

  async eachAsync(fn) {
    let i = 0;
    for (let doc = await this.next(); doc !== null; doc = await this.next()) await fn(doc, i++);
  }

  async toArray() {
    const all = [];
    for (let docs = await this.nextChunk(); docs.length > 0; docs = await this.nextChunk()) all.push(...docs);
    return all;
  }

  /** Releases the server cursor now rather than when the cursor is garbage-collected. */
  async close() {
    this._exhausted = true;
    this._docs = [];
    await this._native.close();
    this.destroy();
  }

  _read() {
    this.next().then((doc) => this.push(doc), (err) => this.destroy(err));
  }

  _destroy(err, callback) {
    this._exhausted = true;
    this._native.close().then(() => callback(err), callback);
  }
}

module.exports = { QueryCursor };

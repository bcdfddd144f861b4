'use strict';
// Cursors in the Node driver's shape over the engine's: documents arrive a chunk at a time (one Buffer
// of concatenated BSON per chunk), so memory stays bounded. Nothing is sent until the first document is
// asked for, so FindCursor's builders (sort, limit, project, ...) can still change the query.

const { EventEmitter } = require('node:events');
const { Readable } = require('node:stream');
const { explainVerbosity, toReadPreference, toSort } = require('./options');
const { inTransaction } = require('./session');

/** How often, at most, reading a fetched chunk tells the engine the cursor is in use (ms); the engine
 *  allows for it (`TOUCH_INTERVAL` in crates/engine/src/cluster.rs). */
const TOUCH_MS = 250;

class EngineCursor extends EventEmitter {
  /** `namespace`: the NativeNamespace; `op` / `request`: what to open; `ctx`: `{ codec, errors }`;
   *  `bson`: the call's deserialization options; `schema`: the fast path's NativeSchema, which casts
   *  the filter in the engine. */
  constructor(namespace, op, request, ctx, bson, schema) {
    super();
    this._namespace = namespace;
    this._op = op;
    this._request = request;
    this._ctx = ctx;
    this._bson = bson;
    this._schema = schema;
    /** The session the cursor runs in (an EngineSession), and `() => Promise<NativeSession>`, which
     *  gives the engine's (EngineClient#_sessionFor); set by `_inSession`. */
    this._sessionOption = undefined;
    this._sessionFor = undefined;
    /** The engine's session, once the cursor is opened in one. */
    this._session = undefined;
    /** The `explain` option's verbosity: iterating yields the server's explanation instead. */
    this._explaining = undefined;
    this._native = null;
    this._docs = [];
    this._at = 0;
    this._exhausted = false;
    this._closed = false;
    this._transform = null;
    /** When reading last told the engine the cursor is in use (epoch ms). */
    this._touched = 0;
  }

  /** Whether the cursor has been closed or read to its end. */
  get closed() {
    return this._closed;
  }

  get killed() {
    return this._closed && !this._exhausted;
  }

  get id() {
    return undefined;
  }

  /** Documents already fetched and not yet read. */
  bufferedCount() {
    return this._docs.length - this._at;
  }

  readBufferedDocuments(n = this.bufferedCount()) {
    const docs = this._docs.slice(this._at, this._at + n);
    this._at += docs.length;
    return this._transform ? docs.map(this._transform) : docs;
  }

  _started() {
    return this._native !== null;
  }

  _checkNotStarted() {
    if (this._started()) throw new this._ctx.errors.mongo.MongoCursorInUseError('Cursor is already initialized');
  }

  /** Runs the cursor in `session` (its `session` option), whose engine's session `sessionFor()`
   *  gives. */
  _inSession(session, sessionFor) {
    this._sessionOption = session;
    this._sessionFor = sessionFor;
  }

  _open() {
    if (this._native === null) {
      const { codec } = this._ctx;
      try {
        this._native = this._namespace.cursor(this._op, codec.encode(this._request), this._schema, this._session);
      } catch (err) {
        throw this._ctx.errors.fromNative(err);
      }
    }
    return this._native;
  }

  async _fetch() {
    if (this._explaining !== undefined) {
      // A cursor opened with the `explain` option yields the server's explanation, as the Node driver's.
      this._docs = [await this.explain(this._explaining)];
      this._at = 0;
      this._exhausted = true;
      return;
    }
    if (this._native === null && this._sessionFor !== undefined) {
      try {
        this._session = await this._sessionFor();
      } catch (err) {
        this._exhausted = true;
        this._closed = true;
        throw err;
      }
      if (this._sessionOption.inTransaction()) this._request = inTransaction(this._request);
    }
    const native = this._open();
    let chunk;
    try {
      chunk = await native.nextChunk();
    } catch (err) {
      this._exhausted = true;
      this._closed = true;
      throw this._ctx.errors.fromNative(err);
    }
    this._docs = this._ctx.codec.decodeChunk(chunk, this._bson);
    this._at = 0;
    if (chunk.done) this._exhausted = true;
  }

  /** Whether another document is there (fetching the next chunk if need be). */
  async hasNext() {
    while (this._at >= this._docs.length) {
      if (this._exhausted || this._closed) return false;
      await this._fetch();
    }
    return true;
  }

  /** The next document, or null at the end. A cursor closed while the server still held its results
   *  fails as the Node driver's killed cursor does. */
  async next() {
    if (this._started() && this.killed) throw new this._ctx.errors.mongo.MongoCursorExhaustedError();
    // A fetched document is taken at once, as the Node driver's: a close() racing this call does not
    // take it away.
    if (this._at >= this._docs.length) {
      if (!(await this.hasNext())) {
        if (this._exhausted && !this._closed) await this.close();
        return null;
      }
      // Closed while its chunk was fetched: nothing to give.
      if (this._at >= this._docs.length) return null;
    }
    const doc = this._docs[this._at];
    this._docs[this._at++] = undefined;
    const now = Date.now();
    if (now - this._touched >= TOUCH_MS) {
      this._touched = now;
      this._native?.touch();
    }
    return this._transform ? this._transform(doc) : doc;
  }

  tryNext() {
    return this.next();
  }

  async toArray() {
    const all = [];
    while (await this.hasNext()) all.push(...this.readBufferedDocuments());
    await this.close();
    return all;
  }

  async forEach(fn) {
    for (let doc = await this.next(); doc !== null; doc = await this.next()) {
      if ((await fn(doc)) === false) break;
    }
  }

  /** The same cursor with each document passed through `fn`. */
  map(fn) {
    const previous = this._transform;
    this._transform = previous ? (doc) => fn(previous(doc)) : fn;
    return this;
  }

  /** Releases the server cursor now rather than when the cursor is garbage-collected (one read to
   *  its end has released it already). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._docs = [];
    if (this._native !== null && !this._exhausted) await this._native.close();
    this.emit('close');
  }

  /** A fresh, unstarted cursor over the same request. */
  rewind() {
    this._native?.close();
    this._native = null;
    this._docs = [];
    this._at = 0;
    this._exhausted = false;
    this._closed = false;
  }

  stream(options) {
    const transform = options?.transform;
    const source = transform ? this.map(transform) : this;
    return Readable.from(source, { objectMode: true });
  }

  addCursorFlag(flag, value) {
    this._checkNotStarted();
    const names = { noCursorTimeout: 'noCursorTimeout', partial: 'allowPartialResults' };
    if (names[flag]) return this._setOption(names[flag], value);
    if (value) throw this._ctx.errors.unsupported(`cursor flag ${flag} is not supported`);
    return this;
  }

  batchSize(n) {
    return this._setOption('batchSize', n);
  }

  maxTimeMS(ms) {
    return this._setOption('maxTimeMS', ms);
  }

  comment(value) {
    return this._setOption('comment', value);
  }

  withReadPreference(pref) {
    this._checkNotStarted();
    this._request.options.readPreference = toReadPreference(pref);
    return this;
  }

  _setOption(name, value) {
    this._checkNotStarted();
    this._request.options[name] = value;
    return this;
  }

  /** The server's explanation of this cursor's query (`verbosity`: 'queryPlanner',
   *  'executionStats', 'allPlansExecution' or a boolean); only find and aggregate cursors have one. */
  explain() {
    return Promise.reject(this._ctx.errors.unsupported('explain is only for find and aggregate cursors'));
  }

  /** Runs `explain` of `command` (a find or an aggregate) on the cursor's collection. */
  _explain(command, verbosity = true) {
    const explain = { explain: command };
    const level = explainVerbosity(verbosity);
    if (level !== undefined) explain.verbosity = level;
    return this._collection ? this._collection._command(explain, this._bson) : this._db.command(explain);
  }

  async *[Symbol.asyncIterator]() {
    try {
      for (let doc = await this.next(); doc !== null; doc = await this.next()) yield doc;
    } finally {
      await this.close();
    }
  }
}

/** `collection.find()`'s cursor, with the Node driver's builders. */
class FindCursor extends EngineCursor {
  filter(filter) {
    this._checkNotStarted();
    this._request.filter = filter;
    return this;
  }

  sort(sort, direction) {
    this._checkNotStarted();
    this._request.options.sort = toSort(typeof sort === 'string' && direction !== undefined ? [[sort, direction]] : sort, this._ctx.errors);
    return this;
  }

  project(projection) {
    return this._setOption('projection', projection);
  }

  limit(n) {
    return this._setOption('limit', n);
  }

  skip(n) {
    return this._setOption('skip', n);
  }

  hint(hint) {
    return this._setOption('hint', hint);
  }

  min(min) {
    return this._setOption('min', min);
  }

  max(max) {
    return this._setOption('max', max);
  }

  collation(collation) {
    return this._setOption('collation', collation);
  }

  allowDiskUse(value = true) {
    return this._setOption('allowDiskUse', value);
  }

  returnKey(value) {
    return this._setOption('returnKey', value);
  }

  showRecordId(value) {
    return this._setOption('showRecordId', value);
  }

  /** The Node driver's deprecated `count()`: matching documents, honouring skip and limit. */
  count() {
    const { filter, options } = this._request;
    return this._collection.countDocuments(filter, { skip: options.skip, limit: options.limit, hint: options.hint });
  }

  explain(verbosity) {
    const { filter, options } = this._request;
    const command = { find: this._collection.collectionName, filter };
    for (const name of ['sort', 'projection', 'skip', 'limit', 'batchSize', 'hint', 'collation', 'maxTimeMS', 'comment', 'allowDiskUse', 'let',
      'min', 'max', 'returnKey', 'showRecordId', 'noCursorTimeout', 'allowPartialResults']) {
      if (options[name] !== undefined) command[name] = options[name];
    }
    if (options.readConcern) command.readConcern = options.readConcern;
    return this._explain(command, verbosity ?? this._explaining);
  }

  clone() {
    const copy = new FindCursor(this._namespace, this._op, structuredCloneRequest(this._request), this._ctx, this._bson, this._schema);
    copy._collection = this._collection;
    copy._inSession(this._sessionOption, this._sessionFor);
    return copy;
  }
}

/** `aggregate()`'s cursor, with the Node driver's stage builders. */
class AggregationCursor extends EngineCursor {
  pipeline() {
    return this._request.pipeline;
  }

  _stage(stage) {
    this._checkNotStarted();
    this._request.pipeline.push(stage);
    return this;
  }

  explain(verbosity) {
    const { pipeline, options } = this._request;
    const command = { aggregate: this._collection?.collectionName ?? 1, pipeline, cursor: {} };
    for (const name of ['hint', 'collation', 'maxTimeMS', 'comment', 'allowDiskUse', 'let', 'bypassDocumentValidation']) {
      if (options[name] !== undefined) command[name] = options[name];
    }
    return this._explain(command, verbosity ?? this._explaining);
  }

  clone() {
    const copy = new AggregationCursor(this._namespace, this._op, structuredCloneRequest(this._request), this._ctx, this._bson);
    copy._collection = this._collection;
    copy._db = this._db;
    copy._inSession(this._sessionOption, this._sessionFor);
    return copy;
  }
}

for (const [method, stage] of Object.entries({
  match: '$match', project: '$project', group: '$group', limit: '$limit', skip: '$skip', sort: '$sort', unwind: '$unwind',
  lookup: '$lookup', out: '$out', geoNear: '$geoNear', redact: '$redact', addStage: null,
})) {
  AggregationCursor.prototype[method] = function addStage(value) {
    return this._stage(stage === null ? value : { [stage]: value });
  };
}

/** A shallow copy deep enough that a clone's builders do not change the original. */
function structuredCloneRequest(request) {
  const copy = { ...request, options: { ...request.options } };
  if (Array.isArray(request.pipeline)) copy.pipeline = [...request.pipeline];
  return copy;
}

module.exports = { EngineCursor, FindCursor, AggregationCursor };

'use strict';
// Change streams in the Node driver's ChangeStream shape over the engine's
// (crates/engine/src/change_stream.rs), which opens the stream when `watch()` is called, keeps its
// resume token and resumes by itself. Changes arrive in batches (one BSON document each) decoded with
// the application's BSON. As with the Node driver, a stream is used either as an EventEmitter (a
// 'change' listener makes it flow) or as an iterator (`next`, `hasNext`, `tryNext`, `for await`),
// not both.

const { EventEmitter } = require('node:events');
const { Readable } = require('node:stream');
const { bsonOptions, refuse, toReadPreference } = require('./options');

/** The Node driver's message for a closed stream. */
const CLOSED = 'ChangeStream is closed';
/** How long `tryNext()` waits for a change unless `maxAwaitTimeMS` says otherwise (the server's
 *  default for an awaitData getMore). */
const DEFAULT_TRY_WAIT_MS = 1000;
/** The change stream options the engine takes, by the Node driver's names. */
const STREAM_OPTIONS = ['fullDocument', 'fullDocumentBeforeChange', 'resumeAfter', 'startAfter', 'startAtOperationTime',
  'maxAwaitTimeMS', 'batchSize', 'collation', 'showExpandedEvents', 'readConcern', 'readPreference'];
/** Aggregate options the Node driver takes on a change stream's `aggregate` and the engine does not
 *  (`comment`: the Rust driver would send it inside `$changeStream`, which the server refuses). */
const NOT_FOR_STREAMS = ['maxTimeMS', 'hint', 'allowDiskUse', 'let', 'bypassDocumentValidation', 'comment'];

/** The streams opened on each engine (a NativeWrapper) and not closed. */
const live = new WeakMap();

/** Marks closed, here, the streams of engine `native` on database `db` (every database when
 *  undefined), which the engine has closed (`closeDBstream`, `closeAllWatches`, closing the wrapper). */
function streamsClosedWith(native, db) {
  for (const ref of live.get(native) ?? []) {
    const stream = ref.deref();
    if (stream !== undefined && (db === undefined || stream.namespace.db === db)) stream._ended(false);
  }
}

class EngineChangeStream extends EventEmitter {
  /** A stream of changes to `collName` in `dbName` (the whole database when `collName` is null),
   *  opened now on `client`'s engine. A request the engine refuses (a bad option, too many streams
   *  open) is not thrown: the stream reports it as the Node driver reports a failed stream, from
   *  `next()` or as an 'error' event, since Mongoose's ChangeStream turns a throw into an unhandled
   *  rejection. With `refusal`, nothing is opened and the stream reports that error. */
  constructor(client, dbName, collName, pipeline = [], options = {}, refusal = null) {
    super();
    this.pipeline = pipeline;
    this.options = { ...options };
    this.namespace = { db: dbName, collection: collName ?? undefined };
    this._ctx = client._ctx;
    this._bson = bsonOptions(options, this._ctx);
    /** Decoded changes not yet handed out: `{ event?, token }`. */
    this._buffer = [];
    this._resumeToken = options.startAfter ?? options.resumeAfter ?? null;
    this._mode = false;
    this._closed = false;
    /** Whether the server ended the stream (an invalidate event), rather than `close()`. */
    this._exhausted = false;
    /** Whether the stream has opened: the engine's first batch says so. */
    this._opened = false;
    this._fetching = null;
    this._pumping = false;
    this._native = null;
    this._failure = refusal;
    let request;
    try {
      if (refusal === null) request = this._ctx.codec.encode({ pipeline, options: streamOptions(options, this._ctx.errors) });
    } catch (err) {
      this._failure = err;
    }
    if (request !== undefined) {
      try {
        this._native = client._native.watch(dbName, collName, request);
      } catch (err) {
        this._failure = this._ctx.errors.fromNative(err);
      }
    }
    if (this._native !== null) {
      let streams = live.get(client._native);
      if (streams === undefined) live.set(client._native, (streams = new Set()));
      this._ref = new WeakRef(this);
      streams.add(this._ref);
      this._live = streams;
    }
    this.on('newListener', (event) => {
      if (event !== 'change' || this.listenerCount('change') > 0) return;
      this._setMode('emitter');
      process.nextTick(() => this._pump());
    });
  }

  /** The token to resume after the last change handed out (or the stream's start). */
  get resumeToken() {
    return this._resumeToken;
  }

  get closed() {
    return this._closed;
  }

  /** The next change, waiting for it. Rejects with MongoAPIError 'ChangeStream is closed' once the
   *  stream is closed, and with the failure that ended it (the stream is then closed). */
  async next() {
    this._setMode('iterator');
    for (;;) {
      const change = this._take();
      if (change !== undefined) return change;
      if (await this._read(null) === null) throw new this._ctx.codec.mongo.MongoAPIError(CLOSED);
    }
  }

  /** Whether a change is (or, once one arrives, will be) there to read: false on a closed stream or
   *  one the server ended (after an invalidate event); rejects with MongoAPIError 'ChangeStream is
   *  closed' when it is closed while waiting, as the Node driver's. */
  async hasNext() {
    this._setMode('iterator');
    const wasClosed = this._closed;
    for (;;) {
      this._passTokens();
      if (this._buffer.length > 0) return true;
      const fetched = await this._read(null);
      if (fetched === null) {
        if (wasClosed || this._exhausted) return false;
        throw new this._ctx.codec.mongo.MongoAPIError(CLOSED);
      }
      // A change came, even if a `next()` waiting alongside has taken it.
      if (fetched > 0) return true;
    }
  }

  /** The next change if one arrives within `maxAwaitTimeMS` (1 s by default), else null; as the
   *  Node driver's, the first call waits for the stream to open (and rejects if it cannot), a call on
   *  a closed stream resolves to null, and one waiting when the stream closes rejects with
   *  MongoAPIError 'ChangeStream is closed'. */
  async tryNext() {
    this._setMode('iterator');
    if (this._closed && this._failure === null) return null;
    while (!this._opened) {
      if (await this._read(null) === null) throw new this._ctx.codec.mongo.MongoAPIError(CLOSED);
    }
    const deadline = Date.now() + (this.options.maxAwaitTimeMS ?? DEFAULT_TRY_WAIT_MS);
    for (;;) {
      const change = this._take();
      if (change !== undefined) return change;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      if (await this._read(left) === null) throw new this._ctx.codec.mongo.MongoAPIError(CLOSED);
    }
  }

  /** Iterates the changes until the stream is closed; leaving the loop closes it. */
  async *[Symbol.asyncIterator]() {
    try {
      while (!this._closed) {
        const change = this._take();
        if (change !== undefined) {
          yield change;
          continue;
        }
        this._setMode('iterator');
        if (await this._read(null) === null) return;
      }
    } finally {
      await this.close();
    }
  }

  /** The changes as a Node Readable in object mode. */
  stream() {
    if (this._closed) throw new this._ctx.codec.mongo.MongoChangeStreamError(CLOSED);
    return Readable.from(this);
  }

  /** Closes the stream (its server cursor too); resolves once it is closed. */
  async close() {
    if (this._closed) return;
    const native = this._native;
    this._ended(false);
    await native?.close();
  }

  _setMode(mode) {
    if (this._mode === mode || this._mode === false) {
      this._mode = mode;
      return;
    }
    const [now, then] = mode === 'iterator' ? ['an iterator', 'an EventEmitter'] : ['an EventEmitter', 'an iterator'];
    throw new this._ctx.codec.mongo.MongoAPIError(`ChangeStream cannot be used as ${now} after being used as ${then}`);
  }

  /** The first buffered change, after handing out the tokens before it; undefined when none. */
  _take() {
    this._passTokens();
    const item = this._buffer.shift();
    if (item === undefined) return undefined;
    this._setToken(item.token);
    this._passTokens();
    return item.event;
  }

  /** Hands out the resume tokens that came with no change, up to the next change. */
  _passTokens() {
    while (this._buffer.length > 0 && this._buffer[0].event === undefined) this._setToken(this._buffer.shift().token);
  }

  _setToken(token) {
    this._resumeToken = token;
    this.emit('resumeTokenChanged', token);
  }

  /** `_fetch` for an iterator: a failure closes the stream before it is thrown. */
  async _read(waitMs) {
    try {
      return await this._fetch(waitMs);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Reads the next batch into the buffer, waiting up to `waitMs` (null: until one comes). Resolves
   *  to how many changes it brought, or null once the stream is closed. Calls made while a batch is
   *  on its way share it. Rejects with the failure that ended the stream. */
  _fetch(waitMs) {
    if (this._failure !== null) {
      const failure = this._failure;
      if (this._native !== null) this._failure = null;
      return Promise.reject(failure);
    }
    if (this._closed) return Promise.resolve(null);
    this._fetching ??= this._native.nextBatch(waitMs).then(
      (bytes) => {
        this._fetching = null;
        if (bytes === null || this._closed) {
          this._ended(bytes === null && !this._native.closed);
          return null;
        }
        this._opened = true;
        const { changes } = this._ctx.codec.decode(bytes, this._bson);
        this._buffer.push(...changes);
        return changes.filter((c) => c.event !== undefined).length;
      },
      (err) => {
        this._fetching = null;
        this._failure = this._ctx.errors.fromNative(err);
        return this._fetch(waitMs);
      },
    );
    return this._fetching;
  }

  /** Emitter mode: emits each change while someone listens for them; a failure is an 'error' event,
   *  after which the stream is closed. A 'change' listener that throws is an 'error' event too, and
   *  the stream goes on, as the Node driver's. */
  async _pump() {
    if (this._pumping) return;
    this._pumping = true;
    try {
      while (!this._closed && this.listenerCount('change') > 0) {
        const change = this._take();
        if (change === undefined) {
          if (await this._fetch(null) === null) break;
          continue;
        }
        try {
          this.emit('change', change);
        } catch (err) {
          this.emit('error', err);
        }
      }
    } catch (err) {
      // As the Node driver's: a stream that never opened closes, then says why; one that opened
      // says why, then closes.
      if (!this._opened) await this.close();
      this.emit('error', err);
      await this.close();
    } finally {
      this._pumping = false;
    }
  }

  /** Marks the stream closed and says so once: 'end' first when it ended by itself (the server
   *  ended it, after an invalidate event), then 'close'. */
  _ended(byItself) {
    if (this._closed) return;
    this._closed = true;
    this._exhausted = byItself;
    this._live?.delete(this._ref);
    if (byItself) this.emit('end');
    this.emit('close');
  }
}

/** What the engine takes of a watch's `options`: the change stream options, a read preference as its
 *  mode. Refuses what it cannot honour (a session, timeoutMS, an aggregate option such as maxTimeMS);
 *  other names (Mongoose's `model`, `hydrate`, BSON options) are not the engine's. */
function streamOptions(options, errors) {
  const { maxAwaitTimeMS, ...rest } = options;
  refuse(rest, errors);
  for (const name of NOT_FOR_STREAMS) {
    if (options[name] !== undefined) throw errors.unsupported(`option ${name} is not supported on a change stream`);
  }
  const out = {};
  for (const name of STREAM_OPTIONS) if (options[name] !== undefined) out[name] = options[name];
  if (out.readPreference !== undefined) {
    out.readPreference = toReadPreference(out.readPreference);
    if (out.readPreference.mode !== 'primary') throw errors.unsupported('a change stream reads from the primary here: readPreference must be \'primary\'');
  }
  if (out.readConcern !== undefined && typeof out.readConcern !== 'string') out.readConcern = { level: out.readConcern.level };
  return out;
}

module.exports = { EngineChangeStream, streamsClosedWith };

'use strict';
// Sessions in the Node driver's ClientSession shape, over the engine's (crates/engine/src/session.rs).
// The engine's session starts with the first request that names it, on the pool serving that request's
// database; its transactions then span that pool's databases. The transaction state, which Mongoose
// and applications read (`session.transaction.state`, `inTransaction()`), is kept here as the Node
// driver keeps it; the transaction itself starts on the engine with its first request, as the Node
// driver sends `startTransaction` with it.

const { EventEmitter } = require('node:events');

/** The Node driver's transaction states (TxnState). */
const TxnState = Object.freeze({
  NO_TRANSACTION: 'NO_TRANSACTION',
  STARTING_TRANSACTION: 'STARTING_TRANSACTION',
  TRANSACTION_IN_PROGRESS: 'TRANSACTION_IN_PROGRESS',
  TRANSACTION_COMMITTED: 'TRANSACTION_COMMITTED',
  TRANSACTION_COMMITTED_EMPTY: 'TRANSACTION_COMMITTED_EMPTY',
  TRANSACTION_ABORTED: 'TRANSACTION_ABORTED',
});

/** How long `withTransaction` retries, from its start (Convenient Transactions specification). */
const WITH_TRANSACTION_LIMIT_MS = 120_000;
/** The server's MaxTimeMSExpired: a commit that timed out is not retried. */
const MAX_TIME_MS_EXPIRED = 50;

/** Whether `err` carries the error label `name`: a driver error of any version of the Node driver
 *  (the application's models may use another `mongodb` than the session's client). */
const hasLabel = (err, name) => typeof err?.hasErrorLabel === 'function' && err.hasErrorLabel(name);

/** The sessions started on each engine (a NativeWrapper) and not ended, which closing it ends. */
const live = new WeakMap();

/** Ends, here, the sessions of engine `native`, which its close has ended (their transactions
 *  aborted): as the Node driver's `MongoClient#close()` leaves them. */
function endedWith(native) {
  const sessions = live.get(native);
  if (sessions === undefined) return;
  live.delete(native);
  for (const ref of sessions) ref.deref()?._ended();
}

/** A session's current transaction, in the Node driver's Transaction shape. */
class Transaction {
  constructor(options = {}) {
    this.state = TxnState.NO_TRANSACTION;
    this.options = options;
  }

  get isStarting() {
    return this.state === TxnState.STARTING_TRANSACTION;
  }

  get isActive() {
    return this.state === TxnState.STARTING_TRANSACTION || this.state === TxnState.TRANSACTION_IN_PROGRESS;
  }

  get isCommitted() {
    return this.state === TxnState.TRANSACTION_COMMITTED || this.state === TxnState.TRANSACTION_COMMITTED_EMPTY;
  }

  /** The engine's pools are not load balanced: a transaction is never pinned to a connection. */
  get isPinned() {
    return false;
  }
}

/** A session of an EngineClient (lib/driver/db.js); `client.startSession(options)` makes one. Emits
 *  'ended' once ended, as the Node driver's. */
class EngineSession extends EventEmitter {
  /** `client`: the EngineClient; `options`: the Node driver's ClientSessionOptions
   *  (`causalConsistency`, `snapshot`, `defaultTransactionOptions`). */
  constructor(client, options) {
    super();
    options ??= {};
    this.client = client;
    this._ctx = client._ctx;
    this._options = options;
    this.explicit = true;
    this.hasEnded = false;
    this.defaultTransactionOptions = { ...options.defaultTransactionOptions };
    this.transaction = new Transaction();
    /** What the session supports, as the Node driver reports it. */
    this.supports = { causalConsistency: options.snapshot !== true && options.causalConsistency !== false };
    /** The server session, as the Node driver's: its `id` (the lsid, once a request has run) and
     *  `lastUse` (ms, `performance.now()`, when a request last ran in it). */
    this.serverSession = { id: undefined, lastUse: performance.now() };
    /** The engine's session (a promise of a NativeSession), made by the first request. */
    this._native = null;
    /** That NativeSession, once made. */
    this._started = undefined;
    /** A transaction started here and not yet on the engine: its options. */
    this._toStart = undefined;
    /** The engine's start of the current transaction, which its requests wait for. */
    this._starting = null;
    let sessions = live.get(client._native);
    if (sessions === undefined) live.set(client._native, (sessions = new Set()));
    for (const ref of sessions) if (ref.deref() === undefined) sessions.delete(ref);
    this._ref = new WeakRef(this);
    sessions.add(this._ref);
  }

  /** The session's lsid (`{ id: UUID }`), once a request has run in it; undefined before. */
  get id() {
    return this.serverSession.id;
  }

  /** The server's `operationTime` (a Timestamp) of the session's last request, as the Node driver's;
   *  undefined before any. */
  get operationTime() {
    return this._times().operationTime;
  }

  /** The `$clusterTime` (`{ clusterTime, signature }`) last seen by the session; undefined before any. */
  get clusterTime() {
    return this._times().clusterTime;
  }

  _times() {
    return this._started === undefined ? {} : this._ctx.codec.decode(this._started.times());
  }

  get snapshotEnabled() {
    return this._options.snapshot === true;
  }

  get isPinned() {
    return false;
  }

  inTransaction() {
    return this.transaction.isActive;
  }

  /** Starts a transaction with `options` (readConcern, writeConcern, readPreference, maxCommitTimeMS;
   *  the session's defaults for those not given). Nothing is sent until its first request. Throws a
   *  MongoTransactionError when one is in progress or for a read preference other than the primary's,
   *  as the Node driver's. */
  startTransaction(options) {
    const { mongo } = this._ctx.codec;
    if (this.snapshotEnabled) throw new mongo.MongoCompatibilityError('Transactions are not supported in snapshot sessions');
    if (this.transaction.isActive) throw new mongo.MongoTransactionError('Transaction already in progress');
    const merged = { ...this.defaultTransactionOptions, ...options };
    const mode = typeof merged.readPreference === 'string' ? merged.readPreference : merged.readPreference?.mode;
    if (mode != null && mode !== 'primary') throw new mongo.MongoTransactionError(`Read preference in a transaction must be primary, not: ${mode}`);
    this.transaction = new Transaction(merged);
    this.transaction.state = TxnState.STARTING_TRANSACTION;
    this._toStart = this.transaction.options;
    this._starting = null;
    // Its pool stays open until the first request starts the transaction in the engine.
    this._started?.pin(true);
  }

  /** Commits the transaction. A transaction with no request commits nothing on the server. A commit
   *  may be called again after an error labelled UnknownTransactionCommitResult. */
  async commitTransaction() {
    const { mongo } = this._ctx.codec;
    switch (this.transaction.state) {
      case TxnState.NO_TRANSACTION:
        throw new mongo.MongoTransactionError('No transaction started');
      case TxnState.TRANSACTION_ABORTED:
        throw new mongo.MongoTransactionError('Cannot call commitTransaction after calling abortTransaction');
      case TxnState.STARTING_TRANSACTION:
      case TxnState.TRANSACTION_COMMITTED_EMPTY:
        this._toStart = undefined;
        this.transaction.state = TxnState.TRANSACTION_COMMITTED_EMPTY;
        this._started?.pin(false);
        return;
      default:
    }
    const native = await this._native;
    this._starting = null;
    try {
      await native.commitTransaction();
    } catch (err) {
      throw this._ctx.errors.fromNative(err);
    } finally {
      this.transaction.state = TxnState.TRANSACTION_COMMITTED;
    }
  }

  /** Aborts the transaction; the server's errors are ignored, as the specification asks. */
  async abortTransaction() {
    const { mongo } = this._ctx.codec;
    switch (this.transaction.state) {
      case TxnState.NO_TRANSACTION:
        throw new mongo.MongoTransactionError('No transaction started');
      case TxnState.TRANSACTION_COMMITTED:
      case TxnState.TRANSACTION_COMMITTED_EMPTY:
        throw new mongo.MongoTransactionError('Cannot call abortTransaction after calling commitTransaction');
      case TxnState.TRANSACTION_ABORTED:
        throw new mongo.MongoTransactionError('Cannot call abortTransaction twice');
      case TxnState.STARTING_TRANSACTION:
        this._toStart = undefined;
        this.transaction.state = TxnState.TRANSACTION_ABORTED;
        this._started?.pin(false);
        return;
      default:
    }
    this.transaction.state = TxnState.TRANSACTION_ABORTED;
    this._starting = null;
    const native = await this._native.catch(() => null);
    await native?.abortTransaction().catch(() => {});
  }

  /** Runs `fn(session)` in a transaction and commits it, retrying the whole of it on an error labelled
   *  TransientTransactionError and the commit on UnknownTransactionCommitResult, for up to 120 s
   *  (Convenient Transactions specification, as the Node driver's). Resolves to what `fn` resolved to;
   *  rejects with `fn`'s error (the transaction aborted) or the commit's. */
  async withTransaction(fn, options) {
    const { mongo } = this._ctx.codec;
    const started = Date.now();
    const inTime = () => Date.now() - started < WITH_TRANSACTION_LIMIT_MS;
    for (;;) {
      this.startTransaction(options);
      let result;
      try {
        const promise = fn(this);
        if (promise == null || typeof promise.then !== 'function') {
          throw new mongo.MongoInvalidArgumentError('Function provided to `withTransaction` must return a Promise');
        }
        result = await promise;
      } catch (err) {
        if (this.transaction.isActive) await this.abortTransaction();
        if (hasLabel(err, 'TransientTransactionError') && inTime()) continue;
        throw err;
      }
      // `fn` committed or aborted the transaction itself.
      if (!this.transaction.isActive) return result;
      for (;;) {
        try {
          await this.commitTransaction();
          return result;
        } catch (err) {
          if (hasLabel(err, 'UnknownTransactionCommitResult') && err.code !== MAX_TIME_MS_EXPIRED && inTime()) continue;
          if (hasLabel(err, 'TransientTransactionError') && inTime()) break;
          throw err;
        }
      }
    }
  }

  /** Ends the session, aborting a transaction in progress. */
  async endSession() {
    if (this.hasEnded) return;
    this._ended();
    const native = await this._native?.catch(() => null);
    await native?.end();
  }

  /** Marks the session ended, its transaction aborted. */
  _ended() {
    if (this.hasEnded) return;
    this.hasEnded = true;
    live.get(this.client._native)?.delete(this._ref);
    if (this.transaction.isActive) this.transaction.state = TxnState.TRANSACTION_ABORTED;
    this._toStart = undefined;
    this.emit('ended', this);
  }

  /** The engine's session for one request on database `db`: started on the pool serving `db` by the
   *  session's first request, with the transaction started first when one is pending. Rejects with the
   *  application's error classes (an ended session, a transaction the server refused to start). */
  async _forRequest(db) {
    const { codec, errors } = this._ctx;
    if (this.hasEnded) throw new codec.mongo.MongoExpiredSessionError('Use of expired sessions is not permitted');
    this.serverSession.lastUse = performance.now();
    try {
      if (this._native === null) {
        // The default transaction options are merged into each transaction's here.
        const options = { causalConsistency: this._options.causalConsistency, snapshot: this._options.snapshot };
        // Options the engine refuses throw here, at once.
        this._native = this.client._native.startSession(db, codec.encode(transactionShapes(options)));
        this._native.then((native) => {
          this._started = native;
          this.serverSession.id = codec.decode(native.id());
        }, () => {});
      }
      const native = await this._native;
      if (this._toStart !== undefined) {
        const options = this._toStart;
        this._toStart = undefined;
        this._starting = native.startTransaction(codec.encode(transactionShapes(options)));
        this.transaction.state = TxnState.TRANSACTION_IN_PROGRESS;
      }
      if (this._starting !== null) await this._starting;
      return native;
    } catch (err) {
      throw errors.fromNative(err);
    }
  }
}

/** Transaction options (or session options) with the Node driver's ReadConcern, WriteConcern and
 *  ReadPreference objects as the plain shapes the engine reads. */
function transactionShapes(options) {
  const out = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    if (key === 'readConcern') out[key] = typeof value === 'string' ? { level: value } : { level: value.level };
    else if (key === 'readPreference') out[key] = typeof value === 'string' ? value : { mode: value.mode };
    else if (key === 'writeConcern') out[key] = { ...value };
    else out[key] = value;
  }
  return out;
}

/** `request` as the Node driver sends it inside a transaction: the transaction's read and write
 *  concerns govern its statements (given at its first statement and at its commit), so a statement's
 *  own are left out, as the Node driver leaves them out; the server refuses them. */
function inTransaction(request) {
  const out = { ...request };
  delete out.writeConcern;
  if (out.options?.readConcern !== undefined) {
    const { readConcern, ...options } = out.options;
    out.options = options;
  }
  if (out.command?.readConcern !== undefined || out.command?.writeConcern !== undefined) {
    const { readConcern, writeConcern, ...command } = out.command;
    out.command = command;
  }
  return out;
}

module.exports = { EngineSession, TxnState, endedWith, inTransaction };

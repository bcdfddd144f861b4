'use strict';
// Errors as the Node driver raises them, built from the application's own `mongodb` classes so that
// `instanceof MongoServerError`, `err.code === 11000`, `hasErrorLabel()` and Mongoose's own checks hold.

/** The addon's error names that are the Node driver's classes; any other name is ours (PolyMongoError,
 *  WaitQueueTimeoutError, TypeError for a bad database name, ...) and is left as it is. */
const DRIVER_CLASSES = new Set([
  'MongoServerError', 'MongoWriteConcernError', 'MongoServerSelectionError', 'MongoNetworkError',
  'MongoNetworkTimeoutError', 'MongoInvalidArgumentError', 'MongoTransactionError', 'MongoCompatibilityError',
  'MongoAuthenticationError', 'MongoExpiredSessionError', 'MongoError', 'BSONError',
]);

/** polymongo-rs's own errors (not the driver's): `code` says which (`ERR_WRAPPER_CLOSED`,
 *  `ERR_NOT_CASTABLE`); the subclasses below carry `dbName`. Exported for `instanceof`. */
class PolyMongoError extends Error {}
/** An operation waited longer than `waitQueueTimeoutMS` for its turn: `code` `ERR_WAIT_QUEUE_TIMEOUT`. */
class WaitQueueTimeoutError extends PolyMongoError {}
/** A pool could not open in time under `maxOpenPools` / `maxTotalConnections`: `code` `ERR_POOL_LIMIT`. */
class PoolLimitError extends PolyMongoError {}
for (const Class of [PolyMongoError, WaitQueueTimeoutError, PoolLimitError]) {
  Object.defineProperty(Class.prototype, 'name', { value: Class.name, writable: true, configurable: true });
}
const OWN_CLASSES = { PolyMongoError, WaitQueueTimeoutError, PoolLimitError };

/** An error from the addon that is one of ours, made an instance of its class (the addon names it).
 *  Its name comes from its class, as a class's instances' do, not as an own enumerable property
 *  (which the Node driver's error constructors would copy, and MongoBulkWriteError cannot take). */
function ours(err) {
  const Class = err != null && Object.hasOwn(OWN_CLASSES, err.name) ? OWN_CLASSES[err.name] : undefined;
  if (Class !== undefined && !(err instanceof Class)) Object.setPrototypeOf(err, Class.prototype);
  if (err != null && Object.hasOwn(err, 'name') && Object.getPrototypeOf(err)?.name === err.name) delete err.name;
  return err;
}

/** A write error of a bulk write, in the Node driver's shape (the raw error under `err`). */
class WriteError {
  constructor(err) {
    this.err = err;
  }

  get code() {
    return this.err.code;
  }

  get index() {
    return this.err.index;
  }

  get errmsg() {
    return this.err.errmsg;
  }

  get errInfo() {
    return this.err.errInfo;
  }

  getOperation() {
    return this.err.op;
  }

  toJSON() {
    return { code: this.err.code, index: this.err.index, errmsg: this.err.errmsg, op: this.err.op };
  }

  toString() {
    return `WriteError(${JSON.stringify(this.toJSON())})`;
  }
}

/** A write-concern error of a bulk write, in the Node driver's shape. */
class WriteConcernError {
  constructor(error) {
    this.serverError = error;
  }

  get code() {
    return this.serverError.code;
  }

  get errmsg() {
    return this.serverError.errmsg;
  }

  /** What MongoBulkWriteError takes as its message from an error that is not the Node driver's class. */
  get message() {
    return this.serverError.errmsg;
  }

  get errInfo() {
    return this.serverError.errInfo;
  }

  toJSON() {
    return this.serverError;
  }

  toString() {
    return `WriteConcernError(${this.errmsg})`;
  }
}

/** A write model (`{ insertOne: { document } }`, `{ updateOne: { filter, update, ... } }`, ...) as the
 *  operation the Node driver records on its write errors. */
function statementOf(model) {
  if (model === undefined) return undefined;
  const [kind, spec] = Object.entries(model)[0];
  switch (kind) {
    case 'insertOne':
      return spec.document;
    case 'updateOne':
    case 'updateMany':
      return { q: spec.filter, u: spec.update, upsert: spec.upsert ?? false, multi: kind === 'updateMany', ...rest(spec, ['arrayFilters', 'collation', 'hint']) };
    case 'replaceOne':
      return { q: spec.filter, u: spec.replacement, upsert: spec.upsert ?? false, multi: false, ...rest(spec, ['collation', 'hint']) };
    default:
      return { q: spec.filter, limit: kind === 'deleteOne' ? 1 : 0, ...rest(spec, ['collation', 'hint']) };
  }
}

function rest(spec, names) {
  return Object.fromEntries(names.filter((name) => spec[name] !== undefined).map((name) => [name, spec[name]]));
}

/** Builds errors with one application's `mongodb` module and its BulkWriteResult class. */
class Errors {
  constructor(codec, BulkWriteResult) {
    this.codec = codec;
    this.mongo = codec.mongo;
    this.BulkWriteResult = BulkWriteResult;
  }

  /** An error from the addon as the driver's class of its name, with `code`, `codeName`,
   *  `errorLabels` and the server's other fields (decoded from `bsonDetails` with the app's BSON). */
  fromNative(err) {
    if (err == null || typeof err !== 'object') return err;
    const details = err.bsonDetails ? this.codec.decode(err.bsonDetails) : undefined;
    delete err.bsonDetails;
    if (!DRIVER_CLASSES.has(err.name)) return ours(details ? Object.assign(err, details) : err);
    // The app's bson raises its own while encoding a request; the engine's become one.
    const { BSONError } = this.codec.BSON;
    if (err.name === 'BSONError') return err instanceof BSONError ? err : new BSONError(err.message);
    const { mongo } = this;
    const labels = err.errorLabels ?? [];
    let out;
    if (err.name === 'MongoServerError' || err.name === 'MongoWriteConcernError') {
      const response = { ...details, message: err.message, errmsg: err.message, code: err.code, codeName: err.codeName, errorLabels: labels };
      out = err.name === 'MongoServerError'
        ? new mongo.MongoServerError(response)
        : new mongo.MongoWriteConcernError({ writeConcernError: { code: err.code, codeName: err.codeName, errmsg: err.message, errInfo: details?.errInfo }, errorLabels: labels });
    } else if (err.name === 'MongoServerSelectionError') {
      // Its second argument is the topology description the Node driver had; the engine keeps its own.
      out = new mongo.MongoServerSelectionError(err.message, { error: null });
      for (const label of labels) out.addErrorLabel(label);
    } else {
      const Class = mongo[err.name] ?? mongo.MongoError;
      out = new Class(err.message);
      if (Class === mongo.MongoError && err.name !== 'MongoError') Object.defineProperty(out, 'name', { value: err.name });
      for (const label of labels) out.addErrorLabel(label);
      if (err.code !== undefined) out.code = err.code;
      if (details) Object.assign(out, details);
    }
    return out;
  }

  /** The Node driver's BulkWriteResult for the engine's bulk result document of `ops` (the engine's
   *  write models); each write error carries its operation as the Node driver's does (`err.op`:
   *  the document, or the `{ q, u, ... }` / `{ q, limit }` statement), which Mongoose's bulkSave reads. */
  bulkResult(raw, ordered, ops) {
    const bulk = {
      ok: raw.ok,
      writeErrors: raw.writeErrors.map((e) => new WriteError({ ...e, op: statementOf(ops[e.index]) })),
      writeConcernErrors: raw.writeConcernErrors.map((e) => new WriteConcernError(e)),
      insertedIds: raw.insertedIds,
      nInserted: raw.nInserted,
      nUpserted: raw.nUpserted,
      nMatched: raw.nMatched,
      nModified: raw.nModified,
      nRemoved: raw.nRemoved,
      upserted: raw.upserted,
    };
    return new this.BulkWriteResult(bulk, ordered);
  }

  /** A bulk write's outcome: its BulkWriteResult, or the MongoBulkWriteError the Node driver throws
   *  for its first write error (else its write-concern error). */
  bulkOutcome(raw, ordered, ops) {
    const result = this.bulkResult(raw, ordered, ops);
    const writeErrors = result.getWriteErrors();
    if (writeErrors.length > 0) {
      const first = writeErrors[0];
      throw new this.mongo.MongoBulkWriteError({ message: first.errmsg ?? 'write operation failed', code: first.code, writeErrors }, result);
    }
    const writeConcernError = result.getWriteConcernError();
    if (writeConcernError) throw new this.mongo.MongoBulkWriteError(writeConcernError, result);
    return result;
  }

  /** A bulk write that failed as a whole (the server refused the command, or could not be reached):
   *  the MongoBulkWriteError the Node driver wraps it in, with `err`'s message, code and labels, no
   *  write errors, and a result of nothing written but the ids given to the documents to insert
   *  (bulk/common.js, executeCommands). */
  bulkFailure(err, ordered, ops) {
    const insertedIds = ops.flatMap((op, index) => (op.insertOne === undefined ? [] : [{ index, _id: op.insertOne.document._id }]));
    const none = { ok: 1, writeErrors: [], writeConcernErrors: [], insertedIds, nInserted: 0, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [] };
    return new this.mongo.MongoBulkWriteError(err, this.bulkResult(none, ordered, ops));
  }

  /** A single write's outcome, as the Node driver's insertOne/updateOne/... report it: a
   *  MongoServerError for its write error, a MongoWriteConcernError for an unsatisfied write concern. */
  singleOutcome(raw) {
    if (raw.writeErrors.length > 0) throw new this.mongo.MongoServerError(raw.writeErrors[0]);
    if (raw.writeConcernErrors.length > 0) {
      throw new this.mongo.MongoWriteConcernError({ writeConcernError: raw.writeConcernErrors[0] });
    }
    return raw;
  }

  /** These errors as a client that owns its engine (the whole-app driver's) raises them: a closed
   *  engine is the Node driver's MongoNotConnectedError, as after `MongoClient#close()`, rather than
   *  the wrapper's ERR_WRAPPER_CLOSED, which names `connect()`, a call such a client has no use for. */
  ofOwnedClient() {
    const errors = Object.create(this);
    errors.fromNative = (err) => {
      const out = this.fromNative(err);
      if (out?.code !== 'ERR_WRAPPER_CLOSED') return out;
      return new this.mongo.MongoNotConnectedError('polymongo-rs: the connection is closed; open it again to run operations');
    };
    return errors;
  }

  /** A request the engine cannot honour, refused before anything is sent. */
  unsupported(what) {
    const err = new this.mongo.MongoCompatibilityError(`polymongo-rs: ${what}`);
    err.code = 'ERR_NOT_SUPPORTED';
    return err;
  }

  /** A malformed argument, as the Node driver refuses it. */
  invalid(message) {
    return new this.mongo.MongoInvalidArgumentError(message);
  }
}

module.exports = { Errors, PolyMongoError, WaitQueueTimeoutError, PoolLimitError, ours };

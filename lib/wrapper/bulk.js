'use strict';
// Bulk tasks on whole databases, PolyMongo's data `actions` (and their `bulkTasks` names): export,
// import, copy and drop. The engine reads and writes the documents; this layer gives them Node's
// shapes: a Readable of NDJSON, an object, an async iterable read with backpressure, progress events
// and an AbortSignal.

const { EventEmitter } = require('node:events');
const { Readable } = require('node:stream');
const { NativeBulkTask } = require('../../native.js');
const { checkBulkOptions, checkDbNameType } = require('./options');
const { contextFor } = require('../driver/mongoose');

/** Progress is read from the engine this often while a task runs (ms). */
const PROGRESS_INTERVAL_MS = 250;
/** An import from an object is handed to the engine in pieces of about this many bytes. */
const PUSH_BYTES = 1024 * 1024;

/** Node's AbortError for an aborted task. */
function abortError(signal) {
  const err = new Error('The operation was aborted', { cause: signal?.reason });
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/** Reports a task's progress: `'progress'` on `emitter` and `onProgress(snapshot)` every
 *  `PROGRESS_INTERVAL_MS` while it changes, and once more at the end. Returns `stop()`. */
function reportProgress(progress, emitter, onProgress) {
  let last = '';
  const report = () => {
    const now = progress.snapshot();
    const key = `${now.collection}\0${now.documents}\0${now.bytes}`;
    if (key === last) return;
    last = key;
    const event = { collection: now.collection, documents: now.documents, bytes: now.bytes };
    if (now.total != null) event.total = now.total;
    emitter.emit('progress', event);
    onProgress?.(event);
  };
  const timer = setInterval(report, PROGRESS_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    report();
  };
}

/** `run(progress)` as a task: a promise with `on('progress', listener)` (which returns the promise),
 *  aborted by `signal`. */
function task(signal, onProgress, run, progress = new NativeBulkTask()) {
  const emitter = new EventEmitter();
  const promise = (async () => {
    if (signal?.aborted) throw abortError(signal);
    const onAbort = () => progress.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const stop = reportProgress(progress, emitter, onProgress);
    try {
      return await run(progress);
    } catch (err) {
      throw err?.name === 'AbortError' ? abortError(signal) : err;
    } finally {
      stop();
      signal?.removeEventListener('abort', onAbort);
    }
  })();
  promise.on = (event, listener) => {
    emitter.on(event, listener);
    return promise;
  };
  return promise;
}

/** The bulk tasks of `wrapper` (a PolyMongo wrapper). */
class BulkTasks {
  constructor(wrapper) {
    this.wrapper = wrapper;
  }

  get native() {
    return this.wrapper._native;
  }

  /** The engine's options as BSON, with the application's BSON (a query may hold its ObjectIds). */
  encode(engineOptions) {
    return contextFor(this.wrapper.adv.mongoose).codec.encode(engineOptions);
  }

  fromNative(err) {
    return err?.code === 'ABORT_ERR' ? err : this.wrapper._fromNative(err);
  }

  /** The same for a task that `signal` may have aborted: an abort is Node's AbortError, with the
   *  signal's reason as its cause. */
  fromAborted(err, signal) {
    return err?.code === 'ABORT_ERR' ? abortError(signal) : this.fromNative(err);
  }

  /** `pending` (a native promise), its rejection as the application's error. */
  settle(pending) {
    return pending.catch((err) => {
      throw this.fromNative(err);
    });
  }

  /** The engine's options without `validate`, and the native task of an import: with `validate:
   *  true` it checks imported documents against the schemas of the models this wrapper wrapped, for
   *  the collections the options take. Throws, naming the model,
   *  when one of those models has checks only JS runs (custom validators, conditional `required`,
   *  default functions, patterns the engine's regex engine does not take). */
  validating({ validate, ...engine }) {
    const native = new NativeBulkTask();
    if (!validate) return { engine, native };
    const taken = engine.format === 'mongoexport' ? { include: [engine.collection] } : engine.collections;
    const { include, exclude = [] } = taken ?? {};
    for (const model of this.wrapper._wrappedModels) {
      const layer = this.wrapper._tenancy(model.base).layer(model);
      const name = layer.collectionName;
      if ((include && !include.includes(name)) || exclude.includes(name)) continue;
      const schema = layer.fast.schema;
      const why = schema == null
        ? 'its schema is one only Mongoose casts'
        : schema.jsChecks.length > 0
          ? `its validators of ${schema.jsChecks.map((c) => c.path).join(', ')} run in JavaScript`
          : schema.fnDefaults.length > 0
            ? `its defaults of ${schema.fnDefaults.map((d) => d.path).join(', ')} are functions`
            : undefined;
      if (why) {
        const err = new TypeError(`polymongo-rs: validate: model ${model.modelName} (collection ${name}) cannot be checked in the engine: ${why}; leave its collection out or import without validate`);
        err.code = 'ERR_INVALID_ARG_VALUE';
        throw err;
      }
      native.validate(name, schema.native);
    }
    return { engine, native };
  }

  dbName(db) {
    checkDbNameType(db);
    return this.wrapper._dbName(db);
  }

  /** Database `db` as a Readable of NDJSON (see README: the meta line, then each collection's
   *  record, index records, document records in canonical Extended JSON, and its end), or with
   *  `format: 'mongoexport'` one `collection` as mongoexport writes it (a document per line,
   *  `jsonFormat` 'relaxed', its default, or 'canonical'). Options: `collections`, `query`,
   *  `batchSize`, `signal`, `onProgress`; the stream also emits `'progress'`. Destroying it stops
   *  the export. */
  exportStream(db, options) {
    const allowed = ['query', 'batchSize', 'format', 'collection', 'jsonFormat'];
    const { engine, signal, onProgress } = checkBulkOptions(options, allowed, 'exportDBStream options');
    const progress = new NativeBulkTask();
    const stream = this.openExport(db, engine, signal, progress);
    if (!signal?.aborted) {
      const stop = reportProgress(progress, stream, onProgress);
      stream.once('close', stop);
    }
    return stream;
  }

  /** The Readable of `exportStream`, reading with `progress`. */
  openExport(db, engine, signal, progress) {
    const name = this.dbName(db);
    let source;
    try {
      source = this.native.exportDb(name, this.encode(engine), progress);
    } catch (err) {
      throw this.fromNative(err);
    }
    const tasks = this;
    let reading = false;
    const stream = new Readable({
      highWaterMark: 4 * PUSH_BYTES,
      read() {
        if (reading) return;
        reading = true;
        source.next().then(
          (text) => {
            reading = false;
            if (this.destroyed) return;
            if (text === null) this.push(null);
            else if (this.push(text)) this._read();
          },
          (err) => {
            reading = false;
            this.destroy(tasks.fromAborted(err, signal));
          },
        );
      },
      destroy(err, callback) {
        progress.abort();
        source.close().catch(() => {});
        signal?.removeEventListener('abort', onAbort);
        callback(err);
      },
    });
    const onAbort = () => stream.destroy(abortError(signal));
    if (signal?.aborted) process.nextTick(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
    return stream;
  }

  /** Database `db` as an object: `{ database, exportedAt, version: 2, collections: { name: {
   *  type, options, indexes, documents } } }`, values in canonical Extended JSON, so that
   *  `JSON.stringify` keeps every BSON type and `importDB` takes it back. Options as `exportStream`;
   *  with `format: 'dump'` and `dir`, it writes mongodump's layout into `<dir>/<db>/` instead (`gzip`
   *  for `.gz` files) and resolves to `{ database, path, exportedAt, collections, documents, bytes }`. */
  export(db, options) {
    const allowed = ['query', 'batchSize', 'format', 'dir', 'gzip'];
    const { engine, signal, onProgress } = checkBulkOptions(options, allowed, 'exportDB options');
    if (engine.format === 'dump') {
      const name = this.dbName(db);
      return task(signal, onProgress, async (progress) => {
        const exportedAt = new Date().toISOString();
        return { exportedAt, ...JSON.parse(await this.settle(this.native.exportDump(name, this.encode(engine), progress))) };
      });
    }
    return task(signal, onProgress, async (progress) => {
      const result = { database: db, exportedAt: undefined, version: 2, collections: {} };
      let pending = '';
      const take = (line) => {
        if (!line) return;
        const record = JSON.parse(line);
        const collection = record.collection === undefined ? undefined : result.collections[record.collection];
        switch (record.type) {
          case 'meta':
            result.exportedAt = record.exportedAt;
            break;
          case 'collection':
            result.collections[record.collection] = { type: record.collectionType, options: record.options, indexes: [], documents: [] };
            break;
          case 'index':
            collection.indexes.push(record.index);
            break;
          case 'document':
            collection.documents.push(record.document);
            break;
        }
      };
      const stream = this.openExport(db, engine, signal, progress);
      for await (const piece of stream) {
        const lines = (pending + piece.toString('utf8')).split('\n');
        pending = lines.pop();
        lines.forEach(take);
      }
      take(pending);
      return result;
    });
  }

  /** Reads NDJSON (ours or PolyMongo 1.3's) from `source` (a Readable, a web ReadableStream or any
   *  async iterable of Buffers or strings) into database `db`, one piece at a time: the next is read
   *  once the engine has written what the last one completed. Resolves to the summary
   *  `{ database, importedAt, collections, failures, failureCount, insertedDocuments,
   *  createdIndexes }`. Options: `collections`, `batchSize`, `drop`, `ordered`, `stopOnError`,
   *  `bypassDocumentValidation`, `signal`, `onProgress`; `format: 'mongoexport'` with `collection`
   *  reads mongoexport's lines (relaxed or canonical) into that collection. On an error or an
   *  abort, the collection being written is rolled back and `source` destroyed. */
  importStream(db, source, options) {
    const allowed = ['batchSize', 'drop', 'ordered', 'stopOnError', 'bypassDocumentValidation', 'validate', 'format', 'collection'];
    const { engine, signal, onProgress } = checkBulkOptions(options, allowed, 'importDBStream options');
    if (source == null || typeof source[Symbol.asyncIterator] !== 'function') {
      const err = new TypeError('polymongo-rs: importDBStream takes a readable stream (or an async iterable of Buffers or strings)');
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
    return this.importFrom(db, engine, signal, onProgress, source);
  }

  importFrom(db, options, signal, onProgress, source) {
    const target = this.dbName(db);
    const { engine, native } = this.validating(options);
    return task(signal, onProgress, async (progress) => {
      let sink;
      try {
        sink = this.native.importDb(target, this.encode(engine), progress);
        for await (const piece of source) {
          if (signal?.aborted) break;
          await sink.push(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
        }
        if (signal?.aborted) await sink.abort();
        const summary = JSON.parse(await sink.finish());
        return { database: summary.database, importedAt: new Date().toISOString(), ...summary };
      } catch (err) {
        source.destroy?.();
        // A source that failed (a read error, a stream destroyed) leaves the engine's collection
        // open: roll it back. After the engine's own failure this finds nothing to undo.
        await sink?.abort().catch(() => {});
        throw this.fromAborted(err, signal);
      }
    }, native);
  }

  /** Takes back an object from `export` (ours, values in Extended JSON) or from PolyMongo 1.3's
   *  `exportDB` (`{ database, exportDate, collections: { name: { documents, indexes } } }`, documents
   *  as the application's BSON values or as JSON). Options as `importStream`. `importDB(db, { dir })`
   *  imports a dump in mongodump's layout from `dir` (the database's folder, or the folder holding
   *  it), gzipped files (`.gz`) included. */
  import(db, data, options) {
    const allowed = ['batchSize', 'drop', 'ordered', 'stopOnError', 'bypassDocumentValidation', 'validate'];
    if (typeof data?.dir === 'string' && data.collections === undefined && options === undefined) {
      const checked = checkBulkOptions(data, [...allowed, 'dir'], 'importDB options');
      const name = this.dbName(db);
      const { engine, native } = this.validating(checked.engine);
      return task(checked.signal, checked.onProgress, async (progress) => {
        const summary = JSON.parse(await this.settle(this.native.importDump(name, this.encode({ ...engine, format: 'dump' }), progress)));
        return { database: summary.database, importedAt: new Date().toISOString(), ...summary };
      }, native);
    }
    const { engine, signal, onProgress } = checkBulkOptions(options, allowed, 'importDB options');
    if (data === null || typeof data !== 'object' || data.collections === null || typeof data.collections !== 'object') {
      const err = new TypeError('polymongo-rs: importDB takes an export: { collections: { name: { documents, indexes } } }');
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
    const ours = data.version === 2;
    const { EJSON } = contextFor(this.wrapper.adv.mongoose).codec.BSON;
    const json = ours ? JSON.stringify : (value) => EJSON.stringify(value, { relaxed: false });
    // Each document's line, so that failures name its place in its collection instead.
    const places = [];
    function* lines() {
      yield JSON.stringify({ type: 'meta', format: 'polymongo.ndjson', version: 2, database: data.database ?? db });
      let line = 1;
      let count = 0;
      const entries = Object.entries(data.collections);
      for (const [name, collection] of entries) {
        const type = ours ? collection.type : 'collection';
        const indexes = collection.indexes ?? [];
        const documents = collection.documents ?? [];
        yield `{"type":"collection","collection":${JSON.stringify(name)},"collectionType":${JSON.stringify(type ?? 'collection')},"options":${json(collection.options ?? {})}}`;
        for (const index of indexes) yield `{"type":"index","collection":${JSON.stringify(name)},"index":${json(index)}}`;
        places.push({ name, first: line + 2 + indexes.length });
        for (const document of documents) yield `{"type":"document","collection":${JSON.stringify(name)},"document":${json(document)}}`;
        yield `{"type":"collectionEnd","collection":${JSON.stringify(name)},"documents":${documents.length}}`;
        line += 2 + indexes.length + documents.length;
        count += documents.length;
      }
      yield `{"type":"end","collections":${entries.length},"documents":${count}}`;
    }
    /** `{ line }` of a failure or an error as `{ document }`, its place in its collection's array. */
    const place = (failure) => {
      const where = places.findLast((p) => p.name === failure.collection && failure.line >= p.first);
      if (where !== undefined && typeof failure.line === 'number') {
        failure.document = failure.line - where.first;
        delete failure.line;
      }
      return failure;
    };
    function* pieces() {
      let piece = '';
      for (const line of lines()) {
        piece += `${line}\n`;
        if (piece.length >= PUSH_BYTES) {
          yield piece;
          piece = '';
        }
      }
      if (piece) yield piece;
    }
    const imported = this.importFrom(db, engine, signal, onProgress, pieces());
    const placed = imported.then(
      (summary) => ({ ...summary, failures: summary.failures.map(place) }),
      (err) => {
        throw place(err);
      },
    );
    placed.on = (event, listener) => {
      imported.on(event, listener);
      return placed;
    };
    return placed;
  }

  /** Copies database `from` into `to` in the engine (documents as raw BSON, indexes, collection
   *  options), each on the pool serving it (so across clusters with dbSpecific). Resolves to
   *  `{ source, target, importedAt, collections, failures, failureCount, insertedDocuments,
   *  createdIndexes }`. Options: `collections`, `query`, `batchSize`, `drop`, `ordered`,
   *  `stopOnError`, `bypassDocumentValidation`, `signal`, `onProgress`. */
  copyDatabase(from, to, options) {
    const allowed = ['query', 'batchSize', 'drop', 'ordered', 'stopOnError', 'bypassDocumentValidation', 'validate'];
    const checked = checkBulkOptions(options, allowed, 'copyDatabase options');
    const [source, target] = [this.dbName(from), this.dbName(to)];
    const { engine, native } = this.validating(checked.engine);
    return task(checked.signal, checked.onProgress, async (progress) => {
      const summary = JSON.parse(await this.settle(this.native.copyDatabase(source, target, this.encode(engine), progress)));
      const { database, ...rest } = summary;
      return { source, target: database, importedAt: new Date().toISOString(), ...rest };
    }, native);
  }

  /** Drops database `db` and closes its change streams. The wrapper's default database and
   *  MongoDB's own (admin, local, config) need `{ force: true }`. */
  async dropDatabase(db, options) {
    const { engine } = checkBulkOptions(options, ['force'], 'dropDatabase options');
    const name = this.dbName(db);
    try {
      await this.native.dropDatabase(name, engine.force === true);
    } catch (err) {
      throw this.fromNative(err);
    }
  }
}

module.exports = { BulkTasks };

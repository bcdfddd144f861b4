'use strict';
// Mongoose on the engine. Mongoose's own MongoDB-driver layer (its Connection and Collection for the
// Node driver: buffering, debug printing, `operation-start` / `operation-end` events) is kept as it
// is; what it talks to, `connection.client` and `connection.db`, is the engine's client in the Node
// driver's shape. So documents, middleware, populate and every plugin run as Mongoose runs them, and
// every collection call becomes one request to the engine.

const path = require('node:path');
const { Codec } = require('./codec');
const { Errors } = require('./errors');
const { EngineCollection } = require('./collection');
const { EngineClient } = require('./db');
const { BSON_OPTIONS } = require('./options');

/** The codec and error builder of each Mongoose instance (its `mongodb` and BSON). */
const contexts = new WeakMap();

/** `{ codec, errors }` for `mongoose`: BSON and error classes of the application's own `mongodb`. The
 *  engine's collection gets a method that throws a clear error for every Node-driver collection
 *  method it does not implement, so Mongoose's wrappers never call an undefined function. */
function contextFor(mongoose) {
  let ctx = contexts.get(mongoose);
  if (ctx === undefined) {
    const codec = new Codec(mongoose.mongo);
    const errors = new Errors(codec, mongoose.driver.get().BulkWriteResult);
    ctx = { codec, errors };
    contexts.set(mongoose, ctx);
    coverDriverMethods(mongoose.mongo.Collection.prototype);
  }
  return ctx;
}

function coverDriverMethods(driverPrototype) {
  for (const name of Object.getOwnPropertyNames(driverPrototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(driverPrototype, name);
    if (name === 'constructor' || descriptor.get !== undefined || typeof descriptor.value !== 'function') continue;
    if (name in EngineCollection.prototype) continue;
    Object.defineProperty(EngineCollection.prototype, name, {
      configurable: true,
      writable: true,
      value() {
        throw this._ctx.errors.unsupported(`Collection#${name}() of the Node driver is not supported`);
      },
    });
  }
}

/** The Node-driver Connection class of `mongoose` (its own, whatever driver the instance was set to). */
function connectionClass(mongoose) {
  return mongoose.driver.get().Connection;
}

/** Wires `conn`, a new Mongoose connection, to `db` (an EngineDb of `client`, an EngineClient) and
 *  marks it connected, as Mongoose does once its driver has connected: its collections never buffer,
 *  and the engine connects on first use. */
function openConnection(conn, client, db) {
  conn.client = client;
  conn.db = db;
  conn.name = db.databaseName;
  conn.$dbName = db.databaseName;
  conn._hasOpened = true;
  // The state is set without Mongoose's state-change events: nothing has listened yet.
  conn._readyState = 1;
  return conn;
}

/** MongoClient options that are connection-string options: added to the URI the engine parses. */
const URI_OPTIONS = new Set(['appName', 'authMechanism', 'authSource', 'replicaSet', 'directConnection', 'tls', 'ssl',
  'tlsAllowInvalidCertificates', 'tlsAllowInvalidHostnames', 'tlsCAFile', 'tlsCertificateKeyFile', 'tlsInsecure',
  'serverSelectionTimeoutMS', 'connectTimeoutMS', 'heartbeatFrequencyMS', 'localThresholdMS',
  'retryWrites', 'retryReads', 'w', 'journal', 'wtimeoutMS', 'readPreference', 'readConcernLevel', 'maxStalenessSeconds',
  'compressors', 'zlibCompressionLevel', 'loadBalanced', 'srvMaxHosts', 'srvServiceName', 'maxConnecting']);
/** MongoClient pool options, under the engine's names. */
const POOL_OPTIONS = { maxPoolSize: 'maxPoolSize', minPoolSize: 'minFreeConnections', maxIdleTimeMS: 'idleTimeoutMS', waitQueueTimeoutMS: 'waitQueueTimeoutMS' };
/** Mongoose's own connection options, kept in the connection's `config` as Mongoose keeps them. */
const CONFIG_OPTIONS = ['autoIndex', 'autoCreate', 'sanitizeFilter', 'autoSearchIndex', 'bufferTimeoutMS', 'bufferCommands'];

/** A connection string's parts: `mongodb://` or `mongodb+srv://`, credentials (as written), hosts
 *  (`h1:27017,h2:27017`), `/db` and the options; null when it has no host. Split by hand: a URL
 *  parser takes one host only. */
function uriParts(uri) {
  const m = /^(mongodb(?:\+srv)?:\/\/)(?:([^@/]*)@)?([^/?]*)([^?]*)(?:\?(.*))?$/s.exec(uri);
  if (m === null || m[3] === '') return null;
  return { scheme: m[1], userinfo: m[2], hosts: m[3], path: m[4], params: new URLSearchParams(m[5] ?? '') };
}

/** The first host of a connection string as Mongoose's connection shows it (`host`, `port`). */
function firstHost(uri) {
  const first = uriParts(uri)?.hosts.split(',')[0] ?? '';
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(first);
  return { host: m?.[1] || undefined, port: m?.[2] === undefined ? undefined : Number(m[2]) };
}

/** The engine's wrapper options for `mongoose.connect(uri, options)`: the URI with the connection-string
 *  options and credentials added, the pool options, and `dbName`. Throws for an option the engine cannot
 *  honour. */
function engineOptions(uri, options, errors) {
  const parts = uriParts(uri);
  // What the Node driver refuses as it parses a connection string, refused as it refuses it.
  if (parts === null) {
    throw new errors.mongo.MongoParseError(/^mongodb(\+srv)?:\/\//.test(uri)
      ? 'polymongo-rs: the connection string names no host'
      : 'polymongo-rs: a connection string starts with mongodb:// or mongodb+srv://');
  }
  const out = { handleSignals: false, bson: {} };
  const { user, pass, auth, dbName, ...rest } = options;
  const username = auth?.username ?? user;
  const password = auth?.password ?? pass;
  let [uriUser, uriPassword] = parts.userinfo === undefined ? [] : parts.userinfo.split(/:(.*)/s);
  // Empty credentials are none, as Mongoose reads them.
  if (username || password) {
    if (username !== undefined) uriUser = encodeURIComponent(username);
    if (password !== undefined) uriPassword = encodeURIComponent(password);
  }
  if (dbName !== undefined) out.defaultDB = dbName;
  for (const [name, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (name === 'monitorCommands') out.monitorCommands = value === true;
    else if (name === 'serverApi') out.serverApi = typeof value === 'object' ? { ...value, version: String(value.version) } : { version: String(value) };
    else if (Object.hasOwn(POOL_OPTIONS, name)) out[POOL_OPTIONS[name]] = value;
    else if (BSON_OPTIONS.includes(name)) out.bson[name] = value;
    else if (URI_OPTIONS.has(name)) parts.params.set(name, Array.isArray(value) ? value.join(',') : String(value));
    else throw errors.unsupported(`the connection option ${name} is not supported by the polymongo-rs driver`);
  }
  const credentials = uriUser === undefined ? '' : `${uriUser}${uriPassword === undefined ? '' : `:${uriPassword}`}@`;
  const query = parts.params.size > 0 ? `?${parts.params}` : '';
  out.mongoURI = `${parts.scheme}${credentials}${parts.hosts}${parts.path || (query ? '/' : '')}${query}`;
  return out;
}

/** A module of the Mongoose installation `mongoose` was loaded from (`lib/<name>.js`), or null for a
 *  Mongoose that was not loaded from its files (a bundle). Found beside the `lib/mongoose.js` that
 *  defines its class: the application's own Mongoose, whichever copy or version it is. */
function mongooseLib(mongoose, name) {
  for (const mod of Object.values(require.cache)) {
    if (mod?.exports?.Mongoose === mongoose.Mongoose && path.basename(mod.filename) === 'mongoose.js') {
      return require(path.join(path.dirname(mod.filename), `${name}.js`));
    }
  }
  return null;
}

/** The clock of heartbeats, taken when this module loads: code that fakes `globalThis.Date` (tests'
 *  fake timers) does not move them, as in Mongoose's own driver (gh-16183). */
const heartbeatClock = Date.now;

/** What Mongoose's own driver does on each successful heartbeat of its client (its `_setClient`):
 *  the connection and those made from it with useDb() note when the deployment last answered, and,
 *  on a Mongoose that has `_flushQueue` (9), run the operations they buffered if they are connected
 *  (gh-16183). */
function heartbeatSucceeded(conn) {
  const at = heartbeatClock();
  const connections = [conn, ...conn.otherDbs];
  for (const each of connections) each._lastHeartbeatAt = at;
  if (typeof conn._flushQueue !== 'function') return;
  for (const each of connections) {
    if (each._queue.length > 0 && each.readyState === 1) each._flushQueue();
  }
  // A heartbeat the engine sent before it closed can arrive after the connection closed.
  if (conn.db == null) return;
  for (const collection of Object.values(conn.collections)) {
    if (collection.buffer) collection.onOpen();
  }
}

/** A Mongoose driver on the engine, for a whole application: `mongoose.setDriver(mongooseDriver(mongoose))`
 *  makes `mongoose.connect(uri)`, `createConnection(uri)` and `useDb(name)` of that Mongoose instance run
 *  on polymongo-rs's engine (one engine, so one set of pools, per connection opened with a URI; `useDb`
 *  shares it). Mongoose's own collection layer is kept; the connection's client is the engine's. */
function mongooseDriver(mongoose) {
  const native = mongoose.driver.get();
  const ctx = contextFor(mongoose);
  // Connection options as Mongoose's own driver reads them (read preferences against autoIndex and
  // autoCreate), by Mongoose's own helper.
  const processConnectionOptions = mongooseLib(mongoose, 'helpers/processConnectionOptions');
  if (typeof processConnectionOptions !== 'function') {
    throw new TypeError('polymongo-rs: mongooseDriver() needs a Mongoose loaded from its package files, not a bundled copy (mark mongoose as external in your bundler)');
  }
  const watch = connectionWatch(mongoose);
  class EngineConnection extends native.Connection {
    watch(pipeline, options) {
      return watch.call(this, pipeline, options);
    }

    async createClient(uri, options = {}) {
      if (typeof uri !== 'string') {
        // Worded so that checks written against Mongoose's own message (/string.*createConnection/) match.
        throw new mongoose.Error(`polymongo-rs: the connection string must be a string for mongoose.connect() and createConnection(), got ${typeof uri}`);
      }
      if (this._destroyCalled) {
        // Starts as Mongoose's own message does, which applications and Mongoose's tests match.
        throw new mongoose.Error('Connection has been closed and destroyed (polymongo-rs: closed with force), so it cannot open again; '
          + 'make a new one with mongoose.createConnection() or mongoose.connect()');
      }
      // Another connection string on an open connection would leave its engine open and move its
      // models to another deployment or database: refused, as Mongoose's own driver refuses it.
      if ((this.readyState === 1 || this.readyState === 2) && this._connectionString !== uri) {
        throw new mongoose.Error('polymongo-rs: cannot call openUri() on an active connection with different connection strings; '
          + 'close it first, or open another connection with mongoose.createConnection()');
      }
      const driverOptions = { ...processConnectionOptions(uri, options) };
      const config = driverOptions.config ?? {};
      delete driverOptions.config;
      for (const name of CONFIG_OPTIONS) {
        const value = name === 'autoIndex' ? config.autoIndex ?? driverOptions.autoIndex : driverOptions[name];
        if (value !== undefined) this.config[name] = name === 'autoIndex' || name === 'autoCreate' ? value !== false : value;
        delete driverOptions[name];
      }
      // Mongoose's `shouldAuthenticate()` reads the credentials given as options (empty ones are none).
      if (driverOptions.user || driverOptions.pass) {
        this.user = driverOptions.user;
        this.pass = driverOptions.pass;
      }
      const { bson, ...wrapperOptions } = engineOptions(uri, driverOptions, ctx.errors);
      const { NativeWrapper } = require('../../native.js');
      this.readyState = 2;
      this._connectionString = uri;
      // The client is there at once, as the Node driver's is: code may reach for it before it connects.
      let client;
      try {
        client = new EngineClient(new NativeWrapper(wrapperOptions), ctx, { owned: true, bson, monitorCommands: wrapperOptions.monitorCommands });
      } catch (err) {
        this.readyState = 0;
        // A connection string the driver cannot use fails as the Node driver's does, when it is parsed.
        if (err?.option === 'mongoURI' || err?.option === 'serverApi.version') throw new ctx.errors.mongo.MongoParseError(err.message);
        throw ctx.errors.fromNative(err);
      }
      this.client = client;
      // As Mongoose's own driver does, the connection re-emits its client's command events.
      if (wrapperOptions.monitorCommands) {
        for (const name of ['commandStarted', 'commandFailed', 'commandSucceeded']) client.on(name, (event) => this.emit(name, event));
      }
      client.on('serverHeartbeatSucceeded', () => heartbeatSucceeded(this));
      try {
        await client.connect();
      } catch (err) {
        this.readyState = 0;
        throw err;
      }
      // As Mongoose's own driver shows the first host once connected.
      Object.assign(this, firstHost(uri));
      this.db = client.db(wrapperOptions.defaultDB);
      this.name = this.db.databaseName;
      this.$dbName = this.name;
      this.onOpen();
      // Connections made with useDb() share the client, a new one after a close and a re-open too.
      for (const other of this.otherDbs) {
        Object.assign(other, { host: this.host, port: this.port });
        other.client = client;
        other.db = client.db(other.name);
        other.onOpen();
      }
      return this;
    }

    /** Closes the engine, unless `{ skipCloseClient: true }`: how Mongoose closes the connections
     *  made with useDb(), which share their parent's client. */
    async doClose(force) {
      if (this.client == null || force?.skipCloseClient) return this;
      await this.client.close(typeof force === 'object' ? force?.force : force);
      return this;
    }

    setClient() {
      throw ctx.errors.unsupported('setClient() takes a Node-driver MongoClient; the polymongo-rs driver makes its own');
    }

    async listDatabases() {
      await this._waitForConnect();
      return this.db.admin().listDatabases();
    }
  }
  return { Connection: EngineConnection, Collection: native.Collection, BulkWriteResult: native.BulkWriteResult };
}

/** `connection.watch()` for connections on the engine: Mongoose's, with its ChangeStream (same events
 *  and methods), except that on a connected connection the engine's stream opens at once, where
 *  Mongoose opens it later (on the next turn of the event loop in Mongoose 8). So the stream sees
 *  the operations started after `watch()` returns, and a `close()` right after `watch()` closes it.
 *  The stream is also async-iterable (`iterable`). Returns the method, for `mongoose`'s connections. */
function connectionWatch(mongoose) {
  const ChangeStream = mongooseLib(mongoose, 'cursor/changeStream');
  const watch = connectionClass(mongoose).prototype.watch;
  return function watchOnEngine(pipeline, options) {
    if (ChangeStream === null || this.readyState !== 1) return iterable(watch.call(this, pipeline, options));
    return iterable(new ChangeStream(opened(this.db.watch(pipeline, options)), pipeline, options));
  };
}

/** An open driver stream as Mongoose's ChangeStream constructor takes it: Mongoose 8 calls a function
 *  back with it, Mongoose 9 takes a promise of it. Either hands it over on a later turn, as Mongoose
 *  does, so a 'ready' listener added after `watch()` hears the event. */
function opened(stream) {
  const promise = Promise.resolve(stream);
  return Object.assign((callback) => setImmediate(callback, null, stream), { then: promise.then.bind(promise) });
}

/** `stream`, a Mongoose ChangeStream on the engine: made async-iterable as the Node driver's is
 *  (Mongoose's is not): `for await` gives its changes, hydrated for `Model.watch(pipeline, { hydrate:
 *  true })`, until it closes; leaving the loop closes it. Its `closed` turns true when the engine's
 *  stream closes, however it is used (Mongoose sets it only for a stream it has bound events of). */
function iterable(stream) {
  if (Symbol.asyncIterator in stream) return stream;
  stream.$driverChangeStreamPromise.then(
    () => stream.driverChangeStream.once('close', () => {
      stream.closed = true;
    }),
    () => {},
  );
  Object.defineProperty(stream, Symbol.asyncIterator, {
    configurable: true,
    async *value() {
      await stream.$driverChangeStreamPromise;
      for await (const change of stream.driverChangeStream) {
        if (change.fullDocument != null && stream.options?.hydrate) change.fullDocument = stream.options.model.hydrate(change.fullDocument);
        yield change;
      }
    },
  });
  return stream;
}

module.exports = { contextFor, connectionClass, openConnection, mongooseDriver, mongooseLib, connectionWatch, iterable };

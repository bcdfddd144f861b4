'use strict';
// Mongoose on the engine. Mongoose's own MongoDB-driver layer (its Connection and Collection for the
// Node driver: buffering, debug printing, `operation-start` / `operation-end` events) is kept as it
// is; what it talks to, `connection.client` and `connection.db`, is the engine's client in the Node
// driver's shape. So documents, middleware, populate and every plugin run as Mongoose runs them, and
// every collection call becomes one request to the engine.

const { Codec } = require('./codec');
const { Errors } = require('./errors');
const { EngineCollection } = require('./collection');

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

module.exports = { contextFor, connectionClass, openConnection };

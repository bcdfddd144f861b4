// Options, models and database names are checked before any I/O: the URI below has no server, and
// each check must fail fast, by name, and leave the wrapper unconnected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolyMongo } from '../index.mjs';
import { model } from './helpers.mjs';

const NOWHERE = 'mongodb://127.0.0.1:1';

function rejects(options, ErrorClass, option) {
  assert.throws(() => PolyMongo.createWrapper(options), (err) => {
    assert.ok(err instanceof ErrorClass, `${err.name}: ${err.message}`);
    assert.equal(err.option, option);
    assert.match(err.message, new RegExp(option.replace(/[[\].]/g, '\\$&')));
    assert.ok(typeof err.code === 'string');
    return true;
  });
}

test('the URI must be a mongodb:// or mongodb+srv:// string', () => {
  rejects({}, TypeError, 'mongoURI');
  rejects({ mongoURI: 42 }, TypeError, 'mongoURI');
  rejects({ mongoURI: 'http://127.0.0.1' }, TypeError, 'mongoURI');
  rejects({ mongoURI: 'mongodb://' }, TypeError, 'mongoURI');
  // An environment variable set but empty, told as such.
  assert.throws(() => PolyMongo.createWrapper({ mongoURI: '' }), { name: 'TypeError', option: 'mongoURI', message: /got an empty string/ });
  assert.throws(() => PolyMongo.createWrapper(), TypeError);
  assert.throws(() => PolyMongo.createWrapper('mongodb://x'), TypeError);
});

test('pool sizes and timeouts must be sensible numbers', () => {
  rejects({ mongoURI: NOWHERE, maxPoolSize: '10' }, TypeError, 'maxPoolSize');
  rejects({ mongoURI: NOWHERE, maxPoolSize: 0 }, RangeError, 'maxPoolSize');
  rejects({ mongoURI: NOWHERE, maxPoolSize: -5 }, RangeError, 'maxPoolSize');
  rejects({ mongoURI: NOWHERE, maxPoolSize: 2.5 }, RangeError, 'maxPoolSize');
  rejects({ mongoURI: NOWHERE, maxPoolSize: NaN }, RangeError, 'maxPoolSize');
  rejects({ mongoURI: NOWHERE, minFreeConnections: -1 }, RangeError, 'minFreeConnections');
  rejects({ mongoURI: NOWHERE, maxPoolSize: 5, minFreeConnections: 6 }, RangeError, 'minFreeConnections');
  rejects({ mongoURI: NOWHERE, idleTimeoutMS: -1 }, RangeError, 'idleTimeoutMS');
  rejects({ mongoURI: NOWHERE, retry: -1 }, RangeError, 'retry');
  // PolyMongo 1.3's retry was an interval in ms: as a count, 3000 would hold operations for hours.
  assert.throws(() => PolyMongo.createWrapper({ mongoURI: NOWHERE, retry: 3000 }), { name: 'RangeError', option: 'retry', message: /at most 10.*reconnect interval/ });
  assert.doesNotThrow(() => PolyMongo.createWrapper({ mongoURI: NOWHERE, retry: 10 }));
  rejects({ mongoURI: NOWHERE, coldStart: 'yes' }, TypeError, 'coldStart');
});

test('unknown option names are refused by name', () => {
  rejects({ mongoURI: NOWHERE, maxPoolsize: 10 }, TypeError, 'maxPoolsize');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{ dbName: 'a', option: {} }] }, TypeError, 'dbSpecific[0].option');
  rejects({ mongoURI: NOWHERE, debug: { verbose: true } }, TypeError, 'debug.verbose');
  // Names of Object.prototype's members are not options either.
  rejects(JSON.parse(`{"mongoURI":"${NOWHERE}","__proto__":{}}`), TypeError, '__proto__');
  rejects({ mongoURI: NOWHERE, toString: 'x' }, TypeError, 'toString');
  rejects({ mongoURI: NOWHERE, debug: { constructor: true } }, TypeError, 'debug.constructor');
});

test('dbSpecific entries are checked', () => {
  rejects({ mongoURI: NOWHERE, dbSpecific: {} }, TypeError, 'dbSpecific');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{}] }, TypeError, 'dbSpecific[0].dbName');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{ dbName: 'a.b' }] }, TypeError, 'dbSpecific.dbName');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{ dbName: 'a', mongoURI: 'x' }] }, TypeError, 'dbSpecific.mongoURI');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{ dbName: 'a', options: { maxConnections: 0 } }] }, RangeError,
    'dbSpecific.options.maxConnections');
  rejects({ mongoURI: NOWHERE, defaultDB: 'bad name' }, TypeError, 'defaultDB');
});

test('every PolyMongo option is accepted and nothing connects', () => {
  const wrapper = PolyMongo.createWrapper({
    mongoURI: `${NOWHERE}/fromuri`, maxPoolSize: 20, minFreeConnections: 2, idleTimeoutMS: 300000, coldStart: true,
    retry: 2, debug: false, logPath: undefined,
    // Its eager pool fails to open at once, rather than keep the process for 3 × 30 s of server selection.
    dbSpecific: [{ dbName: 'analytics', mongoURI: 'mongodb://127.0.0.1:2/?serverSelectionTimeoutMS=100', options: { maxConnections: 50, autoClose: true, ttl: 300000, coldStart: false } }],
  });
  assert.equal(wrapper.defaultDB, 'fromuri');
  assert.equal(wrapper.getConnectionState(), 'not initialized');
  assert.equal(wrapper.isConnected(), false);
  assert.equal(PolyMongo.createWrapper({ mongoURI: NOWHERE }).defaultDB, 'test');
  assert.equal(PolyMongo.createWrapper({ mongoURI: NOWHERE, defaultDB: 'main' }).defaultDB, 'main');
});

test('wrapModel takes only Mongoose models', () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: NOWHERE });
  for (const notAModel of [undefined, null, {}, 'User', () => {}, { modelName: 'User' }]) {
    assert.throws(() => wrapper.wrapModel(notAModel), TypeError);
  }
  const User = wrapper.wrapModel(model('User', { name: String }));
  assert.equal(User.collection.collectionName, 'users');
  assert.equal(User.modelName, 'User');
  assert.equal(wrapper.wrapModel(User.db('t').base.models.User), User);
  // A handle or a database's class given again is that model's handle.
  assert.equal(wrapper.wrapModel(User), User);
  assert.equal(wrapper.wrapModel(User.db('t')), User);
  // Another wrapper's handle or database class: the application's model, wrapped for that wrapper.
  const other = PolyMongo.createWrapper({ mongoURI: NOWHERE });
  const Again = other.wrapModel(User);
  assert.notEqual(Again, User);
  assert.equal(other.wrapModel(User.db('t')), Again);
  assert.equal(other.wrapModel(User.db('t').base.models.User), Again);
  assert.equal(other.wrapModel(Again), Again);
  assert.equal(Again.db('t').db.name, 't');
  assert.notEqual(Again.db('t').db, User.db('t').db, "a database's connection is its wrapper's");
  // The first call decides the options: the same again is fine, others are refused, as is a non-object.
  const Org = wrapper.wrapModel(model('Org', { name: String }), { autoIndex: false });
  assert.equal(wrapper.wrapModel(Org, { autoIndex: false }), Org);
  assert.throws(() => wrapper.wrapModel(Org, { jsonSchema: true }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /first called with options/ });
  assert.throws(() => wrapper.wrapModel(Org, 'x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('a connection string the driver cannot use is refused when the wrapper is made, its password masked', () => {
  rejects({ mongoURI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=abc' }, TypeError, 'mongoURI');
  rejects({ mongoURI: 'mongodb://127.0.0.1:1/?noSuchOption=1' }, TypeError, 'mongoURI');
  rejects({ mongoURI: 'mongodb://127.0.0.1:1/?socketTimeoutMS=30000' }, TypeError, 'mongoURI');
  rejects({ mongoURI: NOWHERE, dbSpecific: [{ dbName: 'a', mongoURI: 'mongodb://u:hunter2@127.0.0.1:1/?w=x&wtimeoutMS=abc' }] }, TypeError, 'dbSpecific.mongoURI');
  assert.throws(() => PolyMongo.createWrapper({ mongoURI: 'mongodb://u:hunter2@127.0.0.1:1/?wtimeoutMS=abc' }), (err) => !err.message.includes('hunter2'));
  // Passwords the Rust driver would take for a host and quote (a raw `?` or `/`), or panic on (a `%`
  // before a character of three bytes): refused first, as the Node driver refuses them (helpers 15, 16).
  for (const uri of ['mongodb://app:hunter2?abc@127.0.0.1:1/db', 'mongodb://app:hun/ter2?x@127.0.0.1:1', 'mongodb://app:hun%中ter2@127.0.0.1:1']) {
    assert.throws(() => PolyMongo.createWrapper({ mongoURI: uri }), (err) => err.name === 'TypeError' && err.option === 'mongoURI' && !/hun/.test(err.message), uri);
  }
  // The database in the path is percent-decoded, as the Node driver reads it.
  assert.equal(PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1/shop%5Fa' }).defaultDB, 'shop_a');
  // Compression is negotiated with the server: every compressor the Node driver takes is accepted.
  assert.doesNotThrow(() => PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1/?compressors=zstd,zlib,snappy' }));
});

test('database names follow MongoDB rules and are refused before any I/O', () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: NOWHERE, defaultDB: 'main' });
  const User = wrapper.wrapModel(model('User', { name: String }));
  const bad = ['', 'a.b', 'a/b', 'a\\b', 'a b', 'a"b', '$a', 'a*', 'a<b', 'a>b', 'a:b', 'a|b', 'a?', 'a\0b', 'x'.repeat(64),
    '../admin', 'tenant.1'];
  for (const name of bad) {
    assert.throws(() => User.db(name), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_DB_NAME' && err.dbName === name,
      JSON.stringify(name));
  }
  for (const notAString of [42, {}, ['a']]) {
    assert.throws(() => User.db(notAString), (err) => err instanceof TypeError && err.code === 'ERR_INVALID_DB_NAME');
  }
  assert.equal(wrapper.getConnectionState(), 'not initialized');
});

test('.db() returns the same model class for the same name, and the default for no name', () => {
  const wrapper = PolyMongo.createWrapper({ mongoURI: NOWHERE, defaultDB: 'main' });
  const root = model('User', { name: String });
  const User = wrapper.wrapModel(root);
  assert.equal(User.db().db.name, 'main');
  assert.equal(User.db(), User.db(null));
  assert.equal(User.db('tenant_1'), User.db('tenant_1'));
  assert.notEqual(User.db('tenant_1'), User.db('tenant_2'));
  // A database's class is the application's model, subclassed: a real Mongoose model.
  assert.equal(User.db('tenant_1').db.name, 'tenant_1');
  assert.ok(User.db('tenant_1').prototype instanceof root);
  assert.equal(User.db('tenant_1').modelName, 'User');
  assert.equal(User.db('x'.repeat(63)).db.name.length, 63);
  assert.equal(wrapper.getConnectionState(), 'not initialized');
});

'use strict';
// Shape checks for createWrapper's options: kinds of value and option names, which only JS can see.
// Ranges and cross-field rules of the wrapper's configuration (maxPoolSize > 0, minFreeConnections <=
// maxPoolSize, URI scheme, database names) are checked by the engine, so each rule lives in one place.

const WRAPPER_OPTIONS = {
  mongoURI: 'string',
  defaultDB: 'string',
  maxPoolSize: 'number',
  minFreeConnections: 'number',
  idleTimeoutMS: 'number',
  coldStart: 'boolean',
  retry: 'number',
  debug: 'boolean|object',
  logPath: 'string',
  dbSpecific: 'array',
  maxConcurrentPerDb: 'number',
  waitQueueTimeoutMS: 'number',
  maxOpenPools: 'number',
  maxTotalConnections: 'number',
  handleSignals: 'boolean',
  tenantCacheSize: 'number',
  maxDatabaseLabels: 'number',
  maxOpenStreams: 'number',
  javascriptEnabled: 'boolean',
  logger: 'object',
  logMaxBytes: 'number',
  logMaxFiles: 'number',
};
const DB_SPECIFIC = { dbName: 'string', mongoURI: 'string', options: 'object' };
const DB_SPECIFIC_POOL = { maxConnections: 'number', autoClose: 'boolean', ttl: 'number', coldStart: 'boolean' };
const DEBUG = { log: 'boolean', logPath: 'string', logHandler: 'function' };
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];
const MODEL_OPTIONS = { autoIndex: 'boolean', jsonSchema: 'boolean' };
const SCALE_OPTIONS = { ...DB_SPECIFIC_POOL, mongoURI: 'string' };

function kindOf(value) {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

function optionError(option, message) {
  const err = new TypeError(`polymongo-rs: option ${option} ${message}`);
  err.code = 'ERR_INVALID_ARG_TYPE';
  err.option = option;
  return err;
}

/** Checks `value` against a table of option kinds; `prefix` names nested options in messages. */
function checkShape(value, table, prefix, required = []) {
  if (kindOf(value) !== 'object') throw optionError(prefix || 'options', `must be an object, got ${kindOf(value)}`);
  for (const [key, option] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    // An own property only: `__proto__` or `toString` is not an option.
    const expected = Object.hasOwn(table, key) ? table[key] : undefined;
    if (expected === undefined) {
      throw optionError(name, `is not a known option (known: ${Object.keys(table).join(', ')})`);
    }
    if (option !== undefined && !expected.split('|').includes(kindOf(option))) {
      throw optionError(name, `must be a ${expected.replace('|', ' or ')}, got ${kindOf(option)}`);
    }
  }
  for (const key of required) {
    if (value[key] === undefined) throw optionError(prefix ? `${prefix}.${key}` : key, 'is required');
  }
}

function checkWrapperOptions(options) {
  checkShape(options, WRAPPER_OPTIONS, '', ['mongoURI']);
  if (options.tenantCacheSize !== undefined && !(Number.isInteger(options.tenantCacheSize) && options.tenantCacheSize >= 1)) {
    throw rangeError('tenantCacheSize', `must be a positive integer, got ${options.tenantCacheSize}`);
  }
  if (kindOf(options.debug) === 'object') checkShape(options.debug, DEBUG, 'debug');
  if (options.logger !== undefined && !LOG_LEVELS.some((level) => typeof options.logger[level] === 'function')) {
    throw optionError('logger', 'must have debug/info/warn/error methods (pino, winston, console...)');
  }
  for (const [i, spec] of (options.dbSpecific ?? []).entries()) {
    checkShape(spec, DB_SPECIFIC, `dbSpecific[${i}]`, ['dbName']);
    if (spec.options !== undefined) checkShape(spec.options, DB_SPECIFIC_POOL, `dbSpecific[${i}].options`);
  }
}

/** wrapModel's options; none is `{}`. */
function checkModelOptions(options) {
  if (options === undefined) return {};
  checkShape(options, MODEL_OPTIONS, 'wrapModel options');
  return options;
}

/** `scale.setDB` / `scale.connectDB` arguments: a name or names, and pool options. */
function checkScaleArgs(names, options) {
  const list = typeof names === 'string' ? [names] : names;
  if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === 'string')) {
    throw optionError('names', 'must be a database name or a non-empty array of names');
  }
  if (options !== undefined) checkShape(options, SCALE_OPTIONS, 'scale options');
  return list;
}

/** A hook's database names (a name or names; `null` for hooks that take none) and callback. */
function checkHookArgs(names, callback) {
  const list = names === null ? [] : typeof names === 'string' ? [names] : names;
  if (!Array.isArray(list) || (names !== null && list.length === 0) || !list.every((n) => typeof n === 'string')) {
    throw optionError('names', 'must be a database name or a non-empty array of names');
  }
  if (typeof callback !== 'function') throw optionError('callback', `must be a function, got ${kindOf(callback)}`);
  return { list, callback };
}

function rangeError(option, message) {
  const err = new RangeError(`polymongo-rs: option ${option} ${message}`);
  err.code = 'ERR_OUT_OF_RANGE';
  err.option = option;
  return err;
}

/** Throws a TypeError (`ERR_INVALID_DB_NAME`) when `name` is not a string; the engine checks what
 *  MongoDB allows in a name. */
function checkDbNameType(name) {
  if (typeof name === 'string') return;
  const err = new TypeError(`polymongo-rs: a database name must be a string, got ${kindOf(name)}`);
  err.code = 'ERR_INVALID_DB_NAME';
  throw err;
}

/** `actions.closeAll` options; none is `{}`. */
function checkCloseOptions(options) {
  if (options === undefined) return {};
  checkShape(options, { timeoutMS: 'number' }, 'closeAll options');
  if (options.timeoutMS !== undefined && !(options.timeoutMS >= 0)) {
    throw rangeError('closeAll options.timeoutMS', `must be a non-negative number of milliseconds, got ${options.timeoutMS}`);
  }
  return options;
}

/** A bulk task's options (`actions.exportDB` and friends): `allowed` names the ones the task takes
 *  besides `collections`, `signal` and `onProgress`. Returns `{ engine, signal, onProgress }`: the
 *  options the engine reads (collections as `{ include, exclude }`) and the two JS ones. */
function checkBulkOptions(options, allowed, what) {
  if (options === undefined) options = {};
  const table = { collections: 'array|object', signal: 'object', onProgress: 'function' };
  for (const name of allowed) table[name] = BULK_OPTIONS[name];
  checkShape(options, table, what);
  const { collections, signal, onProgress, batchSize, query, ...flags } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw optionError(`${what}.signal`, 'must be an AbortSignal');
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 100_000)) {
    throw rangeError(`${what}.batchSize`, `must be an integer from 1 to 100000, got ${batchSize}`);
  }
  const names = (list, name) => {
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string')) throw optionError(name, 'must be an array of collection names');
    return list;
  };
  let filter = {};
  if (Array.isArray(collections)) filter = { include: names(collections, `${what}.collections`) };
  else if (collections !== undefined) {
    checkShape(collections, { include: 'array', exclude: 'array' }, `${what}.collections`);
    filter = { include: names(collections.include, `${what}.collections.include`), exclude: names(collections.exclude, `${what}.collections.exclude`) ?? [] };
  }
  if (query !== undefined) {
    for (const [name, filter] of Object.entries(query)) {
      if (kindOf(filter) !== 'object') throw optionError(`${what}.query.${name}`, `must be a filter object, got ${kindOf(filter)}`);
    }
  }
  const engine = { collections: { exclude: [], ...filter }, ...flags };
  if (filter.include === undefined) delete engine.collections.include;
  if (batchSize !== undefined) engine.batchSize = batchSize;
  if (query !== undefined) engine.query = query;
  return { engine, signal, onProgress };
}

/** The types of the options some bulk tasks take. */
const BULK_OPTIONS = {
  query: 'object',
  batchSize: 'number',
  drop: 'boolean',
  ordered: 'boolean',
  stopOnError: 'boolean',
  bypassDocumentValidation: 'boolean',
  force: 'boolean',
  validate: 'boolean',
  format: 'string',
  collection: 'string',
  jsonFormat: 'string',
  dir: 'string',
  gzip: 'boolean',
};

module.exports = { checkWrapperOptions, checkModelOptions, checkScaleArgs, checkHookArgs, checkCloseOptions, checkDbNameType, checkBulkOptions };

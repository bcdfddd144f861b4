'use strict';
// A chainable, thenable query in Mongoose's manner: `Model.find(f).sort('-a').limit(10)` runs when
// awaited, `exec()`-ed, or iterated.

const { QueryCursor } = require('./cursor');
const { toSort, toProjection, queryOptions } = require('./args');
const { makeThenable } = require('./thenable');

const CURSOR_OPS = new Set(['find']);

class Query {
  /** `op` names a model operation; `args` holds its filter, update, field and options. */
  constructor(model, op, { filter, update, field, projection, options } = {}) {
    this.model = model;
    this.op = op;
    this._filter = filter ?? {};
    this._update = update;
    this._field = field;
    this._options = queryOptions(options, projection);
  }

  getFilter() {
    return this._filter;
  }

  getOptions() {
    return this._options;
  }

  where(filter) {
    this._filter = { ...this._filter, ...filter };
    return this;
  }

  sort(spec) {
    this._options.sort = toSort(spec);
    return this;
  }

  select(spec) {
    this._options.projection = toProjection(spec);
    return this;
  }

  projection(spec) {
    return this.select(spec);
  }

  skip(n) {
    this._options.skip = n;
    return this;
  }

  limit(n) {
    this._options.limit = n;
    return this;
  }

  batchSize(n) {
    this._options.batchSize = n;
    return this;
  }

  maxTimeMS(ms) {
    this._options.maxTimeMS = ms;
    return this;
  }

  comment(value) {
    this._options.comment = value;
    return this;
  }

  hint(value) {
    this._options.hint = value;
    return this;
  }

  collation(value) {
    this._options.collation = value;
    return this;
  }

  allowDiskUse(value = true) {
    this._options.allowDiskUse = value;
    return this;
  }

  setOptions(options) {
    Object.assign(this._options, queryOptions(options));
    return this;
  }

  /** Results are always plain objects with BSON types, as with Mongoose's `.lean()`. */
  lean() {
    return this;
  }

  exec() {
    return this.model._run(this);
  }

  /** Streams the results; only `find` has a cursor. */
  cursor() {
    if (!CURSOR_OPS.has(this.op)) throw new TypeError(`polymongo-rs: ${this.op}() has no cursor`);
    return new QueryCursor(this.model._nativeFind(this), this.model._codec);
  }

  [Symbol.asyncIterator]() {
    return this.cursor()[Symbol.asyncIterator]();
  }

  get [Symbol.toStringTag]() {
    return 'Query';
  }
}

makeThenable(Query);

module.exports = { Query };

'use strict';
// A chainable, thenable aggregation in Mongoose's manner.

const { QueryCursor } = require('./cursor');
const { toSort } = require('./args');
const { makeThenable } = require('./thenable');

const STAGES = {
  match: '$match', group: '$group', project: '$project', limit: '$limit', skip: '$skip',
  lookup: '$lookup', addFields: '$addFields', set: '$set', unset: '$unset', facet: '$facet', count: '$count',
  sortByCount: '$sortByCount', unionWith: '$unionWith', densify: '$densify',
};

class Aggregate {
  constructor(model, pipeline = [], options = {}) {
    if (!Array.isArray(pipeline)) throw new TypeError('polymongo-rs: aggregate() takes an array of stages');
    this.model = model;
    this._pipeline = [...pipeline];
    this._options = { ...options };
  }

  pipeline() {
    return [...this._pipeline];
  }

  append(...stages) {
    this._pipeline.push(...stages.flat());
    return this;
  }

  sort(spec) {
    return this.append({ $sort: toSort(spec) });
  }

  unwind(...paths) {
    return this.append(...paths.map((p) => ({ $unwind: typeof p === 'string' && !p.startsWith('$') ? `$${p}` : p })));
  }

  sample(size) {
    return this.append({ $sample: { size } });
  }

  replaceRoot(newRoot) {
    return this.append({ $replaceRoot: { newRoot: typeof newRoot === 'string' ? `$${newRoot}` : newRoot } });
  }

  option(options) {
    Object.assign(this._options, options);
    return this;
  }

  allowDiskUse(value = true) {
    return this.option({ allowDiskUse: value });
  }

  collation(value) {
    return this.option({ collation: value });
  }

  hint(value) {
    return this.option({ hint: value });
  }

  comment(value) {
    return this.option({ comment: value });
  }

  exec() {
    return this.model._operation(() => this.cursor().toArray());
  }

  cursor(options = {}) {
    const native = this.model._nativeAggregate(this._pipeline, { ...this._options, ...options });
    return new QueryCursor(native, this.model._codec);
  }

  [Symbol.asyncIterator]() {
    return this.cursor()[Symbol.asyncIterator]();
  }

  get [Symbol.toStringTag]() {
    return 'Aggregate';
  }
}

for (const [method, stage] of Object.entries(STAGES)) {
  Aggregate.prototype[method] = function appendStage(value) {
    return this.append({ [stage]: value });
  };
}

makeThenable(Aggregate);

module.exports = { Aggregate };

'use strict';
// Mongoose's argument shapes turned into the plain shapes the engine takes.

const DIRECTIONS = { 1: 1, '-1': -1, asc: 1, ascending: 1, desc: -1, descending: -1 };

/** `'name -age'`, `{ name: 'asc' }`, `[['name', 1]]` → `{ name: 1, age: -1 }`. */
function toSort(spec) {
  if (spec == null) return undefined;
  const sort = {};
  if (typeof spec === 'string') {
    for (const field of spec.split(/\s+/).filter(Boolean)) {
      if (field.startsWith('-')) sort[field.slice(1)] = -1;
      else sort[field.startsWith('+') ? field.slice(1) : field] = 1;
    }
    return sort;
  }
  const entries = Array.isArray(spec) ? spec : Object.entries(spec);
  for (const [field, direction] of entries) {
    const value = typeof direction === 'object' && direction !== null ? direction : DIRECTIONS[String(direction).toLowerCase()];
    if (value === undefined) throw new TypeError(`polymongo-rs: invalid sort direction ${String(direction)} for ${field}`);
    sort[field] = value;
  }
  return sort;
}

/** `'name -age'`, `['name', 'age']`, `{ name: 1 }` → a projection document. */
function toProjection(spec) {
  if (spec == null) return undefined;
  if (Array.isArray(spec)) return Object.fromEntries(spec.map((field) => [field, 1]));
  if (typeof spec === 'string') {
    const projection = {};
    for (const field of spec.split(/\s+/).filter(Boolean)) {
      if (field.startsWith('-')) projection[field.slice(1)] = 0;
      else projection[field.startsWith('+') ? field.slice(1) : field] = 1;
    }
    return projection;
  }
  return spec;
}

/** Like Mongoose, top-level fields without an operator are set: `{ a: 1, $inc: { n: 1 } }` →
 *  `{ $set: { a: 1 }, $inc: { n: 1 } }`. Pipelines pass through. */
function toUpdate(update) {
  if (update == null || typeof update !== 'object') {
    throw new TypeError('polymongo-rs: an update must be an object or an aggregation pipeline');
  }
  if (Array.isArray(update)) return update;
  let result = null;
  for (const key of Object.keys(update)) {
    if (key.startsWith('$')) continue;
    result ??= { ...update, $set: { ...update.$set } };
    result.$set[key] = update[key];
    delete result[key];
  }
  return result ?? update;
}

/** A document as a plain object (Mongoose documents are unwrapped). */
function plain(doc) {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TypeError(`polymongo-rs: a document must be an object, got ${Array.isArray(doc) ? 'array' : typeof doc}`);
  }
  return typeof doc.toObject === 'function' ? doc.toObject({ depopulate: true }) : doc;
}

/** Query options under the engine's names; `fields`/`select` are Mongoose spellings of projection. */
function queryOptions(options = {}, projection) {
  const { sort, projection: p, fields, select, lean, new: returnNew, returnOriginal, returnDocument, ...rest } = options;
  const out = { ...rest };
  const proj = toProjection(projection ?? p ?? fields ?? select);
  if (proj !== undefined) out.projection = proj;
  if (sort !== undefined) out.sort = toSort(sort);
  if (returnDocument !== undefined) out.returnDocument = returnDocument;
  else if (returnNew !== undefined || returnOriginal !== undefined) {
    out.returnDocument = returnNew === true || returnOriginal === false ? 'after' : 'before';
  }
  return out;
}

module.exports = { toSort, toProjection, toUpdate, plain, queryOptions };

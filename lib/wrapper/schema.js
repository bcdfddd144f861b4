'use strict';
// The schema bridge: a Mongoose schema becomes a spec (plain JSON) that the Rust engine casts and
// validates with (the fast path) and derives a `$jsonSchema` validator from. What only JS can run
// stays here: custom validators, conditional `required`, default functions other than Date.now, and
// patterns the Rust regex engine does not take. Errors come back as the application's own Mongoose
// errors (ValidationError, ValidatorError, CastError).

const { NativeSchema } = require('../../native.js');

const TYPES = {
  String: 'string',
  Number: 'number',
  Boolean: 'boolean',
  Date: 'date',
  ObjectId: 'objectId',
  ObjectID: 'objectId',
  Buffer: 'buffer',
  Decimal128: 'decimal128',
  BigInt: 'bigInt',
  Mixed: 'mixed',
  Map: 'map',
  Array: 'array',
  Embedded: 'subdocument',
  DocumentArrayElement: 'subdocument',
};

/** The name of each type's own cast function in Mongoose 8 and 9: another (`Schema.Types.String.cast(fn)`,
 *  or `cast(false)`) is the application's. */
const OWN_CASTS = {
  String: 'castString',
  Number: 'castNumber',
  Boolean: 'castBoolean',
  Date: 'castDate',
  ObjectId: 'castObjectId',
  Decimal128: 'castDecimal128',
  BigInt: 'castBigInt',
};

const MONGOOSE_SETTERS = new Set(['resetId', 'immutableSetter']);

/** The values Mongoose's Boolean cast takes for true and false by default, which the engine implements. */
const BOOLEAN_VALUES = { convertToTrue: [true, 'true', 1, '1', 'yes'], convertToFalse: [false, 'false', 0, '0', 'no'] };

/** Whether `mongoose`'s type-level casts are still its own, as the engine implements them: each type's
 *  `cast()` (`Schema.Types.String.cast(false)` or a function replaces it, at any time) and the values
 *  Boolean takes (`Schema.Types.Boolean.convertToTrue`). Mongoose reads them per query. */
function ownTypeCasts(mongoose) {
  const types = mongoose.Schema.Types;
  for (const [name, own] of Object.entries(OWN_CASTS)) {
    if (types[name] !== undefined && types[name]._cast?.name !== own) return false;
  }
  for (const [set, values] of Object.entries(BOOLEAN_VALUES)) {
    const current = types.Boolean[set];
    if (current.size !== values.length || !values.every((v) => current.has(v))) return false;
  }
  return true;
}

/** The spec type of `schemaType`: `opaque` (a path only Mongoose casts) for a type the engine does not
 *  implement (UUID, Int32, Double, a plugin's type), a cast function of the application's, or a setter
 *  other than the built-in `trim` / `lowercase` / `uppercase`, which Mongoose also runs on filters. */
function typeOf(schemaType) {
  const type = TYPES[schemaType.instance];
  if (type === undefined) return 'opaque';
  const o = schemaType.options ?? {};
  // Mongoose's own setters: `trim` / `lowercase` / `uppercase` (anonymous), `_id`'s `resetId` and
  // `immutable`'s, which leave filters and new documents as they are.
  const setters = (schemaType.setters ?? []).filter((fn) => !MONGOOSE_SETTERS.has(fn.name));
  const builtIn = ['trim', 'lowercase', 'uppercase'].filter((name) => o[name] === true).length;
  if (setters.length !== builtIn || setters.some((fn) => fn.name !== '') || schemaType._castFunction != null) return 'opaque';
  const own = OWN_CASTS[schemaType.instance];
  if (own !== undefined && schemaType.constructor._cast?.name !== own) return 'opaque';
  return type;
}

/** The paths a schema's `timestamps` option names, `{ createdAt, updatedAt }`, each null when it is
 *  off (`true`, or `true` for one of them, names it as Mongoose does). */
function timestampPaths(timestamps) {
  const name = (key) => (timestamps === true || timestamps[key] === undefined || timestamps[key] === true ? key : timestamps[key] || null);
  return { createdAt: name('createdAt'), updatedAt: name('updatedAt') };
}

/** Built-in validator types the engine runs, with the option that holds each one's bound. */
const BUILT_IN = {
  required: null,
  enum: 'enumValues',
  min: 'min',
  max: 'max',
  minlength: 'minlength',
  maxlength: 'maxlength',
  regexp: 'regexp',
};

/** Whether `bound` is of the type the engine compares `schemaType`'s values with: a number for a
 *  Number path, a date for a Date path. */
function nativeBound(schemaType, bound) {
  if (schemaType.instance === 'Number') return typeof bound === 'number';
  if (schemaType.instance === 'Date') return bound instanceof Date;
  return false;
}

/** The element type of an array path (Mongoose 8 and 9 name it differently). */
const elementOf = (schemaType) => schemaType.embeddedSchemaType ?? schemaType.$embeddedSchemaType ?? schemaType.caster;

/** Walks a Mongoose schema into a spec, keeping what must run in JS by path. */
class SpecBuilder {
  constructor() {
    /** Mongoose validator objects by id: errors from the engine name the one that failed. */
    this.validators = [];
    /** `{ path: [...segments], validator, id, schemaType }` run in JS on the cast document; `*` is any
     *  element. */
    this.jsChecks = [];
    /** `{ path: [...segments], schemaType }` whose default is a function, filled in before casting. */
    this.fnDefaults = [];
    /** Every `match` validator, for the engine may leave some patterns to JS. */
    this.patterns = [];
  }

  schema(schema, path, modelName) {
    const { options } = schema;
    const strict = options.strict === 'throw' ? 'throw' : options.strict === false ? 'keep' : 'drop';
    const root = { fields: [] };
    const nodes = new Map([['', root]]);
    for (const [name, schemaType] of Object.entries(schema.paths)) {
      if (name.endsWith('.$*')) continue;
      const segments = name.split('.');
      let parent = root;
      for (let i = 0; i < segments.length - 1; i++) {
        const key = segments.slice(0, i + 1).join('.');
        let node = nodes.get(key);
        if (node === undefined) {
          node = { name: segments[i], type: 'object', fields: [], strict };
          nodes.set(key, node);
          parent.fields.push(node);
        }
        parent = node;
      }
      parent.fields.push(this.field(segments.at(-1), schemaType, [...path, ...segments]));
    }
    const spec = { model: modelName ?? '', fields: root.fields, strict, autoId: schema.paths._id?.options?.auto === true };
    if (options.timestamps) spec.timestamps = timestampPaths(options.timestamps);
    if (options.versionKey) spec.versionKey = options.versionKey;
    return spec;
  }

  field(name, schemaType, path) {
    const type = typeOf(schemaType);
    const field = { name, type };
    const o = schemaType.options ?? {};
    for (const setter of ['trim', 'lowercase', 'uppercase']) if (o[setter] === true) field[setter] = true;
    if (o.immutable === true) field.immutable = true;
    this.defaultOf(field, schemaType, path);
    field.checks = this.checks(schemaType, path);
    if (type === 'array') {
      const element = elementOf(schemaType);
      if (schemaType.schema) field.item = { name: '', type: 'subdocument', schema: this.schema(schemaType.schema, [...path, '*']) };
      else if (element) field.item = this.field('', element, [...path, '*']);
    } else if (type === 'map' && schemaType.$__schemaType) {
      field.item = this.field('', schemaType.$__schemaType, [...path, '*']);
    } else if (type === 'subdocument' && schemaType.schema) {
      field.schema = this.schema(schemaType.schema, path);
    }
    return field;
  }

  defaultOf(field, schemaType, path) {
    const o = schemaType.options ?? {};
    if (!Object.hasOwn(o, 'default')) {
      // Arrays default to `[]` unless the schema says `default: undefined`.
      if (field.type === 'array') field.default = { value: [] };
      return;
    }
    const value = o.default;
    if (value === undefined) return;
    // `Date.now` is the time of the write on a date path; elsewhere Mongoose casts the number it returns.
    if (value === Date.now && field.type === 'date') field.default = { now: true };
    else if (typeof value === 'function') this.fnDefaults.push({ path, schemaType });
    else field.default = { value };
  }

  checks(schemaType, path) {
    const checks = [];
    for (const v of schemaType.validators ?? []) {
      const id = this.validators.push(v) - 1;
      const bound = BUILT_IN[v.type];
      const conditional = v.type === 'required' && typeof schemaType.originalRequiredValue === 'function';
      if (bound === undefined || conditional) {
        this.jsChecks.push({ path, validator: v, id, schemaType });
        continue;
      }
      if (v.type === 'required') {
        checks.push({ id, kind: 'required' });
      } else if (v.type === 'enum') {
        checks.push({ id, kind: 'enum', values: v.enumValues });
      } else if (v.type === 'regexp') {
        checks.push({ id, kind: 'match', pattern: v.regexp.source, flags: v.regexp.flags });
        this.patterns.push({ path, validator: v, id, schemaType });
      } else if ((v.type === 'min' || v.type === 'max') && !nativeBound(schemaType, v[bound])) {
        // A bound of another type (`max: '5'`, a date as a string) is compared by JS's coercions.
        this.jsChecks.push({ path, validator: v, id, schemaType });
      } else {
        checks.push({ id, kind: v.type, value: v[bound] });
      }
    }
    return checks;
  }
}

/** Undefined values are absent paths to Mongoose, not nulls. */
const IGNORE_UNDEFINED = { ignoreUndefined: true };

function nativeSchema(spec, BSON) {
  return new NativeSchema(BSON.EJSON.stringify(spec, { relaxed: false }));
}

/** Each value at `segments` in `doc` (`*` is each element of an array or each value of a map), with
 *  its dotted path. */
function* valuesAt(doc, segments, i = 0, prefix = '') {
  if (i === segments.length) {
    yield [prefix.slice(0, -1), doc];
    return;
  }
  if (doc == null || typeof doc !== 'object') {
    if (i === segments.length - 1 || segments[i] !== '*') yield* valuesAt(undefined, segments, segments.length, `${prefix}${segments.slice(i).join('.')}.`);
    return;
  }
  const segment = segments[i];
  if (segment === '*') {
    const entries = doc instanceof Map ? [...doc] : Array.isArray(doc) ? doc.map((v, k) => [k, v]) : Object.entries(doc);
    for (const [key, value] of entries) yield* valuesAt(value, segments, i + 1, `${prefix}${key}.`);
    return;
  }
  yield* valuesAt(doc[segment], segments, i + 1, `${prefix}${segment}.`);
}

/** A model's schema on the engine, with the parts only JS can run. */
class ModelSchema {
  /** `ctx`: `{ codec, errors }` of the model's Mongoose (lib/driver/mongoose.js). */
  constructor(model, ctx) {
    this.model = model;
    this.codec = ctx.codec;
    this.driverErrors = ctx.errors;
    this.errors = model.base.Error;
    this.mongooseMajor = Number.parseInt(model.base.version, 10);
    const builder = new SpecBuilder();
    this.native = nativeSchema(builder.schema(model.schema, [], model.modelName), this.codec.BSON);
    const { ObjectId } = this.codec.BSON;
    /** The 12 bytes of a new ObjectId of the application's own maker (as Mongoose's `_id` default),
     *  which the engine's cast calls for each auto `_id` in Mongoose's order. */
    this.nextId = () => new ObjectId().id;
    this.validators = builder.validators;
    const leftToJs = new Set(this.native.jsValidators);
    /** Validators only JS runs: custom ones, conditional `required`, other bounds, and the patterns
     *  the Rust regex engine does not take. */
    this.jsChecks = builder.jsChecks.concat(builder.patterns.filter((p) => leftToJs.has(p.id)));
    /** How many validators JS runs by Mongoose's own rules (custom ones and conditional `required`,
     *  with the document as `this`; bounds of another type): `create`'s fast path leaves those
     *  documents to Mongoose. */
    this.customChecks = builder.jsChecks.length;
    /** What a whole document is checked with in JS after the engine's cast: `jsChecks`, and every
     *  pattern again, as JS's RegExp (the engine's regex engine may accept what JS's refuses: `.`
     *  and astral characters or line separators, case folding, sticky patterns). */
    this.documentChecks = builder.jsChecks.concat(builder.patterns);
    this.fnDefaults = builder.fnDefaults;
  }

  /** Default functions (other than Date.now) evaluated now, as Mongoose evaluates them per document,
   *  on a copy: the caller's object is not changed. */
  applyDefaults(doc) {
    let out = doc;
    for (const { path, schemaType } of this.fnDefaults) {
      out = copyAndFill(out, path, (self) => schemaType.options.default.call(self));
    }
    return out;
  }

  /** A whole document cast and validated: `{ doc, held }`, `doc` ready to insert (or to replace
   *  with), `held` the same as Mongoose's new document holds it (the empty objects it keeps until its
   *  save minimizes them). */
  async castDocument(input, replace = false) {
    let bytes;
    try {
      bytes = this.native.castDocument(this.codec.encode(this.applyDefaults(input), IGNORE_UNDEFINED), replace, this.nextId);
    } catch (err) {
      throw this.error(this.driverErrors.fromNative(err));
    }
    // 64-bit integers (BigInt paths) stay bigints, as Mongoose's document holds them, so that the
    // document inserted from `doc` stores them as such.
    const { held, stored } = this.codec.decode(bytes, { useBigInt64: true });
    const doc = stored ?? held;
    if (this.documentChecks.length > 0) await this.runJsChecks(doc, doc, this.documentChecks);
    return { doc, held };
  }

  /** Custom validators and conditional `required` on the update's values, for the paths it sets. */
  async checkUpdate(update) {
    if (this.jsChecks.length === 0 || update == null || Array.isArray(update)) return;
    const set = { ...update.$set, ...update.$setOnInsert };
    const errors = [];
    for (const check of this.jsChecks) {
      if (check.path.includes('*')) continue;
      const path = check.path.join('.');
      if (!Object.hasOwn(set, path)) continue;
      const error = await this.runCheck(check, path, set[path], set, true);
      if (error) errors.push(error);
    }
    if (errors.length > 0) throw this.validationError(errors);
  }

  async runJsChecks(doc, scope, checks) {
    const errors = [];
    for (const check of checks) {
      for (const [path, value] of valuesAt(doc, check.path)) {
        const error = await this.runCheck(check, path, value, scope, false);
        if (error) errors.push(error);
      }
    }
    if (errors.length > 0) throw this.validationError(errors);
  }

  /** One JS-side validator, as Mongoose's SchemaType#doValidate runs it; a ValidatorError or null. */
  async runCheck({ validator: v, schemaType }, path, value, scope, isUpdate) {
    let ok;
    let reason;
    try {
      if (v.type === 'required') {
        const required = schemaType.originalRequiredValue;
        ok = !(await required.call(scope)) || (value != null && value !== '');
      } else if (value === undefined) {
        ok = true;
      } else if (v.validator instanceof RegExp) {
        v.validator.lastIndex = 0;
        ok = value === '' || v.validator.test(value);
      } else {
        ok = await v.validator.call(scope, value, { path, isUpdate });
      }
    } catch (err) {
      ok = false;
      reason = err;
    }
    if (ok !== false) return null;
    const props = { ...v, path, value, reason };
    if (reason?.message && v.message === undefined) props.message = reason.message;
    return new this.errors.ValidatorError(props);
  }

  validationError(errors) {
    const err = new this.errors.ValidationError();
    err._message = `${this.model.modelName} validation failed`;
    for (const e of errors) err.addError(e.path, e);
    return err;
  }

  /** An error from the engine as the application's Mongoose error; others pass through. */
  error(err) {
    const failures = err?.schemaErrors;
    if (failures === undefined) {
      if (err?.name === 'StrictModeError') return new this.errors.StrictModeError(err.path, err.message);
      // Mongoose 9 reports a primitive pushed onto an array of subdocuments as a CastError.
      if (err?.name === 'ObjectParameterError' && this.mongooseMajor >= 9) return new this.errors.CastError('embedded', err.value, err.path);
      return err;
    }
    const errors = failures.map((f) => this.fieldError(f));
    return err.name === 'CastError' ? errors[0] : this.validationError(errors);
  }

  fieldError({ path, kind, value, validator, cast, elementPath }) {
    if (cast) return new this.errors.CastError(kind, value, this.mongooseMajor < 9 ? elementPath ?? path : path);
    return new this.errors.ValidatorError({ ...this.validators[validator], path, value });
  }
}

/** A copy of `element` with `fill(owner)` at `segments` where that path has no value (`*` is each
 *  element of an array or value of a map). `owner` is what Mongoose gives a default function as
 *  `this`: the document, or the subdocument for paths inside an array's elements. A missing nested
 *  object on the way is created, as Mongoose does. */
function copyAndFill(element, segments, fill) {
  if (element == null || typeof element !== 'object') return element;
  const copy = { ...element };
  fillAt(copy, segments, fill, copy);
  return copy;
}

/** Fills in `target`, a copy of ours, copying what it descends into. */
function fillAt(target, [head, ...rest], fill, owner) {
  if (rest.length === 0) {
    if (target[head] === undefined) target[head] = fill(owner);
    return;
  }
  const next = target[head];
  if (rest[0] === '*') {
    const each = (v) => copyAndFill(v, rest.slice(1), fill);
    if (Array.isArray(next)) target[head] = next.map(each);
    else if (next instanceof Map) target[head] = new Map([...next].map(([k, v]) => [k, each(v)]));
    else if (next !== null && typeof next === 'object') target[head] = Object.fromEntries(Object.entries(next).map(([k, v]) => [k, each(v)]));
    return;
  }
  if (next != null && typeof next !== 'object') return;
  target[head] = { ...next };
  fillAt(target[head], rest, fill, owner);
}

module.exports = { ModelSchema, ownTypeCasts, timestampPaths };

'use strict';
// BSON in and out of the native addon, with the application's own BSON library (the one its mongoose
// and mongodb use), so ObjectId, Decimal128 and friends come back as the application's classes.

/** The BSON options a Node-driver call takes, with the driver's defaults. */
const SERIALIZE_DEFAULTS = { checkKeys: false, ignoreUndefined: false, serializeFunctions: false };

/** The BSON type byte of an array. */
const BSON_ARRAY = 0x04;

/** A BSON document of `elements` (each a type byte, a key and a value, already encoded). */
function documentOf(elements) {
  const size = elements.reduce((n, e) => n + e.length, 5);
  const out = Buffer.allocUnsafe(size);
  out.writeInt32LE(size, 0);
  let at = 4;
  for (const e of elements) at += e.copy(out, at);
  out[at] = 0;
  return out;
}

class Codec {
  /** `mongo`: the application's `mongodb` module (mongoose's `mongoose.mongo`). */
  constructor(mongo) {
    this.mongo = mongo;
    this.BSON = mongo.BSON;
  }

  /** `value` as BSON; `options` may carry the Node driver's `ignoreUndefined` and `serializeFunctions`.
   *  A request of any size: past js-bson's working buffer (17 MiB, as a bulk write of many documents
   *  is), it goes into a buffer of its exact size. */
  encode(value, options) {
    const bsonOptions = options === undefined || (options.ignoreUndefined === undefined && options.serializeFunctions === undefined)
      ? SERIALIZE_DEFAULTS
      : { checkKeys: false, ignoreUndefined: options.ignoreUndefined === true, serializeFunctions: options.serializeFunctions === true };
    try {
      return this.BSON.serialize(value, bsonOptions);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      return this.encodeLarge(value, bsonOptions);
    }
  }

  /** `value` as BSON assembled from its fields, an array field from its elements, each serialized on
   *  its own: a request bigger than js-bson's working buffer, made of parts that each fit in it (a
   *  bulk write's operations, each at most a 16 MiB document). */
  encodeLarge(value, bsonOptions) {
    const element = (key, v) => {
      const bytes = this.BSON.serialize({ [key]: v }, bsonOptions);
      return bytes.subarray(4, bytes.length - 1);
    };
    const elements = Object.keys(value).map((key) => {
      if (!Array.isArray(value[key])) return element(key, value[key]);
      const array = documentOf(value[key].map((v, i) => element(String(i), v)));
      return Buffer.concat([Buffer.from([BSON_ARRAY]), Buffer.from(`${key}\0`, 'utf8'), array]);
    });
    return documentOf(elements);
  }

  /** A document; `options` are the Node driver's deserialization options (`promoteLongs`, ...). */
  decode(buffer, options) {
    return buffer == null ? null : this.BSON.deserialize(buffer, options);
  }

  /** The documents of a native cursor chunk: `count` BSON documents laid end to end. */
  decodeChunk(chunk, options) {
    const docs = new Array(chunk.count);
    if (chunk.count > 0) this.BSON.deserializeStream(chunk.docs, 0, chunk.count, docs, 0, options);
    return docs;
  }
}

module.exports = { Codec };

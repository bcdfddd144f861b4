'use strict';
// BSON in and out of the native addon, with the application's own BSON library (the one its mongoose
// and mongodb use), so ObjectId, Decimal128 and friends come back as the application's classes.

/** The BSON options a Node-driver call takes, with the driver's defaults. */
const SERIALIZE_DEFAULTS = { checkKeys: false, ignoreUndefined: false, serializeFunctions: false };

/** The BSON type byte of an array. */
const BSON_ARRAY = 0x04;

/** MongoDB's largest document (16 MiB). js-bson serializes into a working buffer of 17 MiB and,
 *  past its end, cuts a string short or drops what follows without an error: the document it gives
 *  can read back as another one (a filter that lost its projection or limit). So js-bson's output
 *  is trusted only below this size; a request this large is put together from parts that are. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** The most one serialized part may take: a document of `MAX_DOCUMENT_BYTES` with what wraps it in a
 *  request (an operation, its key), as the server allows a command 16 KiB over its largest document;
 *  still far below where js-bson's buffer ends. */
const MAX_PART_BYTES = MAX_DOCUMENT_BYTES + 16 * 1024;

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
   *  A request of any size made of parts of at most 16 MiB and 16 KiB (as a bulk write of many
   *  documents is); a larger part (a document, a filter) is a RangeError, as the Node driver's BSON
   *  raises for one past its buffer. */
  encode(value, options) {
    const bsonOptions = options === undefined || (options.ignoreUndefined === undefined && options.serializeFunctions === undefined)
      ? SERIALIZE_DEFAULTS
      : { checkKeys: false, ignoreUndefined: options.ignoreUndefined === true, serializeFunctions: options.serializeFunctions === true };
    try {
      return this.serialize(value, bsonOptions);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      return this.encodeLarge(value, bsonOptions);
    }
  }

  /** js-bson's `serialize` of `what`, a RangeError past `MAX_PART_BYTES`. */
  serialize(value, bsonOptions, what = 'the request') {
    const bytes = this.BSON.serialize(value, bsonOptions);
    if (bytes.length > MAX_PART_BYTES) {
      throw new RangeError(`polymongo-rs: ${what} takes ${bytes.length} bytes of BSON, over MongoDB's 16 MiB limit`);
    }
    return bytes;
  }

  /** `value` as BSON assembled from its fields, an array field from its elements, each serialized on
   *  its own: a request bigger than js-bson's working buffer, made of parts that each fit in it (a
   *  bulk write's operations, each at most a 16 MiB document). A part that does not fit is a
   *  RangeError, as with the Node driver. */
  encodeLarge(value, bsonOptions) {
    const element = (key, v) => {
      const bytes = this.serialize({ [key]: v }, bsonOptions, `field ${JSON.stringify(key)}`);
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

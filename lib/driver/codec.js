'use strict';
// BSON in and out of the native addon, with the application's own BSON library (the one its mongoose
// and mongodb use), so ObjectId, Decimal128 and friends come back as the application's classes.

/** The BSON options a Node-driver call takes, with the driver's defaults. */
const SERIALIZE_DEFAULTS = { checkKeys: false, ignoreUndefined: false, serializeFunctions: false };

class Codec {
  /** `mongo`: the application's `mongodb` module (mongoose's `mongoose.mongo`). */
  constructor(mongo) {
    this.mongo = mongo;
    this.BSON = mongo.BSON;
  }

  /** `value` as BSON; `options` may carry the Node driver's `ignoreUndefined` and `serializeFunctions`. */
  encode(value, options) {
    if (options === undefined || (options.ignoreUndefined === undefined && options.serializeFunctions === undefined)) {
      return this.BSON.serialize(value, SERIALIZE_DEFAULTS);
    }
    return this.BSON.serialize(value, {
      checkKeys: false,
      ignoreUndefined: options.ignoreUndefined === true,
      serializeFunctions: options.serializeFunctions === true,
    });
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

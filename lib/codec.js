'use strict';
// BSON in and out of the native addon, with the application's own BSON library (the one its mongoose
// uses), so ObjectId, Decimal128 and friends come back as the application's classes.

const SERIALIZE_OPTIONS = { ignoreUndefined: true, checkKeys: false };

class Codec {
  constructor(BSON) {
    this.BSON = BSON;
  }

  encode(value) {
    return this.BSON.serialize(value, SERIALIZE_OPTIONS);
  }

  decode(buffer) {
    return buffer == null ? null : this.BSON.deserialize(buffer);
  }

  /** The documents of a native cursor chunk: `count` BSON documents laid end to end. */
  decodeChunk(chunk) {
    const docs = new Array(chunk.count);
    if (chunk.count > 0) this.BSON.deserializeStream(chunk.docs, 0, chunk.count, docs, 0);
    return docs;
  }

  /** Completes an error from the addon: the server's extra fields (keyValue, errInfo, ...) are BSON. */
  error(err) {
    if (err && err.bsonDetails) {
      const details = this.BSON.deserialize(err.bsonDetails);
      delete err.bsonDetails;
      Object.assign(err, details);
    }
    return err;
  }

  /** Resolves a native promise through `decode`, rejecting with a completed error. */
  settle(promise, decode) {
    return promise.then(decode, (err) => {
      throw this.error(err);
    });
  }
}

module.exports = { Codec };

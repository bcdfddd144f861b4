'use strict';
// polymongo-rs: the PolyMongo API over a MongoDB pool engine written in Rust. As PolyMongo's, the
// CommonJS export is the class itself: `require('polymongo-rs').createWrapper(...)`,
// `require('polymongo-rs').PolyMongo.createWrapper(...)` and `new (require('polymongo-rs'))(...)` all work.
const { PolyMongo, PolyMongoWrapper } = require('./lib/wrapper/polymongo');

module.exports = PolyMongo;
module.exports.PolyMongo = PolyMongo;
module.exports.PolyMongoWrapper = PolyMongoWrapper;
module.exports.default = PolyMongo;
/** A Mongoose driver on the engine: `mongoose.setDriver(mongooseDriver(mongoose))`. */
module.exports.mongooseDriver = require('./lib/driver/mongoose').mongooseDriver;
const { PolyMongoError, WaitQueueTimeoutError, PoolLimitError } = require('./lib/driver/errors');
/** polymongo-rs's own error classes, for `instanceof` (the driver's errors are your mongodb's classes). */
Object.assign(module.exports, { PolyMongoError, WaitQueueTimeoutError, PoolLimitError });

'use strict';
// polymongo-rs: the PolyMongo API over a MongoDB pool engine written in Rust.
const { PolyMongo, PolyMongoWrapper } = require('./lib/polymongo');

module.exports = { PolyMongo, PolyMongoWrapper, default: PolyMongo };

// Compiled (not run) by types.test.mjs: an ES module sees the same typings through the package's
// `import` condition, the default export included.
import mongoose from 'mongoose';
import PolyMongoDefault, { PolyMongo, createWrapper, mongooseDriver, type PolyMongoWrapper } from 'polymongo-rs';

const wrapper: PolyMongoWrapper = PolyMongoDefault.createWrapper({ mongoURI: 'mongodb://127.0.0.1:27017' });
const same: PolyMongoWrapper = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:27017' });
mongoose.setDriver(mongooseDriver(mongoose));
void wrapper.disconnect();
void createWrapper({ mongoURI: 'mongodb://127.0.0.1:27017' }).disconnect();
void same.disconnect();
// The default export is PolyMongo itself, not the CommonJS module object.
type DefaultIsPolyMongo = typeof PolyMongoDefault extends typeof PolyMongo ? (typeof PolyMongo extends typeof PolyMongoDefault ? true : false) : false;
const constructed: PolyMongoWrapper = new PolyMongoDefault({ mongoURI: 'mongodb://127.0.0.1:27017' });
void constructed.disconnect();
const defaultIsPolyMongo: DefaultIsPolyMongo = true;
void defaultIsPolyMongo;

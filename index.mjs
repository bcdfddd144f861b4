import polymongo from './index.js';

export const { PolyMongo, PolyMongoWrapper, mongooseDriver, createWrapper } = polymongo;
export default PolyMongo;

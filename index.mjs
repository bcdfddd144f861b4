import polymongo from './index.js';

export const { PolyMongo, PolyMongoWrapper } = polymongo;
export default PolyMongo;

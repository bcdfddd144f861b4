import polymongo from './index.js';

export const { PolyMongo, PolyMongoWrapper, mongooseDriver, createWrapper, PolyMongoError, WaitQueueTimeoutError, PoolLimitError } = polymongo;
export default PolyMongo;

// Type definitions for polymongo-rs's ES module entry (index.mjs): the same API as index.d.ts, with
// PolyMongo as the default export.
import { PolyMongo } from './index.js';

export * from './index.js';
export default PolyMongo;

// A multi-tenant workload: one wrapper, one pool, a database per tenant.
//   npm run demo                      # starts a local test server
//   MONGODB_URI=mongodb://... npm run demo
import mongoose from 'mongoose';
import { PolyMongo } from 'polymongo-rs';
import { startServer } from '../scripts/test-server.mjs';

const TENANTS = 300;
const MAX_POOL_SIZE = 10;
const server = process.env.MONGODB_URI ? null : await startServer();
const uri = process.env.MONGODB_URI || server.uri;
const run = `demo_${Date.now().toString(36)}`;

const wrapper = PolyMongo.createWrapper({ mongoURI: uri, defaultDB: `${run}_main`, maxPoolSize: MAX_POOL_SIZE });
const User = wrapper.wrapModel(mongoose.model('User', new mongoose.Schema({ name: String, plan: String })));
const Order = wrapper.wrapModel(mongoose.model('Order', new mongoose.Schema({ user: mongoose.Types.ObjectId, total: mongoose.Types.Decimal128, at: Date })));

// An independent client, only to read the server's own counters.
const observer = await mongoose.mongo.MongoClient.connect(uri, { maxPoolSize: 1 });
const connections = async () => (await observer.db('admin').command({ serverStatus: 1 })).connections.current;
const connectionsBefore = await connections();

const plans = ['free', 'team', 'enterprise'];
let ops = 0;
async function tenantWork(i) {
  const db = `${run}_tenant_${i}`;
  const users = await User.db(db).insertMany(
    Array.from({ length: 5 }, (_, k) => ({ name: `user${k}@tenant${i}`, plan: plans[(i + k) % 3] })));
  await Order.db(db).insertMany(users.map((u, k) => ({ user: u._id, total: mongoose.Types.Decimal128.fromString(`${10 + k}.99`), at: new Date() })));
  const newest = await User.db(db).find({ plan: { $ne: 'free' } }).sort('-name').limit(2).select('name -_id');
  const paying = await User.db(db).countDocuments({ plan: { $ne: 'free' } });
  const [revenue] = await Order.db(db).aggregate().group({ _id: null, total: { $sum: '$total' }, orders: { $sum: 1 } });
  await User.db(db).updateMany({ plan: 'free' }, { $set: { plan: 'team' } });
  ops += 6;
  return { db, newest, paying, revenue };
}

const started = performance.now();
const results = [];
for (let i = 0; i < TENANTS; i += 25) {
  results.push(...await Promise.all(Array.from({ length: Math.min(25, TENANTS - i) }, (_, k) => tenantWork(i + k))));
}
const elapsed = performance.now() - started;
const peakConnections = await connections();

// Tenants are isolated: each database holds only its own five users.
const counts = await Promise.all(results.map((r) => User.db(r.db).countDocuments()));
const sample = results[7];

console.log(`polymongo-rs demo against ${server ? 'a local secantusd-rs test server' : 'MONGODB_URI'}`);
console.log(`  tenants:              ${TENANTS} databases, each with users and orders`);
console.log(`  operations:           ${ops} in ${elapsed.toFixed(0)} ms (${Math.round(ops / (elapsed / 1000))} ops/s, 25 tenants at a time)`);
console.log(`  server connections:   ${peakConnections - connectionsBefore} opened for ${TENANTS} databases (maxPoolSize ${MAX_POOL_SIZE})`);
console.log(`  isolation:            ${counts.every((n) => n === 5) ? 'every tenant sees exactly its own 5 users' : 'FAILED'}`);
console.log(`  ${sample.db}: ${sample.paying} paying users; revenue ${sample.revenue.total} over ${sample.revenue.orders} orders`);
console.log(`    newest paying users: ${sample.newest.map((u) => u.name).join(', ')}`);
console.log(`  ping: ${(await wrapper.ping()).latency.toFixed(2)} ms; state: ${wrapper.getConnectionState()}`);

await Promise.all(results.map((r) => observer.db(r.db).dropDatabase()));
await wrapper.disconnect();
await observer.close();
await server?.stop();
if (!counts.every((n) => n === 5)) process.exit(1);

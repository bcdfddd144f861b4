// Compiled (not run) by types.test.mjs: the typings accept PolyMongo-style code and infer results.
import mongoose, { Schema, Types, type HydratedDocument, type Model } from 'mongoose';
import PolyMongoDefault, { PolyMongo, mongooseDriver, type WrappedModel } from 'polymongo-rs';

interface IUser {
  name: string;
  age?: number;
}
interface IUserMethods {
  greet(): string;
}
interface UserModel extends Model<IUser, {}, IUserMethods> {
  findByName(name: string): Promise<HydratedDocument<IUser, IUserMethods> | null>;
}
const userSchema = new Schema<IUser, UserModel, IUserMethods>({ name: String, age: Number });
userSchema.method('greet', function greet() {
  return `hi ${this.name}`;
});
userSchema.static('findByName', function findByName(name: string) {
  return this.findOne({ name });
});

const wrapper = PolyMongo.createWrapper({
  mongoURI: 'mongodb://127.0.0.1:27017',
  defaultDB: 'main',
  maxPoolSize: 10,
  dbSpecific: [{ dbName: 'analytics', options: { maxConnections: 5, autoClose: true, ttl: 60_000 } }],
  debug: { log: true, logPath: './logs', logHandler: (line) => void line.length },
  logger: console,
  maxDatabaseLabels: 50,
  maxOpenStreams: 20,
});
const User: WrappedModel<UserModel> = wrapper.wrapModel(mongoose.model<IUser, UserModel>('User', userSchema));
const Checked = wrapper.wrapModel(mongoose.model<IUser>('Checked', new Schema<IUser>({ name: String })), { autoIndex: false, jsonSchema: true });
wrapper.on('error', (err) => console.error(err.db, err.collection, err.during, err.message));
const stop: () => void = wrapper.onTheseDBConnect(['tenant_1'], (info) => console.log(info.dbName, info.pool, info.reason));
stop();
wrapper.on('reconnect', (info) => console.log(info.uri, info.readyState === 1));
wrapper.onDbDisconnect((info) => console.log(info.name, info.state, Date.parse(info.timestamp), info.connection.name));
const tenantConnection: mongoose.Connection = wrapper.adv.getConnection('tenant_1');
const onEngine = new mongoose.Mongoose();
onEngine.setDriver(mongooseDriver(onEngine));
void tenantConnection.model('User');
void wrapper.actions.closeAll({ timeoutMS: 5000 });
void wrapper.pool.configure('analytics', { maxConnections: 5, autoClose: true, ttl: 60_000 });

export async function usage(): Promise<void> {
  const admins = await User.db('tenant_1').find({ age: { $gt: 1 } }).sort('-age').limit(10).select('name');
  const first: string | undefined = admins[0]?.name;
  const greeting: string | undefined = admins[0]?.greet();
  const id: Types.ObjectId | undefined = admins[0]?._id;
  const one = await User.findById(id);
  const lean = await User.db('tenant_1').findOne({ name: 'a' }).lean();
  const leanName: string | undefined = lean?.name;
  const byStatic = await User.db('tenant_1').findByName('a');
  const n: number = await User.db(null).countDocuments({ age: { $gt: 1 } });
  const created = await User.db('tenant_2').create({ name: 'a' });
  created.name = 'b';
  await created.save();
  const fresh = new (User.db('tenant_3'))({ name: 'c' });
  await fresh.save();
  await Checked.db('tenant_2').create({ name: 'b' });
  void [greeting, leanName, byStatic?.greet(), PolyMongoDefault.createWrapper, fresh.id];
  await wrapper.scale.setDB(['reports'], { mongoURI: 'mongodb://127.0.0.1:27018', maxConnections: 5 });
  await wrapper.scale.connectDB('archive', { coldStart: false });
  const many = await User.insertMany([{ name: 'b' }], { ordered: false });
  const updated = await User.updateOne({ name: 'a' }, { $set: { age: 3 } }, { upsert: true });
  const modified: number = updated.modifiedCount;
  const after = await User.findOneAndUpdate({ name: 'a' }, { age: 4 }, { returnDocument: 'after' });
  const groups = await User.aggregate<{ _id: string; n: number }>().group({ _id: '$name', n: { $sum: 1 } }).exec();
  for await (const doc of User.find().cursor()) doc.name.toUpperCase();
  // @ts-expect-error: a database's class is a Mongoose model; its `db` is the connection, not a switch.
  User.db('tenant_1').db('tenant_2');
  const state: 'connected' | string = wrapper.getConnectionState();
  const ping = await wrapper.ping();
  if (ping.ok) ping.latency.toFixed(1);
  const general = wrapper.stats.general();
  const busiest = general.databases.sort((a, b) => b.ops - a.ops)[0]?.latencyMs?.p99;
  const share: number | undefined = general.databases[0]?.concurrencyLimit;
  const sizes = await wrapper.stats.db('tenant_1');
  const docs: number = sizes.collections.reduce((sum, c) => sum + c.docCount, general.primary.poolStats.inUseConnections);
  const text: string = wrapper.stats.prometheus();
  const listed = (await wrapper.stats.listDatabases()).map((d) => d.sizeInMB);
  void [busiest, share, docs, text, listed, sizes.lastUsed?.getTime()];
  const stream = wrapper.watch<IUser>('tenant_1', [{ $match: { operationType: 'insert' } }], { fullDocument: 'updateLookup' });
  stream.on('change', (change) => void change.operationType);
  const whole = wrapper.watch([], { maxAwaitTimeMS: 500 });
  const closedHere: number = await wrapper.actions.closeDBstream('tenant_1');
  const closedAll: number = await wrapper.actions.closeAllWatches();
  const openStreams: number = general.streams.open + (general.streams.byDatabase.tenant_1 ?? 0);
  // @ts-expect-error: closeDBstream names a database.
  void wrapper.actions.closeDBstream();
  void [whole, closedHere, closedAll, openStreams];
  const exported = await wrapper.actions.exportDB('tenant_1', { collections: { exclude: ['logs'] }, query: { users: { active: true } } });
  const summary = await wrapper.bulkTasks.import('tenant_2', exported, { drop: true }).on('progress', (p) => void p.documents);
  const fromStream = await wrapper.actions.importDBStream('tenant_3', wrapper.bulkTasks.exportStream('tenant_1'), { signal: AbortSignal.timeout(1000) });
  const copied = await wrapper.actions.copyDatabase('tenant_1', 'tenant_4', { collections: ['users'], onProgress: (p) => void p.total });
  await wrapper.actions.dropDatabase('tenant_4', { force: false });
  const inserted: number = summary.insertedDocuments + fromStream.failureCount + copied.insertedDocuments;
  const line: number | undefined = summary.failures[0]?.line;
  const dumped = await wrapper.actions.exportDB('tenant_1', { format: 'dump', dir: '/tmp/dump', gzip: true });
  const restored = await wrapper.actions.importDB('tenant_5', { dir: dumped.path, validate: true });
  const lines = wrapper.actions.exportDBStream('tenant_1', { format: 'mongoexport', collection: 'users', jsonFormat: 'canonical' });
  void [dumped.bytes, restored.failures[0]?.stage, lines];
  // @ts-expect-error: an export names its database.
  void wrapper.actions.exportDB();
  void [exported.collections.users?.documents.length, inserted, line, copied.source];
  void [first, one, n, created._id, many.length, modified, after?.age, groups[0]?.n, state];
}

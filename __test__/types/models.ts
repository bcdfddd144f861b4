// Compiled (not run) by types.test.mjs, against Mongoose 8's typings and Mongoose 9's: a wrapped
// model's `.db(name)` has the user's model type, from Mongoose's own generics (statics, methods,
// virtuals, query helpers, HydratedDocument, lean), and every `@ts-expect-error` line must fail.
import http from 'node:http';
import { Schema, model, type HydratedDocument, type InferSchemaType, type Model, type Query, type Types } from 'mongoose';
import {
  PolyMongo,
  PolyMongoError,
  WaitQueueTimeoutError,
  type ArgumentError,
  type PolyMongoErrorCode,
  type StatusSnapshot,
} from 'polymongo-rs';

interface IPet {
  name: string;
  age: number;
  owner?: Types.ObjectId;
}
interface IPetMethods {
  speak(): string;
}
interface IPetVirtuals {
  label: string;
}
// Mongoose's documented shape of query helpers.
type PetQuery = Query<any, any, IPetQueryHelpers> & IPetQueryHelpers;
interface IPetQueryHelpers {
  byName(this: PetQuery, name: string): PetQuery;
}
interface PetModel extends Model<IPet, IPetQueryHelpers, IPetMethods, IPetVirtuals> {
  adults(): Promise<HydratedDocument<IPet, IPetMethods & IPetVirtuals>[]>;
}

const petSchema = new Schema<IPet, PetModel, IPetMethods, IPetQueryHelpers, IPetVirtuals>({
  name: { type: String, required: true },
  age: { type: Number, required: true },
  owner: { type: Schema.Types.ObjectId, ref: 'Owner' },
});
petSchema.method('speak', function speak() {
  return `${this.name} speaks`;
});
petSchema.virtual('label').get(function label() {
  return `${this.name} (${this.age})`;
});
petSchema.query.byName = function byName(this: PetQuery, name: string) {
  return this.where({ name });
};
petSchema.static('adults', function adults() {
  return this.find({ age: { $gte: 1 } });
});

// A schema whose type is inferred, with no interface at all.
const ownerSchema = new Schema({ email: { type: String, required: true }, pets: Number });
type IOwner = InferSchemaType<typeof ownerSchema>;

const wrapper = PolyMongo.createWrapper({ mongoURI: 'mongodb://127.0.0.1:27017', defaultDB: 'main' });
const Pet = wrapper.wrapModel(model<IPet, PetModel, IPetQueryHelpers>('Pet', petSchema));
const Owner = wrapper.wrapModel(model('Owner', ownerSchema));

export async function models(): Promise<void> {
  const Tenant = Pet.db('tenant_1');
  // The same model type as the user's: the database's class is assignable where a PetModel goes.
  const asModel: PetModel = Tenant;
  const pet = await Tenant.create({ name: 'rex', age: 3 });
  const hydrated: HydratedDocument<IPet, IPetMethods & IPetVirtuals> = pet;
  const said: string = pet.speak();
  const label: string = pet.label;
  const adults = await Tenant.adults();
  const adultLabel: string | undefined = adults[0]?.label;
  const byHelper = await Tenant.find().byName('rex').exec();
  const helperName: string | undefined = byHelper[0]?.name;
  const lean = await Tenant.findOne({ name: 'rex' }).lean();
  const leanAge: number | undefined = lean?.age;
  const leanId: Types.ObjectId | undefined = lean?._id;
  const owner = await Owner.db('tenant_1').create({ email: 'a@b.c' });
  const email: string = owner.email;
  const inferred: IOwner | null = await Owner.db('tenant_1').findOne().lean();
  const populated = await Tenant.findOne().populate<{ owner: IOwner }>('owner').orFail();
  const ownerEmail: string = populated.owner.email;
  void [asModel, hydrated, said, label, adultLabel, helperName, leanAge, leanId, email, inferred, ownerEmail];

  // @ts-expect-error: age is a number.
  pet.age = 'three';
  // @ts-expect-error: a lean result is a plain object: no methods.
  lean?.speak();
  // @ts-expect-error: no such static.
  await Tenant.puppies();
  // @ts-expect-error: no such query helper.
  await Tenant.find().byAge(3);
  // @ts-expect-error: a database name is a string (or null for the default database).
  Pet.db(42);
  // @ts-expect-error: the inferred schema has no such path.
  void owner.phone;
}

export function wrapperTypes(): void {
  // @ts-expect-error: mongoURI is required.
  PolyMongo.createWrapper({ defaultDB: 'main' });
  // @ts-expect-error: maxPoolSize is a number.
  PolyMongo.createWrapper({ mongoURI: 'mongodb://h', maxPoolSize: '10' });
  // @ts-expect-error: no such option.
  PolyMongo.createWrapper({ mongoURI: 'mongodb://h', maxPoolSizes: 10 });
  // @ts-expect-error: dbSpecific entries name their database.
  PolyMongo.createWrapper({ mongoURI: 'mongodb://h', dbSpecific: [{ options: { maxConnections: 5 } }] });
  // @ts-expect-error: no such event.
  wrapper.on('connected', () => {});
  // @ts-expect-error: limit is a number.
  wrapper.stats.handler({ limit: '10' });
  // @ts-expect-error: a registry, not a string.
  wrapper.stats.collector('default');

  const handler = wrapper.stats.handler({ limit: 20, refreshMs: 500 });
  http.createServer(handler);
  const response: Response = handler(new Request('http://localhost/status?format=json'));
  void response.json().then((snapshot: StatusSnapshot) => snapshot.pools[0]?.inUse.toFixed(0));
  const unregister: () => void = wrapper.stats.collector({ registerMetric() {}, removeSingleMetric() {}, getSingleMetric: () => undefined });
  unregister();
}

export async function errors(): Promise<void> {
  try {
    await Pet.db('tenant_1').find().lean();
  } catch (err) {
    if (err instanceof WaitQueueTimeoutError) {
      const code: 'ERR_WAIT_QUEUE_TIMEOUT' = err.code;
      const db: string = err.dbName;
      void [code, db];
    } else if (err instanceof PolyMongoError) {
      const code: PolyMongoErrorCode = err.code;
      // @ts-expect-error: not one of polymongo-rs's codes.
      if (err.code === 'ERR_WRAPPER_CLOSD') void code;
    } else if ((err as ArgumentError).code === 'ERR_INVALID_DB_NAME') {
      void (err as ArgumentError).dbName;
    }
  }
}

// Type definitions for polymongo-rs: the PolyMongo API over a MongoDB pool engine in Rust.
import type { Readable } from 'node:stream';
import type { Model, Require_id, Schema } from 'mongoose';

export type ConnectionState = 'not initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

export interface DbSpecificPoolOptions {
  /** Size of this database's own pool. */
  maxConnections?: number;
  /** Close the pool once idle (no operation in flight, no open cursor) for `ttl` ms; it reopens on
   *  its next use. */
  autoClose?: boolean;
  /** Default 300,000. */
  ttl?: number;
  coldStart?: boolean;
}

export interface DbSpecific {
  dbName: string;
  /** Another cluster for this database; the main URI when omitted. */
  mongoURI?: string;
  options?: DbSpecificPoolOptions;
}

export interface WrapperOptions {
  /** A mongodb:// or mongodb+srv:// connection string. */
  mongoURI: string;
  /** The database of `.db()`; else the URI's database, else `test`. */
  defaultDB?: string;
  /** Connections per server of the shared pool (default 10). */
  maxPoolSize?: number;
  /** Connections kept open even when idle (the pool's minimum, default 0). */
  minFreeConnections?: number;
  /** Close pooled connections idle this long, in ms. */
  idleTimeoutMS?: number;
  /** true (default): connect on first use; false: connect at creation. */
  coldStart?: boolean;
  /** Extra attempts at the initial connection, with backoff (default 0). */
  retry?: number;
  /** true: debug-level records too, to the console unless `logger` / `logHandler` takes them.
   *  PolyMongo 1.3's object form: `logPath` (a folder for rotating files) and `logHandler` (gets each
   *  formatted line). Nothing is written to disk without `logPath`. */
  debug?: boolean | { log?: boolean; logPath?: string; logHandler?: (line: string) => void | Promise<void> };
  /** A folder for rotating log files (`polymongo-rs.log`, `.1`, ...); PolyMongo 1.2's place for it. */
  logPath?: string;
  /** Size at which a log file rotates, in bytes (default 5 MiB). */
  logMaxBytes?: number;
  /** Log files kept, the current one included (default 5). */
  logMaxFiles?: number;
  /** The application's logger (pino, bunyan, winston, console...): gets info and above, and debug with
   *  `debug: true`, as structured records (fields include `component: 'polymongo-rs'`). */
  logger?: Logger;
  /** Databases with Prometheus series of their own (the first used); the rest are summed as
   *  `db="<other>"` (default 100). */
  maxDatabaseLabels?: number;
  dbSpecific?: DbSpecific[];
  /** Operations of one database in flight at once on the shared pool (default: half of maxPoolSize). */
  maxConcurrentPerDb?: number;
  /** How long an operation waits for its turn, or a pool for room, in ms (default 30000; 0: no limit). */
  waitQueueTimeoutMS?: number;
  /** Dedicated pools open at once; the least recently used idle one closes to make room. */
  maxOpenPools?: number;
  /** The sum of the open pools' sizes, the shared pool's included. */
  maxTotalConnections?: number;
  /** Close gracefully on SIGINT / SIGTERM (default true). */
  handleSignals?: boolean;
}

export type Filter = Record<string, any>;
export type SortDirection = 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending' | { $meta: string };
/** `'name -age'`, `{ name: 1, age: -1 }` or `[['name', 1], ['age', -1]]`. */
export type SortSpec = string | Record<string, SortDirection> | Array<[string, SortDirection]>;
/** `'name -age'`, `['name', 'age']` or `{ name: 1 }`. */
export type ProjectionSpec = string | string[] | Record<string, any>;
export type UpdateSpec = Record<string, any> | Record<string, any>[];

export interface QueryOptions {
  sort?: SortSpec;
  skip?: number;
  limit?: number;
  projection?: ProjectionSpec;
  batchSize?: number;
  maxTimeMS?: number;
  comment?: unknown;
  hint?: string | Record<string, any>;
  collation?: Record<string, any>;
  allowDiskUse?: boolean;
  /** Accepted for Mongoose compatibility: results are always plain objects. */
  lean?: boolean;
  let?: Record<string, any>;
}

export interface UpdateOptions {
  upsert?: boolean;
  arrayFilters?: Record<string, any>[];
  collation?: Record<string, any>;
  hint?: string | Record<string, any>;
}

export interface FindOneAndUpdateOptions extends QueryOptions, UpdateOptions {
  /** Return the document after the update (Mongoose's spelling of returnDocument: 'after'). */
  new?: boolean;
  returnDocument?: 'before' | 'after';
  returnOriginal?: boolean;
  fields?: ProjectionSpec;
  select?: ProjectionSpec;
  bypassDocumentValidation?: boolean;
}

export interface UpdateResult {
  acknowledged: true;
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
  upsertedId: any | null;
}

export interface DeleteResult {
  acknowledged: true;
  deletedCount: number;
}

export interface BulkWriteResult {
  ok: 1;
  insertedCount: number;
  matchedCount: number;
  modifiedCount: number;
  deletedCount: number;
  upsertedCount: number;
  /** Ids keyed by the index of their operation. */
  insertedIds: Record<number, any>;
  upsertedIds: Record<number, any>;
}

export type AnyBulkWriteOperation<T> =
  | { insertOne: { document: Partial<T> & Record<string, any> } }
  | { updateOne: { filter: Filter; update: UpdateSpec } & UpdateOptions }
  | { updateMany: { filter: Filter; update: UpdateSpec } & UpdateOptions }
  | { replaceOne: { filter: Filter; replacement: Partial<T> & Record<string, any>; upsert?: boolean; collation?: Record<string, any>; hint?: string | Record<string, any> } }
  | { deleteOne: { filter: Filter; collation?: Record<string, any>; hint?: string | Record<string, any> } }
  | { deleteMany: { filter: Filter; collation?: Record<string, any>; hint?: string | Record<string, any> } };

/** Streams results a chunk at a time: `next()`, `eachAsync()`, async iteration, or `.pipe()`. */
export declare class QueryCursor<Doc> extends Readable {
  next(): Promise<Doc | null>;
  /** The documents of the next chunk; an empty array once there are no more. */
  nextChunk(): Promise<Doc[]>;
  eachAsync(fn: (doc: Doc, index: number) => unknown): Promise<void>;
  toArray(): Promise<Doc[]>;
  /** Releases the server cursor now. */
  close(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterableIterator<Doc>;
}

/** A chainable query; runs when awaited, `exec()`-ed or iterated. */
export declare class Query<Result, Doc> implements PromiseLike<Result> {
  getFilter(): Filter;
  getOptions(): QueryOptions;
  where(filter: Filter): this;
  sort(spec: SortSpec): this;
  select(spec: ProjectionSpec): this;
  projection(spec: ProjectionSpec): this;
  skip(n: number): this;
  limit(n: number): this;
  batchSize(n: number): this;
  maxTimeMS(ms: number): this;
  comment(value: unknown): this;
  hint(value: string | Record<string, any>): this;
  collation(value: Record<string, any>): this;
  allowDiskUse(value?: boolean): this;
  setOptions(options: QueryOptions): this;
  lean(): this;
  exec(): Promise<Result>;
  then<A = Result, B = never>(
    onfulfilled?: ((value: Result) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: any) => B | PromiseLike<B>) | null,
  ): Promise<A | B>;
  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<Result | B>;
  finally(onfinally?: (() => void) | null): Promise<Result>;
  /** Only for find(). */
  cursor(): QueryCursor<Doc>;
  [Symbol.asyncIterator](): AsyncIterableIterator<Doc>;
}

/** A chainable aggregation; runs when awaited, `exec()`-ed or iterated. */
export declare class Aggregate<R = any> implements PromiseLike<R[]> {
  pipeline(): Record<string, any>[];
  append(...stages: Record<string, any>[]): this;
  match(filter: Filter): this;
  group(spec: Record<string, any>): this;
  project(spec: Record<string, any>): this;
  sort(spec: SortSpec): this;
  limit(n: number): this;
  skip(n: number): this;
  unwind(...paths: Array<string | Record<string, any>>): this;
  lookup(spec: Record<string, any>): this;
  addFields(spec: Record<string, any>): this;
  set(spec: Record<string, any>): this;
  unset(spec: string | string[]): this;
  facet(spec: Record<string, any>): this;
  count(field: string): this;
  sortByCount(expression: string | Record<string, any>): this;
  unionWith(spec: string | Record<string, any>): this;
  densify(spec: Record<string, any>): this;
  sample(size: number): this;
  replaceRoot(newRoot: string | Record<string, any>): this;
  option(options: QueryOptions): this;
  allowDiskUse(value?: boolean): this;
  collation(value: Record<string, any>): this;
  hint(value: string | Record<string, any>): this;
  comment(value: unknown): this;
  exec(): Promise<R[]>;
  then<A = R[], B = never>(
    onfulfilled?: ((value: R[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: any) => B | PromiseLike<B>) | null,
  ): Promise<A | B>;
  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<R[] | B>;
  finally(onfinally?: (() => void) | null): Promise<R[]>;
  cursor(options?: QueryOptions): QueryCursor<R>;
  [Symbol.asyncIterator](): AsyncIterableIterator<R>;
}

/** A Mongoose model's collection bound to one database. Results are plain objects with BSON types. */
export interface WrappedModel<T = any, Doc = Require_id<T>> {
  readonly dbName: string;
  readonly modelName: string;
  readonly collectionName: string;
  readonly schema: Schema;
  /** The same model on database `name`; `db()` / `db(null)` is the default database. */
  db(name?: string | null): WrappedModel<T, Doc>;

  find(filter?: Filter, projection?: ProjectionSpec | null, options?: QueryOptions): Query<Doc[], Doc>;
  findOne(filter?: Filter, projection?: ProjectionSpec | null, options?: QueryOptions): Query<Doc | null, Doc>;
  findById(id: any, projection?: ProjectionSpec | null, options?: QueryOptions): Query<Doc | null, Doc>;
  countDocuments(filter?: Filter, options?: QueryOptions): Query<number, never>;
  estimatedDocumentCount(options?: QueryOptions): Query<number, never>;
  exists(filter: Filter): Query<{ _id: any } | null, never>;
  distinct<V = any>(field: string, filter?: Filter, options?: QueryOptions): Query<V[], never>;

  create(doc: Partial<T> & Record<string, any>): Promise<Doc>;
  create(docs: Array<Partial<T> & Record<string, any>>, options?: { ordered?: boolean }): Promise<Doc[]>;
  insertOne(doc: Partial<T> & Record<string, any>): Promise<Doc>;
  insertMany(docs: Array<Partial<T> & Record<string, any>>, options?: { ordered?: boolean; rawResult?: false }): Promise<Doc[]>;
  insertMany(docs: Array<Partial<T> & Record<string, any>>, options: { ordered?: boolean; rawResult: true }): Promise<{ acknowledged: true; insertedCount: number; insertedIds: Record<number, any> }>;

  updateOne(filter: Filter, update: UpdateSpec, options?: UpdateOptions): Query<UpdateResult, never>;
  updateMany(filter: Filter, update: UpdateSpec, options?: UpdateOptions): Query<UpdateResult, never>;
  replaceOne(filter: Filter, replacement: Partial<T> & Record<string, any>, options?: UpdateOptions): Query<UpdateResult, never>;
  deleteOne(filter?: Filter, options?: QueryOptions): Query<DeleteResult, never>;
  deleteMany(filter?: Filter, options?: QueryOptions): Query<DeleteResult, never>;

  findOneAndUpdate(filter: Filter, update: UpdateSpec, options?: FindOneAndUpdateOptions): Query<Doc | null, Doc>;
  findOneAndReplace(filter: Filter, replacement: Partial<T> & Record<string, any>, options?: FindOneAndUpdateOptions): Query<Doc | null, Doc>;
  findOneAndDelete(filter: Filter, options?: QueryOptions): Query<Doc | null, Doc>;
  findByIdAndUpdate(id: any, update: UpdateSpec, options?: FindOneAndUpdateOptions): Query<Doc | null, Doc>;
  findByIdAndDelete(id: any, options?: QueryOptions): Query<Doc | null, Doc>;

  bulkWrite(ops: AnyBulkWriteOperation<T>[], options?: { ordered?: boolean }): Promise<BulkWriteResult>;
  aggregate<R = any>(pipeline?: Record<string, any>[], options?: QueryOptions): Aggregate<R>;
}

export interface WrapModelOptions {
  /** Build the schema's indexes in each database before its first write (default: the schema's
   *  `autoIndex`, on as in Mongoose). */
  autoIndex?: boolean;
  /** Also apply a `$jsonSchema` validator derived from the schema there, so the server refuses
   *  (code 121) what the schema would. Default false. */
  jsonSchema?: boolean;
}

/** A background failure (an index build, a validator) as the wrapper's 'error' event carries it. */
export interface SetUpError extends Error {
  db: string;
  collection: string;
  during: 'setUp';
}

export interface ScaleOptions extends DbSpecificPoolOptions {
  /** Another cluster for these databases; the main URI when omitted. */
  mongoURI?: string;
}

/** What 'connect', 'disconnect' and 'reconnect' (and the hooks) are called with. */
export interface DbEventInfo {
  /** The database, as PolyMongo names it twice. */
  name: string;
  dbName: string;
  /** 1 for connect and reconnect, 0 for disconnect. */
  readyState: 0 | 1;
  state: 'connected' | 'disconnected';
  timestamp: Date;
  /** The pool's URI with credentials masked. */
  uri: string;
  pool: 'shared' | 'dedicated';
  reason: 'opened' | 'first-use' | 'closed' | 'idle' | 'evicted' | 'lost' | 'found';
}

/** What the 'error' event carries: a background failure (`during: 'setUp'`, with `db` and
 *  `collection`), a failed `coldStart: false` connect (`'connect'`), or a listener that threw. */
export interface WrapperError extends Error {
  during: string;
  db?: string;
  collection?: string;
}
export interface Logger {
  debug?(...args: any[]): unknown;
  info?(...args: any[]): unknown;
  warn?(...args: any[]): unknown;
  error?(...args: any[]): unknown;
}

/** A pool's connections, from the driver's connection-pool (CMAP) events. */
export interface PoolStats {
  /** Connections open (or being established), monitoring connections aside. */
  totalConnections: number;
  availableConnections: number;
  inUseConnections: number;
  /** Operations waiting for their turn (per-database fairness); `waitQueueTimeoutMS` bounds the wait. */
  waitQueueSize: number;
  /** Operations admitted and running. */
  inFlight: number;
  /** Checkouts the driver has not served yet. */
  pendingCheckouts: number;
  maxPoolSize: number;
  minPoolSize: number;
  maxIdleTimeMS?: number;
  totalCreated: number;
  totalClosed: number;
  checkoutFailures: number;
}

export interface PoolInfo {
  /** The dedicated pool's database; the default database for the shared pool. */
  dbName: string;
  /** Password masked. */
  mongoURI: string;
  /** 0 disconnected, 1 connected, 2 connecting, 3 disconnecting. */
  readyState: number;
  state: ConnectionState;
  /** Epoch ms of the pool's last use. */
  lastAccessed: number;
  /** Whether the pool's client is open. */
  isInitialized: boolean;
  poolStats: PoolStats;
}

/** One database's operations (each call, and each chunk a cursor reads, counts once). */
export interface DatabaseMetrics {
  dbName: string;
  pool: 'shared' | 'dedicated';
  ops: number;
  errors: number;
  inFlight: number;
  queued: number;
  lastUsed: Date | null;
  /** From an HDR histogram with one significant digit (values within 6.25%). */
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number } | null;
}

export interface GeneralStats {
  /** Pools whose client is open. */
  totalActivePools: number;
  totalConnectionsAcrossPools: number;
  primary: PoolInfo & { sharedDatabases: string[] };
  separateDB: Array<PoolInfo & { config: { maxConnections?: number; autoClose: boolean; ttl?: number; coldStart: boolean } }>;
  databases: DatabaseMetrics[];
}

export interface DbStats {
  sizeMb: number;
  numCollections: number;
  collections: Array<{ name: string; docCount: number; sizeMb: number }>;
  /** The last operation's end; null before the first. */
  lastUsed: Date | null;
  mongoURI: string;
  isInitialized: boolean;
  /** The dedicated pool's configuration; null on the shared pool. */
  config: GeneralStats['separateDB'][number]['config'] | null;
  poolStats: PoolStats;
  metrics: DatabaseMetrics | null;
}

export type DbEvent = 'connect' | 'disconnect' | 'reconnect' | 'onDbConnect' | 'onDbDisconnect';
export type Unsubscribe = () => void;

/** An EventEmitter, except that `on()` returns a function that unsubscribes (as in PolyMongo). */
export declare class PolyMongoWrapper {
  constructor(options: WrapperOptions);
  /** Databases with pools of their own. The routing changes at once; the promise settles when a pool
   *  replaced is closed and, for `connectDB` or `coldStart: false`, the new pool is open. */
  readonly scale: {
    setDB(names: string | string[], options?: ScaleOptions): Promise<void>;
    connectDB(names: string | string[], options?: ScaleOptions): Promise<void>;
  };
  /** The database used by `.db()` / `.db(null)`. */
  readonly defaultDB: string;
  /** The first call for a model decides its options. */
  wrapModel<T>(model: Model<T, any, any, any, any, any>, options?: WrapModelOptions): WrappedModel<T>;
  on(event: DbEvent, listener: (info: DbEventInfo) => void): Unsubscribe;
  on(event: 'error', listener: (err: WrapperError) => void): Unsubscribe;
  once(event: DbEvent, listener: (info: DbEventInfo) => void): this;
  once(event: 'error', listener: (err: WrapperError) => void): this;
  off(event: DbEvent | 'error', listener: (...args: any[]) => void): this;
  addListener(event: DbEvent | 'error', listener: (...args: any[]) => void): this;
  removeListener(event: DbEvent | 'error', listener: (...args: any[]) => void): this;
  removeAllListeners(event?: DbEvent | 'error'): this;
  listenerCount(event: DbEvent | 'error'): number;
  onDbConnect(callback: (info: DbEventInfo) => void): Unsubscribe;
  onDbDisconnect(callback: (info: DbEventInfo) => void): Unsubscribe;
  onTheseDBConnect(names: string | string[], callback: (info: DbEventInfo) => void): Unsubscribe;
  onTheseDBDisconnect(names: string | string[], callback: (info: DbEventInfo) => void): Unsubscribe;
  /** PolyMongo 1.3's names for `scale`. */
  readonly pool: {
    configure(names: string | string[], options?: ScaleOptions): Promise<void>;
    connect(names: string | string[], options?: ScaleOptions): Promise<void>;
  };
  readonly actions: {
    /** Stops taking operations, waits up to `timeoutMS` (default 10000) for those started, then
     *  closes every pool. Later operations reject with ERR_WRAPPER_CLOSED until `connect()`. */
    closeAll(options?: { timeoutMS?: number }): Promise<void>;
    /** Closes every pool without waiting. */
    forceCloseAll(): Promise<void>;
  };
  /** Reading stats changes nothing: no connection, database, event or operation count. */
  readonly stats: {
    /** Every pool's connections and every database's operations, now. No I/O. */
    general(): GeneralStats;
    /** A database's size (dbStats, $collStats) with its pool's numbers; the default database when omitted. */
    db(dbName?: string): Promise<DbStats>;
    /** The main deployment's databases. */
    listDatabases(): Promise<Array<{ dbName: string; sizeInMB: number }>>;
    /** The Prometheus text exposition format (0.0.4), for a `/metrics` route. No I/O. */
    prometheus(): string;
  };
  connect(): Promise<{ success: true; alreadyConnected: boolean; state: ConnectionState }>;
  disconnect(): Promise<{ success: true }>;
  ping(db?: string): Promise<{ ok: true; latency: number } | { ok: false; latency: null; error: Error }>;
  isConnected(): boolean;
  getConnectionState(): ConnectionState;
}

export declare const PolyMongo: {
  createWrapper(options: WrapperOptions): PolyMongoWrapper;
};

export default PolyMongo;

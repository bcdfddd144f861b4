// Type definitions for polymongo-rs: the PolyMongo API over a MongoDB pool engine in Rust.
import type { ClientSession, Connection, Model, mongo } from 'mongoose';
import type * as mongooseModule from 'mongoose';

export type ConnectionState = 'not initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

export interface DbSpecificPoolOptions {
  /** Size of this database's own pool. */
  maxConnections?: number;
  /** Close the pool once idle (no operation in flight, transaction or change stream, no session or
   *  cursor used within `ttl`) for `ttl` ms; it reopens on its next use. */
  autoClose?: boolean;
  /** ms; default 300,000. Also how long (at least 1 s) a cursor or a session (outside a transaction)
   *  may sit unused and still keep the pool open, with or without `autoClose`; used after its pool
   *  closed, a cursor fails with ERR_CURSOR_TIMED_OUT and a session with MongoExpiredSessionError. */
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
  /** Connections the shared pool keeps open even when idle (its minimum, default 0); pools of a
   *  database's own keep none. */
  minFreeConnections?: number;
  /** Close pooled connections idle this long, in ms. */
  idleTimeoutMS?: number;
  /** true (default): connect on first use; false: connect at creation. */
  coldStart?: boolean;
  /** Extra attempts at opening a pool, with backoff (default 0, at most 10; PolyMongo 1.3's `retry`, an
   *  interval in ms, is refused). */
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
  /** Change streams open at once across the wrapper (default 100); each holds one connection of its
   *  pool's stream client while open. One more fails with ERR_TOO_MANY_STREAMS. */
  maxOpenStreams?: number;
  /** False refuses every request that would run JavaScript on the server (`$where`, `$function`,
   *  `$accumulator`, `mapReduce`, a BSON code value), anywhere in it and by any path, with a
   *  PolyMongoError ERR_JAVASCRIPT_DISABLED before it is sent (default true, as MongoDB's
   *  `security.javascriptEnabled`). */
  javascriptEnabled?: boolean;
  dbSpecific?: DbSpecific[];
  /** The most operations of one database in flight at once on the shared pool (default: half of
   *  maxPoolSize); each database's share adapts below it, see `DatabaseMetrics.concurrencyLimit`. */
  maxConcurrentPerDb?: number;
  /** How long an operation waits for its turn, or a pool for room, in ms (default 30000; 0: no limit). */
  waitQueueTimeoutMS?: number;
  /** Dedicated pools open at once; the least recently used idle one closes to make room. */
  maxOpenPools?: number;
  /** The sum of the open pools' sizes, the shared pool's included. */
  maxTotalConnections?: number;
  /** On SIGINT / SIGTERM that the application does not listen for, close gracefully and exit with 130 /
   *  143 (default true). An application listening for the signal owns its shutdown: the wrapper stays
   *  open until it calls `actions.closeAll()` (a server drains its requests first). */
  handleSignals?: boolean;
  /** Databases whose Mongoose connection and model classes are kept ready (default 1000); past this,
   *  the least recently used are dropped and built again on their next use, in microseconds. */
  tenantCacheSize?: number;
}

/** What `wrapModel(M)` returns: the Mongoose model `M` of the default database, whose `db(name)` is
 *  the same Mongoose model (a subclass of `M`, with `M`'s statics, methods, virtuals, query helpers and
 *  document type) in database `name`; `db()` / `db(null)` is the default database's. */
export type WrappedModel<M extends Model<any, any, any, any, any, any>> = M & {
  db(name?: string | null): M;
};

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

/** What 'connect', 'disconnect' and 'reconnect' (and the hooks) are called with: PolyMongo 1.3's
 *  payload, plus the pool's `uri`, kind and the reason. */
export interface DbEventInfo {
  /** The event: 'connect', 'disconnect' or 'reconnect' (PolyMongo's aliases get the same payload). */
  name: 'connect' | 'disconnect' | 'reconnect';
  dbName: string;
  /** 1 for connect and reconnect, 0 for disconnect. */
  readyState: 0 | 1;
  state: 'connected' | 'disconnected';
  /** When the event was delivered, as an ISO 8601 string. */
  timestamp: string;
  /** The database's Mongoose connection on the engine (`adv.getConnection(dbName)`), made when read. */
  readonly connection: Connection;
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
  /** Operations it may have in flight at once now: on the shared pool its adaptive share (a tenth of
   *  the pool at first, up to `maxConcurrentPerDb`, smaller while its operations are slow and others
   *  wait); on a pool of its own, that pool's size. */
  concurrencyLimit: number;
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
  /** Open change streams, the connections of the pools' stream clients, and the streams per database. */
  streams: { open: number; connections: number; byDatabase: Record<string, number> };
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

/** What `stats.collector()` needs of a prom-client `Registry` (any version from 11). */
export interface MetricsRegistry {
  registerMetric(metric: any): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

export interface StatusHandlerOptions {
  /** Rows in each list (busiest, slowest, waiting), 1..1000; default 10. */
  limit?: number;
  /** The page's polling period in ms, 100..60000; default 1000. */
  refreshMs?: number;
}

/** `(req, res)` for Node's http, Express, Connect and Next.js pages API routes (it ends the response);
 *  a web `Request` (App Router) gets a `Response` back. GET and HEAD; 405 otherwise. */
export interface StatusHandler {
  (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void;
  (request: Request, context?: unknown): Response;
}

/** A database's line on the status page: its metrics, `lastUsed` aside. */
export type StatusTenant = Omit<DatabaseMetrics, 'lastUsed'>;

/** The status page's data (`?format=json`), read from `stats.general()`. */
export interface StatusSnapshot {
  /** ISO 8601. */
  at: string;
  pools: Array<{
    /** `shared`, or the database of a dedicated pool. */
    pool: string;
    /** The URI's host list, without credentials or options. */
    hosts: string;
    state: ConnectionState;
    connections: number;
    inUse: number;
    available: number;
    waiting: number;
    inFlight: number;
    pendingCheckouts: number;
    maxPoolSize: number;
  }>;
  /** Operations waiting for their turn, per database (most waiting first). */
  admission: { queued: number; inFlight: number; databases: Array<Pick<StatusTenant, 'dbName' | 'pool' | 'queued' | 'inFlight' | 'concurrencyLimit'>> };
  /** `busiest` by operations, `slowest` by p95 latency; `total` databases with metrics. */
  tenants: { total: number; busiest: StatusTenant[]; slowest: StatusTenant[] };
  streams: { open: number; connections: number };
}

export type DbEvent = 'connect' | 'disconnect' | 'reconnect' | 'onDbConnect' | 'onDbDisconnect';
export type Unsubscribe = () => void;

/** An EventEmitter, except that `on()` returns a function that unsubscribes (as in PolyMongo). */
/** Which collections a bulk task takes: an array names those to take; `exclude` leaves some out.
 *  `system.*` collections are never taken (views travel as their definitions). */
export type BulkCollections = string[] | { include?: string[]; exclude?: string[] };

/** What a bulk task has done in the collection it is working on, reported at least every 250 ms
 *  while it changes, and at the end. */
export interface BulkProgress {
  collection: string;
  documents: number;
  /** Bytes of BSON read or written in this collection. */
  bytes: number;
  /** The collection's document count, when known (exports without a query). */
  total?: number;
}

export interface BulkTaskOptions {
  collections?: BulkCollections;
  /** Stops the task: it rejects with an AbortError after rolling back the collection it was writing. */
  signal?: AbortSignal;
  onProgress?: (progress: BulkProgress) => void;
}

export interface ExportOptions extends BulkTaskOptions {
  /** A filter per collection name: only the documents it matches are exported. */
  query?: Record<string, Record<string, unknown>>;
  /** Documents per batch read (default 1000). */
  batchSize?: number;
}

/** `exportDBStream`'s formats: ours (the default), or one collection as `mongoexport` writes it. */
export type StreamExportOptions = ExportOptions & (
  | { format?: 'ndjson' }
  | { format: 'mongoexport'; collection: string; jsonFormat?: 'relaxed' | 'canonical' }
);

/** `exportDB` into a folder, in mongodump's layout (`<dir>/<db>/<name>.bson` and `.metadata.json`). */
export interface DumpExportOptions extends ExportOptions {
  format: 'dump';
  dir: string;
  /** One gzip stream per file, names ending in `.gz`. */
  gzip?: boolean;
}

/** What `exportDB` wrote into a folder. */
export interface DumpSummary {
  database: string;
  /** `<dir>/<db>`. */
  path: string;
  exportedAt: string;
  collections: Array<{ collection: string; documents: number; indexes: number }>;
  documents: number;
  /** Bytes of BSON written, before gzip. */
  bytes: number;
}

export interface ImportOptions extends BulkTaskOptions {
  /** Documents per insert (default 1000; a batch also closes at 8 MiB). */
  batchSize?: number;
  /** Replace each target collection (its replacement is renamed over it at its end). */
  drop?: boolean;
  /** `false` inserts the documents after one the server refuses and lists each refusal. */
  ordered?: boolean;
  /** `false` goes on with the next collection after one fails (it is rolled back and listed). */
  stopOnError?: boolean;
  bypassDocumentValidation?: boolean;
  /** Check each document against the schema of the wrapped model of its collection, in the engine,
   *  before writing it; the ones refused are listed (stage 'validate') and not written. Throws for a
   *  model with checks only JavaScript runs (custom validators, default functions). */
  validate?: boolean;
}

export interface CopyOptions extends ImportOptions {
  query?: Record<string, Record<string, unknown>>;
}

/** An export as an object: values in canonical Extended JSON, so `JSON.stringify` keeps every type. */
export interface DatabaseExport {
  database: string;
  exportedAt: string;
  version: 2;
  collections: Record<
    string,
    { type: 'collection' | 'view'; options: Record<string, unknown>; indexes: Record<string, unknown>[]; documents: Record<string, unknown>[] }
  >;
}

/** A document or collection an import did not write. */
export interface BulkFailure {
  collection: string;
  stage: 'import' | 'validate' | 'index';
  message: string;
  /** The NDJSON line (from 1). */
  line?: number;
  /** The document's place in its collection (from 0), for a copy. */
  document?: number;
  index?: string;
  code?: number;
  /** Whether its whole collection was rolled back (else only this document is missing). */
  rolledBack: boolean;
}

export interface ImportSummary {
  database: string;
  importedAt: string;
  collections: Array<{ collection: string; documents: number; indexes: number }>;
  /** The first 1000 failures (`ordered: false`, `stopOnError: false`). */
  failures: BulkFailure[];
  failureCount: number;
  insertedDocuments: number;
  createdIndexes: number;
}

export interface CopySummary extends Omit<ImportSummary, 'database'> {
  source: string;
  target: string;
}

/** A bulk task's promise, which also reports progress. */
export interface BulkTask<T> extends Promise<T> {
  on(event: 'progress', listener: (progress: BulkProgress) => void): BulkTask<T>;
}

/** Anything an import reads NDJSON from. */
export type NdjsonSource = NodeJS.ReadableStream | ReadableStream | AsyncIterable<Buffer | Uint8Array | string>;

/** Exports, imports, copies and drops whole databases (PolyMongo's data `actions`). */
export interface DataActions {
  /** Database `dbName` as an object (see `DatabaseExport`), or into a folder in mongodump's layout. */
  exportDB(dbName: string, options: DumpExportOptions): BulkTask<DumpSummary>;
  exportDB(dbName: string, options?: ExportOptions): BulkTask<DatabaseExport>;
  /** Reads a folder in mongodump's layout (`dir`: the database's folder or the one holding it). */
  importDB(dbName: string, options: ImportOptions & { dir: string }): BulkTask<ImportSummary>;
  /** Takes back `exportDB`'s object, or PolyMongo 1.3's. */
  importDB(dbName: string, data: DatabaseExport | { collections: Record<string, { documents?: unknown[]; indexes?: unknown[] }> }, options?: ImportOptions): BulkTask<ImportSummary>;
  /** Database `dbName` as NDJSON (a meta line, then collection, index and document records in
   *  canonical Extended JSON), or one collection as mongoexport writes it; emits `'progress'`. */
  exportDBStream(dbName: string, options?: StreamExportOptions): import('node:stream').Readable;
  /** Reads NDJSON (ours or PolyMongo 1.3's, or mongoexport's with `format: 'mongoexport'` and
   *  `collection`) with backpressure; each collection is written whole or not at all. */
  importDBStream(dbName: string, source: NdjsonSource, options?: ImportOptions & { format?: 'ndjson' | 'mongoexport'; collection?: string }): BulkTask<ImportSummary>;
  /** Copies documents, indexes and collection options in the engine, across pools and clusters. */
  copyDatabase(from: string, to: string, options?: CopyOptions): BulkTask<CopySummary>;
  /** The default database and MongoDB's own (admin, local, config) need `{ force: true }`. */
  dropDatabase(dbName: string, options?: { force?: boolean }): Promise<void>;
}

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
  wrapModel<M extends Model<any, any, any, any, any, any>>(model: M, options?: WrapModelOptions): WrappedModel<M>;
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
    /** Closes the change streams of database `dbName` (its collections' too), and only those;
     *  resolves to how many were open, once closed. Throws ERR_INVALID_DB_NAME for a bad name. */
    closeDBstream(dbName: string): Promise<number>;
    /** Closes every change stream of the wrapper; resolves to how many were open, once closed. */
    closeAllWatches(): Promise<number>;
  } & DataActions;
  /** PolyMongo 1.2's names for the data actions (1.3 kept them). */
  readonly bulkTasks: {
    export: DataActions['exportDB'];
    import: DataActions['importDB'];
    exportStream: DataActions['exportDBStream'];
    importStream: DataActions['importDBStream'];
    copyDatabase: DataActions['copyDatabase'];
    dropDatabase: DataActions['dropDatabase'];
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
    /** Registers the same series in an application's prom-client registry (`client.register`, or a
     *  `new client.Registry()`), so the `/metrics` it already serves has them; one read of the engine
     *  per scrape. Returns a function that unregisters them. One wrapper per registry: a second throws
     *  prom-client's "already been registered". A TypeError `ERR_INVALID_ARG_TYPE` for anything else. */
    collector(register: MetricsRegistry): () => void;
    /** A status page (HTML, polling its own JSON) of the pools, the admission queue and the busiest and
     *  slowest databases, served only where the application mounts it:
     *  `app.get('/admin/polymongo', wrapper.stats.handler())`, or in a Next.js App Router route
     *  `export const GET = wrapper.stats.handler()`. `?format=json` (or `Accept: application/json`)
     *  gets `StatusSnapshot`. Hosts are shown, never a URI or credentials; database names are shown:
     *  guard the route with what a browser resends by itself (a session cookie, Basic auth). */
    handler(options?: StatusHandlerOptions): StatusHandler;
  };
  connect(): Promise<{ success: true; alreadyConnected: boolean; defaultDB: string; readonly connection: Connection; state: ConnectionState }>;
  disconnect(): Promise<{ success: true; alreadyDisconnected: boolean; state: 'disconnected' }>;
  /** PolyMongo 1.3's access to the Mongoose side: connections of any database, on the engine. */
  readonly adv: {
    /** The application's mongoose. */
    readonly mongoose: typeof mongooseModule;
    /** The default database's connection if made yet. */
    getPrimaryConnection(): Connection | undefined;
    getOrCreatePrimaryConnection(): Connection;
    /** Database `dbName`'s connection (the default database's when omitted); no I/O. */
    getConnection(dbName?: string): Connection;
    getSharedConnection(dbName?: string): Connection;
  };
  ping(db?: string): Promise<{ ok: true; latency: number } | { ok: false; latency: null; error: Error }>;
  /**
   * Runs `fn(session)` in one transaction across any databases of one pool (every tenant database of
   * the shared pool) and commits it; retried as Mongoose's `connection.transaction()` retries it.
   * Pass `{ session }` to each operation (or `.session(session)` to queries) inside `fn`.
   */
  transaction<T>(fn: (session: ClientSession) => Promise<T>, options?: mongo.TransactionOptions): Promise<T>;
  /**
   * A change stream of database `dbName` (the default database when omitted), as Mongoose's
   * `connection.watch()`: it resumes by itself after resumable errors and after the server comes
   * back, and keeps the database's pool open until closed. `pipeline`: stages after `$changeStream`.
   */
  watch<T extends mongo.Document = any>(dbName?: string, pipeline?: Array<Record<string, unknown>>, options?: mongo.ChangeStreamOptions): mongo.ChangeStream<T>;
  watch<T extends mongo.Document = any>(pipeline: Array<Record<string, unknown>>, options?: mongo.ChangeStreamOptions): mongo.ChangeStream<T>;
  isConnected(): boolean;
  getConnectionState(): ConnectionState;
}

/** The `code` of polymongo-rs's own errors: `ERR_WRAPPER_CLOSED` (an operation after `disconnect()` /
 *  `closeAll()`), `ERR_CURSOR_TIMED_OUT` (a cursor read after it sat unread for its pool's `ttl` and
 *  the pool closed; with `dbName`), `ERR_TOO_MANY_STREAMS` (past `maxOpenStreams`),
 *  `ERR_JAVASCRIPT_DISABLED`, `ERR_NOT_CASTABLE`, `ERR_INTERNAL` (a bug), `ERR_WAIT_QUEUE_TIMEOUT`,
 *  `ERR_POOL_LIMIT`. */
export type PolyMongoErrorCode =
  | 'ERR_WRAPPER_CLOSED'
  | 'ERR_CURSOR_TIMED_OUT'
  | 'ERR_TOO_MANY_STREAMS'
  | 'ERR_JAVASCRIPT_DISABLED'
  | 'ERR_NOT_CASTABLE'
  | 'ERR_INTERNAL'
  | 'ERR_WAIT_QUEUE_TIMEOUT'
  | 'ERR_POOL_LIMIT';

/** The `code` of the TypeErrors and RangeErrors thrown for bad arguments, as Node's own are coded:
 *  `ERR_INVALID_DB_NAME` (with `dbName`), `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` and
 *  `ERR_OUT_OF_RANGE` (an option's, with `option`). */
export type ArgumentErrorCode = 'ERR_INVALID_DB_NAME' | 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

/** A bad argument's error, for narrowing `catch (err)`: `(err as ArgumentError).code`. */
export type ArgumentError = (TypeError | RangeError) & { code: ArgumentErrorCode; dbName?: string; option?: string };

/** polymongo-rs's own errors, by `code` (see `PolyMongoErrorCode`), and the subclasses below. The
 *  driver's errors are your `mongodb`'s classes (MongoServerError with `code` / `codeName`), and
 *  Mongoose's are Mongoose's (ValidationError, CastError, ...). */
export declare class PolyMongoError extends Error {
  code: PolyMongoErrorCode;
  /** The database, where the error concerns one. */
  dbName?: string;
}
/** An operation waited longer than `waitQueueTimeoutMS` for its turn. */
export declare class WaitQueueTimeoutError extends PolyMongoError {
  code: 'ERR_WAIT_QUEUE_TIMEOUT';
  dbName: string;
}
/** A pool could not open within `waitQueueTimeoutMS` under `maxOpenPools` / `maxTotalConnections`. */
export declare class PoolLimitError extends PolyMongoError {
  code: 'ERR_POOL_LIMIT';
  dbName: string;
}

/** PolyMongo's export, a class as PolyMongo 1.3's is: `PolyMongo.createWrapper(options)` or
 *  `new PolyMongo(options)`. */
export declare class PolyMongo extends PolyMongoWrapper {
  static createWrapper(options: WrapperOptions): PolyMongo;
}

/** `PolyMongo.createWrapper`, also exported on its own (the CommonJS export is the class). */
export declare const createWrapper: (typeof PolyMongo)['createWrapper'];

/** A Mongoose driver (what `mongoose.setDriver()` takes) on polymongo-rs's engine. */
export interface MongooseDriver {
  Connection: new (base: any) => Connection;
  Collection: new (name: string, conn: Connection, options?: Record<string, unknown>) => unknown;
  BulkWriteResult: new (...args: any[]) => unknown;
}

/** `mongoose.setDriver(mongooseDriver(mongoose))` runs every connection of that Mongoose instance
 *  (`connect(uri)`, `createConnection(uri)`, `useDb(name)`) on the engine, with no PolyMongo API. */
export declare function mongooseDriver(mongoose: typeof mongooseModule | InstanceType<typeof mongooseModule.Mongoose>): MongooseDriver;

export default PolyMongo;

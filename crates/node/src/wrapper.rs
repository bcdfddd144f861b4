//! `NativeWrapper`: one engine, created from the options the JS facade has checked for type.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bson::Document;
use mongodb::options::{ServerApi, ServerApiVersion};
use napi::bindgen_prelude::{Buffer, Function, Object, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;

use super::bulk::{NativeBulkTask, NativeExport, NativeImport};
use super::change_stream::NativeChangeStream;
use super::errors::{build_error, js_error, promise, CommandEventValue, HeartbeatEventValue};
use super::namespace::NativeNamespace;
use super::session::NativeSession;
use super::stats::{self, DatabaseSizeObject, DbStatsObject, GeneralObject};
use polymongo_engine::config::{
    millis, retry_attempts, whole_number, DbSpecific, WrapperConfig, DEFAULT_MAX_POOL_SIZE,
};
use polymongo_engine::engine::Engine;
use polymongo_engine::error::Error;
use polymongo_engine::events::{CommandEvent, HeartbeatEvent, PoolEvent};
use polymongo_engine::logging::{Log, LogConfig, Record, Sink};
use polymongo_engine::ops::decode;
use polymongo_engine::session;

#[napi(object)]
pub struct WrapperOptions {
    #[napi(js_name = "mongoURI")]
    pub mongo_uri: String,
    #[napi(js_name = "defaultDB")]
    pub default_db: Option<String>,
    pub max_pool_size: Option<f64>,
    pub min_free_connections: Option<f64>,
    #[napi(js_name = "idleTimeoutMS")]
    pub idle_timeout_ms: Option<f64>,
    pub cold_start: Option<bool>,
    pub retry: Option<f64>,
    pub db_specific: Option<Vec<DbSpecificOptions>>,
    pub max_concurrent_per_db: Option<f64>,
    #[napi(js_name = "waitQueueTimeoutMS")]
    pub wait_queue_timeout_ms: Option<f64>,
    pub max_open_pools: Option<f64>,
    pub max_total_connections: Option<f64>,
    pub max_database_labels: Option<f64>,
    /// Debug-level log records too.
    pub debug: Option<bool>,
    /// A folder for rotating log files.
    pub log_path: Option<String>,
    pub log_max_bytes: Option<f64>,
    pub log_max_files: Option<f64>,
    /// Each command the pools' clients send, answered or failed, goes to `onCommandEvent`'s listener.
    pub monitor_commands: Option<bool>,
    /// The Stable API version to declare, as the Node driver's `serverApi` option.
    pub server_api: Option<ServerApiOptions>,
    /// Change streams open at once across the wrapper (default 100).
    pub max_open_streams: Option<f64>,
    /// False refuses requests that run JavaScript on the server (default true).
    pub javascript_enabled: Option<bool>,
}

/// The Node driver's `serverApi` option: `{ version: '1', strict?, deprecationErrors? }`.
#[napi(object)]
pub struct ServerApiOptions {
    pub version: String,
    pub strict: Option<bool>,
    pub deprecation_errors: Option<bool>,
}

#[napi(object)]
pub struct DbSpecificOptions {
    pub db_name: String,
    #[napi(js_name = "mongoURI")]
    pub mongo_uri: Option<String>,
    pub options: Option<DbSpecificPoolOptions>,
}

#[napi(object)]
#[derive(Default)]
pub struct DbSpecificPoolOptions {
    pub max_connections: Option<f64>,
    pub auto_close: Option<bool>,
    pub ttl: Option<f64>,
    pub cold_start: Option<bool>,
}

fn config(options: WrapperOptions) -> Result<WrapperConfig, Error> {
    let mut config = WrapperConfig::new(options.mongo_uri);
    config.default_db = options.default_db;
    config.max_pool_size =
        options.max_pool_size.map_or(Ok(DEFAULT_MAX_POOL_SIZE), |v| whole_number("maxPoolSize", v))?;
    config.min_free_connections =
        options.min_free_connections.map_or(Ok(0), |v| whole_number("minFreeConnections", v))?;
    config.idle_timeout = options.idle_timeout_ms.map(|v| millis("idleTimeoutMS", v)).transpose()?;
    config.cold_start = options.cold_start.unwrap_or(true);
    config.retry = options.retry.map_or(Ok(0), retry_attempts)?;
    config.db_specific =
        options.db_specific.unwrap_or_default().into_iter().map(db_specific).collect::<Result<_, _>>()?;
    config.max_concurrent_per_db =
        options.max_concurrent_per_db.map(|v| whole_number("maxConcurrentPerDb", v)).transpose()?;
    if let Some(ms) = options.wait_queue_timeout_ms {
        // 0 waits as long as it takes, as in the Node driver.
        config.wait_queue_timeout = Some(millis("waitQueueTimeoutMS", ms)?).filter(|limit| !limit.is_zero());
    }
    config.max_open_pools = options.max_open_pools.map(|v| whole_number("maxOpenPools", v)).transpose()?;
    config.max_total_connections =
        options.max_total_connections.map(|v| whole_number("maxTotalConnections", v)).transpose()?;
    if let Some(n) = options.max_database_labels {
        config.max_database_labels = whole_number("maxDatabaseLabels", n)? as usize;
    }
    config.monitor_commands = options.monitor_commands.unwrap_or(false);
    config.javascript_enabled = options.javascript_enabled.unwrap_or(true);
    if let Some(n) = options.max_open_streams {
        config.max_open_streams = whole_number("maxOpenStreams", n)?;
    }
    if let Some(api) = options.server_api {
        let version = api
            .version
            .parse::<ServerApiVersion>()
            .map_err(|_| Error::type_error("serverApi.version", format!("must be '1', got {:?}", api.version)))?;
        config.server_api = Some(
            ServerApi::builder().version(version).strict(api.strict).deprecation_errors(api.deprecation_errors).build(),
        );
    }
    Ok(config)
}

fn log(options: &WrapperOptions, sink: Option<Arc<dyn Sink>>) -> Result<Log, Error> {
    let count = |option, v: Option<f64>| v.map(|v| whole_number(option, v).map(|n| n as usize)).transpose();
    Log::new(LogConfig {
        debug: options.debug.unwrap_or(false),
        path: options.log_path.clone().map(Into::into),
        max_file_bytes: count("logMaxBytes", options.log_max_bytes)?,
        max_files: count("logMaxFiles", options.log_max_files)?,
        sink,
    })
}

/// A log record as JS sees it.
#[napi(object, js_name = "LogRecord")]
pub struct LogRecordObject {
    /// 'debug' | 'info' | 'warn' | 'error'
    pub level: String,
    pub message: String,
    /// `[name, value]` pairs, in the order the engine gave them.
    pub fields: Vec<Vec<String>>,
}

/// Log records go to a JS function through a weak threadsafe function: logging never keeps Node alive.
struct JsSink(
    napi::threadsafe_function::ThreadsafeFunction<LogRecordObject, (), LogRecordObject, napi::Status, false, true>,
);

impl Sink for JsSink {
    fn write(&self, record: Record) {
        let fields = record.fields.into_iter().map(|(k, v)| vec![k.to_owned(), v]).collect();
        let record = LogRecordObject { level: record.level.to_owned(), message: record.message, fields };
        self.0.call(record, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

fn db_specific(spec: DbSpecificOptions) -> Result<DbSpecific, Error> {
    let pool = spec.options.unwrap_or_default();
    Ok(DbSpecific {
        db_name: spec.db_name,
        mongo_uri: spec.mongo_uri,
        max_connections: pool
            .max_connections
            .map(|v| whole_number("dbSpecific.options.maxConnections", v))
            .transpose()?,
        auto_close: pool.auto_close.unwrap_or(false),
        ttl: pool.ttl.map(|v| millis("dbSpecific.options.ttl", v)).transpose()?,
        cold_start: pool.cold_start.unwrap_or(true),
    })
}

/// A pool event as JS sees it.
#[napi(object, js_name = "PoolEvent")]
pub struct PoolEventObject {
    /// 'connect' | 'disconnect' | 'reconnect'
    pub kind: String,
    pub db_name: String,
    /// The pool's URI, credentials masked.
    pub uri: String,
    /// 'shared' | 'dedicated'
    pub pool: String,
    /// 'opened' | 'first-use' | 'closed' | 'idle' | 'evicted' | 'lost' | 'found'
    pub reason: String,
}

#[napi]
pub struct NativeWrapper {
    engine: Arc<Engine>,
    /// Whether JS listens for pool events: when not, none crosses to JS (a tenant's first use then
    /// costs no JS callback and no payload).
    events_wanted: Arc<AtomicBool>,
}

#[napi]
impl NativeWrapper {
    /// `logSink`, when given, gets every log record at the level `debug` chooses.
    #[napi(catch_unwind, constructor, ts_args_type = "options: WrapperOptions, logSink?: (record: LogRecord) => void")]
    pub fn new(
        env: Env,
        options: WrapperOptions,
        log_sink: Option<Function<LogRecordObject, ()>>,
    ) -> napi::Result<Self> {
        let sink = match log_sink {
            Some(f) => {
                Some(Arc::new(JsSink(f.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?))
                    as Arc<dyn Sink>)
            }
            None => None,
        };
        let engine =
            log(&options, sink).and_then(|log| Engine::new(config(options)?, log)).map_err(|e| js_error(&env, &e))?;
        // The sweep holds the engine weakly and stops with it; tokio's threads never keep Node alive.
        napi::bindgen_prelude::spawn(engine.idle_sweeper());
        Ok(NativeWrapper { engine: Arc::new(engine), events_wanted: Arc::default() })
    }

    #[napi(catch_unwind, getter)]
    pub fn default_db(&self) -> String {
        self.engine.default_db().to_owned()
    }

    #[napi(catch_unwind, getter)]
    pub fn cold_start(&self) -> bool {
        self.engine.config().cold_start
    }

    /// The URI with its password masked.
    #[napi(catch_unwind, getter)]
    pub fn redacted_uri(&self) -> String {
        self.engine.redacted_uri()
    }

    /// 'not initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected'
    #[napi(catch_unwind)]
    pub fn state(&self) -> &'static str {
        self.engine.state().as_str()
    }

    /// Resolves to whether the wrapper already was connected.
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn connect<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, bool>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.connect().await }, |_, already| Ok(already))
    }

    /// Stops admitting operations at once, waits up to `graceMs` for those in flight, then closes every
    /// pool; operations fail until `connect()`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env, grace_ms: f64) -> napi::Result<PromiseRaw<'e, ()>> {
        let grace = millis("timeoutMS", grace_ms).map_err(|e| js_error(env, &e))?;
        let engine = self.engine.clone();
        let work = async move {
            engine.close(grace).await;
            Ok(())
        };
        promise(env, work, |_, ()| Ok(()))
    }

    /// The error operations fail with once the wrapper is closed, for the facade to reject with while it
    /// closes.
    #[napi(catch_unwind, ts_return_type = "Error")]
    pub fn closed_error<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        build_error(env, &Error::Closed)
    }

    /// Calls `listener` with each pool event. It never keeps Node running: an idle wrapper lets the
    /// process exit.
    #[napi(catch_unwind, ts_args_type = "listener: (event: PoolEvent) => void")]
    pub fn on_event(&self, listener: Function<PoolEventObject, ()>) -> napi::Result<()> {
        let tsfn = Arc::new(listener.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?);
        let wanted = self.events_wanted.clone();
        self.engine.events().listen(Arc::new(move |event: PoolEvent| {
            if !wanted.load(Ordering::Relaxed) {
                return;
            }
            let event = PoolEventObject {
                kind: event.kind.as_str().to_owned(),
                db_name: event.db_name,
                uri: event.uri,
                pool: event.pool.as_str().to_owned(),
                reason: event.reason.as_str().to_owned(),
            };
            tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// Calls `listener` with each command event of pools opened with `monitorCommands`: `{ name
    /// ('commandStarted' | 'commandSucceeded' | 'commandFailed'), commandName, databaseName, requestId,
    /// connectionId, serverConnectionId?, address, duration? (ms), document? (the command or the reply,
    /// BSON), failure? (an Error as operations fail with) }`. Never keeps Node running.
    #[napi(
        catch_unwind,
        ts_args_type = "listener: (event: { name: 'commandStarted' | 'commandSucceeded' | 'commandFailed'; commandName: string; databaseName: string; requestId: number; connectionId: number; serverConnectionId?: number; address: string; duration?: number; document?: Buffer; failure?: Error }) => void"
    )]
    pub fn on_command_event(&self, listener: Function<CommandEventValue, ()>) -> napi::Result<()> {
        let tsfn = Arc::new(listener.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?);
        self.engine.events().listen_commands(Arc::new(move |event: CommandEvent| {
            tsfn.call(CommandEventValue(event), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// Calls `listener` with each heartbeat the pools' monitors send to their servers (SDAM
    /// monitoring): `{ name ('serverHeartbeatStarted' | 'serverHeartbeatSucceeded' |
    /// 'serverHeartbeatFailed'), address ('host:port'), awaited, duration? (ms), reply? (the `hello`
    /// reply, BSON), failure? (an Error as operations fail with) }`. Never keeps Node running.
    #[napi(
        catch_unwind,
        ts_args_type = "listener: (event: { name: 'serverHeartbeatStarted' | 'serverHeartbeatSucceeded' | 'serverHeartbeatFailed'; address: string; awaited: boolean; duration?: number; reply?: Buffer; failure?: Error }) => void"
    )]
    pub fn on_heartbeat_event(&self, listener: Function<HeartbeatEventValue, ()>) -> napi::Result<()> {
        let tsfn = Arc::new(listener.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?);
        self.engine.events().listen_heartbeats(Arc::new(move |event: HeartbeatEvent| {
            tsfn.call(HeartbeatEventValue(event), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// Whether `onEvent`'s listener gets pool events: the facade turns them on while it has
    /// listeners for them.
    #[napi(catch_unwind)]
    pub fn set_events_wanted(&self, wanted: bool) {
        self.events_wanted.store(wanted, Ordering::Relaxed);
    }

    /// Opens the dedicated pools configured with `coldStart: false`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn open_eager_pools<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.open_eager_pools().await }, |_, ()| Ok(()))
    }

    /// Gives databases their own pools (`scale.setDB`); with `open`, opens them now (`scale.connectDB`).
    /// The routing changes before this returns; the promise settles when replaced pools are closed and
    /// eager ones open.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn set_db<'e>(
        &self,
        env: &'e Env,
        specs: Vec<DbSpecificOptions>,
        open: bool,
    ) -> napi::Result<PromiseRaw<'e, ()>> {
        let change = specs
            .into_iter()
            .map(db_specific)
            .collect::<Result<Vec<_>, _>>()
            .and_then(|specs| self.engine.set_db(specs, open))
            .map_err(|e| js_error(env, &e))?;
        promise(env, change.apply(), |_, ()| Ok(()))
    }

    /// Logs a record from the facade (a listener that threw, a background failure) where the engine's go.
    #[napi(catch_unwind)]
    pub fn log(&self, level: String, message: String) {
        self.engine.log().emit(|| match level.as_str() {
            "error" => tracing::error!("{message}"),
            "warn" => tracing::warn!("{message}"),
            "debug" => tracing::debug!("{message}"),
            _ => tracing::info!("{message}"),
        });
    }

    /// Every pool's connections and every database's operations. No I/O.
    #[napi(catch_unwind)]
    pub fn general_stats(&self) -> GeneralObject {
        stats::general(self.engine.general_stats())
    }

    /// The size of `db` (the default database when null) and its collections, with its pool's numbers.
    #[napi(catch_unwind, ts_return_type = "Promise<DbStatsObject>")]
    pub fn db_stats<'e>(&self, env: &'e Env, db: Option<String>) -> napi::Result<PromiseRaw<'e, DbStatsObject>> {
        let (pool, metrics) = self.engine.db_stats(db.as_deref()).map_err(|e| js_error(env, &e))?;
        let engine = self.engine.clone();
        promise(env, async move { engine.db_size(db.as_deref()).await }, move |_, size| {
            Ok(stats::db_stats(size, pool, metrics))
        })
    }

    /// The databases of the main deployment with their size on disk.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<DatabaseSizeObject>>")]
    pub fn list_databases<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Vec<DatabaseSizeObject>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.list_databases().await }, |_, list| Ok(stats::database_sizes(list)))
    }

    /// The Prometheus text exposition format (0.0.4). No I/O.
    #[napi(catch_unwind)]
    pub fn prometheus(&self) -> String {
        self.engine.prometheus()
    }

    /// The same metrics as JSON: `[{ name, type, help, samples: [{ name, labels: [[key, value]], value }] }]`,
    /// for an application's prom-client registry. No I/O.
    #[napi(catch_unwind)]
    pub fn metric_families(&self) -> napi::Result<String> {
        serde_json::to_string(&self.engine.metric_families()).map_err(|err| napi::Error::from_reason(err.to_string()))
    }

    /// Resolves to the round-trip time in milliseconds.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn ping<'e>(&self, env: &'e Env, db: Option<String>) -> napi::Result<PromiseRaw<'e, f64>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.ping(db.as_deref()).await }, |_, rtt| Ok(rtt.as_secs_f64() * 1000.0))
    }

    /// Starts a session on the pool serving `db` (the default database when null) with `options` (BSON
    /// of the Node driver's ClientSessionOptions); its transactions span that pool's databases.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeSession>")]
    pub fn start_session<'e>(
        &self,
        env: &'e Env,
        db: Option<String>,
        options: Buffer,
    ) -> napi::Result<PromiseRaw<'e, NativeSession>> {
        let options = decode::<Document>("session options", &options)
            .and_then(|o| session::session_options(&o))
            .map_err(|e| js_error(env, &e))?;
        let engine = self.engine.clone();
        promise(env, async move { engine.start_session(db.as_deref(), options).await }, |_, s| {
            Ok(NativeSession::new(s))
        })
    }

    /// An export of database `db` as NDJSON (`options`: BSON `BulkOptions`); no I/O until its first
    /// `next()`.
    #[napi(catch_unwind)]
    pub fn export_db(
        &self,
        env: Env,
        db: String,
        options: Buffer,
        task: &NativeBulkTask,
    ) -> napi::Result<NativeExport> {
        let export = self.engine.export_ndjson(&db, &options, task.progress.clone()).map_err(|e| js_error(&env, &e))?;
        Ok(NativeExport::new(export))
    }

    /// An import of NDJSON into database `db`.
    #[napi(catch_unwind)]
    pub fn import_db(
        &self,
        env: Env,
        db: String,
        options: Buffer,
        task: &NativeBulkTask,
    ) -> napi::Result<NativeImport> {
        let (progress, validators) = (task.progress.clone(), task.validators());
        let import = self.engine.import_ndjson(&db, &options, progress, validators).map_err(|e| js_error(&env, &e))?;
        Ok(NativeImport::new(import))
    }

    /// Writes database `db` in mongodump's layout into `options.dir`; resolves to the summary as JSON.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn export_dump<'e>(
        &self,
        env: &'e Env,
        db: String,
        options: Buffer,
        task: &NativeBulkTask,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let (engine, progress, options) = (self.engine.clone(), task.progress.clone(), options.to_vec());
        summary(env, async move { engine.export_dump(&db, &options, progress).await })
    }

    /// Imports the mongodump-layout dump of `db` in `options.dir`; resolves to the summary as JSON.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn import_dump<'e>(
        &self,
        env: &'e Env,
        db: String,
        options: Buffer,
        task: &NativeBulkTask,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let (engine, progress, validators) = (self.engine.clone(), task.progress.clone(), task.validators());
        let options = options.to_vec();
        summary(env, async move { engine.import_dump(&db, &options, progress, validators).await })
    }

    /// Copies database `from` into `to`; resolves to the summary as JSON.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn copy_database<'e>(
        &self,
        env: &'e Env,
        from: String,
        to: String,
        options: Buffer,
        task: &NativeBulkTask,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let (engine, progress, validators) = (self.engine.clone(), task.progress.clone(), task.validators());
        let options = options.to_vec();
        summary(env, async move { engine.copy_database(&from, &to, &options, progress, validators).await })
    }

    /// Drops database `db` (the default one and MongoDB's own only with `force`).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn drop_database<'e>(&self, env: &'e Env, db: String, force: bool) -> napi::Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.drop_database(&db, force).await }, |_, ()| Ok(()))
    }

    /// Starts a change stream on collection `coll` of `db` (the default database when null; the whole
    /// database when `coll` is null) with `request` (BSON `{ pipeline, options }`, the options in the
    /// Node driver's ChangeStreamOptions shape). Throws for a malformed request, an invalid name, or
    /// `maxOpenStreams` open streams (ERR_TOO_MANY_STREAMS).
    #[napi(catch_unwind)]
    pub fn watch(
        &self,
        env: Env,
        db: Option<String>,
        coll: Option<String>,
        request: Buffer,
    ) -> napi::Result<NativeChangeStream> {
        let (watch, task) =
            self.engine.watch(db.as_deref(), coll.as_deref(), &request).map_err(|e| js_error(&env, &e))?;
        napi::bindgen_prelude::spawn(task);
        Ok(NativeChangeStream::new(watch))
    }

    /// Closes the change streams open on `db` (every one when null); resolves to how many were open
    /// once they have ended.
    #[napi(catch_unwind, ts_return_type = "Promise<number>")]
    pub fn close_streams<'e>(&self, env: &'e Env, db: Option<String>) -> napi::Result<PromiseRaw<'e, u32>> {
        let engine = self.engine.clone();
        promise(env, async move { Ok(engine.close_streams(db.as_deref()).await) }, |_, n| Ok(n as u32))
    }

    /// The collection `coll` in `db` (the default database when null), or the database itself when
    /// `coll` is null; checks the names, does no I/O.
    #[napi(catch_unwind)]
    pub fn namespace(&self, env: Env, db: Option<String>, coll: Option<String>) -> napi::Result<NativeNamespace> {
        let ns = self.engine.namespace(db.as_deref(), coll.as_deref()).map_err(|e| js_error(&env, &e))?;
        Ok(NativeNamespace::new(ns))
    }
}

/// A bulk task's summary, resolved as JSON.
pub(crate) fn summary<'e, T: serde::Serialize + Send + 'static>(
    env: &'e Env,
    work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> napi::Result<PromiseRaw<'e, String>> {
    let work = async move { Ok(serde_json::to_string(&work.await?).expect("a summary serializes")) };
    promise(env, work, |_, json| Ok(json))
}

//! The wrapper's engine: its configuration, its clusters, and the namespaces operations run on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use mongodb::options::SessionOptions;

use crate::budget::{Budget, BudgetLimits};
use crate::bulk::dump::DumpSummary;
use crate::bulk::export::Exporter;
use crate::bulk::import::{Importer, NdjsonImport, Summary};
use crate::bulk::ndjson::{self, NdjsonExport};
use crate::bulk::{self, BulkOptions, Format, Progress, Validators};
use crate::change_stream::{Watch, WatchRequest, Watches};
use crate::cluster::{Cluster, ConnectionState, Context, Idleness};
use crate::config::{DbSpecific, WrapperConfig};
use crate::error::Error;
use crate::events::{Events, Reason};
use crate::logging::Log;
use crate::names::{check_collection_name, check_db_name};
use crate::namespace::Namespace;
use crate::ops::decode_request;
use crate::router::Router;
use crate::session::{Session, Sessions};
use crate::stats::databases::Databases;
use crate::stats::{self, DbInfo, DbSize, GeneralStats, PoolInfo};

pub struct Engine {
    config: WrapperConfig,
    default_db: String,
    router: Arc<Router>,
    events: Arc<Events>,
    databases: Arc<Databases>,
    sessions: Sessions,
    watches: Watches,
    log: Log,
}

/// The idle sweep looks this often at most, and every quarter of the shortest `ttl` at least.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
const MIN_SWEEP_INTERVAL: Duration = Duration::from_millis(10);

/// How long closing waits for operations in flight unless told otherwise.
pub const DEFAULT_CLOSE_GRACE: Duration = Duration::from_secs(10);

/// The I/O a change of pools leaves to do.
pub struct PoolChange {
    close: Vec<Arc<Cluster>>,
    open: Vec<Arc<Cluster>>,
}

impl PoolChange {
    pub async fn apply(self) -> Result<(), Error> {
        for cluster in self.close {
            cluster.close(DEFAULT_CLOSE_GRACE).await;
        }
        for cluster in self.open {
            cluster.connect().await?;
        }
        Ok(())
    }
}

impl Engine {
    pub fn new(config: WrapperConfig, log: Log) -> Result<Self, Error> {
        config.validate()?;
        let budget = Budget::new(BudgetLimits {
            max_open_pools: config.max_open_pools.map(|n| n as usize),
            max_total_connections: config.max_total_connections,
            wait_timeout: config.wait_queue_timeout,
        });
        let events = Arc::new(Events::default());
        let context = Context {
            budget,
            events: events.clone(),
            log: log.clone(),
            monitor_commands: config.monitor_commands,
            server_api: config.server_api.clone(),
            max_open_streams: config.max_open_streams,
        };
        let router = Arc::new(Router::new(&config, context));
        let databases = Arc::new(Databases::new(config.max_database_labels));
        let (sessions, watches) = (Sessions::default(), Watches::default());
        Ok(Engine { default_db: config.default_db_name(), config, router, events, databases, sessions, watches, log })
    }

    /// Where the engine logs.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Every pool's connections and every database's operations, now. No I/O.
    pub fn general_stats(&self) -> GeneralStats {
        let streams = self.watches.open_streams();
        GeneralStats::collect(
            self.router.shared(),
            self.router.dedicated(),
            &self.databases,
            streams.iter().map(|w| w.db()),
        )
    }

    /// The pool serving `db` and the database's operations (none before its first). No I/O.
    pub fn db_stats(&self, db: Option<&str>) -> Result<(PoolInfo, Option<DbInfo>), Error> {
        let db = self.db_name(db)?;
        let cluster = self.router.cluster(db);
        let spec = self.router.dedicated().into_iter().find(|(_, c)| Arc::ptr_eq(c, &cluster)).map(|(spec, _)| spec);
        let pool = PoolInfo::of(&cluster, spec);
        let info = self.databases.find(db).map(|metrics| DbInfo::of(Arc::from(db), &metrics, &pool));
        Ok((pool, info))
    }

    /// The Prometheus text of `metric_families` (exposition format 0.0.4). No I/O.
    pub fn prometheus(&self) -> String {
        stats::prometheus::render(&self.metric_families())
    }

    /// The pools' and databases' metric families (what `prometheus` writes). No I/O.
    pub fn metric_families(&self) -> Vec<stats::prometheus::Family> {
        stats::prometheus::families(&self.general_stats(), &self.databases)
    }

    /// The size of `db` and of each of its collections, asked of its own pool; a look, not a use (the
    /// database gets no `connect` event and its pool's idle time keeps running).
    pub async fn db_size(&self, db: Option<&str>) -> Result<DbSize, Error> {
        let db = self.db_name(db)?;
        let (client, _lease) = self.router.cluster(db).lease_quietly(db).await?;
        stats::db_size(&client, db).await
    }

    /// The databases of the main deployment with their size on disk in bytes.
    pub async fn list_databases(&self) -> Result<Vec<(String, u64)>, Error> {
        let (client, _lease) = self.router.shared().lease_quietly("admin").await?;
        stats::list_databases(&client).await
    }

    /// Where the pools' events go.
    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn config(&self) -> &WrapperConfig {
        &self.config
    }

    pub fn default_db(&self) -> &str {
        &self.default_db
    }

    /// The state of the shared pool.
    pub fn state(&self) -> ConnectionState {
        self.router.shared().state()
    }

    pub fn redacted_uri(&self) -> String {
        self.router.shared().redacted_uri()
    }

    /// Opens the shared pool now, and the dedicated ones configured with `coldStart: false`; lets the
    /// others open on first use again after `disconnect()`. `Ok(true)` when the shared pool was open.
    pub async fn connect(&self) -> Result<bool, Error> {
        let already = self.router.shared().connect().await?;
        for (_, cluster) in self.router.dedicated() {
            cluster.reopen();
        }
        self.open_eager_pools().await?;
        Ok(already)
    }

    /// Opens the dedicated pools configured with `coldStart: false`.
    pub async fn open_eager_pools(&self) -> Result<(), Error> {
        for (spec, cluster) in self.router.dedicated() {
            if !spec.cold_start {
                cluster.connect().await?;
            }
        }
        Ok(())
    }

    /// Runs until the engine is gone: closes each dedicated pool with `autoClose` once it has been idle
    /// (no operation in flight, no open cursor) for its `ttl`. A closed pool reopens on its next use.
    pub fn idle_sweeper(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let router = Arc::downgrade(&self.router);
        let changed = self.router.changed();
        let log = self.log.clone();
        async move {
            loop {
                let Some(router) = router.upgrade() else { return };
                // Each pass in a task of its own: should one panic (a bug), it is logged and the
                // sweeps go on, so pools still close after their ttl.
                let next = match tokio::spawn(sweep_idle(router)).await {
                    Ok(next) => next,
                    Err(failure) => {
                        let error = Error::internal("the idle sweep", failure).to_string();
                        log.emit(|| tracing::error!(error, "idle sweep failed"));
                        MAX_SWEEP_INTERVAL
                    }
                };
                // A pool given a short ttl is looked at from then on, not after the current wait.
                tokio::select! {
                    () = tokio::time::sleep(next.max(MIN_SWEEP_INTERVAL)) => {}
                    () = changed.notified() => {}
                }
            }
        }
    }

    /// Closes every pool: stops admitting operations at once (they fail with `Error::Closed` until
    /// `connect()`), gives those in flight up to `grace` to finish, then closes the connections.
    pub async fn close(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        // Open transactions are aborted while the pools still take work.
        self.sessions.end_all().await;
        self.watches.close(None).await;
        let clusters: Vec<Arc<Cluster>> = std::iter::once(self.router.shared().clone())
            .chain(self.router.dedicated().into_iter().map(|(_, cluster)| cluster))
            .collect();
        for cluster in &clusters {
            cluster.stop();
        }
        for cluster in &clusters {
            cluster.close(deadline.saturating_duration_since(Instant::now())).await;
        }
    }

    /// Gives each database of `specs` its own pool (`scale.setDB`) at once, with no I/O. What is left to
    /// do, closing the pools replaced and opening the ones asked for now (with `open`, as
    /// `scale.connectDB`, or `coldStart: false`), is returned for the caller to await.
    pub fn set_db(&self, specs: Vec<DbSpecific>, open: bool) -> Result<PoolChange, Error> {
        specs.iter().try_for_each(|spec| self.config.check_dedicated(spec))?;
        let mut change = PoolChange { close: Vec::new(), open: Vec::new() };
        for spec in specs {
            let eager = open || !spec.cold_start;
            let name = spec.db_name.clone();
            change.close.extend(self.router.dedicate(spec));
            if eager {
                change.open.push(self.router.cluster(&name));
            }
        }
        Ok(change)
    }

    /// Round-trip time of a `ping` to `db` (the default database when `None`).
    pub async fn ping(&self, db: Option<&str>) -> Result<Duration, Error> {
        let db = self.db_name(db)?;
        let (client, _lease) = self.router.cluster(db).lease(db).await?;
        let started = Instant::now();
        client.database(db).run_command(doc! { "ping": 1 }).await?;
        Ok(started.elapsed())
    }

    /// The namespace of `coll` in `db` (the default database when `None`; the database itself when
    /// `coll` is `None`), after checking the names. No I/O.
    pub fn namespace(&self, db: Option<&str>, coll: Option<&str>) -> Result<Namespace, Error> {
        let db = self.db_name(db)?;
        if let Some(coll) = coll {
            check_collection_name(coll)?;
        }
        Ok(Namespace::new(
            self.router.clone(),
            self.databases.clone(),
            db.to_owned(),
            coll.map(str::to_owned),
            self.config.javascript_enabled,
        ))
    }

    /// Starts a session on the pool serving `db` (the default database when `None`); its transactions
    /// span the databases of that pool. Closing the engine ends it. Errors: an invalid name, the
    /// pool's (closed, wait queue, server selection).
    pub async fn start_session(&self, db: Option<&str>, options: SessionOptions) -> Result<Arc<Session>, Error> {
        let db = self.db_name(db)?;
        let session = Arc::new(Session::start(self.router.cluster(db), db, options).await?);
        self.sessions.add(&session);
        Ok(session)
    }

    /// Starts a change stream of `request` (BSON `{ pipeline, options }`, `WatchRequest::decode`) on
    /// `coll` in `db` (the default database when `None`; the whole database when `coll` is `None`).
    /// Nothing is sent until the returned task runs, which the caller spawns on the runtime. Errors:
    /// a malformed request (`InvalidArgument`), server-side JavaScript unless `javascriptEnabled`
    /// (`JavaScriptDisabled`), invalid names, `StreamLimit` at `maxOpenStreams`.
    pub fn watch(
        &self,
        db: Option<&str>,
        coll: Option<&str>,
        request: &[u8],
    ) -> Result<(Arc<Watch>, impl std::future::Future<Output = ()> + Send + 'static), Error> {
        let request =
            decode_request::<bson::Document>("change stream request", request, self.config.javascript_enabled)?;
        let request = WatchRequest::decode(&request)?;
        let ns = self.namespace(db, coll)?;
        self.watches.open(ns, request, self.config.max_open_streams, self.log.clone())
    }

    /// Closes the change streams open on `db` (every one when `None`) and waits for them to end;
    /// returns how many were open.
    pub async fn close_streams(&self, db: Option<&str>) -> usize {
        self.watches.close(db).await
    }

    /// A bulk task's options (BSON, `BulkOptions`), with the wrapper's `javascriptEnabled` applied to
    /// its queries. Errors: `InvalidArgument`, `JavaScriptDisabled`.
    pub fn bulk_options(&self, options: &[u8]) -> Result<BulkOptions, Error> {
        decode_request("bulk task options", options, self.config.javascript_enabled)
    }

    /// A dump task's options, its folder and whether its files are gzipped. Errors: options that are
    /// not a dump's (`format: 'dump'` with a `dir`).
    fn dump_options(&self, options: &[u8]) -> Result<(BulkOptions, std::path::PathBuf, bool), Error> {
        let mut options = self.bulk_options(options)?;
        let Format::Dump { dir, gzip } = options.format()? else {
            return Err(Error::InvalidArgument("a dump needs format 'dump' and a dir".into()));
        };
        Ok((options, dir, gzip))
    }

    /// An export of database `db` as NDJSON text (ours, or `mongoexport`'s with `format:
    /// 'mongoexport'`); nothing is read until its first `next`. Errors: an invalid name or options.
    pub fn export_ndjson(&self, db: &str, options: &[u8], progress: Arc<Progress>) -> Result<NdjsonExport, Error> {
        let mut options = self.bulk_options(options)?;
        let Format::Ndjson(style) = options.format()? else {
            return Err(Error::InvalidArgument("a stream is NDJSON; a dump is written to files (exportDB)".into()));
        };
        let ns = self.namespace(Some(db), None)?;
        Ok(NdjsonExport::new(Exporter::new(ns, options, progress), db.to_owned(), style))
    }

    /// An import of NDJSON text into database `db`; `validators` are the schemas documents of the
    /// collections they name must satisfy (`Importer::validating`). Errors: an invalid name or
    /// options.
    pub fn import_ndjson(
        &self,
        db: &str,
        options: &[u8],
        progress: Arc<Progress>,
        validators: Validators,
    ) -> Result<NdjsonImport, Error> {
        let mut options = self.bulk_options(options)?;
        let format = options.format()?;
        let ns = self.namespace(Some(db), None)?;
        let collection = options.collection.clone();
        let importer = Importer::new(ns, options, progress).validating(validators);
        match (format, collection) {
            (Format::Ndjson(ndjson::Style::Records), _) => Ok(NdjsonImport::new(importer)),
            (Format::Ndjson(ndjson::Style::Documents { .. }), Some(collection)) => {
                check_collection_name(&collection)?;
                Ok(NdjsonImport::documents_of(importer, &collection))
            }
            _ => Err(Error::InvalidArgument("a stream is NDJSON; a dump is read from files (importDB)".into())),
        }
    }

    /// Writes database `db` into `options.dir` in mongodump's layout. Errors: as `export_ndjson`,
    /// a file that cannot be written.
    pub async fn export_dump(&self, db: &str, options: &[u8], progress: Arc<Progress>) -> Result<DumpSummary, Error> {
        let (options, dir, gzip) = self.dump_options(options)?;
        let ns = self.namespace(Some(db), None)?;
        bulk::dump::write_dump(Exporter::new(ns, options, progress), db, &dir, gzip).await
    }

    /// Imports the dump of `db` in `options.dir` (mongodump's layout). Errors: as `import_ndjson`,
    /// a folder without a dump, a file that cannot be read.
    pub async fn import_dump(
        &self,
        db: &str,
        options: &[u8],
        progress: Arc<Progress>,
        validators: Validators,
    ) -> Result<Summary, Error> {
        let (options, dir, _) = self.dump_options(options)?;
        let ns = self.namespace(Some(db), None)?;
        let filter = options.collections.clone();
        let importer = Importer::new(ns, options, progress.clone()).validating(validators);
        bulk::dump::read_dump(importer, db, &dir, &filter, progress).await
    }

    /// Copies database `from` into `to` (`bulk::copy`), each on the pool serving it.
    pub async fn copy_database(
        &self,
        from: &str,
        to: &str,
        options: &[u8],
        progress: Arc<Progress>,
        validators: Validators,
    ) -> Result<Summary, Error> {
        let options = self.bulk_options(options)?;
        if from == to {
            return Err(Error::InvalidArgument(format!("cannot copy database {from:?} onto itself")));
        }
        let (from, to) = (self.namespace(Some(from), None)?, self.namespace(Some(to), None)?);
        bulk::copy(&from, &to, options, progress, validators).await
    }

    /// Drops database `db` and closes its change streams. The default database and MongoDB's own
    /// (`admin`, `local`, `config`) are refused unless `force`. Errors: `InvalidArgument` for those,
    /// an invalid name, the server's.
    pub async fn drop_database(&self, db: &str, force: bool) -> Result<(), Error> {
        let ns = self.namespace(Some(db), None)?;
        if !force && (db == self.default_db || ["admin", "local", "config"].contains(&db)) {
            return Err(Error::InvalidArgument(format!(
                "refusing to drop database {db:?}, the wrapper's default or MongoDB's own, without {{ force: true }}"
            )));
        }
        self.watches.close(Some(db)).await;
        let dropped = async {
            ns.database().await?.run_command(doc! { "dropDatabase": 1 }).await?;
            Ok(())
        };
        ns.track(dropped, |_| true).await
    }

    fn db_name<'a>(&'a self, db: Option<&'a str>) -> Result<&'a str, Error> {
        match db {
            None => Ok(&self.default_db),
            Some(name) => check_db_name(name).map(|()| name),
        }
    }
}

/// One pass of the idle sweep: closes the dedicated pools with `autoClose` idle for their ttl;
/// resolves to how long to wait before the next pass (a quarter of the shortest ttl, at most
/// `MAX_SWEEP_INTERVAL`).
async fn sweep_idle(router: Arc<Router>) -> Duration {
    let mut next = MAX_SWEEP_INTERVAL;
    for (spec, cluster) in router.dedicated() {
        if !spec.auto_close {
            continue;
        }
        let ttl = spec.ttl();
        next = next.min(ttl / 4);
        if matches!(cluster.idleness(), Some(Idleness::For(idle)) if idle >= ttl) {
            cluster.evict_if_idle(ttl, Reason::Idle).await;
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(WrapperConfig::new("mongodb://127.0.0.1:1/app"), Log::default()).unwrap()
    }

    #[test]
    fn namespaces_are_checked_without_io() {
        let engine = engine();
        assert_eq!(engine.namespace(None, Some("users")).unwrap().db, "app");
        assert_eq!(engine.namespace(Some("t1"), Some("users")).unwrap().db, "t1");
        assert!(engine.namespace(Some("t1"), None).unwrap().coll().is_err());
        assert!(matches!(engine.namespace(Some(""), Some("users")), Err(Error::InvalidDbName { .. })));
        assert!(matches!(engine.namespace(Some("a.b"), Some("users")), Err(Error::InvalidDbName { .. })));
        assert!(matches!(engine.namespace(None, Some("")), Err(Error::InvalidArgument(_))));
        assert_eq!(engine.state(), ConnectionState::NotInitialized);
    }

    #[test]
    fn invalid_config_is_refused() {
        assert!(matches!(
            Engine::new(WrapperConfig::new("localhost"), Log::default()),
            Err(Error::Config { option: "mongoURI", .. })
        ));
    }

    #[tokio::test]
    async fn a_disconnected_engine_refuses_work() {
        let engine = engine();
        engine.close(Duration::ZERO).await;
        assert_eq!(engine.state(), ConnectionState::Disconnected);
        assert!(matches!(engine.ping(None).await, Err(Error::Closed)));
    }

    /// Every lock the engine takes is a tracing-mutex lock in its unit tests (`crate::sync`), which
    /// panics when two locks are ever taken in both orders, whatever the interleaving. This drives
    /// every path that locks more than one thing (pools opening and evicting each other under
    /// `maxOpenPools`, the idle sweep, cursors paused and resumed, sessions, change streams, events,
    /// stats, pools replaced and closed) against the test server (`MONGODB_URI`, set by `npm test`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn locks_are_always_taken_in_one_order() {
        use crate::ops::cursor::DocCursor;
        use crate::ops::{CursorRequest, Request};
        use bson::Document;
        let Some(uri) = std::env::var("MONGODB_URI").ok().filter(|uri| !uri.is_empty()) else {
            eprintln!("skipped: MONGODB_URI names no test server (npm test sets it)");
            return;
        };
        let dedicated = |name: &str| DbSpecific {
            db_name: name.to_owned(),
            mongo_uri: None,
            max_connections: Some(2),
            auto_close: true,
            ttl: Some(Duration::ZERO),
            cold_start: true,
        };
        let mut config = WrapperConfig::new(uri);
        config.max_pool_size = 4;
        config.max_open_pools = Some(1);
        config.max_total_connections = Some(8);
        config.db_specific = ["lock_order_a", "lock_order_b", "lock_order_c"].map(dedicated).to_vec();
        let engine = Arc::new(Engine::new(config, Log::default()).unwrap());
        let observer = Arc::downgrade(&engine);
        let evictions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let evicted = evictions.clone();
        engine.events().listen(Arc::new(move |event| {
            if event.reason == Reason::Evicted {
                evicted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(engine) = observer.upgrade() {
                engine.general_stats();
            }
        }));
        let sweeper = tokio::spawn(engine.idle_sweeper());
        let request =
            |op: &str, body: Document| Request::decode(op, &bson::serialize_to_vec(&body).unwrap(), true).unwrap();
        let find = || {
            CursorRequest::decode(
                "find",
                &bson::serialize_to_vec(&doc! { "filter": {}, "options": { "batchSize": 1 } }).unwrap(),
                true,
            )
            .unwrap()
        };
        let dbs = ["lock_order_a", "lock_order_b", "lock_order_c", "lock_order_t1", "lock_order_t2", "lock_order_t3"];
        let mut tasks = tokio::task::JoinSet::new();
        for (worker, db) in dbs.into_iter().enumerate() {
            let engine = engine.clone();
            tasks.spawn(async move {
                for round in 0..6 {
                    let ns = engine.namespace(Some(db), Some("items")).unwrap();
                    let insert = doc! { "ops": [{ "insertOne": { "document": { "round": round as i32 } } }, { "insertOne": { "document": {} } }] };
                    crate::ops::execute(&ns, request("write", insert), None).await.unwrap();
                    let mut cursor = DocCursor::new(ns.clone(), find(), None);
                    cursor.next_chunk().await.unwrap();
                    cursor.touch();
                    if (worker + round) % 2 == 0 {
                        cursor.next_chunk().await.unwrap();
                    }
                    drop(cursor);
                    let session = engine.start_session(Some(db), SessionOptions::default()).await.unwrap();
                    let filter = doc! { "filter": {}, "options": {} };
                    crate::ops::execute(&ns, request("findOne", filter), Some(&session)).await.unwrap();
                    session.end().await;
                    engine.db_stats(Some(db)).unwrap();
                    engine.prometheus();
                    if round == 3 && worker == 0 {
                        let spec = DbSpecific { max_connections: Some(1), ..dedicated(db) };
                        engine.set_db(vec![spec], false).unwrap().apply().await.unwrap();
                    }
                }
            });
        }
        let (watch, run) =
            engine.watch(Some("lock_order_t1"), None, &bson::serialize_to_vec(&doc! {}).unwrap()).unwrap();
        tokio::spawn(run);
        while let Some(done) = tasks.join_next().await {
            done.expect("a worker panicked: a lock-order cycle, or an operation failed");
        }
        // The dedicated pools took turns under `maxOpenPools: 1`.
        assert!(evictions.load(std::sync::atomic::Ordering::Relaxed) >= 3);
        watch.next_batch(Some(Duration::from_millis(10))).await.unwrap();
        engine.close_streams(None).await;
        for db in dbs {
            let ns = engine.namespace(Some(db), None).unwrap();
            crate::ops::execute(&ns, request("command", doc! { "command": { "dropDatabase": 1 } }), None)
                .await
                .unwrap();
        }
        engine.close(Duration::from_secs(1)).await;
        sweeper.abort();
    }
}

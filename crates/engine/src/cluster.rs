//! One MongoDB deployment behind one `mongodb::Client` (and so one pool per server), opened lazily and
//! closed on request. The driver's pool does the pooling; this owns the client's lifecycle, admits
//! operations to it, takes its place under the pool limits, and reports databases coming into use.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bson::doc;
use mongodb::event::sdam::SdamEvent;
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::Client;
use mongodb::ServerType;

use crate::admission::{Admission, Limits, Load, Permit};
use crate::budget::Budget;
use crate::config::uri_problem;
use crate::error::Error;
use crate::events::{EventKind, Events, PoolEvent, PoolKind, Reason};
use crate::logging::Log;
use crate::redact;
use crate::retry::WriteSessions;
use crate::stats::pool::{PoolCounters, PoolStats};
use crate::sync::{Mutex, MutexGuard};

const APP_NAME: &str = "polymongo-rs";
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// The shortest `PoolSettings::cursor_timeout`: a pool with `ttl: 0` closes as soon as it is idle,
/// but a cursor read at full speed, or a session between requests, still keeps it.
pub const MIN_CURSOR_TIMEOUT: Duration = Duration::from_secs(1);
/// A cursor's reader tells of its reads at most this often (`TOUCH_MS` in lib/driver/cursor.js), so
/// its last read may be this much later than the last one told: a paused cursor keeps its pool for
/// its timeout plus this.
pub const TOUCH_INTERVAL: Duration = Duration::from_millis(250);
/// How long a connection of the stream client stays open unused, unless `idleTimeoutMS` says.
const STREAM_MAX_IDLE_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    pub max_pool_size: u32,
    pub min_pool_size: u32,
    pub max_idle_time: Option<Duration>,
    /// Extra attempts at the initial connection.
    pub retry: u32,
    /// How long a cursor or a session may sit unused before it no longer keeps the pool from closing
    /// as idle (a dedicated pool's `ttl`, at least `MIN_CURSOR_TIMEOUT`); `None`: it keeps it open as
    /// long as it lives.
    pub cursor_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    NotInitialized,
    Connecting,
    Connected,
    Disconnecting,
    Disconnected,
}

impl ConnectionState {
    /// PolyMongo's names for the states.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NotInitialized => "not initialized",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Disconnecting => "disconnecting",
            ConnectionState::Disconnected => "disconnected",
        }
    }
}

/// What a cluster shares with the rest of the engine.
#[derive(Clone)]
pub struct Context {
    pub budget: Arc<Budget>,
    pub events: Arc<Events>,
    pub log: Log,
    /// Whether clients report each command (`monitorCommands`) to `events`.
    pub monitor_commands: bool,
    /// The Stable API version clients declare (`serverApi`).
    pub server_api: Option<mongodb::options::ServerApi>,
    /// The change streams the wrapper keeps open at once (`maxOpenStreams`): the size of each
    /// cluster's stream client, so every open stream has a connection of its own.
    pub max_open_streams: u32,
}

struct State {
    phase: ConnectionState,
    client: Option<Client>,
    /// Set by `close()`: operations fail until `connect()` reopens the cluster.
    closed: bool,
    /// When the last lease in use ended or paused (or the cluster opened).
    last_used: Instant,
    /// How many times the client has opened: a paused cursor's client is still open while this
    /// stays what it was.
    openings: u64,
    /// The databases used since the client opened: each had its `connect` event, and gets a
    /// `disconnect` when the client closes.
    in_use: HashSet<Arc<str>>,
    /// The driver lost the deployment and has not found it again.
    lost: bool,
    /// The sessions the client's retryable writes are numbered in; none when the URI turns retryable
    /// writes off (`retryWrites=false`).
    writes: Option<Arc<WriteSessions>>,
}

pub struct Cluster {
    uri: String,
    /// The database of a dedicated pool; the default database for the shared one.
    name: String,
    kind: PoolKind,
    settings: PoolSettings,
    admission: Arc<Admission>,
    context: Context,
    state: Mutex<State>,
    /// Serialises opening and closing so that concurrent first uses open one client, not several.
    lifecycle: tokio::sync::Mutex<()>,
    /// Leases in use (operations in flight, sessions, change streams, cursors fetching): while any,
    /// the cluster is not idle.
    leases: AtomicUsize,
    /// Leases of cursors between batches: they keep the cluster from being idle for
    /// `settings.cursor_timeout` after its last use.
    paused: AtomicUsize,
    /// The driver's connection events, counted.
    pool: Arc<PoolCounters>,
    /// The client change streams run on, opened with the first stream: a stream's getMore waits on
    /// its connection for changes, so streams never take the connections operations are admitted to.
    streams: tokio::sync::Mutex<Option<Client>>,
    /// The stream client's connection events, counted.
    stream_pool: Arc<PoolCounters>,
    /// Change streams taking their start point now: operations leased meanwhile wait for them, so a
    /// stream sees every change of the operations started after its `watch()`.
    anchoring: AtomicUsize,
    anchored: tokio::sync::Notify,
    /// Whether the deployment takes retryable writes, as last seen by the driver: a replica set's
    /// primary, a mongos or a load balancer (not a standalone server, which refuses `txnNumber`).
    takes_retryable_writes: AtomicBool,
}

/// How idle an open cluster is (`Cluster::idleness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idleness {
    /// Idle for this long.
    For(Duration),
    /// Idle in this long, when its paused cursors and sessions have gone unused for their timeout.
    In(Duration),
}

/// A change stream taking its start point on a cluster; dropping it lets waiting operations go.
pub struct Anchoring(Arc<Cluster>);

impl Drop for Anchoring {
    fn drop(&mut self) {
        if self.0.anchoring.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.anchored.notify_waiters();
        }
    }
}

/// A cluster at one moment, for `stats`.
#[derive(Debug, Clone)]
pub struct ClusterStats {
    pub state: ConnectionState,
    pub open: bool,
    pub last_used: SystemTime,
    pub pool: PoolStats,
    pub load: Load,
    /// The databases in use since the client opened.
    pub databases: Vec<Arc<str>>,
    /// The connections of the client change streams run on.
    pub stream_pool: PoolStats,
}

/// Use of a cluster by one operation, cursor, session or change stream, for as long as it lives. It
/// holds a place in the cluster's admission while it does I/O; a session or a change stream between
/// operations lets it go (`hold`), and so does a cursor between batches (`pause`).
pub struct Lease {
    cluster: Arc<Cluster>,
    db: Arc<str>,
    permit: Option<Permit>,
    /// A look at the cluster (stats) rather than a use of it: it leaves the idle clock running.
    quiet: bool,
    /// Paused: counted in the cluster's `paused`, not its `leases`.
    paused: bool,
    /// Paused at least once: its client may have closed meanwhile.
    was_paused: bool,
    /// The opening of the client the lease's cursor was opened on (`State::openings`).
    opening: u64,
}

impl Lease {
    /// Gives up the place in admission and keeps the cluster open (a change stream, a session in a
    /// transaction).
    pub fn hold(&mut self) {
        self.permit = None;
    }

    /// Gives up the place in admission for a cursor waiting for its reader to ask for more, or a
    /// session between requests. Unused for the pool's `cursor_timeout`, it no longer keeps the pool
    /// open: an abandoned cursor or session does not pin a pool until JavaScript's garbage collector
    /// finds it.
    pub fn pause(&mut self) {
        self.permit = None;
        if !self.paused {
            self.paused = true;
            self.was_paused = true;
            self.cluster.paused.fetch_add(1, Ordering::AcqRel);
            self.cluster.end_use(self.quiet);
        }
    }

    /// Counts a paused lease in use again, without a place in admission; false when the client it was
    /// taken on has closed since (the pool closed as idle, or the wrapper closed).
    pub fn wake(&mut self) -> bool {
        if self.paused {
            // Counted in use before the check, so an idle sweep from now on sees the pool in use.
            self.cluster.leases.fetch_add(1, Ordering::AcqRel);
            self.cluster.paused.fetch_sub(1, Ordering::AcqRel);
            self.paused = false;
        }
        if !self.was_paused {
            return true;
        }
        let state = self.cluster.lock();
        state.client.is_some() && state.openings == self.opening
    }

    /// A paused cursor's reader read what it fetched: a use of the cluster now, which starts its idle
    /// clock again.
    pub fn touch(&self) {
        if self.paused {
            self.cluster.lock().last_used = Instant::now();
        }
    }

    /// Takes a place in admission again before more I/O. Errors: `Error::Closed` after `close()`,
    /// `Error::CursorTimedOut` when the pool closed while the cursor was paused, the admission's.
    pub async fn resume(&mut self) -> Result<(), Error> {
        self.cluster.check_open()?;
        if !self.wake() {
            let timeout = self.cluster.settings.cursor_timeout;
            return Err(Error::CursorTimedOut { db: self.db.to_string(), timeout });
        }
        if self.permit.is_none() {
            self.permit = Some(self.cluster.admission.admit(self.db.clone()).await?);
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The place in admission goes first: a cluster seen idle has nothing in flight.
        self.permit = None;
        if self.paused {
            self.cluster.paused.fetch_sub(1, Ordering::AcqRel);
        } else {
            self.cluster.end_use(self.quiet);
        }
    }
}

impl Cluster {
    pub fn new(
        uri: String,
        name: String,
        kind: PoolKind,
        settings: PoolSettings,
        limits: Limits,
        context: Context,
    ) -> Arc<Self> {
        Arc::new(Cluster {
            uri,
            name,
            kind,
            settings,
            admission: Admission::new(limits),
            context,
            state: Mutex::new(State {
                phase: ConnectionState::NotInitialized,
                client: None,
                closed: false,
                last_used: Instant::now(),
                openings: 0,
                in_use: HashSet::new(),
                lost: false,
                writes: None,
            }),
            lifecycle: tokio::sync::Mutex::new(()),
            leases: AtomicUsize::new(0),
            paused: AtomicUsize::new(0),
            pool: Arc::default(),
            streams: tokio::sync::Mutex::new(None),
            stream_pool: Arc::default(),
            anchoring: AtomicUsize::new(0),
            anchored: tokio::sync::Notify::new(),
            takes_retryable_writes: AtomicBool::new(false),
        })
    }

    pub fn redacted_uri(&self) -> String {
        redact::redact_uri(&self.uri)
    }

    /// `text` (an error's message) with the cluster's password masked, for a log.
    pub fn scrub(&self, text: &str) -> String {
        redact::scrub(text, &self.uri)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> PoolKind {
        self.kind
    }

    /// The most connections the pool opens (what it counts for under `maxTotalConnections`).
    pub fn max_size(&self) -> u32 {
        self.settings.max_pool_size
    }

    pub fn state(&self) -> ConnectionState {
        self.lock().phase
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    pub fn stats(&self) -> ClusterStats {
        let (state, open, last_used, databases) = {
            let state = self.lock();
            let last_used = if self.leases.load(Ordering::Acquire) > 0 { Instant::now() } else { state.last_used };
            (state.phase, state.client.is_some(), last_used, state.in_use.iter().cloned().collect())
        };
        ClusterStats {
            state,
            open,
            last_used: SystemTime::now() - last_used.elapsed(),
            pool: self.pool.snapshot(),
            load: self.admission.load(),
            databases,
            stream_pool: self.stream_pool.snapshot(),
        }
    }

    /// The client change streams run on, opened on first use with one connection per stream the
    /// wrapper may open (`maxOpenStreams`) and none kept idle. Closed with the cluster. Errors: a
    /// closed cluster, a URI the driver refuses.
    pub async fn stream_client(&self) -> Result<Client, Error> {
        let mut streams = self.streams.lock().await;
        self.check_open()?;
        if let Some(client) = &*streams {
            return Ok(client.clone());
        }
        let mut options = self.client_options().await?;
        options.max_pool_size = Some(self.context.max_open_streams);
        options.min_pool_size = Some(0);
        // A closed stream's connection is not kept for long: streams come and go in bursts.
        options.max_idle_time = Some(self.settings.max_idle_time.unwrap_or(STREAM_MAX_IDLE_TIME));
        options.cmap_event_handler = Some(self.stream_pool.handler());
        let client = Client::with_options(options)?;
        *streams = Some(client.clone());
        Ok(client)
    }

    async fn close_stream_client(&self) {
        let client = self.streams.lock().await.take();
        if let Some(client) = client {
            client.shutdown().immediate(true).await;
        }
    }

    /// The open client for an operation on `db`, once admitted, with a lease that keeps the cluster from
    /// counting as idle while it lives. Waits first for change streams taking their start point.
    pub async fn lease(self: &Arc<Self>, db: &str) -> Result<(Client, Lease), Error> {
        while self.anchoring.load(Ordering::Acquire) > 0 {
            let anchored = self.anchored.notified();
            if self.anchoring.load(Ordering::Acquire) == 0 {
                break;
            }
            anchored.await;
        }
        self.anchor_lease(db).await
    }

    /// The sessions retryable writes are numbered in (`retry::run_write`): those of the open client,
    /// when the deployment takes retryable writes and the URI did not turn them off; else `None`.
    pub fn write_sessions(&self) -> Option<Arc<WriteSessions>> {
        if !self.takes_retryable_writes.load(Ordering::Acquire) {
            return None;
        }
        self.lock().writes.clone()
    }

    /// `lease` for a change stream taking its start point, which does not wait for itself.
    pub async fn anchor_lease(self: &Arc<Self>, db: &str) -> Result<(Client, Lease), Error> {
        let mut lease = self.admit(db, false).await?;
        let client = self.client(db).await?;
        // The lease is in use, so the client cannot have closed as idle since `client` took it.
        lease.opening = self.lock().openings;
        Ok((client, lease))
    }

    /// Holds back the operations leased from now on until the returned guard drops: a change stream
    /// takes its start point meanwhile. No I/O.
    pub fn anchoring(self: &Arc<Self>) -> Anchoring {
        self.anchoring.fetch_add(1, Ordering::AcqRel);
        Anchoring(self.clone())
    }

    /// A lease to look at `db` (its stats): admitted like an operation, but neither a first use of the
    /// database nor a use that keeps the pool from closing as idle.
    pub async fn lease_quietly(self: &Arc<Self>, db: &str) -> Result<(Client, Lease), Error> {
        let lease = self.admit(db, true).await?;
        Ok((self.open().await?.0, lease))
    }

    async fn admit(self: &Arc<Self>, db: &str, quiet: bool) -> Result<Lease, Error> {
        self.leases.fetch_add(1, Ordering::AcqRel);
        let mut lease = Lease {
            cluster: self.clone(),
            db: Arc::from(db),
            permit: None,
            quiet,
            paused: false,
            was_paused: false,
            opening: 0,
        };
        if let Err(e) = lease.resume().await {
            if !matches!(e, Error::Closed) {
                self.context
                    .log
                    .emit(|| tracing::warn!(db, pool = self.kind.as_str(), error = %e, "operation not admitted"));
            }
            return Err(e);
        }
        Ok(lease)
    }

    /// Whether the open cluster is idle (no lease in use, and any paused cursor or session unused for
    /// `cursor_timeout`), and since when, or when it will be if nothing uses it meanwhile; `None`
    /// while in use for as long as that lasts, or closed.
    pub fn idleness(&self) -> Option<Idleness> {
        let state = self.lock();
        Some(match self.idle_in(&state)? {
            Duration::ZERO => Idleness::For(state.last_used.elapsed()),
            after => Idleness::In(after),
        })
    }

    fn idle_in(&self, state: &State) -> Option<Duration> {
        if self.leases.load(Ordering::Acquire) > 0 || state.client.is_none() {
            return None;
        }
        if self.paused.load(Ordering::Acquire) == 0 {
            return Some(Duration::ZERO);
        }
        Some((self.settings.cursor_timeout? + TOUCH_INTERVAL).saturating_sub(state.last_used.elapsed()))
    }

    /// A lease stops being in use (ended or paused); the last one starts the idle clock.
    fn end_use(&self, quiet: bool) {
        if self.leases.fetch_sub(1, Ordering::AcqRel) == 1 {
            if !quiet {
                self.lock().last_used = Instant::now();
            }
            self.context.budget.idle();
        }
    }

    /// Closes the client if the cluster is still idle (checked again under the lock that operations
    /// take the client under), leaving it to reopen on its next use.
    pub async fn evict_if_idle(&self, idle_at_least: Duration, reason: Reason) {
        let _guard = self.lifecycle.lock().await;
        let idle =
            |state: &State| self.idle_in(state) == Some(Duration::ZERO) && state.last_used.elapsed() >= idle_at_least;
        if let Some(client) = self.take_client(idle, reason) {
            client.shutdown().immediate(true).await;
            self.close_stream_client().await;
        }
    }

    /// Opens the cluster now (reopening it after `close()`); tells whether it already was open. The
    /// database it is opened for counts as in use.
    pub async fn connect(self: &Arc<Self>) -> Result<bool, Error> {
        self.reopen();
        let already = self.open().await?.1;
        self.mark_in_use(&self.name, if already { Reason::FirstUse } else { Reason::Opened });
        Ok(already)
    }

    /// Lets a closed cluster open again on its next use, without opening it now.
    pub fn reopen(&self) {
        self.lock().closed = false;
    }

    /// Stops taking operations (they fail with `Error::Closed` until `connect()`), lets those already
    /// taken, in flight or waiting their turn, finish for up to `grace`, then refuses what still waits
    /// and closes the client.
    pub async fn close(&self, grace: Duration) {
        self.stop();
        if !grace.is_zero() {
            self.admission.drained(grace).await;
        }
        self.admission.close();
        let _guard = self.lifecycle.lock().await;
        if let Some(client) = self.take_client(|_| true, Reason::Closed) {
            client.shutdown().immediate(true).await;
        }
        self.close_stream_client().await;
        self.lock().phase = ConnectionState::Disconnected;
    }

    /// Stops taking operations: new ones fail with `Error::Closed`.
    pub fn stop(&self) {
        let mut state = self.lock();
        state.closed = true;
        if state.client.is_some() {
            state.phase = ConnectionState::Disconnecting;
        }
    }

    /// Errors: `Error::Closed` after `close()`, until `connect()`.
    pub fn check_open(&self) -> Result<(), Error> {
        if self.lock().closed {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The open client, opening it on first use; the first use of `db` since it opened is announced.
    async fn client(self: &Arc<Self>, db: &str) -> Result<Client, Error> {
        let client = {
            let state = self.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            state.client.clone()
        };
        let client = match client {
            Some(client) => client,
            None => self.open().await?.0,
        };
        self.mark_in_use(db, Reason::FirstUse);
        Ok(client)
    }

    /// Announces `db` as in use, once per opening of the client.
    fn mark_in_use(&self, db: &str, reason: Reason) {
        {
            let mut state = self.lock();
            if state.client.is_none() || state.in_use.contains(db) {
                return;
            }
            state.in_use.insert(Arc::from(db));
        }
        self.emit(EventKind::Connect, db, reason);
    }

    /// Takes the client out if `take` agrees (for the caller to shut down), announcing every database in
    /// use as gone. The budget and the listeners are told after the state's lock is released: the
    /// budget takes its own lock before a cluster's, never after.
    fn take_client(&self, take: impl FnOnce(&State) -> bool, reason: Reason) -> Option<Client> {
        let (client, gone) = {
            let mut state = self.lock();
            if state.client.is_none() || !take(&state) {
                return None;
            }
            state.phase = ConnectionState::Disconnected;
            state.lost = false;
            state.writes = None;
            let gone: Vec<Arc<str>> = state.in_use.drain().collect();
            (state.client.take()?, gone)
        };
        self.context.budget.release(self);
        self.context.log.emit(|| {
            tracing::info!(
                pool = self.kind.as_str(),
                name = self.name,
                uri = self.redacted_uri(),
                reason = reason.as_str(),
                "pool closed"
            )
        });
        for db in gone {
            self.emit(EventKind::Disconnect, &db, reason);
        }
        Some(client)
    }

    async fn open(self: &Arc<Self>) -> Result<(Client, bool), Error> {
        let _guard = self.lifecycle.lock().await;
        {
            let mut state = self.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            if let Some(client) = &state.client {
                return Ok((client.clone(), true));
            }
            state.phase = ConnectionState::Connecting;
        }
        let dialed = match self.context.budget.reserve(self).await {
            Ok(()) => self.dial().await,
            Err(e) => Err(e),
        };
        let client = {
            let mut state = self.lock();
            match dialed {
                Ok((client, writes)) => {
                    state.phase = ConnectionState::Connected;
                    state.client = Some(client.clone());
                    state.writes = writes;
                    state.last_used = Instant::now();
                    state.openings += 1;
                    client
                }
                Err(e) => {
                    state.phase = ConnectionState::Disconnected;
                    drop(state);
                    self.context.budget.release(self);
                    let error = redact::scrub(&e.to_string(), &self.uri);
                    self.context.log.emit(|| {
                        tracing::error!(
                            pool = self.kind.as_str(),
                            name = self.name,
                            uri = self.redacted_uri(),
                            error,
                            "pool failed to open"
                        )
                    });
                    return Err(e);
                }
            }
        };
        self.context.log.emit(|| {
            let (size, uri) = (self.settings.max_pool_size, self.redacted_uri());
            tracing::info!(pool = self.kind.as_str(), name = self.name, uri, max_pool_size = size, "pool opened")
        });
        if self.kind == PoolKind::Dedicated {
            self.mark_in_use(&self.name, Reason::Opened);
        }
        Ok((client, false))
    }

    /// Builds the client and waits for the server to answer a ping, retrying with backoff.
    async fn dial(self: &Arc<Self>) -> Result<(Client, Option<Arc<WriteSessions>>), Error> {
        let mut options = self.client_options().await?;
        options.max_pool_size = Some(self.settings.max_pool_size);
        options.min_pool_size = Some(self.settings.min_pool_size);
        if self.settings.max_idle_time.is_some() {
            options.max_idle_time = self.settings.max_idle_time;
        }
        options.cmap_event_handler = Some(self.pool.handler());
        let cluster = Arc::downgrade(self);
        let events = self.context.events.clone();
        options.sdam_event_handler = Some(EventHandler::callback(move |event| {
            events.emit_heartbeat(&event);
            if let SdamEvent::TopologyDescriptionChanged(change) = event {
                let Some(cluster) = cluster.upgrade() else { return };
                let retryable = change.new_description.servers().values().any(|server| {
                    matches!(
                        server.server_type(),
                        ServerType::RsPrimary | ServerType::Mongos | ServerType::LoadBalancer
                    )
                });
                // Kept while the deployment is out of reach: writes then wait for it to come back.
                if retryable || change.new_description.has_writable_server() {
                    cluster.takes_retryable_writes.store(retryable, Ordering::Release);
                }
                let (was, is) =
                    (change.previous_description.has_writable_server(), change.new_description.has_writable_server());
                if was != is {
                    cluster.reachability_changed(is);
                }
            }
        }));
        let retry_writes = options.retry_writes != Some(false);
        let client = Client::with_options(options)?;
        let mut delay = FIRST_RETRY_DELAY;
        for attempt in 0.. {
            match client.database("admin").run_command(doc! { "ping": 1 }).await {
                Ok(_) => {
                    let writes = retry_writes.then(|| WriteSessions::new(client.clone()));
                    return Ok((client, writes));
                }
                Err(e) if attempt < self.settings.retry => {
                    let error = redact::scrub(&e.to_string(), &self.uri);
                    self.context.log.emit(|| {
                        tracing::warn!(
                            name = self.name,
                            uri = self.redacted_uri(),
                            attempt = attempt + 1,
                            error,
                            "connect failed, retrying"
                        )
                    });
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
                Err(e) => {
                    client.shutdown().immediate(true).await;
                    return Err(e.into());
                }
            }
        }
        unreachable!("the retry loop returns")
    }

    /// The URI's options with what every client of the cluster shares: the app name, the Stable API
    /// version, command monitoring.
    async fn client_options(&self) -> Result<ClientOptions, Error> {
        let mut options = ClientOptions::parse(&self.uri).await.map_err(|e| {
            Error::InvalidArgument(format!(
                "cannot use mongoURI {}: {}",
                self.redacted_uri(),
                uri_problem(&e, &self.uri)
            ))
        })?;
        options.app_name.get_or_insert_with(|| APP_NAME.to_owned());
        options.server_api = self.context.server_api.clone();
        if self.context.monitor_commands {
            let events = self.context.events.clone();
            options.command_event_handler = Some(EventHandler::callback(move |event| events.emit_command(event)));
        }
        Ok(options)
    }

    /// The driver found the deployment, or lost it: `reconnect` or `disconnect` for the cluster's
    /// database. The first discovery after opening, and the loss at close, are not news.
    fn reachability_changed(&self, reachable: bool) {
        {
            let mut state = self.lock();
            if state.client.is_none() || state.lost != reachable {
                return;
            }
            state.lost = !reachable;
        }
        let kind = if reachable { EventKind::Reconnect } else { EventKind::Disconnect };
        self.emit(kind, &self.name, if reachable { Reason::Found } else { Reason::Lost });
    }

    fn emit(&self, kind: EventKind, db: &str, reason: Reason) {
        self.context.log.emit(|| {
            let (event, pool, why) = (kind.as_str(), self.kind.as_str(), reason.as_str());
            match (reason, self.kind) {
                (Reason::Lost, _) => tracing::warn!(db, pool, reason = why, "deployment lost"),
                (Reason::Found, _) => tracing::info!(db, pool, reason = why, "deployment found again"),
                // Every tenant's first use of the shared pool is news only when debugging.
                (_, PoolKind::Shared) => tracing::debug!(event, db, pool, reason = why, "database {event}"),
                (_, PoolKind::Dedicated) => tracing::info!(event, db, pool, reason = why, "database {event}"),
            }
        });
        self.context.events.emit(PoolEvent {
            kind,
            db_name: db.to_owned(),
            uri: self.redacted_uri(),
            pool: self.kind,
            reason,
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields updated in place, so a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

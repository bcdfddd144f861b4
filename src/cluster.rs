//! One MongoDB deployment behind one `mongodb::Client` (and so one pool per server), opened lazily and
//! closed on request. The driver's pool does the pooling; this owns the client's lifecycle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bson::doc;
use mongodb::options::ClientOptions;
use mongodb::Client;

use crate::error::Error;
use crate::redact;

const APP_NAME: &str = "polymongo-rs";
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    pub max_pool_size: u32,
    pub min_pool_size: u32,
    pub max_idle_time: Option<Duration>,
    /// Extra attempts at the initial connection.
    pub retry: u32,
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

struct State {
    phase: ConnectionState,
    client: Option<Client>,
    /// Set by `disconnect()`: operations fail until `connect()` reopens the cluster.
    closed: bool,
    /// When the last lease ended (or the cluster opened).
    last_used: Instant,
}

pub struct Cluster {
    uri: String,
    settings: PoolSettings,
    state: Mutex<State>,
    /// Serialises opening and closing so that concurrent first uses open one client, not several.
    lifecycle: tokio::sync::Mutex<()>,
    /// Operations in flight and cursors open on this cluster: while any, it is not idle.
    leases: AtomicUsize,
}

/// Use of a cluster by one operation or cursor, for as long as it lives.
pub struct Lease {
    cluster: Arc<Cluster>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.cluster.leases.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.cluster.lock().last_used = Instant::now();
        }
    }
}

impl Cluster {
    pub fn new(uri: String, settings: PoolSettings) -> Arc<Self> {
        Arc::new(Cluster {
            uri,
            settings,
            state: Mutex::new(State {
                phase: ConnectionState::NotInitialized,
                client: None,
                closed: false,
                last_used: Instant::now(),
            }),
            lifecycle: tokio::sync::Mutex::new(()),
            leases: AtomicUsize::new(0),
        })
    }

    pub fn redacted_uri(&self) -> String {
        redact::redact_uri(&self.uri)
    }

    pub fn state(&self) -> ConnectionState {
        self.lock().phase
    }

    /// The open client, with a lease that keeps the cluster from counting as idle while it lives.
    pub async fn lease(self: &Arc<Self>) -> Result<(Client, Lease), Error> {
        self.leases.fetch_add(1, Ordering::AcqRel);
        let lease = Lease { cluster: self.clone() };
        Ok((self.client().await?, lease))
    }

    /// How long an open cluster has had no operation in flight and no open cursor; `None` while in use
    /// or closed.
    pub fn idle_for(&self) -> Option<Duration> {
        let state = self.lock();
        let idle = self.leases.load(Ordering::Acquire) == 0 && state.client.is_some();
        idle.then(|| state.last_used.elapsed())
    }

    /// Closes the client if the cluster is still idle (checked again under the lock that operations
    /// take the client under), leaving it to reopen on its next use.
    pub async fn evict_if_idle(&self, idle_at_least: Duration) {
        let _guard = self.lifecycle.lock().await;
        let client = {
            let mut state = self.lock();
            let idle = self.leases.load(Ordering::Acquire) == 0 && state.last_used.elapsed() >= idle_at_least;
            if !idle {
                return;
            }
            let Some(client) = state.client.take() else { return };
            state.phase = ConnectionState::Disconnected;
            client
        };
        client.shutdown().immediate(true).await;
    }

    /// The open client, opening it on first use.
    pub async fn client(&self) -> Result<Client, Error> {
        {
            let state = self.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            if let Some(client) = &state.client {
                return Ok(client.clone());
            }
        }
        self.open(false).await.map(|(client, _)| client)
    }

    /// Opens the cluster now (reopening it after `disconnect()`); tells whether it already was open.
    pub async fn connect(&self) -> Result<bool, Error> {
        self.open(true).await.map(|(_, already)| already)
    }

    /// Lets a closed cluster open again on its next use, without opening it now.
    pub fn reopen(&self) {
        self.lock().closed = false;
    }

    /// Closes the client at once; operations fail with `Error::Closed` until `connect()`.
    pub async fn disconnect(&self) {
        let _guard = self.lifecycle.lock().await;
        let client = {
            let mut state = self.lock();
            state.closed = true;
            state.phase = ConnectionState::Disconnecting;
            state.client.take()
        };
        if let Some(client) = client {
            client.shutdown().immediate(true).await;
        }
        self.lock().phase = ConnectionState::Disconnected;
    }

    async fn open(&self, reopen: bool) -> Result<(Client, bool), Error> {
        let _guard = self.lifecycle.lock().await;
        {
            let mut state = self.lock();
            if reopen {
                state.closed = false;
            }
            if state.closed {
                return Err(Error::Closed);
            }
            if let Some(client) = &state.client {
                return Ok((client.clone(), true));
            }
            state.phase = ConnectionState::Connecting;
        }
        let dialed = self.dial().await;
        let mut state = self.lock();
        match dialed {
            Ok(client) => {
                state.phase = ConnectionState::Connected;
                state.client = Some(client.clone());
                state.last_used = Instant::now();
                Ok((client, false))
            }
            Err(e) => {
                state.phase = ConnectionState::Disconnected;
                Err(e)
            }
        }
    }

    /// Builds the client and waits for the server to answer a ping, retrying with backoff.
    async fn dial(&self) -> Result<Client, Error> {
        let mut options = ClientOptions::parse(&self.uri).await.map_err(|e| {
            Error::InvalidArgument(format!(
                "cannot use mongoURI {}: {}",
                self.redacted_uri(),
                redact::scrub(&e.to_string(), &self.uri)
            ))
        })?;
        options.max_pool_size = Some(self.settings.max_pool_size);
        options.min_pool_size = Some(self.settings.min_pool_size);
        if self.settings.max_idle_time.is_some() {
            options.max_idle_time = self.settings.max_idle_time;
        }
        options.app_name.get_or_insert_with(|| APP_NAME.to_owned());
        let client = Client::with_options(options)?;
        let mut delay = FIRST_RETRY_DELAY;
        for attempt in 0.. {
            match client.database("admin").run_command(doc! { "ping": 1 }).await {
                Ok(_) => return Ok(client),
                Err(_) if attempt < self.settings.retry => {
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields updated in place, so a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

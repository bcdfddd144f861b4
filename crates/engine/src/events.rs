//! What the pools tell the application: a database coming into use on a pool, leaving it, and a
//! deployment lost and found again (from the driver's SDAM events). The binding forwards them to the
//! wrapper's EventEmitter.

use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Connect,
    Disconnect,
    Reconnect,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connect => "connect",
            EventKind::Disconnect => "disconnect",
            EventKind::Reconnect => "reconnect",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The pool every database without one of its own shares.
    Shared,
    /// A database's own pool (`dbSpecific`, `scale.setDB`).
    Dedicated,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::Shared => "shared",
            PoolKind::Dedicated => "dedicated",
        }
    }
}

/// Why an event fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The database's own pool opened, or `connect()` opened the shared pool for the default database.
    Opened,
    /// The first operation on the database since its pool opened.
    FirstUse,
    /// `disconnect()`, `closeAll()`, or a new configuration replacing the pool.
    Closed,
    /// The pool sat idle for its `ttl`.
    Idle,
    /// Closed to make room under `maxOpenPools` or `maxTotalConnections`.
    Evicted,
    /// The driver lost the deployment (no writable server).
    Lost,
    /// The driver found the deployment again.
    Found,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Opened => "opened",
            Reason::FirstUse => "first-use",
            Reason::Closed => "closed",
            Reason::Idle => "idle",
            Reason::Evicted => "evicted",
            Reason::Lost => "lost",
            Reason::Found => "found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    pub kind: EventKind,
    pub db_name: String,
    /// The pool's URI with credentials masked.
    pub uri: String,
    pub pool: PoolKind,
    pub reason: Reason,
}

pub type Listener = Arc<dyn Fn(PoolEvent) + Send + Sync>;

/// Where the engine's pools send their events; nowhere until a listener is set.
#[derive(Default)]
pub struct Events {
    listener: RwLock<Option<Listener>>,
}

impl Events {
    pub fn listen(&self, listener: Listener) {
        *self.listener.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(listener);
    }

    pub fn emit(&self, event: PoolEvent) {
        let listener = self.listener.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if let Some(listener) = listener {
            listener(event);
        }
    }
}

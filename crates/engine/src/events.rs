//! What the pools tell the application: a database coming into use on a pool, leaving it, and a
//! deployment lost and found again (from the driver's SDAM events); each server heartbeat (the SDAM
//! monitoring specification's heartbeat events); and, with `monitorCommands`, each command the driver
//! sends (the Command Logging and Monitoring specification's events). The binding forwards them to
//! the JS side's EventEmitters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bson::Document;
use mongodb::event::command::{CommandEvent as DriverCommandEvent, ConnectionInfo};
use mongodb::event::sdam::SdamEvent;

use crate::error::Error;
use crate::sync::{Mutex, RwLock};

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

/// Which of a command's events: sent, answered, or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandPhase {
    Started,
    Succeeded,
    Failed,
}

impl CommandPhase {
    /// The Node driver's event names.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandPhase::Started => "commandStarted",
            CommandPhase::Succeeded => "commandSucceeded",
            CommandPhase::Failed => "commandFailed",
        }
    }
}

/// One command event, as the driver reports it, with the database of answered and failed commands
/// filled in from their start (the Rust driver gives it on the start only).
#[derive(Debug)]
pub struct CommandEvent {
    pub phase: CommandPhase,
    pub command_name: String,
    pub db: String,
    pub request_id: i32,
    /// The driver's id of the connection, and the server's.
    pub connection_id: u32,
    pub server_connection_id: Option<i64>,
    /// `host:port` of the server.
    pub address: String,
    /// From start to reply; none on a start.
    pub duration: Option<Duration>,
    /// The command sent, or the reply (the driver redacts those of authentication commands).
    pub document: Option<Document>,
    pub failure: Option<Error>,
}

pub type CommandListener = Arc<dyn Fn(CommandEvent) + Send + Sync>;

/// Which of a heartbeat's events: sent, answered, or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatPhase {
    Started,
    Succeeded,
    Failed,
}

impl HeartbeatPhase {
    /// The Node driver's event names.
    pub fn as_str(self) -> &'static str {
        match self {
            HeartbeatPhase::Started => "serverHeartbeatStarted",
            HeartbeatPhase::Succeeded => "serverHeartbeatSucceeded",
            HeartbeatPhase::Failed => "serverHeartbeatFailed",
        }
    }
}

/// One heartbeat a pool's monitor sent to a server (SDAM monitoring specification).
#[derive(Debug)]
pub struct HeartbeatEvent {
    pub phase: HeartbeatPhase,
    /// `host:port` of the server.
    pub address: String,
    /// Whether it was a streaming (awaited) `hello`.
    pub awaited: bool,
    /// From start to reply or failure; none on a start.
    pub duration: Option<Duration>,
    /// The server's `hello` reply, on success.
    pub reply: Option<Document>,
    pub failure: Option<Error>,
}

pub type HeartbeatListener = Arc<dyn Fn(HeartbeatEvent) + Send + Sync>;

/// Where the engine's pools send their events; nowhere until a listener is set.
#[derive(Default)]
pub struct Events {
    listener: RwLock<Option<Listener>>,
    command_listener: RwLock<Option<CommandListener>>,
    heartbeat_listener: RwLock<Option<HeartbeatListener>>,
    /// The database of each command started and not yet answered, by request id.
    command_dbs: Mutex<HashMap<i32, String>>,
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

    /// Sets where heartbeat events go.
    pub fn listen_heartbeats(&self, listener: HeartbeatListener) {
        *self.heartbeat_listener.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(listener);
    }

    /// Forwards a heartbeat among the driver's SDAM events to the listener, if any; other SDAM events
    /// are not heartbeats and go nowhere from here.
    pub fn emit_heartbeat(&self, event: &SdamEvent) {
        let listener = self.heartbeat_listener.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let Some(listener) = listener else { return };
        let common = |phase, address: &mongodb::options::ServerAddress, awaited| HeartbeatEvent {
            phase,
            address: address.to_string(),
            awaited,
            duration: None,
            reply: None,
            failure: None,
        };
        let event = match event {
            SdamEvent::ServerHeartbeatStarted(e) => common(HeartbeatPhase::Started, &e.server_address, e.awaited),
            SdamEvent::ServerHeartbeatSucceeded(e) => HeartbeatEvent {
                duration: Some(e.duration),
                reply: Some(e.reply.clone()),
                ..common(HeartbeatPhase::Succeeded, &e.server_address, e.awaited)
            },
            SdamEvent::ServerHeartbeatFailed(e) => HeartbeatEvent {
                duration: Some(e.duration),
                failure: Some(Error::Driver(e.failure.clone())),
                ..common(HeartbeatPhase::Failed, &e.server_address, e.awaited)
            },
            _ => return,
        };
        listener(event);
    }

    /// Sets where command events go (pools opened with `monitorCommands` send them).
    pub fn listen_commands(&self, listener: CommandListener) {
        *self.command_listener.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(listener);
    }

    /// Forwards one of the driver's command events to the listener, if any.
    pub fn emit_command(&self, event: DriverCommandEvent) {
        let mut dbs = self.command_dbs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // What every phase reports alike; each arm adds its own.
        let common = |phase, command_name, request_id, connection: &ConnectionInfo, db| CommandEvent {
            phase,
            command_name,
            db,
            request_id,
            connection_id: connection.id,
            server_connection_id: connection.server_id,
            address: connection.address.to_string(),
            duration: None,
            document: None,
            failure: None,
        };
        let event = match event {
            DriverCommandEvent::Started(e) => {
                dbs.insert(e.request_id, e.db.clone());
                CommandEvent {
                    document: Some(e.command),
                    ..common(CommandPhase::Started, e.command_name, e.request_id, &e.connection, e.db)
                }
            }
            DriverCommandEvent::Succeeded(e) => {
                let db = dbs.remove(&e.request_id).unwrap_or_default();
                CommandEvent {
                    duration: Some(e.duration),
                    document: Some(e.reply),
                    ..common(CommandPhase::Succeeded, e.command_name, e.request_id, &e.connection, db)
                }
            }
            DriverCommandEvent::Failed(e) => {
                let db = dbs.remove(&e.request_id).unwrap_or_default();
                CommandEvent {
                    duration: Some(e.duration),
                    failure: Some(Error::Driver(e.failure)),
                    ..common(CommandPhase::Failed, e.command_name, e.request_id, &e.connection, db)
                }
            }
            // Events a newer driver adds are not forwarded.
            #[allow(unreachable_patterns)]
            _ => return,
        };
        drop(dbs);
        let listener = self.command_listener.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if let Some(listener) = listener {
            listener(event);
        }
    }
}

//! `stats` as JS objects: PolyMongo's shapes (`general()`, `db()`, `listDatabases()`), extended with
//! the driver's pool counters and each database's operations. Times are epoch milliseconds; the facade
//! makes Dates where PolyMongo has them.

use std::time::{SystemTime, UNIX_EPOCH};

use napi_derive::napi;

use polymongo_engine::cluster::ConnectionState;
use polymongo_engine::stats::{DbInfo, DbSize, GeneralStats, PoolInfo};

const MB: f64 = 1024.0 * 1024.0;

#[napi(object)]
pub struct PoolStatsObject {
    /// Connections open (the driver's count, monitoring connections aside).
    pub total_connections: u32,
    pub available_connections: u32,
    pub in_use_connections: u32,
    /// Operations waiting for their turn (admission).
    pub wait_queue_size: u32,
    /// Operations admitted and running.
    pub in_flight: u32,
    /// Checkouts the driver has not served yet.
    pub pending_checkouts: u32,
    pub max_pool_size: u32,
    pub min_pool_size: u32,
    #[napi(js_name = "maxIdleTimeMS")]
    pub max_idle_time_ms: Option<f64>,
    pub total_created: f64,
    pub total_closed: f64,
    pub checkout_failures: f64,
}

#[napi(object)]
pub struct PoolConfigObject {
    pub max_connections: Option<u32>,
    pub auto_close: bool,
    pub ttl: Option<f64>,
    pub cold_start: bool,
}

#[napi(object)]
pub struct PoolObject {
    pub db_name: String,
    /// 'shared' | 'dedicated'
    pub pool: String,
    /// Credentials masked.
    #[napi(js_name = "mongoURI")]
    pub mongo_uri: String,
    /// Mongoose's: 0 disconnected, 1 connected, 2 connecting, 3 disconnecting.
    pub ready_state: u32,
    pub state: String,
    /// Epoch ms of the pool's last use.
    pub last_accessed: f64,
    /// Whether the pool's client is open.
    pub is_initialized: bool,
    /// A dedicated pool's configuration.
    pub config: Option<PoolConfigObject>,
    pub pool_stats: PoolStatsObject,
    /// The databases used on this pool since it opened.
    pub databases: Vec<String>,
    /// Connections open on the pool's change stream client (one per open stream at most).
    pub stream_connections: u32,
}

#[napi(object)]
pub struct LatencyObject {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

#[napi(object)]
pub struct DatabaseObject {
    pub db_name: String,
    pub pool: String,
    pub ops: f64,
    pub errors: f64,
    pub in_flight: u32,
    pub queued: u32,
    /// Operations it may have in flight now (its adaptive share of a shared pool).
    pub concurrency_limit: u32,
    /// Epoch ms of the last operation's end.
    pub last_used: Option<f64>,
    pub latency_ms: Option<LatencyObject>,
}

#[napi(object)]
pub struct GeneralObject {
    pub shared: PoolObject,
    pub dedicated: Vec<PoolObject>,
    pub databases: Vec<DatabaseObject>,
    /// The databases with open change streams, in name order.
    pub streams: Vec<StreamCountObject>,
}

#[napi(object)]
pub struct StreamCountObject {
    pub db_name: String,
    /// Change streams open on the database (or its collections).
    pub open: u32,
}

#[napi(object)]
pub struct CollectionSizeObject {
    pub name: String,
    pub doc_count: f64,
    pub size_mb: f64,
}

#[napi(object)]
pub struct DbStatsObject {
    pub size_mb: f64,
    pub collections: Vec<CollectionSizeObject>,
    pub pool: PoolObject,
    pub metrics: Option<DatabaseObject>,
}

#[napi(object)]
pub struct DatabaseSizeObject {
    pub db_name: String,
    #[napi(js_name = "sizeInMB")]
    pub size_in_mb: f64,
}

fn epoch_ms(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64)
}

fn ready_state(state: ConnectionState) -> u32 {
    match state {
        ConnectionState::Connected => 1,
        ConnectionState::Connecting => 2,
        ConnectionState::Disconnecting => 3,
        ConnectionState::NotInitialized | ConnectionState::Disconnected => 0,
    }
}

pub fn pool(info: PoolInfo) -> PoolObject {
    let stats = info.cluster.pool;
    let count = |n: u64| n as u32;
    PoolObject {
        pool: info.kind.as_str().to_owned(),
        mongo_uri: info.uri,
        ready_state: ready_state(info.cluster.state),
        state: info.cluster.state.as_str().to_owned(),
        last_accessed: epoch_ms(info.cluster.last_used),
        is_initialized: info.cluster.open,
        config: info.spec.map(|spec| PoolConfigObject {
            max_connections: spec.max_connections,
            auto_close: spec.auto_close,
            ttl: spec.ttl.map(|d| d.as_millis() as f64),
            cold_start: spec.cold_start,
        }),
        pool_stats: PoolStatsObject {
            total_connections: count(stats.open),
            available_connections: count(stats.available),
            in_use_connections: count(stats.in_use),
            wait_queue_size: info.cluster.load.waiting as u32,
            in_flight: info.cluster.load.in_flight as u32,
            pending_checkouts: count(stats.pending_checkouts),
            max_pool_size: info.max_pool_size,
            min_pool_size: info.min_pool_size,
            max_idle_time_ms: info.max_idle_ms.map(|ms| ms as f64),
            total_created: stats.created_total as f64,
            total_closed: stats.closed_total as f64,
            checkout_failures: stats.checkout_failures as f64,
        },
        databases: {
            let mut names: Vec<String> = info.cluster.databases.iter().map(|db| db.to_string()).collect();
            names.sort();
            names
        },
        stream_connections: count(info.cluster.stream_pool.open),
        db_name: info.name,
    }
}

pub fn database(info: DbInfo) -> DatabaseObject {
    DatabaseObject {
        db_name: info.name.to_string(),
        pool: info.kind.as_str().to_owned(),
        ops: info.ops as f64,
        errors: info.errors as f64,
        in_flight: info.in_flight as u32,
        queued: info.queued as u32,
        concurrency_limit: info.concurrency_limit as u32,
        last_used: info.last_used.map(epoch_ms),
        latency_ms: info.latency.map(|l| LatencyObject {
            p50: l.p50,
            p95: l.p95,
            p99: l.p99,
            max: l.max,
            mean: l.mean,
        }),
    }
}

pub fn general(stats: GeneralStats) -> GeneralObject {
    GeneralObject {
        shared: pool(stats.shared),
        dedicated: stats.dedicated.into_iter().map(pool).collect(),
        databases: stats.databases.into_iter().map(database).collect(),
        streams: stats
            .streams
            .into_iter()
            .map(|(db_name, open)| StreamCountObject { db_name, open: open as u32 })
            .collect(),
    }
}

pub fn db_stats(size: DbSize, pool_info: PoolInfo, metrics: Option<DbInfo>) -> DbStatsObject {
    DbStatsObject {
        size_mb: size.data_bytes as f64 / MB,
        collections: size
            .collections
            .into_iter()
            .map(|c| CollectionSizeObject {
                name: c.name,
                doc_count: c.doc_count as f64,
                size_mb: c.size_bytes as f64 / MB,
            })
            .collect(),
        pool: pool(pool_info),
        metrics: metrics.map(database),
    }
}

pub fn database_sizes(list: Vec<(String, u64)>) -> Vec<DatabaseSizeObject> {
    list.into_iter()
        .map(|(db_name, bytes)| DatabaseSizeObject { db_name, size_in_mb: (bytes as f64 / MB * 100.0).round() / 100.0 })
        .collect()
}

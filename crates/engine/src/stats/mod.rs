//! What the wrapper tells about itself: its pools as the driver reports them, each database's
//! operations, a database's size from the server, and all of it as Prometheus text. Reading any of it
//! changes nothing: no connection is opened, no database is created.

pub mod databases;
pub mod pool;
pub mod prometheus;

use std::sync::Arc;
use std::time::SystemTime;

use bson::{doc, Document};
use futures_util::TryStreamExt;

use crate::admission::DbLoad;
use crate::cluster::{Cluster, ClusterStats};
use crate::config::DbSpecific;
use crate::error::Error;
use crate::events::PoolKind;
use databases::{Databases, DbMetrics, Latency};

/// One pool: the shared one, or a database's own.
#[derive(Debug, Clone)]
pub struct PoolInfo {
    /// The dedicated pool's database; the default database for the shared pool.
    pub name: String,
    pub kind: PoolKind,
    /// Credentials masked.
    pub uri: String,
    pub max_pool_size: u32,
    pub min_pool_size: u32,
    pub max_idle_ms: Option<u64>,
    /// A dedicated pool's configuration.
    pub spec: Option<DbSpecific>,
    pub cluster: ClusterStats,
}

/// One database's operations.
#[derive(Debug, Clone)]
pub struct DbInfo {
    pub name: Arc<str>,
    pub kind: PoolKind,
    pub ops: u64,
    pub errors: u64,
    pub in_flight: usize,
    pub queued: usize,
    /// Operations it may have in flight now: its adaptive limit on the shared pool (see `admission`).
    pub concurrency_limit: usize,
    pub last_used: Option<SystemTime>,
    pub latency: Option<Latency>,
}

#[derive(Debug, Clone)]
pub struct GeneralStats {
    pub shared: PoolInfo,
    pub dedicated: Vec<PoolInfo>,
    pub databases: Vec<DbInfo>,
    /// The databases with open change streams, in name order, with how many each has.
    pub streams: Vec<(String, usize)>,
}

impl GeneralStats {
    pub fn pools(&self) -> impl Iterator<Item = &PoolInfo> {
        std::iter::once(&self.shared).chain(&self.dedicated)
    }

    /// Takes every pool's and every database's numbers at once.
    pub fn collect<'a>(
        shared: &Cluster,
        dedicated: Vec<(DbSpecific, Arc<Cluster>)>,
        databases: &Databases,
        streams: impl Iterator<Item = &'a str>,
    ) -> Self {
        let shared = PoolInfo::of(shared, None);
        let mut dedicated: Vec<PoolInfo> =
            dedicated.into_iter().map(|(spec, c)| PoolInfo::of(&c, Some(spec))).collect();
        dedicated.sort_by(|a, b| a.name.cmp(&b.name));
        let databases = databases
            .all()
            .into_iter()
            .map(|(name, metrics)| {
                // `dedicated` is in name order: 10,000 tenants cost a binary search each, not a scan.
                let own = dedicated.binary_search_by(|p| p.name.as_str().cmp(&name)).ok();
                let pool = own.map_or(&shared, |at| &dedicated[at]);
                DbInfo::of(name, &metrics, pool)
            })
            .collect();
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for db in streams {
            *counts.entry(db).or_default() += 1;
        }
        let streams = counts.into_iter().map(|(db, n)| (db.to_owned(), n)).collect();
        GeneralStats { shared, dedicated, databases, streams }
    }
}

impl DbInfo {
    pub fn of(name: Arc<str>, metrics: &DbMetrics, pool: &PoolInfo) -> Self {
        let load = &pool.cluster.load;
        let own = load.databases.get(&name).copied().unwrap_or(DbLoad { limit: load.start_limit, ..DbLoad::default() });
        DbInfo {
            kind: pool.kind,
            ops: metrics.ops(),
            errors: metrics.errors(),
            in_flight: own.in_flight,
            queued: own.waiting,
            concurrency_limit: own.limit,
            last_used: metrics.last_used(),
            latency: metrics.latency(),
            name,
        }
    }
}

impl PoolInfo {
    pub fn of(cluster: &Cluster, spec: Option<DbSpecific>) -> Self {
        let settings = cluster.settings();
        PoolInfo {
            name: cluster.name().to_owned(),
            kind: cluster.kind(),
            uri: cluster.redacted_uri(),
            max_pool_size: settings.max_pool_size,
            min_pool_size: settings.min_pool_size,
            max_idle_ms: settings.max_idle_time.map(|d| d.as_millis() as u64),
            spec,
            cluster: cluster.stats(),
        }
    }
}

/// A collection's size, from `$collStats`.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSize {
    pub name: String,
    pub doc_count: u64,
    pub size_bytes: u64,
}

/// A database's size, from `dbStats` and its collections' `$collStats`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbSize {
    pub data_bytes: u64,
    pub collections: Vec<CollectionSize>,
}

/// Sizes `db` on `client` with read-only commands: a database that does not exist stays so.
pub async fn db_size(client: &mongodb::Client, db: &str) -> Result<DbSize, Error> {
    let database = client.database(db);
    let stats = database.run_command(doc! { "dbStats": 1 }).await?;
    let mut names: Vec<String> = database.list_collection_names().filter(doc! { "type": "collection" }).await?;
    // MongoDB's own (`system.views`, `system.profile`) are not the application's data, and some
    // servers refuse `$collStats` on them.
    names.retain(|name| !name.starts_with("system."));
    names.sort();
    let mut collections = Vec::with_capacity(names.len());
    for name in names {
        let pipeline = [doc! { "$collStats": { "storageStats": {} } }];
        let reply: Vec<Document> =
            database.collection::<Document>(&name).aggregate(pipeline).await?.try_collect().await?;
        let storage = reply.first().and_then(|r| r.get_document("storageStats").ok());
        let field = |key: &str| storage.map_or(0, |s| number(s, key));
        collections.push(CollectionSize { doc_count: field("count"), size_bytes: field("size"), name });
    }
    Ok(DbSize { data_bytes: number(&stats, "dataSize"), collections })
}

/// The databases on `client`'s deployment with their size on disk, in bytes.
pub async fn list_databases(client: &mongodb::Client) -> Result<Vec<(String, u64)>, Error> {
    let reply = client.database("admin").run_command(doc! { "listDatabases": 1 }).await?;
    let list = reply.get_array("databases").map_err(|e| Error::InvalidArgument(format!("listDatabases reply: {e}")))?;
    Ok(list
        .iter()
        .filter_map(|entry| entry.as_document())
        .filter_map(|d| Some((d.get_str("name").ok()?.to_owned(), number(d, "sizeOnDisk"))))
        .collect())
}

/// A size or count, which servers send as int32, int64 or double.
fn number(doc: &Document, key: &str) -> u64 {
    match doc.get(key) {
        Some(bson::Bson::Int32(n)) => (*n).max(0) as u64,
        Some(bson::Bson::Int64(n)) => (*n).max(0) as u64,
        Some(bson::Bson::Double(n)) if *n > 0.0 => *n as u64,
        _ => 0,
    }
}

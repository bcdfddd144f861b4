//! The wrapper's engine: its configuration, its clusters, and the namespaces operations run on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, RawDocumentBuf};
use mongodb::Collection;

use crate::cluster::{Cluster, ConnectionState, PoolSettings};
use crate::config::WrapperConfig;
use crate::error::Error;
use crate::names::check_db_name;

pub struct Engine {
    config: WrapperConfig,
    default_db: String,
    cluster: Arc<Cluster>,
}

/// A (database, collection) on a cluster: what every operation runs against. Making one does no I/O.
#[derive(Clone)]
pub struct Namespace {
    cluster: Arc<Cluster>,
    pub db: String,
    pub coll: String,
}

impl Namespace {
    pub async fn collection(&self) -> Result<Collection<RawDocumentBuf>, Error> {
        Ok(self.cluster.client().await?.database(&self.db).collection(&self.coll))
    }

    pub async fn database(&self) -> Result<mongodb::Database, Error> {
        Ok(self.cluster.client().await?.database(&self.db))
    }
}

impl Engine {
    pub fn new(config: WrapperConfig) -> Result<Self, Error> {
        config.validate()?;
        let settings = PoolSettings {
            max_pool_size: config.max_pool_size,
            min_pool_size: config.min_free_connections,
            max_idle_time: config.idle_timeout,
            retry: config.retry,
        };
        let cluster = Cluster::new(config.mongo_uri.clone(), settings);
        Ok(Engine { default_db: config.default_db_name(), config, cluster })
    }

    pub fn config(&self) -> &WrapperConfig {
        &self.config
    }

    pub fn default_db(&self) -> &str {
        &self.default_db
    }

    pub fn state(&self) -> ConnectionState {
        self.cluster.state()
    }

    pub fn redacted_uri(&self) -> String {
        self.cluster.redacted_uri()
    }

    /// Opens the connection now; `Ok(true)` when it already was open.
    pub async fn connect(&self) -> Result<bool, Error> {
        self.cluster.connect().await
    }

    pub async fn disconnect(&self) {
        self.cluster.disconnect().await
    }

    /// Round-trip time of a `ping` to `db` (the default database when `None`).
    pub async fn ping(&self, db: Option<&str>) -> Result<Duration, Error> {
        let db = self.db_name(db)?;
        let client = self.cluster.client().await?;
        let started = Instant::now();
        client.database(db).run_command(doc! { "ping": 1 }).await?;
        Ok(started.elapsed())
    }

    /// The namespace for `coll` in `db` (the default database when `None`), after checking the name.
    pub fn namespace(&self, db: Option<&str>, coll: &str) -> Result<Namespace, Error> {
        let db = self.db_name(db)?;
        if coll.is_empty() || coll.contains('\0') || coll.starts_with("system.") || coll.contains('$') {
            return Err(Error::InvalidArgument(format!("invalid collection name {coll:?}")));
        }
        Ok(Namespace { cluster: self.cluster.clone(), db: db.to_owned(), coll: coll.to_owned() })
    }

    fn db_name<'a>(&'a self, db: Option<&'a str>) -> Result<&'a str, Error> {
        match db {
            None => Ok(&self.default_db),
            Some(name) => check_db_name(name).map(|()| name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(WrapperConfig::new("mongodb://127.0.0.1:1/app")).unwrap()
    }

    #[test]
    fn namespaces_are_checked_without_io() {
        let engine = engine();
        assert_eq!(engine.namespace(None, "users").unwrap().db, "app");
        assert_eq!(engine.namespace(Some("t1"), "users").unwrap().db, "t1");
        assert!(matches!(engine.namespace(Some(""), "users"), Err(Error::InvalidDbName { .. })));
        assert!(matches!(engine.namespace(Some("a.b"), "users"), Err(Error::InvalidDbName { .. })));
        assert!(matches!(engine.namespace(None, ""), Err(Error::InvalidArgument(_))));
        assert_eq!(engine.state(), ConnectionState::NotInitialized);
    }

    #[test]
    fn invalid_config_is_refused() {
        assert!(matches!(Engine::new(WrapperConfig::new("localhost")), Err(Error::Config { option: "mongoURI", .. })));
    }

    #[tokio::test]
    async fn a_disconnected_engine_refuses_work() {
        let engine = engine();
        engine.disconnect().await;
        assert_eq!(engine.state(), ConnectionState::Disconnected);
        assert!(matches!(engine.ping(None).await, Err(Error::Closed)));
    }
}

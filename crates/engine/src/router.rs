//! Which cluster serves a database: its own pool (`dbSpecific`, `scale.setDB`), possibly on another
//! deployment, or the pool every other database shares. Looked up on every operation, so a database
//! given its own pool after a model was bound to it moves there at once.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::admission::Limits;
use crate::cluster::{Cluster, Context, PoolSettings, MIN_CURSOR_TIMEOUT};
use crate::config::{DbSpecific, WrapperConfig};
use crate::events::PoolKind;
use crate::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub struct Router {
    shared: Arc<Cluster>,
    /// The shared pool's URI and settings, which a dedicated pool starts from.
    uri: String,
    settings: PoolSettings,
    wait_timeout: Option<std::time::Duration>,
    context: Context,
    dedicated: RwLock<HashMap<String, Dedicated>>,
    /// Woken when a database gets a pool of its own.
    changed: Arc<Notify>,
}

/// A database's own pool and what configured it.
pub struct Dedicated {
    pub spec: DbSpecific,
    pub cluster: Arc<Cluster>,
}

impl Router {
    pub fn new(config: &WrapperConfig, context: Context) -> Self {
        let settings = PoolSettings {
            max_pool_size: config.max_pool_size,
            min_pool_size: config.min_free_connections,
            max_idle_time: config.idle_timeout,
            retry: config.retry,
            // The shared pool never closes as idle.
            cursor_timeout: None,
        };
        let capacity = config.max_pool_size as usize;
        let limits = Limits {
            capacity,
            per_db: config
                .max_concurrent_per_db
                .map_or_else(|| Limits::default_per_db(capacity), |n| n as usize)
                .min(capacity),
            wait_timeout: config.wait_queue_timeout,
            adaptive: true,
        };
        let shared = Cluster::new(
            config.mongo_uri.clone(),
            config.default_db_name(),
            PoolKind::Shared,
            settings.clone(),
            limits,
            context.clone(),
        );
        let router = Router {
            shared,
            uri: config.mongo_uri.clone(),
            settings,
            wait_timeout: config.wait_queue_timeout,
            context,
            dedicated: RwLock::new(HashMap::new()),
            changed: Arc::new(Notify::new()),
        };
        for spec in &config.db_specific {
            router.dedicate(spec.clone());
        }
        router
    }

    pub fn shared(&self) -> &Arc<Cluster> {
        &self.shared
    }

    /// What wakes when a database gets a pool of its own.
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// The cluster serving `db`.
    pub fn cluster(&self, db: &str) -> Arc<Cluster> {
        match self.read().get(db) {
            Some(dedicated) => dedicated.cluster.clone(),
            None => self.shared.clone(),
        }
    }

    /// Gives `spec.db_name` a pool of its own, with no I/O; returns the pool it replaces, if any, for the
    /// caller to close. The same configuration again keeps the pool it has.
    pub fn dedicate(&self, spec: DbSpecific) -> Option<Arc<Cluster>> {
        if self.read().get(&spec.db_name).is_some_and(|d| d.spec == spec) {
            return None;
        }
        let settings = PoolSettings {
            max_pool_size: spec.max_connections.unwrap_or(self.settings.max_pool_size),
            min_pool_size: 0,
            cursor_timeout: Some(spec.ttl().max(MIN_CURSOR_TIMEOUT)),
            ..self.settings.clone()
        };
        // A pool of its own serves one database, which may use all of it.
        let capacity = settings.max_pool_size as usize;
        let limits = Limits { capacity, per_db: capacity, wait_timeout: self.wait_timeout, adaptive: false };
        let uri = spec.mongo_uri.clone().unwrap_or_else(|| self.uri.clone());
        let name = spec.db_name.clone();
        let cluster = Cluster::new(uri, name.clone(), PoolKind::Dedicated, settings, limits, self.context.clone());
        let replaced = self.write().insert(name, Dedicated { spec, cluster }).map(|old| old.cluster);
        self.changed.notify_one();
        replaced
    }

    /// Every dedicated pool, with its configuration.
    pub fn dedicated(&self) -> Vec<(DbSpecific, Arc<Cluster>)> {
        self.read().values().map(|d| (d.spec.clone(), d.cluster.clone())).collect()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Dedicated>> {
        // The map is only ever replaced entry by entry, so a panic elsewhere cannot leave it torn.
        self.dedicated.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Dedicated>> {
        self.dedicated.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_context() -> Context {
        Context {
            budget: crate::budget::Budget::new(Default::default()),
            events: Default::default(),
            log: Default::default(),
            monitor_commands: false,
            server_api: None,
            max_open_streams: 1,
        }
    }

    #[test]
    fn databases_go_to_their_own_pool_or_the_shared_one() {
        let mut config = WrapperConfig::new("mongodb://main:27017");
        config.db_specific.push(DbSpecific {
            db_name: "analytics".into(),
            mongo_uri: Some("mongodb://other:27017".into()),
            max_connections: Some(3),
            ..DbSpecific::default()
        });
        let router = Router::new(&config, test_context());
        let analytics = router.cluster("analytics");
        assert!(!Arc::ptr_eq(&analytics, router.shared()));
        assert_eq!(analytics.redacted_uri(), "mongodb://other:27017");
        assert!(Arc::ptr_eq(&router.cluster("tenant_1"), router.shared()));
        let same = router.dedicated()[0].0.clone();
        assert!(router.dedicate(same).is_none());
        assert!(Arc::ptr_eq(&router.cluster("analytics"), &analytics));
        let replaced = router.dedicate(DbSpecific { db_name: "analytics".into(), ..DbSpecific::default() });
        assert!(Arc::ptr_eq(&replaced.unwrap(), &analytics));
        assert_eq!(router.cluster("analytics").redacted_uri(), "mongodb://main:27017");
        assert_eq!(router.dedicated().len(), 1);
    }
}

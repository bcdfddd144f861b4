//! A database, or a (database, collection): what every request runs against. Making one does no I/O;
//! the cluster serving it is looked up when a request runs, so a database given a pool of its own
//! later moves there at once.

use std::sync::Arc;

use bson::RawDocumentBuf;
use mongodb::Collection;

use crate::cluster::{Cluster, Lease};
use crate::error::Error;
use crate::router::Router;
use crate::stats::databases::Databases;

#[derive(Clone)]
pub struct Namespace {
    router: Arc<Router>,
    databases: Arc<Databases>,
    pub db: String,
    /// None for a database: only database-level requests (commands) run there.
    pub coll: Option<String>,
    /// Whether its requests may run JavaScript on the server (the wrapper's `javascriptEnabled`).
    pub javascript_enabled: bool,
}

impl Namespace {
    /// Names already checked by the engine.
    pub(crate) fn new(
        router: Arc<Router>,
        databases: Arc<Databases>,
        db: String,
        coll: Option<String>,
        javascript_enabled: bool,
    ) -> Self {
        Namespace { router, databases, db, coll, javascript_enabled }
    }

    /// Runs one request on this namespace, counting it in its database's metrics as failed when it
    /// fails or `succeeded` says so (a write the server refused is a reply, and a failure).
    pub async fn track<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, Error>>,
        succeeded: impl FnOnce(&T) -> bool,
    ) -> Result<T, Error> {
        self.databases.track(&self.db, op, |result| result.as_ref().is_ok_and(succeeded)).await
    }

    /// Collection `coll` of this namespace's database. Errors: an invalid collection name.
    pub fn with_collection(&self, coll: &str) -> Result<Namespace, Error> {
        crate::names::check_collection_name(coll)?;
        Ok(Namespace { coll: Some(coll.to_owned()), ..self.clone() })
    }

    /// The collection's name; a database namespace has none.
    pub fn coll(&self) -> Result<&str, Error> {
        self.coll.as_deref().ok_or_else(|| {
            Error::InvalidArgument(format!("this request needs a collection, and {:?} names a database", self.db))
        })
    }

    /// The pool serving this namespace's database, now.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.router.cluster(&self.db)
    }

    /// Whether database `db` is served by the same pool as this namespace's database, now.
    pub fn same_pool(&self, db: &str) -> bool {
        Arc::ptr_eq(&self.router.cluster(&self.db), &self.router.cluster(db))
    }

    /// The collection, leased from its cluster for as long as the value lives.
    pub async fn collection(&self) -> Result<Leased<Collection<RawDocumentBuf>>, Error> {
        let coll = self.coll()?;
        let Leased { value, lease } = self.database().await?;
        Ok(Leased { value: value.collection(coll), lease })
    }

    /// The database, leased from its cluster for as long as the value lives.
    pub async fn database(&self) -> Result<Leased<mongodb::Database>, Error> {
        let (client, lease) = self.router.cluster(&self.db).lease(&self.db).await?;
        Ok(Leased { value: client.database(&self.db), lease })
    }
}

/// A handle on a cluster's client that keeps the cluster from being closed as idle while it lives.
pub struct Leased<T> {
    value: T,
    lease: Lease,
}

impl<T> Leased<T> {
    /// The value and the lease, for what must keep the lease beyond the handle (a cursor).
    pub fn into_parts(self) -> (T, Lease) {
        (self.value, self.lease)
    }
}

impl<T> std::ops::Deref for Leased<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

//! Client sessions and their transactions: the `mongodb` crate's `ClientSession`, shared by the requests
//! that name it. A session belongs to the pool whose client started it, so one transaction spans the
//! databases that pool serves (any tenant database of the shared pool); a request on a database of
//! another pool is refused before anything is sent. While the session lives, its pool is not closed as
//! idle or evicted by a limit: during a transaction at all, else until the session has gone unused for
//! the pool's `ttl`; the session then expires with the pool (`Error::SessionTimedOut`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use std::time::Duration;

use bson::{Bson, Document, Timestamp};
use mongodb::options::{
    ReadConcern, ReadPreference, SelectionCriteria, SessionOptions, TransactionOptions, WriteConcern,
};
use mongodb::{ClientSession, ClusterTime};
use tokio::sync::{MappedMutexGuard, MutexGuard};

use crate::cluster::{Cluster, Lease};
use crate::error::Error;
use crate::namespace::Namespace;
use crate::sync::Mutex;

pub struct Session {
    cluster: Arc<Cluster>,
    /// The database the session started on, whose admission its commit and abort take.
    db: String,
    /// The session's `lsid` (`{ id: UUID }`).
    id: Document,
    /// Keeps the pool open while the session lives (outside a transaction paused between requests, so
    /// only for the pool's `ttl` after the last), with no place in admission; dropped on end.
    lease: Mutex<Option<Lease>>,
    /// None once ended. One request at a time uses the session, as the server requires of a
    /// transaction's statements.
    inner: tokio::sync::Mutex<Option<ClientSession>>,
    /// Whether a transaction is in progress: its statements carry no write concern of their own (the
    /// driver's state says so only to itself).
    in_transaction: AtomicBool,
    /// The operation time and cluster time as of the last request, for the Node driver's session
    /// properties of those names; readable while a request holds the session.
    times: Mutex<Times>,
}

/// A session's operation time and cluster time.
type Times = (Option<Timestamp>, Option<ClusterTime>);

/// A session checked out for one request; notes the session's times when dropped.
pub struct Checkout<'a> {
    pub session: MappedMutexGuard<'a, ClientSession>,
    pub in_transaction: bool,
    times: &'a Mutex<Times>,
    _in_use: InUse<'a>,
}

/// A session's pool counted in use while a request holds the session; after it, its lease stays in
/// use during a transaction and pauses outside one.
struct InUse<'a> {
    lease: &'a Mutex<Option<Lease>>,
    in_transaction: &'a AtomicBool,
}

impl InUse<'_> {
    fn lease(&self) -> crate::sync::MutexGuard<'_, Option<Lease>> {
        self.lease.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        let in_transaction = self.in_transaction.load(Ordering::Acquire);
        if let Some(lease) = self.lease().as_mut() {
            if in_transaction {
                lease.hold();
            } else {
                lease.pause();
            }
        }
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        let times = (self.session.operation_time(), self.session.cluster_time().cloned());
        *self.times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = times;
    }
}

impl Session {
    /// Starts a session on the pool serving `db`. Errors: the pool's (closed, wait queue, server
    /// selection).
    pub(crate) async fn start(cluster: Arc<Cluster>, db: &str, options: SessionOptions) -> Result<Self, Error> {
        let (client, mut lease) = cluster.lease(db).await?;
        lease.pause();
        let session = client.start_session().with_options(options).await?;
        Ok(Session {
            cluster,
            db: db.to_owned(),
            id: session.id().clone(),
            lease: Mutex::new(Some(lease)),
            inner: tokio::sync::Mutex::new(Some(session)),
            in_transaction: AtomicBool::new(false),
            times: Mutex::new((None, None)),
        })
    }

    /// The session's `lsid`, `{ id: UUID }`.
    pub fn id(&self) -> &Document {
        &self.id
    }

    /// The session for one request on `ns`, held until the guard drops. Errors:
    /// `InvalidArgument` for a database served by another pool, `SessionEnded` after `end()`.
    pub async fn checkout(&self, ns: &Namespace) -> Result<Checkout<'_>, Error> {
        if !Arc::ptr_eq(&ns.cluster(), &self.cluster) {
            return Err(Error::InvalidArgument(format!(
                "database {:?} is served by another pool than the session's ({:?}); a session and its transaction span the databases of one pool",
                ns.db, self.db
            )));
        }
        let (session, in_use) = self.lock().await?;
        let in_transaction = self.in_transaction.load(Ordering::Acquire);
        Ok(Checkout { session, in_transaction, times: &self.times, _in_use: in_use })
    }

    /// `{ operationTime?, clusterTime? }`: the session's times as of its last request (none before).
    pub fn times(&self) -> Document {
        let (operation_time, cluster_time) = self.times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let mut times = Document::new();
        if let Some(operation_time) = operation_time {
            times.insert("operationTime", operation_time);
        }
        if let Some(cluster_time) = cluster_time.and_then(|t| bson::serialize_to_document(&t).ok()) {
            times.insert("clusterTime", cluster_time);
        }
        times
    }

    /// The client session for one request, with the pool counted in use until the second guard
    /// drops. Errors: `SessionEnded` after `end()`, `Closed` after the wrapper's `close()`,
    /// `SessionTimedOut` when the pool closed since the session's last request.
    async fn lock(&self) -> Result<(MappedMutexGuard<'_, ClientSession>, InUse<'_>), Error> {
        let session = MutexGuard::try_map(self.inner.lock().await, Option::as_mut).map_err(|_| Error::SessionEnded)?;
        let in_use = InUse { lease: &self.lease, in_transaction: &self.in_transaction };
        self.cluster.check_open()?;
        if !in_use.lease().as_mut().is_none_or(Lease::wake) {
            let timeout = self.cluster.settings().cursor_timeout;
            return Err(Error::SessionTimedOut { db: self.db.clone(), timeout });
        }
        Ok((session, in_use))
    }

    /// Keeps the pool open from now (`pinned`), as during a transaction, or no longer (outside one):
    /// for a transaction the application has started and whose first request, which starts it here,
    /// has not come yet. No I/O.
    pub fn pin(&self, pinned: bool) {
        let mut lease = self.lease.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lease) = lease.as_mut() {
            if pinned {
                // A session whose pool has closed meanwhile fails at its next request.
                lease.wake();
            } else if !self.in_transaction.load(Ordering::Acquire) {
                lease.pause();
            }
        }
    }

    /// Starts a transaction; its first request sends `startTransaction`. Errors: a transaction in
    /// progress, a server without transactions (a standalone), `SessionEnded`.
    pub async fn start_transaction(&self, options: Option<TransactionOptions>) -> Result<(), Error> {
        let mut options = options.unwrap_or_default();
        // A transaction reads from the primary, whatever the connection string's read preference
        // (which the driver would otherwise give it, and then refuse).
        options.selection_criteria = Some(SelectionCriteria::ReadPreference(ReadPreference::Primary));
        let (mut session, _in_use) = self.lock().await?;
        let _lease = self.cluster.lease(&self.db).await?;
        session.start_transaction().with_options(options).await?;
        self.in_transaction.store(true, Ordering::Release);
        Ok(())
    }

    /// Commits the transaction; again after an `UnknownTransactionCommitResult`, it retries the
    /// commit with `w: 'majority'` (Transactions specification).
    pub async fn commit_transaction(&self) -> Result<(), Error> {
        let (mut session, _in_use) = self.lock().await?;
        let _lease = self.cluster.lease(&self.db).await?;
        let committed = session.commit_transaction().await;
        self.in_transaction.store(false, Ordering::Release);
        Ok(committed?)
    }

    /// Aborts the transaction. The driver ignores the server's errors, as the specification asks; a
    /// misuse (no transaction in progress, one committed) is an error.
    pub async fn abort_transaction(&self) -> Result<(), Error> {
        let (mut session, _in_use) = self.lock().await?;
        let _lease = self.cluster.lease(&self.db).await?;
        let aborted = session.abort_transaction().await;
        self.in_transaction.store(false, Ordering::Release);
        Ok(aborted?)
    }

    /// Ends the session, aborting a transaction in progress; then its pool may close as idle. Ending
    /// an ended session does nothing.
    pub async fn end(&self) {
        let session = self.inner.lock().await.take();
        if let Some(mut session) = session {
            // Refused locally when no transaction is in progress: nothing to abort then.
            if let Ok(_lease) = self.cluster.lease(&self.db).await {
                let _ = session.abort_transaction().await;
            }
        }
        self.lease.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }
}

/// The sessions a wrapper started and has not dropped, which closing the wrapper ends.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<Vec<Weak<Session>>>,
}

impl Sessions {
    pub(crate) fn add(&self, session: &Arc<Session>) {
        let mut live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        live.retain(|s| s.strong_count() > 0);
        live.push(Arc::downgrade(session));
    }

    /// Ends every live session (aborting their transactions).
    pub(crate) async fn end_all(&self) {
        let live: Vec<Arc<Session>> = {
            let mut live = self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            live.drain(..).filter_map(|s| s.upgrade()).collect()
        };
        for session in live {
            session.end().await;
        }
    }
}

/// A transaction's options as the Node driver takes them (`TransactionOptions`): `readConcern`
/// (`{ level }` or a level), `writeConcern` (`{ w, j, wtimeout }`), `maxCommitTimeMS`, and
/// `readPreference`, which must be the primary's (a transaction reads from the primary). Errors:
/// `InvalidArgument` for any other option or a value of the wrong type: none is left out.
pub fn transaction_options(doc: &Document) -> Result<TransactionOptions, Error> {
    let mut options = TransactionOptions::default();
    for (key, value) in doc {
        match (key.as_str(), value) {
            (_, Bson::Null | Bson::Undefined) => {}
            ("readConcern", Bson::Document(rc)) => match rc.get("level") {
                Some(Bson::String(level)) => options.read_concern = Some(ReadConcern::custom(level)),
                None => {}
                Some(_) => return Err(invalid_option(key)),
            },
            ("readConcern", Bson::String(level)) => options.read_concern = Some(ReadConcern::custom(level)),
            ("writeConcern", Bson::Document(wc)) => {
                let wc: WriteConcern = bson::deserialize_from_document(wc.clone()).map_err(|_| invalid_option(key))?;
                options.write_concern = Some(wc);
            }
            ("maxCommitTimeMS", n) => {
                let ms = n.as_i64().or_else(|| n.as_i32().map(i64::from)).or_else(|| n.as_f64().map(|f| f as i64));
                let ms = ms.filter(|ms| *ms >= 0).ok_or_else(|| invalid_option(key))?;
                options.max_commit_time = Some(Duration::from_millis(ms as u64));
            }
            ("readPreference", pref) if is_primary(pref) => {}
            ("readPreference", _) => {
                return Err(Error::InvalidArgument(
                    "a transaction reads from the primary: readPreference must be 'primary'".into(),
                ))
            }
            _ => return Err(Error::InvalidArgument(format!("transaction option {key:?} is not supported"))),
        }
    }
    Ok(options)
}

/// A session's options as the Node driver takes them (`ClientSessionOptions`): `causalConsistency`,
/// `snapshot` (its `defaultTransactionOptions` the JS driver merges into each transaction's options).
/// Errors as for [`transaction_options`].
pub fn session_options(doc: &Document) -> Result<SessionOptions, Error> {
    let mut options = SessionOptions::default();
    for (key, value) in doc {
        match (key.as_str(), value) {
            (_, Bson::Null | Bson::Undefined) => {}
            ("causalConsistency", Bson::Boolean(b)) => options.causal_consistency = Some(*b),
            ("snapshot", Bson::Boolean(b)) => options.snapshot = Some(*b),
            ("causalConsistency" | "snapshot", _) => return Err(invalid_option(key)),
            _ => return Err(Error::InvalidArgument(format!("session option {key:?} is not supported"))),
        }
    }
    Ok(options)
}

fn invalid_option(key: &str) -> Error {
    Error::InvalidArgument(format!("invalid value for option {key:?}"))
}

/// `'primary'` or `{ mode: 'primary' }` (a ReadPreference as BSON).
pub(crate) fn is_primary(pref: &Bson) -> bool {
    match pref {
        Bson::String(mode) => mode == "primary",
        Bson::Document(d) => d.get_str("mode").is_ok_and(|mode| mode == "primary"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn transaction_options_are_read_or_refused() {
        let options = transaction_options(&doc! {
            "readConcern": { "level": "snapshot" },
            "writeConcern": { "w": "majority", "j": true, "wtimeout": 100 },
            "maxCommitTimeMS": 500,
            "readPreference": "primary",
        })
        .unwrap();
        assert_eq!(options.read_concern, Some(ReadConcern::snapshot()));
        let wc = options.write_concern.unwrap();
        assert_eq!((wc.journal, wc.w_timeout), (Some(true), Some(Duration::from_millis(100))));
        assert_eq!(options.max_commit_time, Some(Duration::from_millis(500)));
        assert!(transaction_options(&doc! { "readPreference": { "mode": "primary" }, "readConcern": null }).is_ok());
        for refused in [
            doc! { "readPreference": "secondary" },
            doc! { "timeoutMS": 5 },
            doc! { "maxCommitTimeMS": -1 },
            doc! { "writeConcern": { "w": [] } },
        ] {
            assert!(matches!(transaction_options(&refused), Err(Error::InvalidArgument(_))), "{refused}");
        }
    }

    #[test]
    fn session_options_are_read_or_refused() {
        let options = session_options(&doc! { "causalConsistency": false, "snapshot": null }).unwrap();
        assert_eq!((options.causal_consistency, options.snapshot), (Some(false), None));
        assert!(session_options(&doc! { "defaultTransactionOptions": {} }).is_err());
        assert!(session_options(&doc! { "snapshot": "yes" }).is_err());
        assert!(session_options(&doc! { "defaultTimeoutMS": 5 }).is_err());
    }
}

//! Admission to a pool. The Rust driver hands out connections first come, first served, with no
//! wait-queue timeout, so one tenant's burst of slow queries can hold every connection of a shared
//! pool. Operations are admitted here first: at most the pool's size in flight (so the driver's queue
//! never forms), at most `per_db` for one database, and waiting operations are served round-robin
//! across databases, so a tenant with one waiting operation is not behind another's five hundred.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations in flight at once: the pool's size.
    pub capacity: usize,
    /// Operations in flight at once for one database.
    pub per_db: usize,
    /// How long an operation may wait for admission; `None` waits as long as it takes.
    pub wait_timeout: Option<Duration>,
}

impl Limits {
    /// Half the pool for one database unless configured otherwise: a database flooding slow queries
    /// leaves the other half to everyone else.
    pub fn default_per_db(capacity: usize) -> usize {
        capacity.div_ceil(2).max(1)
    }
}

pub struct Admission {
    limits: Limits,
    queues: Mutex<Queues>,
    /// Woken each time the last operation in flight ends.
    drained: Notify,
}

#[derive(Default)]
struct Queues {
    in_flight: usize,
    /// Databases with operations in flight or waiting; removed once they have neither.
    tenants: HashMap<Arc<str>, Tenant>,
    /// The databases with waiting operations, in the order they are served.
    turns: VecDeque<Arc<str>>,
    next_ticket: u64,
}

#[derive(Default)]
struct Tenant {
    in_flight: usize,
    waiting: VecDeque<(u64, oneshot::Sender<Permit>)>,
}

/// Operations in flight and waiting for their turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbLoad {
    pub in_flight: usize,
    pub waiting: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Load {
    pub in_flight: usize,
    pub waiting: usize,
    pub databases: HashMap<Arc<str>, DbLoad>,
}

/// One admitted operation; admits the next waiting one when dropped.
pub struct Permit {
    admission: Arc<Admission>,
    db: Arc<str>,
    /// False for a permit its waiter gave up on before it arrived: it was never counted as in flight.
    counted: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.counted {
            self.admission.release(&self.db);
        }
    }
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Admission { limits, queues: Mutex::new(Queues::default()), drained: Notify::new() })
    }

    /// Operations in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Operations in flight and waiting now, in all and for each database that has any.
    pub fn load(&self) -> Load {
        let queues = self.lock();
        let databases: HashMap<Arc<str>, DbLoad> = queues
            .tenants
            .iter()
            .map(|(db, t)| (db.clone(), DbLoad { in_flight: t.in_flight, waiting: t.waiting.len() }))
            .collect();
        Load { in_flight: queues.in_flight, waiting: databases.values().map(|d| d.waiting).sum(), databases }
    }

    /// Admits an operation on `db`, at once when the pool and the database have room, else in turn.
    pub async fn admit(self: &Arc<Self>, db: Arc<str>) -> Result<Permit, Error> {
        let (ticket, mut granted) = {
            let mut queues = self.lock();
            let queues = &mut *queues;
            let has_room = queues.in_flight < self.limits.capacity;
            let tenant = queues.tenants.entry(db.clone()).or_default();
            if has_room && tenant.in_flight < self.limits.per_db && tenant.waiting.is_empty() {
                tenant.in_flight += 1;
                queues.in_flight += 1;
                return Ok(Permit { admission: self.clone(), db, counted: true });
            }
            let (sender, receiver) = oneshot::channel();
            let ticket = queues.next_ticket;
            queues.next_ticket += 1;
            if tenant.waiting.is_empty() {
                queues.turns.push_back(db.clone());
            }
            tenant.waiting.push_back((ticket, sender));
            (ticket, receiver)
        };
        let Some(limit) = self.limits.wait_timeout else {
            return granted.await.map_err(|_| Error::Closed);
        };
        match tokio::time::timeout(limit, &mut granted).await {
            Ok(permit) => permit.map_err(|_| Error::Closed),
            Err(_) if self.withdraw(&db, ticket) => Err(Error::WaitQueueTimeout {
                db: db.to_string(),
                waited: limit,
                capacity: self.limits.capacity,
                per_db: self.limits.per_db,
            }),
            // Admitted between the timeout and the withdrawal: the permit is in the channel.
            Err(_) => granted.await.map_err(|_| Error::Closed),
        }
    }

    /// Refuses everything waiting (with `Error::Closed`); what is in flight finishes.
    pub fn close(&self) {
        let mut queues = self.lock();
        queues.turns.clear();
        queues.tenants.retain(|_, tenant| {
            tenant.waiting.clear();
            tenant.in_flight > 0
        });
    }

    /// Waits until no operation is in flight, for at most `limit`; tells whether none is. (None in
    /// flight means none waiting either: the last to finish admits whoever waits.)
    pub async fn drained(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.drained.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Takes a waiter out of line; false when it was admitted first.
    fn withdraw(&self, db: &str, ticket: u64) -> bool {
        let mut queues = self.lock();
        let queues = &mut *queues;
        let Some(tenant) = queues.tenants.get_mut(db) else { return false };
        let Some(at) = tenant.waiting.iter().position(|(t, _)| *t == ticket) else { return false };
        tenant.waiting.remove(at);
        if tenant.waiting.is_empty() {
            queues.turns.retain(|turn| &**turn != db);
            if tenant.in_flight == 0 {
                queues.tenants.remove(db);
            }
        }
        true
    }

    fn release(self: &Arc<Self>, db: &str) {
        let mut queues = self.lock();
        queues.in_flight -= 1;
        if let Some(tenant) = queues.tenants.get_mut(db) {
            tenant.in_flight -= 1;
            if tenant.in_flight == 0 && tenant.waiting.is_empty() {
                queues.tenants.remove(db);
            }
        }
        self.dispatch(&mut queues);
        if queues.in_flight == 0 {
            self.drained.notify_waiters();
        }
    }

    /// Admits waiting operations while the pool has room, one database's turn at a time, skipping the
    /// databases at their own limit.
    fn dispatch(self: &Arc<Self>, queues: &mut Queues) {
        let mut passed = 0;
        while queues.in_flight < self.limits.capacity && passed < queues.turns.len() {
            let Some(db) = queues.turns.pop_front() else { break };
            let Some(tenant) = queues.tenants.get_mut(&db) else { continue };
            if tenant.in_flight >= self.limits.per_db {
                queues.turns.push_back(db);
                passed += 1;
                continue;
            }
            let Some((_, sender)) = tenant.waiting.pop_front() else { continue };
            tenant.in_flight += 1;
            queues.in_flight += 1;
            if let Err(mut unwanted) = sender.send(Permit { admission: self.clone(), db: db.clone(), counted: true }) {
                // Its waiter is gone (the operation was dropped): nobody will release this one.
                unwanted.counted = false;
                tenant.in_flight -= 1;
                queues.in_flight -= 1;
            }
            if !tenant.waiting.is_empty() {
                queues.turns.push_back(db);
            } else if tenant.in_flight == 0 {
                queues.tenants.remove(&db);
            }
            passed = 0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Counters and queues are updated together under the lock and never left half-changed by a panic.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(capacity: usize, per_db: usize, wait_ms: Option<u64>) -> Arc<Admission> {
        Admission::new(Limits { capacity, per_db, wait_timeout: wait_ms.map(Duration::from_millis) })
    }

    /// Starts an admission in the background, reporting the database it was for once admitted.
    fn waiter(
        admission: &Arc<Admission>,
        db: &'static str,
        order: &tokio::sync::mpsc::UnboundedSender<(&'static str, Permit)>,
    ) {
        let (admission, order) = (admission.clone(), order.clone());
        tokio::spawn(async move {
            let permit = admission.admit(db.into()).await.unwrap();
            order.send((db, permit)).unwrap();
        });
    }

    #[tokio::test]
    async fn one_database_cannot_take_the_whole_pool() {
        let admission = admission(4, 2, Some(20));
        let a1 = admission.admit("a".into()).await.unwrap();
        let _a2 = admission.admit("a".into()).await.unwrap();
        let err = admission.admit("a".into()).await.err().unwrap();
        assert!(matches!(err, Error::WaitQueueTimeout { ref db, capacity: 4, per_db: 2, .. } if db == "a"));
        let _b = admission.admit("b".into()).await.unwrap();
        assert_eq!(admission.in_flight(), 3);
        let load = admission.load();
        assert_eq!(
            (load.in_flight, load.waiting, load.databases["a"].in_flight, load.databases["b"].in_flight),
            (3, 0, 2, 1)
        );
        drop(a1);
        let _a3 = admission.admit("a".into()).await.unwrap();
        assert_eq!(admission.in_flight(), 3);
    }

    #[tokio::test]
    async fn waiting_databases_take_turns() {
        let admission = admission(1, 1, None);
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let first = admission.admit("flood".into()).await.unwrap();
        for _ in 0..5 {
            waiter(&admission, "flood", &order_tx);
        }
        tokio::task::yield_now().await;
        waiter(&admission, "light", &order_tx);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let load = admission.load();
        assert_eq!(
            (load.in_flight, load.waiting, load.databases["flood"].waiting, load.databases["light"].waiting),
            (1, 6, 5, 1)
        );
        drop(first);
        let mut served = Vec::new();
        for _ in 0..6 {
            let (db, permit) = order.recv().await.unwrap();
            served.push(db);
            drop(permit);
        }
        // The light tenant's one operation goes second, not after the flood's five.
        assert_eq!(served, ["flood", "light", "flood", "flood", "flood", "flood"]);
        assert_eq!(admission.in_flight(), 0);
        assert!(admission.lock().tenants.is_empty() && admission.lock().turns.is_empty());
    }

    #[tokio::test]
    async fn a_timed_out_or_dropped_waiter_leaves_no_trace() {
        let admission = admission(1, 1, Some(10));
        let held = admission.admit("a".into()).await.unwrap();
        assert!(admission.admit("b".into()).await.is_err());
        let dropped = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit("c".into()).await.map(drop) }
        });
        tokio::task::yield_now().await;
        dropped.abort();
        let _ = dropped.await;
        drop(held);
        assert_eq!(admission.in_flight(), 0);
        assert!(admission.drained(Duration::from_millis(10)).await);
        let _again = admission.admit("b".into()).await.unwrap();
    }

    #[tokio::test]
    async fn close_refuses_the_waiting_and_drained_waits_for_the_rest() {
        let admission = admission(1, 1, None);
        let held = admission.admit("a".into()).await.unwrap();
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit("b".into()).await.map(drop) }
        });
        tokio::task::yield_now().await;
        admission.close();
        assert!(matches!(waiting.await.unwrap(), Err(Error::Closed)));
        assert!(!admission.drained(Duration::from_millis(10)).await);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(held);
        });
        assert!(admission.drained(Duration::from_secs(5)).await);
    }
}

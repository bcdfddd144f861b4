//! Admission to a pool. The Rust driver hands out connections first come, first served, with no
//! wait-queue timeout, so one tenant's burst of slow queries can hold every connection of a shared
//! pool. Operations are admitted here first: at most the pool's size in flight (so the driver's queue
//! never forms), at most a database's own limit for one database, and waiting operations are served
//! round-robin across databases, so a tenant with one waiting operation is not behind another's five
//! hundred.
//!
//! On a shared pool a database's limit adapts, as AIMD congestion control (TCP's) and adaptive
//! concurrency limiters do. A database that starts using the pool while operations have waited for
//! it in the last `GROW_AFTER` starts at `Limits::min_per_db` and gains one place per completed
//! operation (slow start) up to `per_db`; on a pool nobody waited for, it starts at `per_db`. When
//! one of its operations takes more than `SLOW_FACTOR` times the pool's typical service time while
//! other databases wait for the full pool, its limit halves, at most once per round of operations,
//! down to the minimum: its slow queries now hold fewer connections and less of the server's CPU.
//! Once `GROW_AFTER` has passed without that, it grows back by one place per round (`1 / limit` per
//! completion).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::sync::{oneshot, Mutex, MutexGuard};

/// An operation this many times slower than the pool's typical one, while others wait, is a sign
/// that its database is hogging the pool or the server.
const SLOW_FACTOR: f64 = 4.0;
/// A database's limit is multiplied by this on such a sign.
const DECREASE: f64 = 0.5;
/// How long a database's limit stays down after its last decrease before it grows again.
const GROW_AFTER: Duration = Duration::from_secs(1);
/// Weight of the newest sample in the pool's typical service time (an exponentially weighted
/// moving average, over about the last 20 operations).
const TYPICAL_WEIGHT: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations in flight at once: the pool's size.
    pub capacity: usize,
    /// Operations in flight at once for one database: the ceiling of its adaptive limit.
    pub per_db: usize,
    /// How long an operation may wait for admission; `None` waits as long as it takes.
    pub wait_timeout: Option<Duration>,
    /// Whether databases' limits adapt (a shared pool); else each may always use `per_db` (a pool of
    /// one database's own).
    pub adaptive: bool,
}

impl Limits {
    /// Half the pool for one database unless configured otherwise: a database flooding slow queries
    /// leaves the other half to everyone else.
    pub fn default_per_db(capacity: usize) -> usize {
        capacity.div_ceil(2).max(1)
    }

    /// Where an adaptive limit starts and how low it goes: a tenth of the pool, at least one.
    pub fn min_per_db(&self) -> usize {
        (self.capacity / 10).clamp(1, self.per_db.max(1))
    }

    /// Where a database's limit starts: small while others have just waited for the pool (they are
    /// the ones slow start protects), else the whole share.
    fn start(&self, contended: bool) -> f64 {
        if self.adaptive && contended {
            self.min_per_db() as f64
        } else {
            self.per_db as f64
        }
    }
}

pub struct Admission {
    limits: Limits,
    queues: Mutex<Queues>,
}

#[derive(Default)]
struct Queues {
    in_flight: usize,
    /// Databases with operations in flight or waiting; removed once they have neither.
    tenants: HashMap<Arc<str>, Tenant>,
    /// The databases with waiting operations, in the order they are served.
    turns: VecDeque<Arc<str>>,
    next_ticket: u64,
    /// The pool's typical service time in seconds, admission to completion; `None` before the first.
    typical: Option<f64>,
    /// When an operation last had to wait because the pool was full with other databases' operations.
    contended: Option<Instant>,
    /// Told when the last operation in flight ends (`Admission::drained`).
    drain_waiters: Vec<oneshot::Sender<()>>,
}

impl Queues {
    fn recently_contended(&self) -> bool {
        self.contended.is_some_and(|at| at.elapsed() < GROW_AFTER)
    }
}

struct Tenant {
    in_flight: usize,
    waiting: VecDeque<(u64, oneshot::Sender<Permit>)>,
    /// Operations this database may have in flight now, between `min_per_db` and `per_db`.
    limit: f64,
    /// When its limit last decreased; `None` while in slow start.
    decreased: Option<Instant>,
}

impl Tenant {
    fn new(limits: &Limits, contended: bool) -> Self {
        Tenant { in_flight: 0, waiting: VecDeque::new(), limit: limits.start(contended), decreased: None }
    }

    fn has_room(&self) -> bool {
        self.in_flight < self.allowed()
    }

    fn allowed(&self) -> usize {
        (self.limit as usize).max(1)
    }

    /// Adapts the limit to one of its operations, admitted at `started` and done `now`.
    fn adapt(&mut self, limits: &Limits, started: Instant, now: Instant, typical: Option<f64>, others_wait: bool) {
        let (min, max) = (limits.min_per_db() as f64, limits.per_db as f64);
        let service = now.duration_since(started).as_secs_f64();
        let slow = typical.is_some_and(|typical| service > SLOW_FACTOR * typical);
        match self.decreased {
            // Operations admitted before the last decrease were judged in it already (TCP's rule of
            // one decrease per window).
            _ if slow && others_wait => {
                if self.decreased.is_none_or(|at| started >= at) {
                    self.limit = (self.limit * DECREASE).max(min);
                    self.decreased = Some(now);
                }
            }
            None => self.limit = (self.limit + 1.0).min(max),
            Some(at) if now.duration_since(at) >= GROW_AFTER => self.limit = (self.limit + 1.0 / self.limit).min(max),
            Some(_) => {}
        }
    }
}

/// A database's operations in flight and waiting for their turn, and how many it may have in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbLoad {
    pub in_flight: usize,
    pub waiting: usize,
    /// Its adaptive limit now (see the module's documentation).
    pub limit: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Load {
    pub in_flight: usize,
    pub waiting: usize,
    pub databases: HashMap<Arc<str>, DbLoad>,
    /// The limit of a database with no operation in flight or waiting: where it starts.
    pub start_limit: usize,
}

/// One admitted operation; admits the next waiting one when dropped.
pub struct Permit {
    admission: Arc<Admission>,
    db: Arc<str>,
    started: Instant,
    /// False for a permit its waiter gave up on before it arrived: it was never counted as in flight.
    counted: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.counted {
            self.admission.release(&self.db, self.started);
        }
    }
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Admission { limits, queues: Mutex::new(Queues::default()) })
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
            .map(|(db, t)| {
                (db.clone(), DbLoad { in_flight: t.in_flight, waiting: t.waiting.len(), limit: t.allowed() })
            })
            .collect();
        let waiting = databases.values().map(|d| d.waiting).sum();
        let start_limit = self.limits.start(queues.recently_contended()) as usize;
        Load { in_flight: queues.in_flight, waiting, databases, start_limit }
    }

    /// Admits an operation on `db`, at once when the pool and the database have room, else in turn.
    /// Errors: `Error::WaitQueueTimeout` after `wait_timeout`, `Error::Closed` once closed.
    pub async fn admit(self: &Arc<Self>, db: Arc<str>) -> Result<Permit, Error> {
        let (ticket, mut granted) = {
            let mut queues = self.lock();
            let queues = &mut *queues;
            let pool_has_room = queues.in_flight < self.limits.capacity;
            // Contention is between databases: one database queueing behind its own operations is not.
            let others = queues.tenants.len() > usize::from(queues.tenants.contains_key(&db));
            if !pool_has_room && others {
                queues.contended = Some(Instant::now());
            }
            let contended = queues.recently_contended();
            let tenant = queues.tenants.entry(db.clone()).or_insert_with(|| Tenant::new(&self.limits, contended));
            if pool_has_room && tenant.has_room() && tenant.waiting.is_empty() {
                tenant.in_flight += 1;
                queues.in_flight += 1;
                return Ok(self.permit(db));
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
        let Some(wait) = self.limits.wait_timeout else {
            return granted.await.map_err(|_| Error::Closed);
        };
        match tokio::time::timeout(wait, &mut granted).await {
            Ok(permit) => permit.map_err(|_| Error::Closed),
            Err(_) => match self.withdraw(&db, ticket) {
                Some(per_db) => Err(Error::WaitQueueTimeout {
                    db: db.to_string(),
                    waited: wait,
                    capacity: self.limits.capacity,
                    per_db,
                }),
                // Admitted between the timeout and the withdrawal: the permit is in the channel.
                None => granted.await.map_err(|_| Error::Closed),
            },
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
        match self.when_drained() {
            None => true,
            Some(drained) => tokio::time::timeout(limit, drained).await.is_ok(),
        }
    }

    /// `None` when no operation is in flight, else a channel told when none is (or closed, should the
    /// admission itself go).
    fn when_drained(&self) -> Option<oneshot::Receiver<()>> {
        let mut queues = self.lock();
        if queues.in_flight == 0 {
            return None;
        }
        let (sender, receiver) = oneshot::channel();
        queues.drain_waiters.push(sender);
        Some(receiver)
    }

    fn permit(self: &Arc<Self>, db: Arc<str>) -> Permit {
        Permit { admission: self.clone(), db, started: Instant::now(), counted: true }
    }

    /// Takes a waiter out of line and tells its database's limit now; `None` when it was admitted first.
    fn withdraw(&self, db: &str, ticket: u64) -> Option<usize> {
        let mut queues = self.lock();
        let queues = &mut *queues;
        let tenant = queues.tenants.get_mut(db)?;
        let at = tenant.waiting.iter().position(|(t, _)| *t == ticket)?;
        tenant.waiting.remove(at);
        let limit = tenant.allowed();
        if tenant.waiting.is_empty() {
            queues.turns.retain(|turn| &**turn != db);
            if tenant.in_flight == 0 {
                queues.tenants.remove(db);
            }
        }
        Some(limit)
    }

    fn release(self: &Arc<Self>, db: &str, started: Instant) {
        let now = Instant::now();
        let service = now.duration_since(started).as_secs_f64();
        let mut queues = self.lock();
        let queues = &mut *queues;
        let pool_was_full = queues.in_flight >= self.limits.capacity;
        queues.in_flight -= 1;
        if let Some(tenant) = queues.tenants.get_mut(db) {
            tenant.in_flight -= 1;
            if self.limits.adaptive {
                // Waiting for the full pool, not for their own limit; a database is in `turns` exactly
                // when it has waiting operations.
                let others_wait = pool_was_full && queues.turns.len() > usize::from(!tenant.waiting.is_empty());
                tenant.adapt(&self.limits, started, now, queues.typical, others_wait);
            }
            if tenant.in_flight == 0 && tenant.waiting.is_empty() {
                queues.tenants.remove(db);
            }
        }
        queues.typical = Some(queues.typical.map_or(service, |t| t + TYPICAL_WEIGHT * (service - t)));
        self.dispatch(queues);
        if queues.in_flight == 0 {
            for waiter in queues.drain_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Admits waiting operations while the pool has room, one database's turn at a time, skipping the
    /// databases at their own limit.
    fn dispatch(self: &Arc<Self>, queues: &mut Queues) {
        let mut passed = 0;
        while queues.in_flight < self.limits.capacity && passed < queues.turns.len() {
            let Some(db) = queues.turns.pop_front() else { break };
            let Some(tenant) = queues.tenants.get_mut(&db) else { continue };
            if !tenant.has_room() {
                queues.turns.push_back(db);
                passed += 1;
                continue;
            }
            let Some((_, sender)) = tenant.waiting.pop_front() else { continue };
            tenant.in_flight += 1;
            queues.in_flight += 1;
            if let Err(mut unwanted) = sender.send(self.permit(db.clone())) {
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

    /// For tests: nothing in flight and nothing left queued, for any database.
    #[cfg(test)]
    fn assert_idle(&self) {
        let queues = self.lock();
        assert_eq!(queues.in_flight, 0);
        assert!(queues.tenants.is_empty() && queues.turns.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool with fixed limits per database, as a dedicated pool has.
    fn admission(capacity: usize, per_db: usize, wait_ms: Option<u64>) -> Arc<Admission> {
        Admission::new(Limits { capacity, per_db, wait_timeout: wait_ms.map(Duration::from_millis), adaptive: false })
    }

    fn adaptive(capacity: usize, per_db: usize) -> Arc<Admission> {
        Admission::new(Limits { capacity, per_db, wait_timeout: None, adaptive: true })
    }

    /// Completes `n` operations of `ms` each on `db`, one after another.
    async fn run(admission: &Arc<Admission>, db: &str, n: usize, ms: u64) {
        for _ in 0..n {
            let permit = admission.admit(db.into()).await.unwrap();
            tokio::time::advance(Duration::from_millis(ms)).await;
            drop(permit);
        }
    }

    /// Makes an operation wait for the full pool, so that databases new to it start small.
    async fn contend(admission: &Arc<Admission>) {
        let mut held = Vec::new();
        for i in 0..admission.limits.capacity {
            held.push(admission.admit(format!("filler{}", i / admission.limits.per_db).into()).await.unwrap());
        }
        let late = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit("late".into()).await.map(drop) }
        });
        settle(admission, 1).await;
        drop(held);
        late.await.unwrap().unwrap();
    }

    /// Lets spawned waiters run until `waiting` operations wait.
    async fn settle(admission: &Admission, waiting: usize) {
        while admission.load().waiting < waiting {
            tokio::task::yield_now().await;
        }
    }

    fn limit(admission: &Admission, db: &str) -> usize {
        admission.load().databases[db].limit
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
        admission.assert_idle();
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

    #[tokio::test(start_paused = true)]
    async fn a_new_database_starts_small_on_a_contended_pool_and_doubles_its_limit_each_round() {
        let admission = adaptive(20, 6);
        assert_eq!(admission.load().start_limit, 6);
        contend(&admission).await;
        assert_eq!(admission.load().start_limit, 2);
        let mut held = vec![admission.admit("a".into()).await.unwrap(), admission.admit("a".into()).await.unwrap()];
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..10 {
            waiter(&admission, "a", &order_tx);
        }
        settle(&admission, 10).await;
        assert_eq!(admission.load().databases["a"], DbLoad { in_flight: 2, waiting: 10, limit: 2 });
        // Each completion adds one place: 2 in flight become 4, then 6, the ceiling.
        held.clear();
        for _ in 0..4 {
            held.push(order.recv().await.unwrap().1);
        }
        assert_eq!(admission.load().databases["a"], DbLoad { in_flight: 4, waiting: 6, limit: 4 });
        held.clear();
        for _ in 0..6 {
            held.push(order.recv().await.unwrap().1);
        }
        assert_eq!(admission.load().databases["a"], DbLoad { in_flight: 6, waiting: 0, limit: 6 });
        // Nobody has waited for the pool for GROW_AFTER: a new database starts with its whole share.
        tokio::time::advance(GROW_AFTER).await;
        assert_eq!(admission.load().start_limit, 6);
        // A pool of one database's own is not adaptive: all of `per_db` at once.
        let fixed = self::admission(4, 4, None);
        let mut all = Vec::new();
        for _ in 0..4 {
            all.push(fixed.admit("a".into()).await.unwrap());
        }
        assert_eq!(fixed.load().databases["a"], DbLoad { in_flight: 4, waiting: 0, limit: 4 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_database_queueing_behind_its_own_operations_is_no_contention() {
        let admission = adaptive(4, 4);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(admission.admit("a".into()).await.unwrap());
        }
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        waiter(&admission, "a", &order_tx);
        settle(&admission, 1).await;
        held.clear();
        drop(order.recv().await.unwrap());
        // Alone on the pool, its next burst starts with its whole share again.
        assert_eq!(admission.load().start_limit, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_database_shrinks_while_others_wait_and_grows_back_when_they_stop() {
        let admission = adaptive(6, 5);
        run(&admission, "light", 30, 1).await;
        // Nobody has waited for the pool: the flood starts with its whole share.
        let mut flood = Vec::new();
        for _ in 0..5 {
            flood.push(admission.admit("flood".into()).await.unwrap());
        }
        assert_eq!(limit(&admission, "flood"), 5);
        // Another database takes the sixth place and a third waits for one.
        let other = admission.admit("other".into()).await.unwrap();
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        waiter(&admission, "third", &order_tx);
        for _ in 0..3 {
            waiter(&admission, "flood", &order_tx);
        }
        settle(&admission, 4).await;
        tokio::time::advance(Duration::from_millis(100)).await;
        // A flood operation 50× slower than typical completes while "third" waits for the full pool:
        // the limit halves, once for all the operations admitted before the decrease.
        drop(flood.pop());
        assert_eq!(limit(&admission, "flood"), 2);
        let (db, third) = order.recv().await.unwrap();
        assert_eq!(db, "third");
        drop(flood.pop());
        drop(flood.pop());
        assert_eq!(admission.load().databases["flood"], DbLoad { in_flight: 2, waiting: 3, limit: 2 });
        drop((other, third));
        // Within GROW_AFTER of the decrease the limit (2.5) stays; after it, it grows by 1/limit per
        // completion (2.9, 3.24) now that nobody else waits.
        drop(flood.pop());
        let (_, a) = order.recv().await.unwrap();
        assert_eq!(limit(&admission, "flood"), 2);
        tokio::time::advance(GROW_AFTER).await;
        drop(flood.pop());
        let (_, b) = order.recv().await.unwrap();
        assert_eq!(limit(&admission, "flood"), 2);
        drop(a);
        assert_eq!(limit(&admission, "flood"), 3);
        let (_, c) = order.recv().await.unwrap();
        drop((b, c));
        assert_eq!(admission.in_flight(), 0);
    }

    #[test]
    fn a_limit_decreases_once_per_round_and_never_below_the_minimum() {
        let limits = Limits { capacity: 20, per_db: 10, wait_timeout: None, adaptive: true };
        let mut tenant = Tenant::new(&limits, true);
        tenant.limit = 8.0;
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        // 10 ms against a typical 1 ms, with others waiting: halved.
        tenant.adapt(&limits, t0, t0 + ms(10), Some(0.001), true);
        assert_eq!(tenant.allowed(), 4);
        // Admitted before that decrease: already judged.
        tenant.adapt(&limits, t0, t0 + ms(11), Some(0.001), true);
        assert_eq!(tenant.allowed(), 4);
        // Slow, but nobody else waits; or others wait, but it was not slow: no decrease.
        tenant.adapt(&limits, t0 + ms(10), t0 + ms(20), Some(0.001), false);
        tenant.adapt(&limits, t0 + ms(20), t0 + ms(22), Some(0.001), true);
        assert_eq!(tenant.allowed(), 4);
        for round in 1..=5 {
            let started = t0 + ms(20 * round);
            tenant.adapt(&limits, started, started + ms(10), Some(0.001), true);
        }
        assert_eq!((tenant.allowed(), limits.min_per_db()), (2, 2));
    }

    /// 1,000 operations at a time over 10,000 databases on 4 threads, some dropped while waiting:
    /// every admitted operation stays within the pool and its database's ceiling, every wait ends
    /// (the waits have no timeout of their own), and nothing is left behind; with fixed and adaptive
    /// limits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_databases_and_operations_at_once_leave_nothing_behind() {
        for adaptive in [false, true] {
            stress(Admission::new(Limits { capacity: 50, per_db: 25, wait_timeout: None, adaptive })).await;
        }
    }

    async fn stress(admission: Arc<Admission>) {
        let over = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        let run = async {
            for i in 0..20_000u64 {
                // Rounds of 1,000 over 3 databases, where their ceiling binds, alternate with rounds
                // over 10,000, where the pool's does.
                let db: Arc<str> = format!("db{}", if i / 1_000 % 2 == 0 { i % 3 } else { i * 7919 % 10_000 }).into();
                let (admission, over) = (admission.clone(), over.clone());
                tasks.spawn(async move {
                    let admit = admission.admit(db.clone());
                    let permit = if i % 11 == 0 {
                        // Dropped while it may still wait.
                        match tokio::time::timeout(Duration::from_micros(i % 500), admit).await {
                            Ok(permit) => permit,
                            Err(_) => return,
                        }
                    } else {
                        admit.await
                    };
                    let Ok(permit) = permit else { return };
                    let load = admission.load();
                    let own = load.databases.get(&db).copied().unwrap_or_default();
                    if load.in_flight > 50 || own.in_flight > 25 {
                        over.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_micros(i % 4 * 1_000)).await;
                    drop(permit);
                });
                if tasks.len() >= 1_000 {
                    tasks.join_next().await.unwrap().unwrap();
                }
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("a wait never ended");
        assert!(!over.load(std::sync::atomic::Ordering::Relaxed));
        admission.assert_idle();
    }
}

/// loom models of the hand-overs between operations (`cargo test --release -p polymongo-engine
/// --features loom --lib loom_models`, run by `npm test`): loom runs each model under every
/// interleaving of its threads up to a bound of preemptions, on loom's locks and channels
/// (`crate::sync`). A wake-up lost anywhere leaves a thread blocked forever, which loom reports.
#[cfg(all(test, feature = "loom"))]
mod loom_models {
    use futures_util::FutureExt;
    use loom::future::block_on;
    use loom::thread;

    use super::*;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(f);
    }

    fn admission(capacity: usize, adaptive: bool) -> Arc<Admission> {
        Admission::new(Limits { capacity, per_db: 1, wait_timeout: None, adaptive })
    }

    /// Runs `f` on a loom thread of its own with a handle on `admission`.
    fn spawn(admission: &Arc<Admission>, f: impl FnOnce(Arc<Admission>) + Send + 'static) -> thread::JoinHandle<()> {
        let admission = admission.clone();
        thread::spawn(move || f(admission))
    }

    /// Two databases and one place: every operation is admitted once the one before it ends.
    #[test]
    fn operations_waiting_for_the_one_place_are_all_admitted() {
        model(|| {
            let admission = admission(1, false);
            let others: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|db| spawn(&admission, move |admission| drop(block_on(admission.admit(db.into())).unwrap())))
                .collect();
            drop(block_on(admission.admit("a".into())).unwrap());
            for other in others {
                other.join().unwrap();
            }
            admission.assert_idle();
        });
    }

    /// A waiter that gives up while the place is being handed to it loses nothing: the place goes
    /// to the next operation, and nothing stays counted in flight.
    #[test]
    fn a_waiter_giving_up_as_it_is_admitted_leaves_the_place_free() {
        model(|| {
            let admission = admission(1, true);
            let held = block_on(admission.admit("a".into())).unwrap();
            // Polled once (admitted at once, or waiting), then dropped.
            let quitter = spawn(&admission, |admission| drop(admission.admit("b".into()).now_or_never()));
            drop(held);
            quitter.join().unwrap();
            let next = admission.admit("c".into()).now_or_never().expect("the place is free").unwrap();
            drop(next);
            admission.assert_idle();
        });
    }

    /// Closing while operations wait: each waiter is admitted or refused, none is left waiting.
    #[test]
    fn close_leaves_no_waiter_behind() {
        model(|| {
            let admission = admission(1, false);
            let held = block_on(admission.admit("a".into())).unwrap();
            let waiter = spawn(&admission, |admission| match block_on(admission.admit("b".into())) {
                Ok(permit) => drop(permit),
                Err(e) => assert!(matches!(e, Error::Closed)),
            });
            let closer = spawn(&admission, |admission| admission.close());
            drop(held);
            waiter.join().unwrap();
            closer.join().unwrap();
            admission.assert_idle();
        });
    }

    /// Waiting for the operations in flight to end (closing a pool) always ends.
    #[test]
    fn waiting_for_the_last_operation_ends() {
        model(|| {
            let admission = admission(2, false);
            let permit = block_on(admission.admit("a".into())).unwrap();
            let operation = thread::spawn(move || drop(permit));
            if let Some(drained) = admission.when_drained() {
                block_on(drained).unwrap();
            }
            assert_eq!(admission.in_flight(), 0);
            operation.join().unwrap();
        });
    }
}

//! Limits on the pools open at once: `maxOpenPools` dedicated pools, and `maxTotalConnections` for the
//! sum of the open pools' sizes (the figure that must stay under a deployment's connection limit).
//! A pool about to open takes its place here first, closing the least recently used idle pools to
//! make room, else waiting for one to become idle.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::cluster::{Cluster, Idleness};
use crate::error::Error;
use crate::events::{PoolKind, Reason};
use crate::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetLimits {
    pub max_open_pools: Option<usize>,
    pub max_total_connections: Option<u32>,
    /// How long opening a pool may wait for room; `None` waits as long as it takes.
    pub wait_timeout: Option<Duration>,
}

/// Why a pool does not fit yet.
enum Full {
    /// This idle pool closes to make room.
    Evict(Arc<Cluster>),
    /// Wait for a pool to close or turn idle; at most this long, when one will turn idle by itself then.
    Wait(Option<Duration>),
}

pub struct Budget {
    limits: BudgetLimits,
    /// The pools open or opening. Weak, so a pool dropped with its wrapper is not kept alive here.
    open: Mutex<Vec<Weak<Cluster>>>,
    /// Woken when a pool closes or becomes idle: a waiting pool may find room.
    freed: Notify,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Arc<Self> {
        Arc::new(Budget { limits, open: Mutex::new(Vec::new()), freed: Notify::new() })
    }

    /// Counts `cluster` as open, once there is room for it.
    pub async fn reserve(&self, cluster: &Arc<Cluster>) -> Result<(), Error> {
        if self.limits.max_open_pools.is_none() && self.limits.max_total_connections.is_none() {
            return Ok(());
        }
        let wait = async {
            loop {
                let freed = self.freed.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                match self.make_room(cluster) {
                    Ok(()) => return,
                    Err(Full::Evict(victim)) => victim.evict_if_idle(Duration::ZERO, Reason::Evicted).await,
                    Err(Full::Wait(None)) => freed.await,
                    // A pool whose only use is paused cursors turns idle then, telling nobody.
                    Err(Full::Wait(Some(idle_after))) => {
                        let _ = tokio::time::timeout(idle_after, freed).await;
                    }
                }
            }
        };
        match self.limits.wait_timeout {
            None => {
                wait.await;
                Ok(())
            }
            Some(limit) => tokio::time::timeout(limit, wait).await.map_err(|_| Error::PoolLimit {
                db: cluster.name().to_owned(),
                limit: self.describe(),
                waited: limit,
            }),
        }
    }

    /// No longer counts `cluster` as open, and wakes the pools waiting for room.
    pub fn release(&self, cluster: &Cluster) {
        self.lock().retain(|open| !std::ptr::eq(open.as_ptr(), cluster));
        self.freed.notify_waiters();
    }

    /// Wakes the pools waiting for room: one may now close an idle pool.
    pub fn idle(&self) {
        self.freed.notify_waiters();
    }

    /// Counts `cluster` as open if it fits; else names the least recently used idle pool to close, or
    /// how long until one may be idle.
    fn make_room(&self, cluster: &Arc<Cluster>) -> Result<(), Full> {
        // Lock order: this list, then a cluster's state (`idleness`); a cluster never calls in here
        // while holding its state.
        let mut open = self.lock();
        let pools: Vec<Arc<Cluster>> = open.iter().filter_map(Weak::upgrade).collect();
        if pools.iter().any(|pool| Arc::ptr_eq(pool, cluster)) {
            return Ok(());
        }
        let dedicated = |pool: &&Arc<Cluster>| pool.kind() == PoolKind::Dedicated;
        let own_pool = usize::from(cluster.kind() == PoolKind::Dedicated);
        let too_many = self
            .limits
            .max_open_pools
            .is_some_and(|max| own_pool > 0 && pools.iter().filter(dedicated).count() + 1 > max);
        let total: u32 = pools.iter().map(|pool| pool.max_size()).sum::<u32>() + cluster.max_size();
        let too_large = self.limits.max_total_connections.is_some_and(|max| total > max);
        if !too_many && !too_large {
            *open = pools.iter().map(Arc::downgrade).chain([Arc::downgrade(cluster)]).collect();
            return Ok(());
        }
        // Each pool's state read once: the least recently used idle pool, else the first to turn idle.
        let idleness: Vec<_> =
            pools.iter().filter(dedicated).filter_map(|pool| Some((pool.idleness()?, pool))).collect();
        let least_recently_used = idleness
            .iter()
            .filter_map(|(idleness, pool)| match idleness {
                Idleness::For(idle) => Some((*idle, *pool)),
                Idleness::In(_) => None,
            })
            .max_by_key(|(idle, _)| *idle);
        let first_idle = idleness.iter().filter_map(|(idleness, _)| match idleness {
            Idleness::In(after) => Some(*after),
            Idleness::For(_) => None,
        });
        match least_recently_used {
            Some((_, pool)) => Err(Full::Evict(pool.clone())),
            None => Err(Full::Wait(first_idle.min())),
        }
    }

    fn describe(&self) -> String {
        let mut limits = Vec::new();
        if let Some(max) = self.limits.max_open_pools {
            limits.push(format!("maxOpenPools ({max})"));
        }
        if let Some(max) = self.limits.max_total_connections {
            limits.push(format!("maxTotalConnections ({max})"));
        }
        limits.join(" or ")
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Cluster>>> {
        // A list replaced whole under the lock: a panic elsewhere cannot leave it torn.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

//! A pool's connections as the driver reports them through its CMAP events: what `stats` and the
//! Prometheus gauges show is what the driver did, not an estimate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mongodb::event::cmap::CmapEvent;
use mongodb::event::EventHandler;

/// Running totals of the driver's connection events, summed over the servers of one client and kept
/// across the client's reopenings. Gauges are differences of totals, so events arriving in any order
/// never leave them stuck.
#[derive(Debug, Default)]
pub struct PoolCounters {
    created: AtomicU64,
    closed: AtomicU64,
    checkouts_started: AtomicU64,
    checked_out: AtomicU64,
    checked_in: AtomicU64,
    checkouts_failed: AtomicU64,
}

/// A pool's connections at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (or being established).
    pub open: u64,
    pub in_use: u64,
    pub available: u64,
    /// Checkouts started and not yet served or failed.
    pub pending_checkouts: u64,
    pub created_total: u64,
    pub closed_total: u64,
    pub checkout_failures: u64,
}

impl PoolCounters {
    /// The driver's CMAP handler that feeds these counters.
    pub fn handler(self: &Arc<Self>) -> EventHandler<CmapEvent> {
        let counters = self.clone();
        EventHandler::callback(move |event| counters.count(&event))
    }

    fn count(&self, event: &CmapEvent) {
        let total = match event {
            CmapEvent::ConnectionCreated(_) => &self.created,
            CmapEvent::ConnectionClosed(_) => &self.closed,
            CmapEvent::ConnectionCheckoutStarted(_) => &self.checkouts_started,
            CmapEvent::ConnectionCheckedOut(_) => &self.checked_out,
            CmapEvent::ConnectionCheckedIn(_) => &self.checked_in,
            CmapEvent::ConnectionCheckoutFailed(_) => &self.checkouts_failed,
            _ => return,
        };
        total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PoolStats {
        let load = |total: &AtomicU64| total.load(Ordering::Relaxed);
        let (created, closed) = (load(&self.created), load(&self.closed));
        let (started, out, back, failed) = (
            load(&self.checkouts_started),
            load(&self.checked_out),
            load(&self.checked_in),
            load(&self.checkouts_failed),
        );
        let open = created.saturating_sub(closed);
        let in_use = out.saturating_sub(back).min(open);
        PoolStats {
            open,
            in_use,
            available: open - in_use,
            pending_checkouts: started.saturating_sub(out + failed),
            created_total: created,
            closed_total: closed,
            checkout_failures: failed,
        }
    }
}

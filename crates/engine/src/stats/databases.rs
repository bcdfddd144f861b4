//! Per-database operation metrics: counts, errors, last use and a latency histogram. A database costs
//! at most a couple of kilobytes, whatever its traffic: the histogram only grows to cover the slowest
//! latency it saw, and stops at an hour.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::sync::{Mutex, RwLock};

/// One significant digit: latencies within 1/16 (6.25%), in microseconds; two would cost 5× the memory
/// per database, which matters at 10,000 tenants.
const SIGNIFICANT_DIGITS: u8 = 1;
/// Latencies are told apart in steps of 16 µs below 512 µs (no server round trip is shorter than a
/// few steps), which spares the histogram the 4 finest of its buckets: about 250 bytes per database.
const LOWEST_DISCERNIBLE_US: u64 = 16;
/// Latencies longer than an hour are counted as an hour, which bounds a histogram's size.
const MAX_LATENCY_US: u64 = 3_600_000_000;

pub struct DbMetrics {
    ops: AtomicU64,
    errors: AtomicU64,
    /// Milliseconds since the epoch of the last operation's end; 0 before the first.
    last_used_ms: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_us: Mutex<Histogram<u32>>,
    /// Whether the database has series of its own in the Prometheus text, or counts as `<other>`.
    pub labelled: bool,
}

/// An empty latency histogram that grows, one bucket at a time, to cover the slowest latency recorded.
fn new_histogram() -> Histogram<u32> {
    let mut histogram =
        Histogram::new_with_bounds(LOWEST_DISCERNIBLE_US, 2 * LOWEST_DISCERNIBLE_US, SIGNIFICANT_DIGITS)
            .expect("valid histogram bounds");
    histogram.auto(true);
    histogram
}

/// Latency percentiles of a database's operations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// One database's metrics at one moment.
#[derive(Debug, Clone)]
pub struct DbSnapshot {
    pub name: Arc<str>,
    pub ops: u64,
    pub errors: u64,
    pub last_used: Option<SystemTime>,
    pub latency: Option<Latency>,
}

impl DbMetrics {
    fn new(labelled: bool) -> Self {
        DbMetrics {
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_used_ms: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
            latency_us: Mutex::new(new_histogram()),
            labelled,
        }
    }

    /// Counts one operation that took `elapsed` and failed or not.
    pub fn record(&self, elapsed: Duration, ok: bool) {
        let micros = (elapsed.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        // An auto-resizing histogram only fails to record if usize cannot index it: never at this range.
        let _ = self.histogram().record(micros);
        self.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
        self.ops.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.last_used_ms.store(now.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn latency_sum(&self) -> Duration {
        Duration::from_micros(self.latency_sum_us.load(Ordering::Relaxed))
    }

    pub fn last_used(&self) -> Option<SystemTime> {
        match self.last_used_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// The latency histogram, in microseconds.
    pub fn histogram(&self) -> crate::sync::MutexGuard<'_, Histogram<u32>> {
        // A histogram is counts only: a panic elsewhere cannot leave it torn.
        self.latency_us.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn latency(&self) -> Option<Latency> {
        let histogram = self.histogram();
        if histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p95: ms(histogram.value_at_quantile(0.95)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        })
    }
}

/// The metrics of every database used through a wrapper.
pub struct Databases {
    map: RwLock<HashMap<Arc<str>, Arc<DbMetrics>>>,
    /// How many databases get series of their own in the Prometheus text; the first ones used do.
    max_labelled: usize,
    labelled: AtomicUsize,
}

impl Databases {
    pub fn new(max_labelled: usize) -> Self {
        Databases { map: RwLock::new(HashMap::new()), max_labelled, labelled: AtomicUsize::new(0) }
    }

    /// Runs one operation on `db`, counting it with its latency and whether `succeeded` says it did.
    pub async fn track<T, E>(
        &self,
        db: &str,
        op: impl Future<Output = Result<T, E>>,
        succeeded: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = op.await;
        self.get(db).record(started.elapsed(), succeeded(&result));
        result
    }

    /// The metrics of `db`, created on its first operation.
    pub fn get(&self, db: &str) -> Arc<DbMetrics> {
        if let Some(metrics) = self.read().get(db) {
            return metrics.clone();
        }
        let mut map = self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(Arc::from(db))
            .or_insert_with(|| {
                let labelled = self
                    .labelled
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < self.max_labelled).then_some(n + 1))
                    .is_ok();
                Arc::new(DbMetrics::new(labelled))
            })
            .clone()
    }

    /// The metrics of `db` if it has had an operation.
    pub fn find(&self, db: &str) -> Option<Arc<DbMetrics>> {
        self.read().get(db).cloned()
    }

    /// Every database with its metrics, in name order.
    pub fn all(&self) -> Vec<(Arc<str>, Arc<DbMetrics>)> {
        let mut all: Vec<_> = self.read().iter().map(|(name, m)| (name.clone(), m.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn read(&self) -> crate::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<DbMetrics>>> {
        // Entries are only ever added whole, so a panic elsewhere cannot leave the map torn.
        self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_operations_errors_and_latency() {
        let databases = Databases::new(1);
        let a = databases.get("a");
        for ms in 1..=100 {
            a.record(Duration::from_millis(ms), ms % 10 != 0);
        }
        assert_eq!((a.ops(), a.errors()), (100, 10));
        let latency = a.latency().unwrap();
        let within = |value: f64, expected: f64| (value - expected).abs() <= expected / 16.0;
        assert!(within(latency.p50, 50.0) && within(latency.p99, 99.0), "{latency:?}");
        assert_eq!(a.histogram().len(), 100);
        assert!(a.last_used().is_some());
        assert_eq!(a.latency_sum(), Duration::from_millis(5050));
        assert!(databases.get("b").latency().is_none());
    }

    #[test]
    fn short_latencies_are_told_apart_in_16_microsecond_steps() {
        let m = DbMetrics::new(true);
        for micros in [100, 130, 160] {
            m.record(Duration::from_micros(micros), true);
        }
        let latency = m.latency().unwrap();
        assert!((latency.p50 - 0.130).abs() < 0.016 && (latency.max - 0.160).abs() < 0.016, "{latency:?}");
    }

    #[test]
    fn only_the_first_databases_get_labels() {
        let databases = Databases::new(2);
        let labelled: Vec<bool> = ["a", "b", "c", "a"].iter().map(|db| databases.get(db).labelled).collect();
        assert_eq!(labelled, [true, true, false, true]);
        assert_eq!(databases.all().len(), 3);
    }

    #[test]
    fn a_database_costs_a_bounded_couple_of_kilobytes() {
        let m = DbMetrics::new(true);
        m.record(Duration::from_millis(3), true);
        let fast = m.histogram().distinct_values();
        m.record(Duration::from_secs(7200), true);
        let slowest = m.histogram().distinct_values();
        assert!(fast <= 80 && fast < slowest && slowest <= 512, "{fast} .. {slowest} counts of 4 bytes");
    }
}

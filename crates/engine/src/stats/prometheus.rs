//! The Prometheus text exposition format (version 0.0.4, what `prom-client` serves), written here
//! because the `prometheus-client` crate writes OpenMetrics only. Databases past the label cap are
//! summed under `db="<other>"` (not a valid database name), so 10,000 tenants make one series, not
//! 10,000.

use std::fmt::Write;

use super::databases::Databases;
use super::{GeneralStats, PoolInfo};
use crate::events::PoolKind;

/// The label value of the databases without series of their own.
pub const OTHER: &str = "<other>";
/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One database's (or `<other>`'s) numbers, ready to write.
#[derive(Default)]
struct DbSeries {
    ops: u64,
    errors: u64,
    in_flight: usize,
    queued: usize,
    /// Operations at or below each bound of `BUCKETS`, not yet cumulative.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// One metric family: its samples under one `# HELP` / `# TYPE`, as the exposition format and
/// prom-client's `Registry` (`{ name, help, type, values }`) both group them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Family {
    pub name: &'static str,
    /// `gauge`, `counter` or `histogram`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

/// One sample of a family.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    /// The sample's full name: the family's, or with `_bucket` / `_sum` / `_count` for a histogram.
    pub name: String,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Self { name, kind, help, samples: Vec::new() }
    }

    fn sample(&mut self, suffix: &str, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(Sample { name: format!("{}{suffix}", self.name), labels, value });
    }
}

/// The wrapper's pools and databases as metric families: what `render` writes, and what the JS
/// collector hands to an application's prom-client registry.
pub fn families(stats: &GeneralStats, databases: &Databases) -> Vec<Family> {
    let mut out = Vec::new();
    let pools: Vec<(Vec<(&'static str, String)>, &PoolInfo)> = stats.pools().map(|p| (pool_labels(p), p)).collect();
    type PoolValue = fn(&PoolInfo) -> f64;
    let pool_series: [(&'static str, &'static str, &'static str, PoolValue); 10] = [
        ("polymongo_pool_open", "gauge", "Whether the pool's client is open (1) or not (0).", |p| {
            f64::from(u8::from(p.cluster.open))
        }),
        ("polymongo_pool_connections", "gauge", "Connections open, as the driver reports them.", |p| {
            p.cluster.pool.open as f64
        }),
        ("polymongo_pool_connections_in_use", "gauge", "Connections checked out.", |p| p.cluster.pool.in_use as f64),
        ("polymongo_pool_connections_available", "gauge", "Connections open and idle.", |p| {
            p.cluster.pool.available as f64
        }),
        ("polymongo_pool_checkouts_pending", "gauge", "Checkouts waiting for a connection.", |p| {
            p.cluster.pool.pending_checkouts as f64
        }),
        ("polymongo_pool_max_size", "gauge", "The pool's maxPoolSize per server.", |p| f64::from(p.max_pool_size)),
        ("polymongo_pool_connections_created_total", "counter", "Connections created.", |p| {
            p.cluster.pool.created_total as f64
        }),
        ("polymongo_pool_connections_closed_total", "counter", "Connections closed.", |p| {
            p.cluster.pool.closed_total as f64
        }),
        ("polymongo_pool_checkout_failures_total", "counter", "Checkouts that failed.", |p| {
            p.cluster.pool.checkout_failures as f64
        }),
        ("polymongo_pool_operations_queued", "gauge", "Operations waiting for their turn.", |p| {
            p.cluster.load.waiting as f64
        }),
    ];
    for (name, kind, help, value) in pool_series {
        let mut family = Family::new(name, kind, help);
        for (labels, pool) in &pools {
            family.sample("", labels.clone(), value(pool));
        }
        out.push(family);
    }

    let series = database_series(stats, databases);
    type DbValue = fn(&DbSeries) -> f64;
    let db_series: [(&'static str, &'static str, &'static str, DbValue); 4] = [
        ("polymongo_db_operations_total", "counter", "Operations run on the database.", |s| s.ops as f64),
        ("polymongo_db_errors_total", "counter", "Operations that failed.", |s| s.errors as f64),
        ("polymongo_db_operations_in_flight", "gauge", "Operations running now.", |s| s.in_flight as f64),
        ("polymongo_db_operations_queued", "gauge", "Operations waiting for their turn.", |s| s.queued as f64),
    ];
    for (name, kind, help, value) in db_series {
        let mut family = Family::new(name, kind, help);
        for (db, s) in &series {
            family.sample("", vec![("db", db.clone())], value(s));
        }
        out.push(family);
    }
    let mut family = Family::new(
        "polymongo_db_operation_duration_seconds",
        "histogram",
        "Operation latency, from the call to its result, admission wait included.",
    );
    for (db, s) in &series {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(s.buckets) {
            cumulative += count;
            family.sample("_bucket", vec![("db", db.clone()), ("le", bound.to_string())], cumulative as f64);
        }
        family.sample("_bucket", vec![("db", db.clone()), ("le", "+Inf".into())], s.count as f64);
        family.sample("_sum", vec![("db", db.clone())], s.sum_seconds);
        family.sample("_count", vec![("db", db.clone())], s.count as f64);
    }
    out.push(family);
    out
}

/// `families` in the text exposition format.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        let Family { name, kind, help, samples } = family;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for sample in samples {
            write_sample(&mut out, sample);
        }
    }
    out
}

fn pool_labels(pool: &PoolInfo) -> Vec<(&'static str, String)> {
    let name = match pool.kind {
        PoolKind::Shared => "shared".to_owned(),
        PoolKind::Dedicated => format!("db:{}", pool.name),
    };
    vec![("pool", name), ("cluster", hosts(&pool.uri))]
}

/// The host list of a URI: what tells deployments apart, without credentials or options.
fn hosts(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts);
    rest.split(['/', '?']).next().unwrap_or_default().to_owned()
}

/// Each labelled database's series in name order, then `<other>` when some database has none.
fn database_series(stats: &GeneralStats, databases: &Databases) -> Vec<(String, DbSeries)> {
    let mut labelled = Vec::new();
    let mut other: Option<DbSeries> = None;
    for info in &stats.databases {
        let Some(metrics) = databases.find(&info.name) else { continue };
        let into = if metrics.labelled {
            labelled.push((info.name.to_string(), DbSeries::default()));
            &mut labelled.last_mut().expect("just pushed").1
        } else {
            other.get_or_insert_with(DbSeries::default)
        };
        into.ops += info.ops;
        into.errors += info.errors;
        into.in_flight += info.in_flight;
        into.queued += info.queued;
        into.sum_seconds += metrics.latency_sum().as_secs_f64();
        let histogram = metrics.histogram();
        into.count += histogram.len();
        for value in histogram.iter_recorded() {
            let seconds = value.value_iterated_to() as f64 / 1e6;
            if let Some(at) = BUCKETS.iter().position(|bound| seconds <= *bound) {
                into.buckets[at] += value.count_at_value() as u64;
            }
        }
    }
    labelled.extend(other.map(|s| (OTHER.to_owned(), s)));
    labelled
}

fn write_sample(out: &mut String, Sample { name, labels, value }: &Sample) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(out, "{sep}{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the format wants it: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_leave_credentials_and_options_out() {
        assert_eq!(hosts("mongodb://u:****@a:1,b:2/db?replicaSet=x"), "a:1,b:2");
        assert_eq!(hosts("mongodb+srv://cluster0.example.net"), "cluster0.example.net");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        write_sample(&mut out, &Sample { name: "m".into(), labels: vec![("a", "x\"y\\z\nw".into())], value: 1.5 });
        assert_eq!(out, "m{a=\"x\\\"y\\\\z\\nw\"} 1.5\n");
    }
}

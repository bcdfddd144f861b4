//! The wrapper's configuration, checked as a whole before any I/O.

use std::time::Duration;

use mongodb::options::ConnectionString;

use crate::error::Error;
use crate::names::check_db_name;
use crate::redact;

/// Database used when a URI names none and `defaultDB` is not given (Mongoose's default).
pub const FALLBACK_DB: &str = "test";
pub const DEFAULT_MAX_POOL_SIZE: u32 = 10;
/// How long an operation waits for its turn, or a pool for room, by default: the driver's default
/// server selection timeout, so both kinds of waiting give up alike.
pub const DEFAULT_WAIT_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// Databases with Prometheus series of their own unless configured otherwise.
pub const DEFAULT_MAX_DATABASE_LABELS: usize = 100;
/// Change streams open at once unless configured otherwise.
pub const DEFAULT_MAX_OPEN_STREAMS: u32 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct WrapperConfig {
    pub mongo_uri: String,
    pub default_db: Option<String>,
    pub max_pool_size: u32,
    pub min_free_connections: u32,
    pub idle_timeout: Option<Duration>,
    pub cold_start: bool,
    /// Extra attempts at the initial connection, with backoff.
    pub retry: u32,
    pub db_specific: Vec<DbSpecific>,
    /// The most operations in flight at once for one database on the shared pool, the ceiling of its
    /// adaptive share (see `admission`); `None`: half the pool.
    pub max_concurrent_per_db: Option<u32>,
    /// How long an operation waits for its turn, or a pool for room; `None` waits as long as it takes.
    pub wait_queue_timeout: Option<Duration>,
    /// Dedicated pools open at once; the least recently used idle one closes to make room.
    pub max_open_pools: Option<u32>,
    /// The sum of the open pools' sizes (the shared pool's included).
    pub max_total_connections: Option<u32>,
    /// Databases with series of their own in the Prometheus text; the rest are summed as `<other>`.
    pub max_database_labels: usize,
    /// Whether the pools' clients report each command they send (the Node driver's `monitorCommands`).
    pub monitor_commands: bool,
    /// The Stable API version the pools' clients declare (`serverApi`), as the driver takes it.
    pub server_api: Option<mongodb::options::ServerApi>,
    /// Change streams open at once across the wrapper; each holds one connection while open.
    pub max_open_streams: u32,
    /// Whether requests may run JavaScript on the server (`$where`, `$function`, `$accumulator`,
    /// `mapReduce`), as a server's `security.javascriptEnabled`; false refuses them before they are
    /// sent, whatever path they come by.
    pub javascript_enabled: bool,
}

/// A database with its own pool, possibly on another cluster (routed by the pool engine).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DbSpecific {
    pub db_name: String,
    pub mongo_uri: Option<String>,
    pub max_connections: Option<u32>,
    pub auto_close: bool,
    pub ttl: Option<Duration>,
    pub cold_start: bool,
}

/// How long a dedicated pool with `autoClose` may sit idle when it names no `ttl`.
pub const DEFAULT_POOL_TTL: Duration = Duration::from_secs(300);

impl DbSpecific {
    /// How long the pool may sit idle before it closes (with `autoClose`), and a cursor unread before
    /// it no longer keeps the pool open: `ttl`, else `DEFAULT_POOL_TTL`.
    pub fn ttl(&self) -> Duration {
        self.ttl.unwrap_or(DEFAULT_POOL_TTL)
    }

    pub fn validate(&self) -> Result<(), Error> {
        check_db_name(&self.db_name).map_err(|e| Error::type_error("dbSpecific.dbName", e.to_string()))?;
        if let Some(uri) = &self.mongo_uri {
            check_uri("dbSpecific.mongoURI", uri)?;
        }
        if self.max_connections == Some(0) {
            return Err(Error::range("dbSpecific.options.maxConnections", "must be a positive integer, got 0"));
        }
        Ok(())
    }
}

impl WrapperConfig {
    pub fn new(mongo_uri: impl Into<String>) -> Self {
        WrapperConfig {
            mongo_uri: mongo_uri.into(),
            default_db: None,
            max_pool_size: DEFAULT_MAX_POOL_SIZE,
            min_free_connections: 0,
            idle_timeout: None,
            cold_start: true,
            retry: 0,
            db_specific: Vec::new(),
            max_concurrent_per_db: None,
            wait_queue_timeout: Some(DEFAULT_WAIT_QUEUE_TIMEOUT),
            max_open_pools: None,
            max_total_connections: None,
            max_database_labels: DEFAULT_MAX_DATABASE_LABELS,
            monitor_commands: false,
            server_api: None,
            max_open_streams: DEFAULT_MAX_OPEN_STREAMS,
            javascript_enabled: true,
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        check_uri("mongoURI", &self.mongo_uri)?;
        if self.max_pool_size == 0 {
            return Err(Error::range("maxPoolSize", "must be a positive integer, got 0"));
        }
        if self.min_free_connections > self.max_pool_size {
            return Err(Error::range(
                "minFreeConnections",
                format!("({}) must not exceed maxPoolSize ({})", self.min_free_connections, self.max_pool_size),
            ));
        }
        if let Some(db) = &self.default_db {
            check_db_name(db).map_err(|e| Error::type_error("defaultDB", e.to_string()))?;
        }
        for (option, value) in [
            ("maxConcurrentPerDb", self.max_concurrent_per_db),
            ("maxOpenPools", self.max_open_pools),
            ("maxTotalConnections", self.max_total_connections),
            ("maxOpenStreams", Some(self.max_open_streams)),
        ] {
            if value == Some(0) {
                return Err(Error::range(option, "must be a positive integer, got 0"));
            }
        }
        if self.max_total_connections.is_some_and(|max| max < self.max_pool_size) {
            return Err(Error::range("maxTotalConnections", "must be at least maxPoolSize: the shared pool must fit"));
        }
        self.db_specific.iter().try_for_each(|spec| self.check_dedicated(spec))
    }

    /// Checks a database's own pool against the wrapper's limits.
    pub fn check_dedicated(&self, spec: &DbSpecific) -> Result<(), Error> {
        spec.validate()?;
        let size = spec.max_connections.unwrap_or(self.max_pool_size);
        match self.max_total_connections {
            Some(max) if size > max => Err(Error::range(
                "dbSpecific.options.maxConnections",
                format!("({size}) must not exceed maxTotalConnections ({max}): the pool could never open"),
            )),
            _ => Ok(()),
        }
    }

    /// The default database: `defaultDB`, else the URI's path, else `test`.
    pub fn default_db_name(&self) -> String {
        self.default_db.clone().or_else(|| uri_database(&self.mongo_uri)).unwrap_or_else(|| FALLBACK_DB.to_owned())
    }
}

/// Checks a connection string when the wrapper is made, as the Node driver checks it when a client is
/// made, rather than at first use: its scheme and hosts, and each option's name and value, by the Rust
/// driver's own parser (no DNS lookup). `socketTimeoutMS`, which that driver parses but never applies,
/// is refused by name. Raises a TypeError-kind `Config` error naming `option`, with no password in it.
fn check_uri(option: &'static str, uri: &str) -> Result<(), Error> {
    let rest = uri.strip_prefix("mongodb://").or_else(|| uri.strip_prefix("mongodb+srv://"));
    let Some(rest) = rest.filter(|rest| !rest.is_empty()) else {
        // An empty string is most often an environment variable set but empty (a `.env` template's).
        let got = if uri.is_empty() { ", got an empty string" } else { "" };
        return Err(Error::type_error(
            option,
            format!("must be a mongodb:// or mongodb+srv:// connection string{got}"),
        ));
    };
    // The characters a username or password must percent-encode, read as the Node driver reads them
    // (the userinfo ends at the first `@`), which refuses them. The Rust driver ends the userinfo at a
    // `?` or `/` instead, takes the rest for a host, and quotes it, password and all, in its error.
    if let Some((userinfo, _)) = rest.split_once('@') {
        let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        if username.contains(['/', '?', '#', '[', ']']) || password.contains([':', '/', '?', '#', '[', ']']) {
            return Err(Error::type_error(
                option,
                "has a character in its username or password that must be percent-encoded (: / ? # [ ] @)",
            ));
        }
    }
    // The driver's parser (mongodb 3.9.1) panics on a `%` followed by a character of more than one
    // byte in the userinfo; such a `%` is refused here first, as the driver refuses other bad ones.
    if let Some((start, end)) = redact::userinfo_span(uri) {
        let escaped = |part: &str| part.len() >= 2 && part.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit);
        if !uri[start..end].split('%').skip(1).all(escaped) {
            return Err(Error::type_error(
                option,
                "has a '%' in its username or password that is not followed by two hexadecimal digits \
                 (percent-encode a '%' as %25)",
            ));
        }
    }
    let parsed = ConnectionString::parse(uri).map_err(|e| Error::type_error(option, uri_problem(&e, uri)))?;
    #[allow(deprecated)]
    if parsed.socket_timeout.is_some() {
        return Err(Error::type_error(
            option,
            "sets socketTimeoutMS, which the Rust driver does not apply (it has no socket inactivity timeout); \
             bound slow operations with maxTimeMS instead",
        ));
    }
    Ok(())
}

/// What the driver found wrong with connection string `uri`, with its password masked.
pub fn uri_problem(e: &mongodb::error::Error, uri: &str) -> String {
    let message = match e.kind.as_ref() {
        mongodb::error::ErrorKind::InvalidArgument { message, .. } => message.clone(),
        _ => e.to_string(),
    };
    redact::scrub(&message, uri)
}

/// The database named in a URI's path (`mongodb://host/db?opts`), if any.
fn uri_database(uri: &str) -> Option<String> {
    // The driver's parser decodes it (`/shop%5Fa` is `shop_a`), as the Node driver's does.
    ConnectionString::parse(uri).ok()?.default_database.filter(|db| !db.is_empty())
}

/// A JS number as a count: finite, whole, non-negative and within `u32`.
pub fn whole_number(option: &'static str, value: f64) -> Result<u32, Error> {
    if value.is_finite() && value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(Error::range(option, format!("must be a non-negative integer, got {value}")))
    }
}

/// The most extra attempts `retry` takes. Each attempt waits up to the URI's server selection timeout
/// (30 s by default) plus a backoff of up to 5 s, so ten already hold an operation for minutes.
pub const MAX_RETRY: u32 = 10;

/// `retry`: extra attempts at opening a pool, 0..=`MAX_RETRY`. PolyMongo 1.3's `retry` was a
/// reconnect interval in ms (`retry: 3000`), which as a count would hold operations for hours: refused
/// with a message that says so.
pub fn retry_attempts(value: f64) -> Result<u32, Error> {
    let attempts = whole_number("retry", value)?;
    if attempts > MAX_RETRY {
        return Err(Error::range(
            "retry",
            format!(
                "is a number of extra attempts at opening a pool, at most {MAX_RETRY}, got {attempts} (PolyMongo 1.3's \
                 retry was a reconnect interval in ms: leave it out, the driver reconnects by itself)"
            ),
        ));
    }
    Ok(attempts)
}

/// A JS number of milliseconds as a duration.
pub fn millis(option: &'static str, value: f64) -> Result<Duration, Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value / 1000.0))
    } else {
        Err(Error::range(option, format!("must be a non-negative number of milliseconds, got {value}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option_of(result: Result<(), Error>) -> &'static str {
        match result {
            Err(Error::Config { option, .. }) => option,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn retry_is_a_small_count_not_polymongo_13s_interval() {
        assert_eq!(retry_attempts(0.0).unwrap(), 0);
        assert_eq!(retry_attempts(f64::from(MAX_RETRY)).unwrap(), MAX_RETRY);
        for value in [3000.0, 11.0, -1.0, 1.5] {
            match retry_attempts(value) {
                Err(Error::Config { option: "retry", range: true, message }) => {
                    assert!(value != 3000.0 || message.contains("reconnect interval"), "{message}");
                }
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(WrapperConfig::new("mongodb://127.0.0.1:27017").validate().is_ok());
        assert!(WrapperConfig::new("mongodb+srv://u:p@cluster0.example.net").validate().is_ok());
    }

    #[test]
    fn rejects_bad_uris_and_sizes() {
        assert_eq!(option_of(WrapperConfig::new("http://x").validate()), "mongoURI");
        assert_eq!(option_of(WrapperConfig::new("mongodb://").validate()), "mongoURI");
        // The driver's parser panics on these (a '%' before a character of three bytes); found by AFL++.
        // A password with a raw `?` or `/`: the driver's error quoted it (helper-16).
        for uri in [
            "mongodb://us%中x:pw@h",
            "mongodb://u:p%€@h",
            "mongodb://u:p%@h",
            "mongodb://u:p%4@h/db?x=1",
            "mongodb://app:hunter2?abc@h/db",
            "mongodb://app:pa/ss?word@h",
            "mongodb://a/b:pw@h",
        ] {
            assert_eq!(option_of(WrapperConfig::new(uri).validate()), "mongoURI", "{uri}");
        }
        assert!(WrapperConfig::new("mongodb://u%41:p%25w@h/db?appName=a%").validate().is_ok());
        let mut c = WrapperConfig::new("mongodb://h");
        c.max_pool_size = 0;
        assert_eq!(option_of(c.validate()), "maxPoolSize");
        let mut c = WrapperConfig::new("mongodb://h");
        c.min_free_connections = 11;
        assert_eq!(option_of(c.validate()), "minFreeConnections");
        let mut c = WrapperConfig::new("mongodb://h");
        c.db_specific.push(DbSpecific { db_name: "a.b".into(), ..Default::default() });
        assert_eq!(option_of(c.validate()), "dbSpecific.dbName");
        let mut c = WrapperConfig::new("mongodb://h");
        c.max_total_connections = Some(9);
        assert_eq!(option_of(c.validate()), "maxTotalConnections");
        c.max_total_connections = Some(20);
        c.db_specific.push(DbSpecific { db_name: "big".into(), max_connections: Some(21), ..Default::default() });
        assert_eq!(option_of(c.validate()), "dbSpecific.options.maxConnections");
        let mut c = WrapperConfig::new("mongodb://h");
        c.max_open_pools = Some(0);
        assert_eq!(option_of(c.validate()), "maxOpenPools");
    }

    #[test]
    fn default_db_comes_from_option_then_uri_then_test() {
        let mut c = WrapperConfig::new("mongodb://h:1/shop?w=1");
        assert_eq!(c.default_db_name(), "shop");
        c.default_db = Some("main".into());
        assert_eq!(c.default_db_name(), "main");
        assert_eq!(WrapperConfig::new("mongodb://h/?w=1").default_db_name(), "test");
        assert_eq!(WrapperConfig::new("mongodb://h/shop%5Fa").default_db_name(), "shop_a");
    }

    #[test]
    fn numbers_from_js_are_checked() {
        assert_eq!(whole_number("maxPoolSize", 10.0).unwrap(), 10);
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
            assert!(whole_number("maxPoolSize", bad).is_err(), "{bad}");
        }
        assert_eq!(millis("idleTimeoutMS", 1500.0).unwrap(), Duration::from_millis(1500));
        assert!(millis("idleTimeoutMS", -1.0).is_err());
    }
}

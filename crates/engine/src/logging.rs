//! The wrapper's log. The engine reports lifecycle events through `tracing`; each wrapper has its own
//! dispatcher (nothing global is set), which writes them to rotating files when `logPath` is set and
//! hands them to a sink (the binding's: the console or the application's logger). With neither, logging
//! costs nothing. Messages carry redacted URIs only: callers pass `redact::redact_uri` output.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::error::Error;

/// The file a wrapper logs to, in its `logPath` folder; rotated files get `.1`, `.2`, ... (oldest last).
pub const LOG_FILE: &str = "polymongo-rs.log";
pub const DEFAULT_MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
pub const DEFAULT_MAX_FILES: usize = 5;

/// One log line for the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// "debug" | "info" | "warn" | "error"
    pub level: &'static str,
    pub message: String,
    pub fields: Vec<(&'static str, String)>,
}

/// Where the binding wants log records.
pub trait Sink: Send + Sync {
    fn write(&self, record: Record);
}

#[derive(Default)]
pub struct LogConfig {
    /// Debug-level records too (`debug: true`); info and above otherwise.
    pub debug: bool,
    /// The folder for rotating log files.
    pub path: Option<PathBuf>,
    pub max_file_bytes: Option<usize>,
    /// Files kept, the one being written included.
    pub max_files: Option<usize>,
    pub sink: Option<Arc<dyn Sink>>,
}

/// A wrapper's log; a disabled one (the default) does nothing.
#[derive(Clone, Default)]
pub struct Log {
    dispatch: Option<Dispatch>,
}

impl Log {
    pub fn new(config: LogConfig) -> Result<Self, Error> {
        let file = config.path.map(|dir| file_layer(dir, config.max_file_bytes, config.max_files)).transpose()?;
        let sink = config.sink.map(|sink| SinkLayer { sink });
        if file.is_none() && sink.is_none() {
            return Ok(Log::default());
        }
        let level = if config.debug { LevelFilter::DEBUG } else { LevelFilter::INFO };
        let subscriber = tracing_subscriber::registry().with(file).with(sink).with(level);
        Ok(Log { dispatch: Some(Dispatch::new(subscriber)) })
    }

    /// Runs `emit` (a `tracing` macro call) with this log as its destination; skips it when disabled.
    pub fn emit(&self, emit: impl FnOnce()) {
        if let Some(dispatch) = &self.dispatch {
            tracing::dispatcher::with_default(dispatch, emit);
        }
    }
}

fn file_layer<S>(dir: PathBuf, max_bytes: Option<usize>, max_files: Option<usize>) -> Result<impl Layer<S>, Error>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    std::fs::create_dir_all(&dir).map_err(|e| Error::InvalidArgument(format!("cannot use logPath {dir:?}: {e}")))?;
    let rotated = max_files.unwrap_or(DEFAULT_MAX_FILES).max(1) - 1;
    let writer = FileRotate::new(
        dir.join(LOG_FILE),
        AppendCount::new(rotated),
        // Rotating after a whole line keeps every line in one file.
        ContentLimit::BytesSurpassed(max_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES)),
        Compression::None,
        None,
    );
    Ok(tracing_subscriber::fmt::layer().with_ansi(false).with_target(false).with_writer(Mutex::new(writer)))
}

struct SinkLayer {
    sink: Arc<dyn Sink>,
}

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut record =
            Record { level: level_name(*event.metadata().level()), message: String::new(), fields: Vec::new() };
        event.record(&mut record);
        self.sink.write(record);
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

impl Visit for Record {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, text);
    }
}

impl Record {
    fn push(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            name => self.fields.push((name, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<Record>>);

    impl Sink for Collect {
        fn write(&self, record: Record) {
            self.0.lock().unwrap().push(record);
        }
    }

    #[test]
    fn records_reach_the_sink_at_the_chosen_level() {
        let sink = Arc::new(Collect::default());
        let log = Log::new(LogConfig { sink: Some(sink.clone()), ..LogConfig::default() }).unwrap();
        log.emit(|| tracing::debug!(db = "a", "not shown"));
        log.emit(|| tracing::info!(db = "a", pool = 3, "pool opened"));
        let records = sink.0.lock().unwrap().clone();
        assert_eq!(
            records,
            [Record {
                level: "info",
                message: "pool opened".into(),
                fields: vec![("db", "a".into()), ("pool", "3".into())]
            }]
        );
        Log::default().emit(|| panic!("a disabled log runs nothing"));
    }

    #[test]
    fn files_rotate_by_size_and_keep_a_bounded_number() {
        let dir = std::env::temp_dir().join(format!("polymongo-rs-log-test-{}", std::process::id()));
        let config = LogConfig {
            path: Some(dir.clone()),
            max_file_bytes: Some(200),
            max_files: Some(3),
            debug: true,
            ..LogConfig::default()
        };
        let log = Log::new(config).unwrap();
        for i in 0..40 {
            log.emit(|| tracing::debug!(line = i, "a line long enough to fill the small files quickly"));
        }
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, [LOG_FILE.to_owned(), format!("{LOG_FILE}.1"), format!("{LOG_FILE}.2")]);
        let newest = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap();
        assert!(newest.contains("line=39") && newest.contains("DEBUG"), "{newest}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

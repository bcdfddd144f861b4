//! The engine's one error type, at the bottom of the dependency graph: it names no engine module.
//! The binding turns each variant into a JS error with a name and code.
//!
//! Write errors reported by the server (duplicate keys, validation) are not errors here: a write's
//! reply carries them as data (`writeErrors`, `writeConcernErrors`), in the Node driver's bulk result
//! shape, and the JS driver raises them with the application's own `mongodb` error classes.

use bson::Bson;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value that cannot work; `range` tells a bad number from a bad kind of value.
    #[error("polymongo-rs: option {option} {message}")]
    Config { option: &'static str, message: String, range: bool },

    #[error("polymongo-rs: invalid database name {name:?}: {reason}")]
    InvalidDbName { name: String, reason: &'static str },

    #[error("polymongo-rs: the wrapper is disconnected; call connect() to use it again")]
    Closed,

    /// A request or a transaction call on a session after `endSession()`: the Node driver's
    /// MongoExpiredSessionError.
    #[error("Use of expired sessions is not permitted")]
    SessionEnded,

    /// A cursor read after its pool closed: it sat unread longer than `timeout` (its pool's `ttl`, as a
    /// server kills a cursor unread for `cursorTimeoutMillis`), or the wrapper closed and opened again
    /// meanwhile.
    #[error("polymongo-rs: the cursor on database {db:?} closed with its pool: {}; run the query again", closed_with_pool("unread", *.timeout))]
    CursorTimedOut { db: String, timeout: Option<std::time::Duration> },

    /// A session used after its pool closed: it went unused longer than `timeout` (its pool's `ttl`, as
    /// a server expires a session unused for `localLogicalSessionTimeoutMinutes`), or the wrapper closed
    /// and opened again meanwhile. The Node driver's MongoExpiredSessionError.
    #[error("polymongo-rs: the session on database {db:?} expired with its pool: {}; start a new session", closed_with_pool("unused", *.timeout))]
    SessionTimedOut { db: String, timeout: Option<std::time::Duration> },

    /// An operation waited longer than `waitQueueTimeoutMS` for its turn on a pool; `per_db` is the
    /// database's limit at the time (its adaptive share on the shared pool).
    #[error(
        "polymongo-rs: timed out after {} ms waiting for a connection for database {db:?} (pool of {capacity}, at most {per_db} at once for this database now); raise waitQueueTimeoutMS, maxPoolSize or maxConcurrentPerDb",
        .waited.as_millis()
    )]
    WaitQueueTimeout { db: String, waited: std::time::Duration, capacity: usize, per_db: usize },

    /// A pool could not open within `waitQueueTimeoutMS` because `maxOpenPools` or `maxTotalConnections`
    /// was reached and no open pool was idle.
    #[error(
        "polymongo-rs: the pool for database {db:?} could not open within {} ms: {limit} reached and every open pool is in use",
        .waited.as_millis()
    )]
    PoolLimit { db: String, limit: String, waited: std::time::Duration },

    /// A change stream asked for while `maxOpenStreams` streams are open.
    #[error("polymongo-rs: {max} change streams are open, the most maxOpenStreams allows; close one (or raise maxOpenStreams)")]
    StreamLimit { max: u32 },

    /// A request that is malformed before it reaches the server (bad filter, options, documents).
    #[error("polymongo-rs: {0}")]
    InvalidArgument(String),

    /// Server-side JavaScript (`$where`, `$function`, `$accumulator`, `mapReduce`, a BSON code value)
    /// in a request while the wrapper's `javascriptEnabled` is false; names what was found.
    #[error("polymongo-rs: the request has {0}, which runs JavaScript on the server, and this wrapper refuses it (javascriptEnabled: false)")]
    JavaScriptDisabled(String),

    /// A document or update that fails the model's schema: Mongoose's ValidationError.
    #[error("{model} validation failed: {}", describe_paths(.errors))]
    Validation { model: String, errors: Vec<FieldError> },

    /// A filter value that cannot be cast to its path's type: Mongoose's CastError.
    #[error("Cast to {} failed for value {:?} at path \"{}\" for model \"{model}\"", .error.kind, .error.value, .error.path)]
    Cast { model: String, error: Box<FieldError> },

    /// A filter, document or update the engine does not cast exactly as Mongoose would (an operator,
    /// a shape or a path type it does not implement): the fast path then runs Mongoose's own path, so
    /// this never reaches an application.
    #[error("polymongo-rs: the engine does not cast {0} as Mongoose does")]
    NotCastable(&'static str),

    /// A path outside the schema when the schema's `strict` is `'throw'`: Mongoose's StrictModeError.
    #[error("Field `{path}` is not in schema and strict mode is set to throw.")]
    Strict { path: String },

    /// A primitive pushed onto an array of subdocuments: Mongoose's ObjectParameterError.
    #[error("Parameter \"obj\" to Document() must be an object, got \"{value}\"")]
    ObjectParameter { path: String, value: String },

    /// A primitive set on a nested path when the schema's `strict` is `'throw'`: Mongoose's ObjectExpectedError.
    #[error("Tried to set nested object field `{path}` to primitive value `{value}`")]
    ObjectExpected { path: String, value: String },

    #[error(transparent)]
    Driver(#[from] mongodb::error::Error),

    /// A write the server refused in a bulk task's batch (a duplicate key, a document its validator
    /// refuses): the Node driver's MongoServerError with the write error's code.
    #[error("{}", .0.message)]
    Write(Box<WriteError>),

    /// A bulk task's failure in one collection, at one document or index when it was about one.
    #[error("polymongo-rs: collection {collection:?}{}: {source}", .at.as_ref().map(|at| format!(", {at}")).unwrap_or_default())]
    Bulk { collection: String, at: Option<At>, source: Box<Error> },

    /// An import stream that is not what it should be at `line` (not a record, not this format, cut
    /// short).
    #[error("polymongo-rs: line {line} of the import stream: {message}")]
    Stream { line: u64, message: String },

    /// A bulk task's failure whose rollback failed too: the task's error, with what was left undone.
    #[error("{error}; and undoing it failed ({rollback}), so what it wrote there is still there")]
    NotRolledBack { error: Box<Error>, rollback: String },

    /// A bulk task stopped by its `AbortSignal`: Node's AbortError.
    #[error("The operation was aborted")]
    Aborted,

    /// A task of the engine that panicked or was cancelled (a bug): what it was doing failed, and the
    /// engine goes on.
    #[error("polymongo-rs: internal error in {0}; please report it")]
    Internal(String),

    /// A retryable write's network error after its one retry (Retryable Writes specification): the
    /// write may have been applied, once; the Node driver labels it `RetryableWriteError`.
    #[error(transparent)]
    RetriedWrite(mongodb::error::Error),
}

impl Error {
    /// `Internal` for `what` (a task), from the panic or cancellation that ended it.
    pub fn internal(what: &str, failure: tokio::task::JoinError) -> Self {
        let reason = match failure.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned()),
            Err(_) => "a cancellation".to_owned(),
        };
        Error::Internal(format!("{what} ({reason})"))
    }

    pub fn range(option: &'static str, message: impl Into<String>) -> Self {
        Error::Config { option, message: message.into(), range: true }
    }

    pub fn type_error(option: &'static str, message: impl Into<String>) -> Self {
        Error::Config { option, message: message.into(), range: false }
    }
}

/// A write error the server reported for one document (the driver's `IndexedWriteError`).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteError {
    pub code: i32,
    pub code_name: Option<String>,
    pub message: String,
    /// `errInfo`: why a validator refused the document.
    pub details: Option<bson::Document>,
}

/// Where in a bulk task's input a failure is.
#[derive(Debug, Clone, PartialEq)]
pub enum At {
    /// A line of an NDJSON stream, from 1.
    Line(u64),
    /// A document of a collection read from a database or a `.bson` file, from 0.
    Document(u64),
    /// An index, by name.
    Index(String),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Line(n) => write!(f, "line {n}"),
            At::Document(n) => write!(f, "document {n}"),
            At::Index(name) => write!(f, "index {name:?}"),
        }
    }
}

/// One failing path, as Mongoose reports it: a CastError (`cast` set) or a built-in validator's error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    pub path: String,
    /// The validator's type (`required`, `enum`, ...) or, for a cast, the type cast to (`Number`, `[Number]`).
    pub kind: String,
    /// The value that failed; absent where the path had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Bson>,
    /// The Mongoose validator this error came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validator: Option<u32>,
    pub cast: bool,
    /// For a failure inside an element of an array of subdocuments in a filter: the path inside the
    /// element, which Mongoose 8 reports where Mongoose 9 reports the array's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_path: Option<String>,
}

impl FieldError {
    /// A value that cannot be cast to `kind`.
    pub fn cast(path: &str, kind: impl Into<String>, value: &Bson) -> Self {
        FieldError {
            path: path.to_owned(),
            kind: kind.into(),
            value: Some(value.clone()),
            validator: None,
            cast: true,
            element_path: None,
        }
    }

    /// A built-in validator (`kind`, Mongoose validator `id`) refusing `value`, or a missing value.
    pub fn validator(path: &str, kind: &str, value: Option<&Bson>, id: u32) -> Self {
        FieldError {
            path: path.to_owned(),
            kind: kind.into(),
            value: value.cloned(),
            validator: Some(id),
            cast: false,
            element_path: None,
        }
    }
}

fn describe_paths(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.path, e.kind)).collect::<Vec<_>>().join(", ")
}

impl From<bson::error::Error> for Error {
    fn from(e: bson::error::Error) -> Self {
        Error::InvalidArgument(format!("malformed BSON: {e}"))
    }
}

/// Why a cursor or session closed with its pool: unused for `timeout` (a dedicated pool's), or else
/// the wrapper closed and opened again.
fn closed_with_pool(unused: &str, timeout: Option<std::time::Duration>) -> String {
    match timeout {
        Some(t) => format!(
            "it went {unused} for longer than {} ms (the pool's ttl, at least 1 s), or the wrapper closed and opened again",
            t.as_millis()
        ),
        None => "the wrapper closed and opened again".to_owned(),
    }
}

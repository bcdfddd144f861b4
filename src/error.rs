//! The engine's one error type. The binding turns each variant into a JS error with a name and code.

use crate::ops::write::{BulkWriteFailure, WriteErrorInfo};
use crate::schema::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value that cannot work; `range` tells a bad number from a bad kind of value.
    #[error("polymongo-rs: option {option} {message}")]
    Config { option: &'static str, message: String, range: bool },

    #[error("polymongo-rs: invalid database name {name:?}: {reason}")]
    InvalidDbName { name: String, reason: &'static str },

    #[error("polymongo-rs: the wrapper is disconnected; call connect() to use it again")]
    Closed,

    /// An operation waited longer than `waitQueueTimeoutMS` for its turn on a pool.
    #[error(
        "polymongo-rs: timed out after {} ms waiting for a connection for database {db:?} (pool of {capacity}, at most {per_db} for one database); raise waitQueueTimeoutMS, maxPoolSize or maxConcurrentPerDb",
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

    /// A request that is malformed before it reaches the server (bad filter, options, documents).
    #[error("polymongo-rs: {0}")]
    InvalidArgument(String),

    /// The server refused a single write (duplicate key, validation, ...).
    #[error("{}", .0.message)]
    Write(Box<WriteErrorInfo>),

    /// Some writes of a batch failed; the rest of the outcome is in `result`.
    #[error("{}", .0.message())]
    BulkWrite(Box<BulkWriteFailure>),

    /// A write was applied but its write concern was not satisfied.
    #[error("{}", .0.message)]
    WriteConcern(Box<WriteErrorInfo>),

    /// A document or update that fails the model's schema: Mongoose's ValidationError.
    #[error("{model} validation failed: {}", describe_paths(.errors))]
    Validation { model: String, errors: Vec<FieldError> },

    /// A filter value that cannot be cast to its path's type: Mongoose's CastError.
    #[error("Cast to {} failed for value {:?} at path \"{}\" for model \"{model}\"", .error.kind, .error.value, .error.path)]
    Cast { model: String, error: Box<FieldError> },

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
}

impl Error {
    pub fn range(option: &'static str, message: impl Into<String>) -> Self {
        Error::Config { option, message: message.into(), range: true }
    }

    pub fn type_error(option: &'static str, message: impl Into<String>) -> Self {
        Error::Config { option, message: message.into(), range: false }
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

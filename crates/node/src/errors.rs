//! Engine errors as JS errors: the Node driver's error names, MongoDB's `code` / `codeName`, and the
//! server's extra fields (keyPattern, keyValue, errInfo, ...) as BSON in `bsonDetails`, which the JS
//! facade decodes with the application's own BSON library.

use std::future::Future;

use bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use napi::bindgen_prelude::{BufferSlice, JsObjectValue, Object, PromiseRaw, ToNapiValue, TypeName, ValueType};
use napi::sys;
use napi::{Env, JsError, JsRangeError, JsTypeError, JsValue, Status};

use polymongo_engine::error::{At, Error, FieldError};
use polymongo_engine::events::{CommandEvent, HeartbeatEvent};

enum Class {
    Error,
    TypeError,
    RangeError,
}

enum Code {
    Server(i32),
    Ours(&'static str),
}

/// Everything a JS error gets besides its message.
struct Description {
    class: Class,
    name: &'static str,
    code: Option<Code>,
    code_name: Option<String>,
    labels: Vec<String>,
    /// Plain string properties, set on the error as they are.
    props: Vec<(&'static str, String)>,
    /// BSON-typed properties, left for the facade to decode with the application's BSON.
    details: Option<Document>,
}

impl Description {
    fn new(class: Class, name: &'static str) -> Self {
        Description { class, name, code: None, code_name: None, labels: Vec::new(), props: Vec::new(), details: None }
    }

    fn server(name: &'static str, code: i32, code_name: Option<String>) -> Self {
        Description { code: Some(Code::Server(code)), code_name, ..Description::new(Class::Error, name) }
    }

    fn ours(class: Class, name: &'static str, code: &'static str) -> Self {
        Description { code: Some(Code::Ours(code)), ..Description::new(class, name) }
    }

    /// A plain string property the JS error gets as it is.
    fn with_prop(mut self, key: &'static str, value: &str) -> Self {
        self.props.push((key, value.to_owned()));
        self
    }

    fn with_details(mut self, details: Document) -> Self {
        self.details = Some(details).filter(|d| !d.is_empty());
        self
    }
}

fn describe(err: &Error) -> (String, Description) {
    let message = err.to_string();
    let description = match err {
        Error::Config { option, range, .. } => {
            let d = if *range {
                Description::ours(Class::RangeError, "RangeError", "ERR_OUT_OF_RANGE")
            } else {
                Description::ours(Class::TypeError, "TypeError", "ERR_INVALID_ARG_VALUE")
            };
            d.with_prop("option", option)
        }
        Error::InvalidDbName { name, .. } => {
            Description::ours(Class::TypeError, "TypeError", "ERR_INVALID_DB_NAME").with_prop("dbName", name)
        }
        Error::Closed => Description::ours(Class::Error, "PolyMongoError", "ERR_WRAPPER_CLOSED"),
        Error::SessionEnded | Error::SessionTimedOut { .. } => {
            Description::new(Class::Error, "MongoExpiredSessionError")
        }
        Error::WaitQueueTimeout { db, .. } => {
            Description::ours(Class::Error, "WaitQueueTimeoutError", "ERR_WAIT_QUEUE_TIMEOUT").with_prop("dbName", db)
        }
        Error::CursorTimedOut { db, .. } => {
            Description::ours(Class::Error, "PolyMongoError", "ERR_CURSOR_TIMED_OUT").with_prop("dbName", db)
        }
        Error::PoolLimit { db, .. } => {
            Description::ours(Class::Error, "PoolLimitError", "ERR_POOL_LIMIT").with_prop("dbName", db)
        }
        Error::StreamLimit { .. } => Description::ours(Class::Error, "PolyMongoError", "ERR_TOO_MANY_STREAMS"),
        Error::Internal(_) => Description::ours(Class::Error, "PolyMongoError", "ERR_INTERNAL"),
        Error::InvalidArgument(_) => Description::new(Class::Error, "MongoInvalidArgumentError"),
        Error::JavaScriptDisabled(_) => Description::ours(Class::Error, "PolyMongoError", "ERR_JAVASCRIPT_DISABLED"),
        Error::Validation { errors, .. } => schema_error("ValidationError", errors),
        Error::Cast { error, .. } => schema_error("CastError", std::slice::from_ref(error.as_ref())),
        Error::NotCastable(_) => Description::ours(Class::Error, "PolyMongoError", "ERR_NOT_CASTABLE"),
        Error::Strict { path } => with_path("StrictModeError", path),
        Error::ObjectParameter { path, value } => with_path("ObjectParameterError", path).with_prop("value", value),
        Error::ObjectExpected { path, .. } => with_path("ObjectExpectedError", path),
        Error::Driver(e) => return driver_error(e),
        Error::Write(w) => {
            let d = Description::server("MongoServerError", w.code, w.code_name.clone());
            let details = w.details.clone().map(|info| doc! { "errInfo": info }).unwrap_or_default();
            return (w.message.clone(), d.with_details(details));
        }
        Error::Aborted => Description::ours(Class::Error, "AbortError", "ABORT_ERR"),
        Error::Stream { line, .. } => {
            Description::new(Class::Error, "MongoInvalidArgumentError").with_details(doc! { "line": *line as i64 })
        }
        Error::NotRolledBack { error, rollback } => {
            let (message, d) = describe(error);
            return (
                format!("{message}; and undoing it failed ({rollback}), so what it wrote there is still there"),
                d,
            );
        }
        Error::Bulk { collection, at, source } => {
            let (message, mut d) = describe(source);
            // Typed, so that the line and document are numbers in JS.
            let mut details = d.details.take().unwrap_or_default();
            details.insert("collection", collection.clone());
            match at {
                Some(At::Line(n)) => details.insert("line", *n as i64),
                Some(At::Document(n)) => details.insert("document", *n as i64),
                Some(At::Index(name)) => details.insert("index", name.clone()),
                None => None,
            };
            d.details = Some(details);
            let at = at.as_ref().map(|at| format!(", {at}")).unwrap_or_default();
            return (format!("collection {collection:?}{at}: {message}"), d);
        }
        Error::RetriedWrite(e) => {
            let (message, mut d) = driver_error(e);
            d.labels.push(mongodb::error::RETRYABLE_WRITE_ERROR.to_owned());
            d.labels.sort();
            d.labels.dedup();
            return (message, d);
        }
    };
    (message, description)
}

/// A Mongoose error about one path, which it names.
fn with_path(name: &'static str, path: &str) -> Description {
    Description::new(Class::Error, name).with_prop("path", path)
}

/// The failing paths travel as BSON; the facade rebuilds them as the application's Mongoose errors.
fn schema_error(name: &'static str, errors: &[FieldError]) -> Description {
    let errors = bson::serialize_to_bson(errors).unwrap_or(Bson::Array(Vec::new()));
    Description::new(Class::Error, name).with_details(doc! { "schemaErrors": errors })
}

fn driver_error(e: &mongodb::error::Error) -> (String, Description) {
    let mut labels: Vec<String> = e.labels().iter().cloned().collect();
    labels.sort();
    // An authentication the server refused is the server's error (code 18 and its message), as the
    // Node driver reports it; the Rust driver keeps that error as the source of its own.
    if matches!(e.kind.as_ref(), ErrorKind::Authentication { .. }) {
        // thiserror gives the boxed error as the source.
        let refusal = std::error::Error::source(e).and_then(|source| {
            source
                .downcast_ref::<Box<mongodb::error::Error>>()
                .map(|boxed| &**boxed)
                .or_else(|| source.downcast_ref::<mongodb::error::Error>())
        });
        if let Some(refusal) = refusal.filter(|r| matches!(r.kind.as_ref(), ErrorKind::Command(_))) {
            let (message, mut d) = driver_error(refusal);
            d.labels.extend(labels);
            d.labels.sort();
            d.labels.dedup();
            return (message, d);
        }
    }
    let (message, mut d) = match e.kind.as_ref() {
        // The server's reply whole, as the Node driver keeps it (keyPattern and keyValue of a duplicate
        // key, errInfo, ok, operationTime, ...); the fields named here are set from `c`.
        ErrorKind::Command(c) => {
            let reply = e.server_response().and_then(|raw| Document::try_from(raw.as_ref()).ok()).map(|mut reply| {
                for key in ["errmsg", "code", "codeName", "errorLabels"] {
                    reply.remove(key);
                }
                reply
            });
            let d = Description::server("MongoServerError", c.code, Some(c.code_name.clone()));
            (c.message.clone(), d.with_details(reply.unwrap_or_default()))
        }
        ErrorKind::Write(WriteFailure::WriteError(w)) => (
            w.message.clone(),
            Description::server("MongoServerError", w.code, w.code_name.clone())
                .with_details(w.details.clone().map(|info| doc! { "errInfo": info }).unwrap_or_default()),
        ),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => {
            (w.message.clone(), Description::server("MongoWriteConcernError", w.code, Some(w.code_name.clone())))
        }
        ErrorKind::Shutdown => return describe(&Error::Closed),
        kind if invalid_utf8(kind) => (INVALID_UTF8.to_owned(), Description::new(Class::Error, "BSONError")),
        kind => {
            let name = match kind {
                ErrorKind::ServerSelection { .. } => "MongoServerSelectionError",
                ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => "MongoNetworkTimeoutError",
                ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::DnsResolve { .. } => {
                    "MongoNetworkError"
                }
                ErrorKind::Authentication { .. } => "MongoAuthenticationError",
                ErrorKind::InvalidArgument { .. } => "MongoInvalidArgumentError",
                ErrorKind::BsonDeserialization(_) | ErrorKind::BsonSerialization(_) | ErrorKind::Bson(_) => "BSONError",
                ErrorKind::Transaction { .. } => "MongoTransactionError",
                ErrorKind::IncompatibleServer { .. } => "MongoCompatibilityError",
                _ => "MongoError",
            };
            (kind.to_string(), Description::new(Class::Error, name))
        }
    };
    d.labels = labels;
    (message, d)
}

/// js-bson's message for a string that is not UTF-8, which the Node driver reports in a BSONError
/// however it read the reply.
const INVALID_UTF8: &str = "Invalid UTF-8 string in BSON document";

/// Whether the driver failed on a reply with a string that is not UTF-8 (a typed reply it decoded,
/// or a raw one it checked).
fn invalid_utf8(kind: &ErrorKind) -> bool {
    match kind {
        ErrorKind::BsonDeserialization(e) | ErrorKind::Bson(e) => {
            matches!(e.kind, bson::error::ErrorKind::Utf8Encoding { .. })
        }
        ErrorKind::InvalidResponse { message, .. } => message.contains("Invalid UTF-8"),
        _ => false,
    }
}

/// The JS error object for an engine error.
pub(crate) fn build_error<'e>(env: &'e Env, err: &Error) -> napi::Result<Object<'e>> {
    let (message, d) = describe(err);
    let base = napi::Error::new(Status::GenericFailure, message);
    // SAFETY: `env` is the live environment of the calling JS thread.
    let raw = unsafe {
        match d.class {
            Class::Error => JsError::from(base).into_value(env.raw()),
            Class::TypeError => JsTypeError::from(base).into_value(env.raw()),
            Class::RangeError => JsRangeError::from(base).into_value(env.raw()),
        }
    };
    let mut error = Object::from_raw(env.raw(), raw);
    error.set_named_property("name", d.name)?;
    match d.code {
        Some(Code::Server(code)) => error.set_named_property("code", code)?,
        Some(Code::Ours(code)) => error.set_named_property("code", code)?,
        None => {
            error.delete_named_property("code")?;
        }
    }
    if let Some(code_name) = d.code_name {
        error.set_named_property("codeName", code_name)?;
    }
    if matches!(d.code, Some(Code::Server(_))) || !d.labels.is_empty() {
        error.set_named_property("errorLabels", d.labels)?;
    }
    for (key, value) in d.props {
        error.set_named_property(key, value)?;
    }
    if let Some(details) = d.details {
        let bytes = bson::serialize_to_vec(&details).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        error.set_named_property("bsonDetails", BufferSlice::copy_from(env, bytes)?)?;
    }
    Ok(error)
}

/// A command event (`monitorCommands`) as JS gets it, built on the JS thread so that a failure is
/// the JS error an operation would fail with.
pub struct CommandEventValue(pub CommandEvent);

impl TypeName for CommandEventValue {
    fn type_name() -> &'static str {
        "CommandEventObject"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for CommandEventValue {
    unsafe fn to_napi_value(raw_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let e = value.0;
        let mut event = Object::new(&env)?;
        event.set_named_property("name", e.phase.as_str())?;
        event.set_named_property("commandName", e.command_name)?;
        event.set_named_property("databaseName", e.db)?;
        event.set_named_property("requestId", e.request_id)?;
        event.set_named_property("connectionId", e.connection_id)?;
        if let Some(id) = e.server_connection_id {
            event.set_named_property("serverConnectionId", id as f64)?;
        }
        event.set_named_property("address", e.address)?;
        set_outcome(&env, &mut event, e.duration, ("document", e.document), e.failure.as_ref())?;
        Object::to_napi_value(raw_env, event)
    }
}

/// A server heartbeat event as JS gets it, built on the JS thread as `CommandEventValue` is.
pub struct HeartbeatEventValue(pub HeartbeatEvent);

impl TypeName for HeartbeatEventValue {
    fn type_name() -> &'static str {
        "HeartbeatEventObject"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for HeartbeatEventValue {
    unsafe fn to_napi_value(raw_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let e = value.0;
        let mut event = Object::new(&env)?;
        event.set_named_property("name", e.phase.as_str())?;
        event.set_named_property("address", e.address)?;
        event.set_named_property("awaited", e.awaited)?;
        set_outcome(&env, &mut event, e.duration, ("reply", e.reply), e.failure.as_ref())?;
        Object::to_napi_value(raw_env, event)
    }
}

/// What command and heartbeat events report of their outcome, each when it has one: `duration` in
/// ms, a BSON document (the command, a reply) under its key, and `failure` as the JS error an
/// operation fails with.
fn set_outcome(
    env: &Env,
    event: &mut Object,
    duration: Option<std::time::Duration>,
    (key, document): (&str, Option<bson::Document>),
    failure: Option<&Error>,
) -> napi::Result<()> {
    if let Some(duration) = duration {
        event.set_named_property("duration", duration.as_secs_f64() * 1000.0)?;
    }
    if let Some(document) = document {
        let bytes = bson::serialize_to_vec(&document).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        event.set_named_property(key, BufferSlice::copy_from(env, bytes)?)?;
    }
    if let Some(failure) = failure {
        event.set_named_property("failure", build_error(env, failure)?)?;
    }
    Ok(())
}

/// The JS error for an engine error, ready to throw or reject with.
pub(crate) fn js_error(env: &Env, err: &Error) -> napi::Error {
    match build_error(env, err) {
        Ok(error) => napi::Error::from(error.to_unknown()),
        Err(e) => e,
    }
}

/// Runs `work` on the runtime and settles a promise: with `to_js` of its value, or with its error.
pub(crate) fn promise<'e, T, V, F, C>(env: &'e Env, work: F, to_js: C) -> napi::Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = Result<T, Error>> + Send + 'static,
    C: FnOnce(&'e Env, T) -> napi::Result<V> + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, outcome| match outcome {
        Ok(value) => to_js(env, value),
        Err(e) => Err(js_error(env, &e)),
    })
}

//! polymongo-rs's engine: MongoDB pools for applications with many databases. Pure Rust with no napi
//! types (the Node addon, crates/node, converts at the boundary), tested with `cargo test`.
//!
//! One request path: a request (`ops::Request`, `ops::CursorRequest`) runs on a `namespace::Namespace`
//! through `ops::execute`, which its pool admits and its database's metrics count. `error` is at the
//! bottom of the dependency graph.

pub mod admission;
pub mod budget;
pub mod bulk;
pub mod change_stream;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod logging;
pub mod names;
pub mod namespace;
pub mod ops;
pub mod redact;
pub mod retry;
pub mod router;
pub mod schema;
pub mod session;
pub mod stats;
pub mod sync;

//! polymongo-rs: a MongoDB pool engine for applications with many databases, and its Node.js binding.
//!
//! Everything but `binding` is pure Rust with no napi types, so it is tested with `cargo test`.

pub mod admission;
pub mod budget;
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
pub mod router;
pub mod schema;
pub mod stats;

mod binding;

//! polymongo-rs's Node addon: thin `#[napi]` classes over the engine (crates/engine). Requests and
//! results cross as BSON bytes; engine errors become JS errors here and nowhere else.

mod cursor;
mod errors;
mod namespace;
mod schema;
mod stats;
mod wrapper;

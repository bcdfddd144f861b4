//! polymongo-rs's Node addon: thin `#[napi]` classes over the engine (crates/engine). Requests and
//! results cross as BSON bytes; engine errors become JS errors here and nowhere else.

mod change_stream;
mod cursor;
mod errors;
mod namespace;
mod schema;
mod session;
mod stats;
mod wrapper;

/// The engine's tokio runtime, made before the first call. One worker thread unless
/// `TOKIO_WORKER_THREADS` asks for more (tokio reads it): the worker only moves bytes between the
/// pools' sockets and Node, as filters are cast and replies decoded on Node's thread, and one thread
/// wakes for each operation where two would hand work between them (≈ 3 fewer system calls and
/// 10–15 % less client CPU per operation, measured on the test server).
#[napi_derive::module_init]
fn init() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    // Should the runtime fail to build, napi-rs builds its default one, as without this hook.
    if let Ok(runtime) = builder.enable_all().build() {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

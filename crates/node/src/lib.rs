//! polymongo-rs's Node addon: thin `#[napi]` classes over the engine (crates/engine). Requests and
//! results cross as BSON bytes; engine errors become JS errors here and nowhere else.

mod bulk;
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

/// A deliberate panic, for the tests that check a panic becomes a JS error and never aborts the
/// process: `at` is `'call'` (panics in this call, which throws) or `'promise'` (panics in the work
/// behind the returned promise, which rejects). Refused unless the environment variable
/// `POLYMONGO_RS_TEST_PANICS` is `1`: it exists for tests only.
#[napi_derive::napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn panic_for_tests<'e>(env: &'e napi::Env, at: String) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'e, ()>> {
    if std::env::var("POLYMONGO_RS_TEST_PANICS").as_deref() != Ok("1") {
        return Err(napi::Error::from_reason("panicForTests() is for tests: set POLYMONGO_RS_TEST_PANICS=1"));
    }
    if at == "call" {
        panic!("a deliberate panic in a call");
    }
    env.spawn_future_with_callback(
        async move {
            if at == "promise" {
                panic!("a deliberate panic in a promise's work");
            }
            Ok(())
        },
        |_, ()| Ok(()),
    )
}

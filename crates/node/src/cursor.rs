//! `NativeCursor`: hands JS one Buffer of concatenated BSON documents per chunk.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use tokio::sync::Mutex;

use super::errors::promise;
use polymongo_engine::ops::cursor::DocCursor;

#[napi(object)]
pub struct Chunk {
    /// `count` BSON documents laid end to end.
    pub docs: Buffer,
    pub count: u32,
    /// True once the cursor has nothing more.
    pub done: bool,
}

#[napi]
pub struct NativeCursor {
    inner: Arc<Mutex<DocCursor>>,
}

impl NativeCursor {
    pub(crate) fn new(cursor: DocCursor) -> Self {
        NativeCursor { inner: Arc::new(Mutex::new(cursor)) }
    }
}

#[napi]
impl NativeCursor {
    #[napi(catch_unwind, ts_return_type = "Promise<Chunk>")]
    pub fn next_chunk<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Chunk>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.lock().await.next_chunk().await }, |_, chunk| {
            Ok(Chunk { docs: chunk.bytes.into(), count: chunk.count, done: chunk.done })
        })
    }

    /// Tells the engine the reader is reading the chunk it holds (no I/O): an unread cursor stops
    /// keeping its pool open after the pool's ttl, a cursor being read does not. A chunk being
    /// fetched is a use already.
    #[napi(catch_unwind)]
    pub fn touch(&self) {
        if let Ok(cursor) = self.inner.try_lock() {
            cursor.touch();
        }
    }

    /// Releases the cursor on the server; waits for a chunk in flight to finish first.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let inner = self.inner.clone();
        let work = async move {
            inner.lock().await.close();
            Ok(())
        };
        promise(env, work, |_, ()| Ok(()))
    }
}

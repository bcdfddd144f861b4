//! `NativeSession`: a session of the engine (crates/engine/src/session.rs) that requests name. Options
//! cross as BSON in the Node driver's shapes; the JS driver keeps the Node driver's transaction state
//! around it (lib/driver/session.js).

use std::sync::Arc;

use bson::Document;
use napi::bindgen_prelude::{Buffer, BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use super::errors::{js_error, promise};
use polymongo_engine::ops::decode;
use polymongo_engine::session::{self, Session};

#[napi]
pub struct NativeSession {
    pub(crate) inner: Arc<Session>,
}

impl NativeSession {
    pub(crate) fn new(inner: Arc<Session>) -> Self {
        NativeSession { inner }
    }
}

#[napi]
impl NativeSession {
    /// The session's `lsid`, `{ id: UUID }`, as BSON.
    #[napi(catch_unwind)]
    pub fn id<'e>(&self, env: &'e Env) -> napi::Result<BufferSlice<'e>> {
        let bytes = bson::serialize_to_vec(self.inner.id()).map_err(|e| js_error(env, &e.into()))?;
        BufferSlice::copy_from(env, bytes)
    }

    /// `{ operationTime?, clusterTime? }` as of the session's last request, as BSON.
    #[napi(catch_unwind)]
    pub fn times<'e>(&self, env: &'e Env) -> napi::Result<BufferSlice<'e>> {
        let bytes = bson::serialize_to_vec(&self.inner.times()).map_err(|e| js_error(env, &e.into()))?;
        BufferSlice::copy_from(env, bytes)
    }

    /// Keeps the session's pool open (`true`) from a transaction's start in JS to its first request,
    /// or no longer (`false`) when it ends with none. No I/O.
    #[napi(catch_unwind)]
    pub fn pin(&self, pinned: bool) {
        self.inner.pin(pinned);
    }

    /// Starts a transaction with `options` (BSON of the Node driver's TransactionOptions); its first
    /// request sends `startTransaction`. Rejects for a transaction in progress, a server without
    /// transactions, an option the engine does not take, or an ended session.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn start_transaction<'e>(&self, env: &'e Env, options: Buffer) -> napi::Result<PromiseRaw<'e, ()>> {
        let options = decode::<Document>("transaction options", &options)
            .and_then(|o| session::transaction_options(&o))
            .map_err(|e| js_error(env, &e))?;
        let session = self.inner.clone();
        promise(env, async move { session.start_transaction(Some(options)).await }, |_, ()| Ok(()))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn commit_transaction<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let session = self.inner.clone();
        promise(env, async move { session.commit_transaction().await }, |_, ()| Ok(()))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn abort_transaction<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let session = self.inner.clone();
        promise(env, async move { session.abort_transaction().await }, |_, ()| Ok(()))
    }

    /// Ends the session, aborting a transaction in progress.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn end<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let session = self.inner.clone();
        promise(
            env,
            async move {
                session.end().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}

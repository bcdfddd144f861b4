//! Bulk tasks: `NativeExport` hands JS NDJSON text a piece at a time, `NativeImport` takes it, and a
//! `NativeBulkTask` is what JS reads progress from, aborts with and gives the schemas to validate
//! imported documents with.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use tokio::sync::Mutex;

use super::errors::promise;
use super::schema::NativeSchema;
use polymongo_engine::bulk::import::NdjsonImport;
use polymongo_engine::bulk::ndjson::NdjsonExport;
use polymongo_engine::bulk::{Progress, Validators};

/// What a bulk task has done in the collection it is working on.
#[napi(object)]
pub struct ProgressObject {
    pub collection: String,
    pub documents: f64,
    /// Bytes of BSON read or written in this collection.
    pub bytes: f64,
    /// The collection's document count, when known.
    pub total: Option<f64>,
}

#[napi]
#[derive(Default)]
pub struct NativeBulkTask {
    pub(crate) progress: Arc<Progress>,
    validators: std::sync::Mutex<Validators>,
}

impl NativeBulkTask {
    /// The schemas given with `validate`.
    pub(crate) fn validators(&self) -> Validators {
        self.validators.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[napi]
impl NativeBulkTask {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeBulkTask::default()
    }

    /// Documents imported into `collection` must satisfy `schema` to be written.
    #[napi(catch_unwind)]
    pub fn validate(&self, collection: String, schema: &NativeSchema) {
        if let Ok(mut validators) = self.validators.lock() {
            validators.insert(collection, schema.inner.clone());
        }
    }

    /// The task's progress now (no I/O).
    #[napi(catch_unwind)]
    pub fn snapshot(&self) -> ProgressObject {
        let now = self.progress.snapshot();
        ProgressObject {
            collection: now.collection,
            documents: now.documents as f64,
            bytes: now.bytes as f64,
            total: now.total.map(|n| n as f64),
        }
    }

    /// Stops the task at its next batch (it fails with an AbortError after rolling back).
    #[napi(catch_unwind)]
    pub fn abort(&self) {
        self.progress.abort();
    }
}

#[napi]
pub struct NativeExport {
    inner: Arc<Mutex<NdjsonExport>>,
}

impl NativeExport {
    pub(crate) fn new(export: NdjsonExport) -> Self {
        NativeExport { inner: Arc::new(Mutex::new(export)) }
    }
}

#[napi]
impl NativeExport {
    /// The next whole lines of NDJSON, `null` at the end.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Option<Buffer>>> {
        let inner = self.inner.clone();
        promise(env, async move { inner.lock().await.next().await }, |_, text| Ok(text.map(Buffer::from)))
    }

    /// Stops the export and releases its cursor, once a piece being read is done.
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

#[napi]
pub struct NativeImport {
    inner: Arc<Mutex<NdjsonImport>>,
}

impl NativeImport {
    pub(crate) fn new(import: NdjsonImport) -> Self {
        NativeImport { inner: Arc::new(Mutex::new(import)) }
    }
}

#[napi]
impl NativeImport {
    /// More NDJSON; resolves once what it completes is written.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn push<'e>(&self, env: &'e Env, bytes: Buffer) -> napi::Result<PromiseRaw<'e, ()>> {
        let inner = self.inner.clone();
        let bytes = bytes.to_vec();
        promise(env, async move { inner.lock().await.push(&bytes).await }, |_, ()| Ok(()))
    }

    /// The end of the stream: resolves to the summary as JSON.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn finish<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, String>> {
        let inner = self.inner.clone();
        super::wrapper::summary(env, async move { inner.lock().await.finish().await })
    }

    /// Rolls back the collection being written; rejects with the AbortError (or the rollback's
    /// failure).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn abort<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let inner = self.inner.clone();
        promise(env, async move { Err::<(), _>(inner.lock().await.abort().await) }, |_, ()| Ok(()))
    }
}

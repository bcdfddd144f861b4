//! `NativeCollection`: the operations of one (database, collection). Each takes one BSON request and
//! resolves to BSON bytes (or a count), which the JS facade decodes with the application's BSON.

use bson::RawDocumentBuf;
use napi::bindgen_prelude::{Buffer, BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use super::cursor::NativeCursor;
use super::errors::{js_error, promise};
use crate::engine::Namespace;
use crate::ops::cursor::{DocCursor, Source};
use crate::ops::write::{BulkWriteRequest, BulkWriteResult, WriteModel};
use crate::ops::{decode, read};

#[napi]
pub struct NativeCollection {
    ns: Namespace,
}

type MaybeDoc<'e> = Option<BufferSlice<'e>>;

fn doc_bytes(env: &Env, doc: Option<RawDocumentBuf>) -> napi::Result<Option<BufferSlice<'_>>> {
    doc.map(|d| BufferSlice::copy_from(env, d.as_bytes())).transpose()
}

fn result_bytes(env: &Env, result: BulkWriteResult) -> napi::Result<BufferSlice<'_>> {
    let bytes = bson::serialize_to_vec(&result).map_err(|e| js_error(env, &e.into()))?;
    BufferSlice::copy_from(env, bytes)
}

impl NativeCollection {
    pub(crate) fn new(ns: Namespace) -> Self {
        NativeCollection { ns }
    }

    /// Decodes a request on the JS thread, so a malformed one throws before anything is sent.
    fn request<T: serde::de::DeserializeOwned>(&self, env: &Env, what: &str, bytes: &[u8]) -> napi::Result<T> {
        decode(what, bytes).map_err(|e| js_error(env, &e))
    }
}

#[napi]
impl NativeCollection {
    #[napi(getter)]
    pub fn db_name(&self) -> String {
        self.ns.db.clone()
    }

    #[napi(getter)]
    pub fn collection_name(&self) -> String {
        self.ns.coll.clone()
    }

    /// `{ filter, options }` → a cursor; the query runs when its first chunk is asked for.
    #[napi]
    pub fn find(&self, env: Env, request: Buffer) -> napi::Result<NativeCursor> {
        let req = self.request(&env, "find request", &request)?;
        Ok(NativeCursor::new(DocCursor::new(Source::Find(self.ns.clone(), req))))
    }

    /// `{ pipeline, options }` → a cursor.
    #[napi]
    pub fn aggregate(&self, env: Env, request: Buffer) -> napi::Result<NativeCursor> {
        let req = self.request(&env, "aggregate request", &request)?;
        Ok(NativeCursor::new(DocCursor::new(Source::Aggregate(self.ns.clone(), req))))
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOne request", &request)?);
        promise(env, async move { read::find_one(&ns, req).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn count_documents<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, f64>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "countDocuments request", &request)?);
        promise(env, async move { read::count_documents(&ns, req).await }, |_, n| Ok(n as f64))
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn estimated_document_count<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, f64>> {
        let ns = self.ns.clone();
        let req: read::FilterRequest = self.request(env, "estimatedDocumentCount request", &request)?;
        promise(env, async move { read::estimated_document_count(&ns, req.options).await }, |_, n| Ok(n as f64))
    }

    /// `{ field, filter, options }` → `{ values: [...] }`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn distinct<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "distinct request", &request)?);
        let work = async move {
            let values = read::distinct(&ns, req).await?;
            Ok(bson::serialize_to_vec(&bson::doc! { "values": values })?)
        };
        promise(env, work, BufferSlice::copy_from)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_update<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndUpdate request", &request)?);
        promise(env, async move { read::find_one_and_update(&ns, req).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_replace<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndReplace request", &request)?);
        promise(env, async move { read::find_one_and_replace(&ns, req).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_delete<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndDelete request", &request)?);
        promise(env, async move { read::find_one_and_delete(&ns, req).await }, doc_bytes)
    }

    /// One write model (`{ insertOne: { document } }`, `{ updateOne: {...} }`, ...) → the result as BSON.
    /// Fails with the server's error for that write (MongoServerError).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn write_one<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, op): (_, WriteModel) = (self.ns.clone(), self.request(env, "write", &request)?);
        promise(env, async move { crate::ops::write::write_one(&ns, op).await }, result_bytes)
    }

    /// `{ ops, ordered }` → the result as BSON; fails with a MongoBulkWriteError carrying the result.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn bulk_write<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, req): (_, BulkWriteRequest) = (self.ns.clone(), self.request(env, "bulkWrite request", &request)?);
        promise(env, async move { crate::ops::write::bulk_write(&ns, req).await }, result_bytes)
    }
}

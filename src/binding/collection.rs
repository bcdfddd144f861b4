//! `NativeCollection`: the operations of one (database, collection). Each takes one BSON request and
//! resolves to BSON bytes (or a count), which the JS facade decodes with the application's BSON.

use std::sync::Arc;

use bson::RawDocumentBuf;
use napi::bindgen_prelude::{Buffer, BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use super::cursor::NativeCursor;
use super::errors::{js_error, promise};
use crate::engine::Namespace;
use crate::ops::cursor::{DocCursor, Source};
use crate::ops::prepare::Prepare;
use crate::ops::write::{BulkWriteRequest, BulkWriteResult, WriteModel};
use crate::ops::{decode, read, setup};
use crate::schema::Schema;

#[napi]
pub struct NativeCollection {
    ns: Namespace,
    /// The model's schema, which casts filters and updates; none for a collection used without one.
    schema: Option<Arc<Schema>>,
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
    pub(crate) fn new(ns: Namespace, schema: Option<Arc<Schema>>) -> Self {
        NativeCollection { ns, schema }
    }

    /// Decodes a request and casts it by the schema on the JS thread, so a malformed request or a
    /// value that cannot be cast throws before anything is sent.
    fn request<T: serde::de::DeserializeOwned + Prepare>(
        &self,
        env: &Env,
        what: &str,
        bytes: &[u8],
    ) -> napi::Result<T> {
        let prepared = decode(what, bytes).and_then(|mut req: T| {
            if let Some(schema) = &self.schema {
                req.prepare(schema)?;
            }
            Ok(req)
        });
        prepared.map_err(|e| js_error(env, &e))
    }

    fn documents(env: &Env, docs: Vec<Buffer>) -> napi::Result<Vec<WriteModel>> {
        docs.into_iter()
            .map(|doc| {
                let document = RawDocumentBuf::from_bytes(doc.to_vec()).map_err(|e| js_error(env, &e.into()))?;
                Ok(WriteModel::InsertOne { document })
            })
            .collect()
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
        Ok(NativeCursor::new(DocCursor::new(self.ns.clone(), Source::Find(req))))
    }

    /// `{ pipeline, options }` → a cursor.
    #[napi]
    pub fn aggregate(&self, env: Env, request: Buffer) -> napi::Result<NativeCursor> {
        let req = decode("aggregate request", &request).map_err(|e| js_error(&env, &e))?;
        Ok(NativeCursor::new(DocCursor::new(self.ns.clone(), Source::Aggregate(req))))
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOne request", &request)?);
        promise(env, async move { ns.track(read::find_one(&ns, req)).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn count_documents<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, f64>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "countDocuments request", &request)?);
        promise(env, async move { ns.track(read::count_documents(&ns, req)).await }, |_, n| Ok(n as f64))
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn estimated_document_count<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, f64>> {
        let ns = self.ns.clone();
        let req: read::FilterRequest = self.request(env, "estimatedDocumentCount request", &request)?;
        promise(env, async move { ns.track(read::estimated_document_count(&ns, req.options)).await }, |_, n| {
            Ok(n as f64)
        })
    }

    /// `{ field, filter, options }` → `{ values: [...] }`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn distinct<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "distinct request", &request)?);
        let work = async move {
            let values = ns.track(read::distinct(&ns, req)).await?;
            Ok(bson::serialize_to_vec(&bson::doc! { "values": values })?)
        };
        promise(env, work, BufferSlice::copy_from)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_update<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndUpdate request", &request)?);
        promise(env, async move { ns.track(read::find_one_and_update(&ns, req)).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_replace<'e>(
        &self,
        env: &'e Env,
        request: Buffer,
    ) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndReplace request", &request)?);
        promise(env, async move { ns.track(read::find_one_and_replace(&ns, req)).await }, doc_bytes)
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn find_one_and_delete<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, MaybeDoc<'e>>> {
        let (ns, req) = (self.ns.clone(), self.request(env, "findOneAndDelete request", &request)?);
        promise(env, async move { ns.track(read::find_one_and_delete(&ns, req)).await }, doc_bytes)
    }

    /// One document, already cast by the schema → the result as BSON; fails with a MongoServerError.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn insert_one<'e>(&self, env: &'e Env, document: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, mut ops) = (self.ns.clone(), Self::documents(env, vec![document])?);
        promise(env, async move { ns.track(crate::ops::write::write_one(&ns, ops.remove(0))).await }, result_bytes)
    }

    /// Documents, already cast by the schema → the result as BSON; fails with a MongoBulkWriteError.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn insert_many<'e>(
        &self,
        env: &'e Env,
        documents: Vec<Buffer>,
        ordered: bool,
    ) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let req = BulkWriteRequest { ops: Self::documents(env, documents)?, ordered, bypass_document_validation: None };
        let ns = self.ns.clone();
        promise(env, async move { ns.track(crate::ops::write::bulk_write(&ns, req)).await }, result_bytes)
    }

    /// Creates the schema's indexes here, and with `jsonSchema` applies its `$jsonSchema` validator.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_up<'e>(&self, env: &'e Env, json_schema: bool) -> napi::Result<PromiseRaw<'e, ()>> {
        let (ns, schema) = (self.ns.clone(), self.schema.clone());
        let work = async move {
            match schema {
                Some(schema) => setup::set_up(&ns, &schema, json_schema).await,
                None => Ok(()),
            }
        };
        promise(env, work, |_, ()| Ok(()))
    }

    /// One write model (`{ insertOne: { document } }`, `{ updateOne: {...} }`, ...) → the result as BSON.
    /// Fails with the server's error for that write (MongoServerError).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn write_one<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, op): (_, WriteModel) = (self.ns.clone(), self.request(env, "write", &request)?);
        promise(env, async move { ns.track(crate::ops::write::write_one(&ns, op)).await }, result_bytes)
    }

    /// `{ ops, ordered }` → the result as BSON; fails with a MongoBulkWriteError carrying the result.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn bulk_write<'e>(&self, env: &'e Env, request: Buffer) -> napi::Result<PromiseRaw<'e, BufferSlice<'e>>> {
        let (ns, req): (_, BulkWriteRequest) = (self.ns.clone(), self.request(env, "bulkWrite request", &request)?);
        promise(env, async move { ns.track(crate::ops::write::bulk_write(&ns, req)).await }, result_bytes)
    }
}

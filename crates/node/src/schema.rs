//! `NativeSchema`: a model's schema spec, parsed once, shared by its collections in every database.

use std::sync::Arc;

use bson::oid::ObjectId;
use bson::Document;
use napi::bindgen_prelude::{Buffer, BufferSlice, Function, Uint8Array};
use napi::Env;
use napi_derive::napi;

use super::errors::js_error;
use polymongo_engine::ops::decode;
use polymongo_engine::schema::{DocumentMode, Schema};

#[napi]
pub struct NativeSchema {
    pub(crate) inner: Arc<Schema>,
}

fn bytes<'e>(env: &'e Env, doc: &Document) -> napi::Result<BufferSlice<'e>> {
    let bytes = bson::serialize_to_vec(doc).map_err(|e| js_error(env, &e.into()))?;
    BufferSlice::copy_from(env, bytes)
}

#[napi]
impl NativeSchema {
    /// Parses a spec written as canonical Extended JSON.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, spec: String) -> napi::Result<Self> {
        let inner = Schema::parse(&spec).map_err(|e| js_error(&env, &e))?;
        Ok(NativeSchema { inner: Arc::new(inner) })
    }

    /// The validator ids whose patterns Rust cannot run; the facade runs them.
    #[napi(catch_unwind, getter)]
    pub fn js_validators(&self) -> Vec<u32> {
        self.inner.js_checks().to_vec()
    }

    /// A whole document, cast, filled in and validated, as BSON `{ held, stored? }`: `held` as
    /// Mongoose's new document holds it, `stored` what its save stores when that differs (minimized).
    /// Throws a ValidationError or StrictModeError. `next_id` gives the 12 bytes of a new ObjectId
    /// (the application's maker, `new ObjectId().id`); the cast calls it for each auto `_id`, in
    /// Mongoose's order.
    #[napi(catch_unwind)]
    pub fn cast_document<'e>(
        &self,
        env: &'e Env,
        doc: Buffer,
        replace: bool,
        next_id: Function<(), Uint8Array>,
    ) -> napi::Result<BufferSlice<'e>> {
        let mode = if replace { DocumentMode::Replace } else { DocumentMode::Insert };
        // A maker that fails (it is ours, so it should not) fails the cast: its id is not used.
        let mut failed = None;
        let mut ids = || match next_id.call(()).and_then(|id| {
            <[u8; 12]>::try_from(&id[..]).map_err(|_| napi::Error::from_reason("an ObjectId is 12 bytes"))
        }) {
            Ok(id) => ObjectId::from_bytes(id),
            Err(err) => {
                failed.get_or_insert(err);
                ObjectId::new()
            }
        };
        let cast = decode::<Document>("document", &doc).and_then(|d| self.inner.cast_document(d, mode, &mut ids));
        if let Some(err) = failed {
            return Err(err);
        }
        let cast = cast.map_err(|e| js_error(env, &e))?;
        let mut out = bson::doc! { "held": cast.held };
        if let Some(stored) = cast.stored {
            out.insert("stored", stored);
        }
        bytes(env, &out)
    }

    /// The `$jsonSchema` validator derived from the schema, as BSON.
    #[napi(catch_unwind)]
    pub fn json_schema<'e>(&self, env: &'e Env) -> napi::Result<BufferSlice<'e>> {
        bytes(env, &self.inner.json_schema())
    }

    /// A filter as the operations cast it; throws a CastError.
    #[napi(catch_unwind)]
    pub fn cast_filter<'e>(&self, env: &'e Env, filter: Buffer) -> napi::Result<BufferSlice<'e>> {
        let cast = decode::<Document>("filter", &filter).and_then(|mut f| self.inner.cast_filter(&mut f).map(|_| f));
        bytes(env, &cast.map_err(|e| js_error(env, &e))?)
    }
}

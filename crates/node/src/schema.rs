//! `NativeSchema`: a model's schema spec, parsed once, shared by its collections in every database.

use std::sync::Arc;

use bson::Document;
use napi::bindgen_prelude::{Buffer, BufferSlice};
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
    #[napi(constructor)]
    pub fn new(env: Env, spec: String) -> napi::Result<Self> {
        let inner = Schema::parse(&spec).map_err(|e| js_error(&env, &e))?;
        Ok(NativeSchema { inner: Arc::new(inner) })
    }

    /// The validator ids whose patterns Rust cannot run; the facade runs them.
    #[napi(getter)]
    pub fn js_validators(&self) -> Vec<u32> {
        self.inner.js_checks().to_vec()
    }

    /// A whole document, cast, filled in and validated; throws a ValidationError or StrictModeError.
    #[napi]
    pub fn cast_document<'e>(&self, env: &'e Env, doc: Buffer, replace: bool) -> napi::Result<BufferSlice<'e>> {
        let mode = if replace { DocumentMode::Replace } else { DocumentMode::Insert };
        let cast = decode::<Document>("document", &doc).and_then(|d| self.inner.cast_document(d, mode));
        bytes(env, &cast.map_err(|e| js_error(env, &e))?)
    }

    /// The `$jsonSchema` validator derived from the schema, as BSON.
    #[napi]
    pub fn json_schema<'e>(&self, env: &'e Env) -> napi::Result<BufferSlice<'e>> {
        bytes(env, &self.inner.json_schema())
    }

    /// A filter as the operations cast it; throws a CastError.
    #[napi]
    pub fn cast_filter<'e>(&self, env: &'e Env, filter: Buffer) -> napi::Result<BufferSlice<'e>> {
        let cast = decode::<Document>("filter", &filter).and_then(|mut f| self.inner.cast_filter(&mut f).map(|_| f));
        bytes(env, &cast.map_err(|e| js_error(env, &e))?)
    }
}

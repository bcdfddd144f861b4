//! `NativeNamespace`: a database, or a (database, collection), and the one method that runs a request
//! there. A request crosses as an operation name and BSON bytes; its reply comes back as BSON bytes,
//! a count or null, which the JS driver decodes with the application's BSON.

use bson::RawDocumentBuf;
use napi::bindgen_prelude::{Buffer, BufferSlice, Either3, Null, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use super::cursor::NativeCursor;
use super::errors::{js_error, promise};
use super::schema::NativeSchema;
use super::session::NativeSession;
use polymongo_engine::namespace::Namespace;
use polymongo_engine::ops::cursor::DocCursor;
use polymongo_engine::ops::{self, CursorRequest, Reply, Request};

#[napi]
pub struct NativeNamespace {
    ns: Namespace,
}

type ReplyValue<'e> = Either3<BufferSlice<'e>, f64, Null>;

impl NativeNamespace {
    pub(crate) fn new(ns: Namespace) -> Self {
        NativeNamespace { ns }
    }
}

fn reply_value(env: &Env, reply: Reply) -> napi::Result<ReplyValue<'_>> {
    Ok(match reply {
        Reply::Document(doc) | Reply::Written { result: doc, .. } => {
            Either3::A(BufferSlice::copy_from(env, RawDocumentBuf::into_bytes(doc))?)
        }
        Reply::Count(n) => Either3::B(n as f64),
        Reply::None => Either3::C(Null),
    })
}

#[napi]
impl NativeNamespace {
    #[napi(catch_unwind, getter)]
    pub fn db_name(&self) -> String {
        self.ns.db.clone()
    }

    /// The collection's name; null for a database.
    #[napi(catch_unwind, getter)]
    pub fn collection_name(&self) -> Option<String> {
        self.ns.coll.clone()
    }

    /// Runs request `op` (`findOne`, `countDocuments`, `estimatedDocumentCount`, `distinct`, `write`,
    /// `command`) read from `request` (BSON). With `schema`, filters and updates are cast by it first
    /// (the fast path), synchronously: a malformed request or a failed cast throws before any I/O.
    /// With `session`, it runs in that session (and its transaction). Resolves to the reply as BSON,
    /// a count, or null (no document).
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer | number | null>")]
    pub fn execute<'e>(
        &self,
        env: &'e Env,
        op: String,
        request: Buffer,
        schema: Option<&NativeSchema>,
        session: Option<&NativeSession>,
    ) -> napi::Result<PromiseRaw<'e, ReplyValue<'e>>> {
        let request =
            ops::prepare(Request::decode(&op, &request, self.ns.javascript_enabled), schema.map(|s| &*s.inner));
        let request = request.map_err(|e| js_error(env, &e))?;
        let ns = self.ns.clone();
        let session = session.map(|s| s.inner.clone());
        promise(env, async move { ops::execute(&ns, request, session.as_deref()).await }, reply_value)
    }

    /// Opens a cursor for request `op` (`find`, `aggregate`, `command`); nothing is sent until its first
    /// chunk is asked for. `schema` and `session` as for `execute`.
    #[napi(catch_unwind)]
    pub fn cursor(
        &self,
        env: Env,
        op: String,
        request: Buffer,
        schema: Option<&NativeSchema>,
        session: Option<&NativeSession>,
    ) -> napi::Result<NativeCursor> {
        let request =
            ops::prepare(CursorRequest::decode(&op, &request, self.ns.javascript_enabled), schema.map(|s| &*s.inner));
        let request = request.map_err(|e| js_error(&env, &e))?;
        let session = session.map(|s| s.inner.clone());
        Ok(NativeCursor::new(DocCursor::new(self.ns.clone(), request, session)))
    }
}

//! `NativeChangeStream`: a change stream of the engine (crates/engine/src/change_stream.rs). Changes
//! cross in batches as one BSON document, which the JS driver decodes with the application's BSON and
//! hands out in the Node driver's ChangeStream shape (lib/driver/change-stream.js).

use std::sync::Arc;

use bson::{cstr, RawArrayBuf, RawBson, RawDocumentBuf};
use napi::bindgen_prelude::{Buffer, Null, PromiseRaw};
use napi::Env;
use napi_derive::napi;

use super::errors::{js_error, promise};
use polymongo_engine::change_stream::{Change, Watch};
use polymongo_engine::config::millis;
use polymongo_engine::error::Error;

#[napi]
pub struct NativeChangeStream {
    inner: Arc<Watch>,
}

impl NativeChangeStream {
    pub(crate) fn new(inner: Arc<Watch>) -> Self {
        NativeChangeStream { inner }
    }
}

/// `{ changes: [{ event?, token }, ...] }`: each change event as the server sent it, and the resume
/// token after it (a token alone: a batch that came back empty with a newer one).
fn batch_bytes(changes: Vec<Change>) -> Result<Vec<u8>, Error> {
    let mut list = RawArrayBuf::new();
    for change in changes {
        let mut item = RawDocumentBuf::new();
        if let Some(event) = change.event {
            item.append(cstr!("event"), event);
        }
        let token = bson::serialize_to_bson(&change.token)?;
        item.append(cstr!("token"), RawBson::try_from(token)?);
        list.push(item);
    }
    let mut batch = RawDocumentBuf::new();
    batch.append(cstr!("changes"), list);
    Ok(batch.into_bytes())
}

#[napi]
impl NativeChangeStream {
    /// The database the stream watches.
    #[napi(catch_unwind, getter)]
    pub fn db_name(&self) -> String {
        self.inner.db().to_owned()
    }

    /// Whether the stream was closed: by `close()`, its database's or every stream's closing, or the
    /// wrapper's. False for a stream the server ended or a failure did.
    #[napi(catch_unwind, getter)]
    pub fn closed(&self) -> bool {
        self.inner.closed()
    }

    /// The next changes as BSON (see `batch_bytes`), waiting up to `waitMs` (without limit when
    /// null) for the first, possibly none; null once the stream is closed or has ended. Rejects with
    /// the failure that ended the stream, once.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer | null>")]
    pub fn next_batch<'e>(
        &self,
        env: &'e Env,
        wait_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'e, napi::Either<Buffer, Null>>> {
        let wait = wait_ms.map(|ms| millis("maxAwaitTimeMS", ms)).transpose().map_err(|e| js_error(env, &e))?;
        let watch = self.inner.clone();
        let work = async move {
            match watch.next_batch(wait).await? {
                Some(changes) => batch_bytes(changes).map(Some),
                None => Ok(None),
            }
        };
        promise(env, work, |_, batch| {
            Ok(match batch {
                Some(bytes) => napi::Either::A(bytes.into()),
                None => napi::Either::B(Null),
            })
        })
    }

    /// Closes the stream; resolves once its task has ended.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, ()>> {
        let watch = self.inner.clone();
        promise(
            env,
            async move {
                watch.close().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Bson};

    #[test]
    fn a_batch_carries_events_and_tokens() {
        let token = bson::deserialize_from_bson(Bson::Document(doc! { "_data": "82" })).unwrap();
        let event = bson::rawdoc! { "operationType": "insert" };
        let bytes = batch_bytes(vec![Change { event: Some(event), token }]).unwrap();
        let batch = bson::Document::from_reader(&bytes[..]).unwrap();
        assert_eq!(batch, doc! { "changes": [{ "event": { "operationType": "insert" }, "token": { "_data": "82" } }] });
    }
}

//! Reads through the driver's typed API, on raw documents that are never decoded.

use bson::{Document, RawDocumentBuf};
use mongodb::action::Action;
use mongodb::ClientSession;
use serde::Deserialize;

use super::options::QueryOptions;
use crate::error::Error;
use crate::namespace::Namespace;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FilterRequest {
    pub filter: Document,
    pub options: QueryOptions,
}

#[derive(Debug, Deserialize)]
pub struct DistinctRequest {
    pub field: String,
    #[serde(default)]
    pub filter: Document,
    #[serde(default)]
    pub options: QueryOptions,
}

#[derive(Debug, Deserialize)]
pub struct AggregateRequest {
    pub pipeline: Vec<Document>,
    #[serde(default)]
    pub options: QueryOptions,
}

/// The first document matching the filter, honouring sort, skip and projection.
pub async fn find_one(
    ns: &Namespace,
    req: FilterRequest,
    session: Option<&mut ClientSession>,
) -> Result<Option<RawDocumentBuf>, Error> {
    let mut options = req.options.find();
    // A negative limit asks the server for a single batch and no cursor left open.
    options.limit = Some(-1);
    let coll = ns.collection().await?;
    let find = coll.find(req.filter).with_options(options);
    let found = match session {
        Some(session) => {
            let mut cursor = find.session(&mut *session).await?;
            cursor.advance(session).await?.then(|| cursor.current().to_owned())
        }
        None => {
            let mut cursor = find.await?;
            cursor.advance().await?.then(|| cursor.current().to_owned())
        }
    };
    Ok(found)
}

pub async fn count_documents(
    ns: &Namespace,
    req: FilterRequest,
    session: Option<&mut ClientSession>,
) -> Result<u64, Error> {
    let options = req.options.count()?;
    let coll = ns.collection().await?;
    let count = coll.count_documents(req.filter).with_options(options);
    Ok(count.optional(session, |a, s| a.session(s)).await?)
}

/// The count from the collection's metadata. The server takes no session for it in a transaction
/// (`count` is not allowed there), so a session is refused rather than left out.
pub async fn estimated_document_count(
    ns: &Namespace,
    req: FilterRequest,
    session: Option<&mut ClientSession>,
) -> Result<u64, Error> {
    if session.is_some() {
        return Err(Error::InvalidArgument(
            "estimatedDocumentCount does not take a session; use countDocuments".into(),
        ));
    }
    let options = req.options.estimated_count();
    Ok(ns.collection().await?.estimated_document_count().with_options(options).await?)
}

/// `{ values: [...] }`
pub async fn distinct(
    ns: &Namespace,
    req: DistinctRequest,
    session: Option<&mut ClientSession>,
) -> Result<RawDocumentBuf, Error> {
    let coll = ns.collection().await?;
    let distinct = coll.distinct(req.field, req.filter).with_options(req.options.distinct());
    let values = distinct.optional(session, |a, s| a.session(s)).await?;
    Ok(RawDocumentBuf::try_from(&bson::doc! { "values": values })?)
}

//! Reads through the driver's typed API, on raw documents that are never decoded.

use bson::{Document, RawDocumentBuf};
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
pub async fn find_one(ns: &Namespace, req: FilterRequest) -> Result<Option<RawDocumentBuf>, Error> {
    let mut options = req.options.find();
    // A negative limit asks the server for a single batch and no cursor left open.
    options.limit = Some(-1);
    let mut cursor = ns.collection().await?.find(req.filter).with_options(options).await?;
    Ok(if cursor.advance().await? { Some(cursor.current().to_owned()) } else { None })
}

pub async fn count_documents(ns: &Namespace, req: FilterRequest) -> Result<u64, Error> {
    let options = req.options.count()?;
    Ok(ns.collection().await?.count_documents(req.filter).with_options(options).await?)
}

pub async fn estimated_document_count(ns: &Namespace, req: FilterRequest) -> Result<u64, Error> {
    let options = req.options.estimated_count();
    Ok(ns.collection().await?.estimated_document_count().with_options(options).await?)
}

/// `{ values: [...] }`
pub async fn distinct(ns: &Namespace, req: DistinctRequest) -> Result<RawDocumentBuf, Error> {
    let coll = ns.collection().await?;
    let values = coll.distinct(req.field, req.filter).with_options(req.options.distinct()).await?;
    Ok(RawDocumentBuf::try_from(&bson::doc! { "values": values })?)
}

//! Reads and find-and-modify through the driver's typed API, on raw documents that are never decoded.

use bson::{Bson, Document, RawDocumentBuf};
use mongodb::options::UpdateModifications;
use serde::Deserialize;

use super::options::QueryOptions;
use crate::engine::Namespace;
use crate::error::Error;

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

#[derive(Debug, Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    pub filter: Document,
    /// An update document (`$set`, ...) or an aggregation pipeline.
    pub update: Bson,
    #[serde(default)]
    pub options: QueryOptions,
}

#[derive(Debug, Deserialize)]
pub struct ReplaceRequest {
    #[serde(default)]
    pub filter: Document,
    pub replacement: RawDocumentBuf,
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

pub async fn estimated_document_count(ns: &Namespace, options: QueryOptions) -> Result<u64, Error> {
    Ok(ns.collection().await?.estimated_document_count().with_options(options.estimated_count()).await?)
}

pub async fn distinct(ns: &Namespace, req: DistinctRequest) -> Result<Vec<Bson>, Error> {
    let coll = ns.collection().await?;
    Ok(coll.distinct(req.field, req.filter).with_options(req.options.distinct()).await?)
}

pub async fn find_one_and_update(ns: &Namespace, req: UpdateRequest) -> Result<Option<RawDocumentBuf>, Error> {
    let update = match req.update {
        Bson::Document(doc) => UpdateModifications::Document(doc),
        Bson::Array(stages) => UpdateModifications::Pipeline(
            stages
                .into_iter()
                .map(|stage| match stage {
                    Bson::Document(doc) => Ok(doc),
                    other => {
                        Err(Error::InvalidArgument(format!("an update pipeline stage must be a document, got {other}")))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(Error::InvalidArgument(format!("an update must be a document or a pipeline, got {other}")))
        }
    };
    let options = req.options.find_one_and_update()?;
    Ok(ns.collection().await?.find_one_and_update(req.filter, update).with_options(options).await?)
}

pub async fn find_one_and_replace(ns: &Namespace, req: ReplaceRequest) -> Result<Option<RawDocumentBuf>, Error> {
    let options = req.options.find_one_and_replace()?;
    let coll = ns.collection().await?;
    Ok(coll.find_one_and_replace(req.filter, req.replacement).with_options(options).await?)
}

pub async fn find_one_and_delete(ns: &Namespace, req: FilterRequest) -> Result<Option<RawDocumentBuf>, Error> {
    let options = req.options.find_one_and_delete();
    Ok(ns.collection().await?.find_one_and_delete(req.filter).with_options(options).await?)
}

//! The client-level bulk write (MongoDB 8.0's `bulkWrite` command): writes to any namespaces in one
//! request, as the Node driver's `MongoClient.bulkWrite` takes them, run by the driver's own
//! `Client::bulk_write`. Every namespace must be served by the same pool as the request's own database
//! (one command runs on one connection); its outcome is data, failed writes included, like a
//! collection's bulk write.

use bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::error::{BulkWriteError, ErrorKind, PartialBulkWriteResult, WriteConcernError, WriteError};
use mongodb::options::{
    DeleteManyModel, DeleteOneModel, InsertOneModel, ReplaceOneModel, UpdateManyModel, UpdateModifications,
    UpdateOneModel, WriteConcern, WriteModel,
};
use mongodb::results::{SummaryBulkWriteResult, VerboseBulkWriteResult};
use mongodb::ClientSession;
use serde::Deserialize;

use crate::error::Error;
use crate::namespace::Namespace;

/// `{ models, ordered, verboseResults, bypassDocumentValidation, comment, let, writeConcern }`: the
/// Node driver's `client.bulkWrite(models, options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientBulkWriteRequest {
    pub models: Vec<ClientWriteModel>,
    pub ordered: Option<bool>,
    #[serde(default)]
    pub verbose_results: bool,
    pub bypass_document_validation: Option<bool>,
    pub comment: Option<Bson>,
    #[serde(rename = "let")]
    pub let_vars: Option<Document>,
    /// `{ w, j, wtimeout }`; the URI's when absent.
    pub write_concern: Option<WriteConcern>,
}

/// One write, named by `name` and aimed at `namespace` (`"db.collection"`), as the Node driver's
/// `ClientBulkWriteModel`.
#[derive(Debug, Deserialize)]
#[serde(tag = "name", rename_all = "camelCase")]
pub enum ClientWriteModel {
    #[serde(rename_all = "camelCase")]
    InsertOne { namespace: String, document: Document },
    #[serde(rename_all = "camelCase")]
    UpdateOne {
        namespace: String,
        filter: Document,
        update: Bson,
        upsert: Option<bool>,
        array_filters: Option<Vec<Bson>>,
        collation: Option<Document>,
        hint: Option<Bson>,
        sort: Option<Document>,
    },
    #[serde(rename_all = "camelCase")]
    UpdateMany {
        namespace: String,
        filter: Document,
        update: Bson,
        upsert: Option<bool>,
        array_filters: Option<Vec<Bson>>,
        collation: Option<Document>,
        hint: Option<Bson>,
    },
    #[serde(rename_all = "camelCase")]
    ReplaceOne {
        namespace: String,
        filter: Document,
        replacement: Document,
        upsert: Option<bool>,
        collation: Option<Document>,
        hint: Option<Bson>,
        sort: Option<Document>,
    },
    #[serde(rename_all = "camelCase")]
    DeleteOne { namespace: String, filter: Document, collation: Option<Document>, hint: Option<Bson> },
    #[serde(rename_all = "camelCase")]
    DeleteMany { namespace: String, filter: Document, collation: Option<Document>, hint: Option<Bson> },
}

impl ClientWriteModel {
    fn namespace(&self) -> &str {
        match self {
            Self::InsertOne { namespace, .. }
            | Self::UpdateOne { namespace, .. }
            | Self::UpdateMany { namespace, .. }
            | Self::ReplaceOne { namespace, .. }
            | Self::DeleteOne { namespace, .. }
            | Self::DeleteMany { namespace, .. } => namespace,
        }
    }

    /// The driver's model; a namespace without a collection or an update that is neither a document of
    /// operators nor a pipeline is `InvalidArgument`.
    fn into_driver(self) -> Result<WriteModel, Error> {
        let ns = |namespace: &str| match namespace.split_once('.') {
            Some((db, coll)) if !db.is_empty() && !coll.is_empty() => {
                Ok(mongodb::Namespace { db: db.to_owned(), coll: coll.to_owned() })
            }
            _ => Err(Error::InvalidArgument(format!(
                "bulkWrite: namespace {namespace:?} is not \"database.collection\""
            ))),
        };
        Ok(match self {
            Self::InsertOne { namespace, document } => {
                InsertOneModel::builder().namespace(ns(&namespace)?).document(document).build().into()
            }
            Self::UpdateOne { namespace, filter, update, upsert, array_filters, collation, hint, sort } => {
                UpdateOneModel::builder()
                    .namespace(ns(&namespace)?)
                    .filter(filter)
                    .update(modifications(update)?)
                    .upsert(upsert)
                    .array_filters(array_filters)
                    .collation(collation)
                    .hint(hint)
                    .sort(sort)
                    .build()
                    .into()
            }
            Self::UpdateMany { namespace, filter, update, upsert, array_filters, collation, hint } => {
                UpdateManyModel::builder()
                    .namespace(ns(&namespace)?)
                    .filter(filter)
                    .update(modifications(update)?)
                    .upsert(upsert)
                    .array_filters(array_filters)
                    .collation(collation)
                    .hint(hint)
                    .build()
                    .into()
            }
            Self::ReplaceOne { namespace, filter, replacement, upsert, collation, hint, sort } => {
                if replacement.keys().next().is_some_and(|k| k.starts_with('$')) {
                    return Err(Error::InvalidArgument(
                        "a replacement document must not contain update operators".into(),
                    ));
                }
                ReplaceOneModel::builder()
                    .namespace(ns(&namespace)?)
                    .filter(filter)
                    .replacement(replacement)
                    .upsert(upsert)
                    .collation(collation)
                    .hint(hint)
                    .sort(sort)
                    .build()
                    .into()
            }
            Self::DeleteOne { namespace, filter, collation, hint } => DeleteOneModel::builder()
                .namespace(ns(&namespace)?)
                .filter(filter)
                .collation(collation)
                .hint(hint)
                .build()
                .into(),
            Self::DeleteMany { namespace, filter, collation, hint } => DeleteManyModel::builder()
                .namespace(ns(&namespace)?)
                .filter(filter)
                .collation(collation)
                .hint(hint)
                .build()
                .into(),
        })
    }
}

/// An update document of operators, or a pipeline.
fn modifications(update: Bson) -> Result<UpdateModifications, Error> {
    match update {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            Ok(UpdateModifications::Document(d))
        }
        Bson::Array(stages) => stages
            .into_iter()
            .map(|s| match s {
                Bson::Document(d) => Ok(d),
                _ => Err(Error::InvalidArgument("an update pipeline holds documents".into())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(UpdateModifications::Pipeline),
        _ => Err(Error::InvalidArgument(
            "an update must be a document of update operators ($set, $inc, ...) or a pipeline".into(),
        )),
    }
}

/// Runs the writes on the pool of `ns`'s database. Resolves to the outcome as BSON: the Node driver's
/// counts (`insertedCount`, `matchedCount`, `modifiedCount`, `upsertedCount`, `deletedCount`), with
/// `verboseResults` each write's result by index (`insertResults`, `updateResults`, `deleteResults`
/// as arrays of `{ index, ... }`), and `writeErrors` (`{ index, code, codeName, errmsg, errInfo }`),
/// `writeConcernErrors` and `error` (a failure of the command itself) when something failed; and
/// whether anything failed.
pub async fn client_bulk_write(
    ns: &Namespace,
    req: ClientBulkWriteRequest,
    session: Option<&mut ClientSession>,
) -> Result<(RawDocumentBuf, bool), Error> {
    if req.models.is_empty() {
        return Err(Error::InvalidArgument("a bulk write needs at least one operation".into()));
    }
    if let Some(other) =
        req.models.iter().map(|m| m.namespace()).find(|n| !ns.same_pool(n.split('.').next().unwrap_or(n)))
    {
        return Err(Error::InvalidArgument(format!(
            "bulkWrite: {other:?} is served by another pool than {:?}; a client bulkWrite runs on one pool",
            ns.db
        )));
    }
    let verbose = req.verbose_results;
    let models = req.models.into_iter().map(ClientWriteModel::into_driver).collect::<Result<Vec<_>, _>>()?;
    let db = ns.database().await?;
    let action = db
        .client()
        .bulk_write(models)
        .optional(req.ordered, |a, v| a.ordered(v))
        .optional(req.bypass_document_validation, |a, v| a.bypass_document_validation(v))
        .optional(req.comment, |a, v| a.comment(v))
        .optional(req.let_vars, |a, v| a.let_vars(v))
        .optional(req.write_concern, |a, v| a.write_concern(v))
        .optional(session, |a, s| a.session(s));
    let outcome = if verbose {
        action.verbose_results().await.map(|r| verbose_document(&r))
    } else {
        action.await.map(|r| summary_document(&r))
    };
    let (out, failed) = match outcome {
        Ok(out) => (out, false),
        Err(e) => match e.kind.as_ref() {
            ErrorKind::BulkWrite(failure) => (failure_document(failure, std::error::Error::source(&e)), true),
            _ => return Err(e.into()),
        },
    };
    Ok((RawDocumentBuf::try_from(&out)?, failed))
}

fn summary_document(r: &SummaryBulkWriteResult) -> Document {
    doc! {
        "insertedCount": r.inserted_count,
        "matchedCount": r.matched_count,
        "modifiedCount": r.modified_count,
        "upsertedCount": r.upserted_count,
        "deletedCount": r.deleted_count,
    }
}

fn verbose_document(r: &VerboseBulkWriteResult) -> Document {
    let sorted = |mut v: Vec<Document>| {
        v.sort_by_key(|d| d.get_i64("index").unwrap_or_default());
        v
    };
    let mut out = summary_document(&r.summary);
    let inserts =
        r.insert_results.iter().map(|(i, x)| doc! { "index": *i as i64, "insertedId": x.inserted_id.clone() });
    out.insert("insertResults", sorted(inserts.collect()));
    let updates = r.update_results.iter().map(|(i, x)| {
        let mut d = doc! { "index": *i as i64, "matchedCount": x.matched_count as i64, "modifiedCount": x.modified_count as i64 };
        if let Some(id) = &x.upserted_id {
            d.insert("upsertedId", id.clone());
        }
        d
    });
    out.insert("updateResults", sorted(updates.collect()));
    let deletes =
        r.delete_results.iter().map(|(i, x)| doc! { "index": *i as i64, "deletedCount": x.deleted_count as i64 });
    out.insert("deleteResults", sorted(deletes.collect()));
    out
}

fn failure_document(failure: &BulkWriteError, cause: Option<&(dyn std::error::Error + 'static)>) -> Document {
    let mut out = match &failure.partial_result {
        Some(PartialBulkWriteResult::Summary(r)) => summary_document(r),
        Some(PartialBulkWriteResult::Verbose(r)) => verbose_document(r),
        None => summary_document(&SummaryBulkWriteResult::default()),
    };
    let mut write_errors: Vec<(&usize, &WriteError)> = failure.write_errors.iter().collect();
    write_errors.sort_by_key(|(i, _)| **i);
    let write_errors = write_errors.into_iter().map(|(i, e)| {
        let mut d = doc! { "index": *i as i64, "code": e.code, "errmsg": e.message.clone() };
        if let Some(name) = &e.code_name {
            d.insert("codeName", name.clone());
        }
        if let Some(info) = &e.details {
            d.insert("errInfo", info.clone());
        }
        d
    });
    out.insert("writeErrors", write_errors.collect::<Vec<_>>());
    let concern_errors = failure.write_concern_errors.iter().map(|e: &WriteConcernError| {
        let mut d = doc! { "code": e.code, "codeName": e.code_name.clone(), "errmsg": e.message.clone() };
        if let Some(info) = &e.details {
            d.insert("errInfo", info.clone());
        }
        d
    });
    out.insert("writeConcernErrors", concern_errors.collect::<Vec<_>>());
    if let Some(cause) = cause {
        let mut error = doc! { "message": cause.to_string() };
        if let Some(ErrorKind::Command(c)) = cause.downcast_ref::<mongodb::error::Error>().map(|e| e.kind.as_ref()) {
            error.insert("code", c.code);
            error.insert("codeName", c.code_name.clone());
            error.insert("message", c.message.clone());
        }
        out.insert("error", error);
    }
    out
}

/// Sets an option on an action only when it was given.
trait Optional: Sized {
    fn optional<T>(self, value: Option<T>, set: impl FnOnce(Self, T) -> Self) -> Self {
        match value {
            Some(v) => set(self, v),
            None => self,
        }
    }
}

impl<T> Optional for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(doc: Document) -> Result<WriteModel, Error> {
        bson::deserialize_from_document::<ClientWriteModel>(doc)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
            .into_driver()
    }

    #[test]
    fn models_take_the_node_drivers_shapes() {
        let insert = model(doc! { "name": "insertOne", "namespace": "shop.items", "document": { "_id": 1 } }).unwrap();
        assert!(matches!(insert, WriteModel::InsertOne(m) if m.namespace.db == "shop" && m.namespace.coll == "items"));
        let pipeline =
            doc! { "name": "updateMany", "namespace": "a.b.c", "filter": {}, "update": [{ "$set": { "x": 1 } }] };
        assert!(matches!(model(pipeline).unwrap(), WriteModel::UpdateMany(m) if m.namespace.coll == "b.c"));
        let sorted = doc! { "name": "replaceOne", "namespace": "a.b", "filter": {}, "replacement": { "x": 1 }, "sort": { "x": -1 } };
        assert!(matches!(model(sorted).unwrap(), WriteModel::ReplaceOne(m) if m.sort == Some(doc! { "x": -1 })));
    }

    #[test]
    fn malformed_models_are_invalid_arguments() {
        for bad in [
            doc! { "name": "insertOne", "namespace": "nodot", "document": {} },
            doc! { "name": "insertOne", "namespace": ".items", "document": {} },
            doc! { "name": "updateOne", "namespace": "a.b", "filter": {}, "update": { "x": 1 } },
            doc! { "name": "replaceOne", "namespace": "a.b", "filter": {}, "replacement": { "$set": { "x": 1 } } },
            doc! { "name": "upsertAll", "namespace": "a.b" },
        ] {
            assert!(matches!(model(bad.clone()), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }
}

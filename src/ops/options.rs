//! Query options under their Mongoose / Node-driver names, turned into the driver's option structs.

use std::time::Duration;

use bson::{Bson, Document};
use mongodb::options::{
    AggregateOptions, Collation, CountOptions, DistinctOptions, EstimatedDocumentCountOptions, FindOneAndDeleteOptions,
    FindOneAndReplaceOptions, FindOneAndUpdateOptions, FindOptions, Hint, ReturnDocument,
};
use serde::Deserialize;

use crate::error::Error;

/// Every option a read or find-and-modify takes; each operation reads the ones that apply to it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryOptions {
    pub sort: Option<Document>,
    pub skip: Option<u64>,
    pub limit: Option<i64>,
    pub projection: Option<Document>,
    pub batch_size: Option<u32>,
    #[serde(rename = "maxTimeMS")]
    pub max_time_ms: Option<u64>,
    pub comment: Option<Bson>,
    pub hint: Option<Hint>,
    pub collation: Option<Collation>,
    pub allow_disk_use: Option<bool>,
    pub upsert: Option<bool>,
    /// `"before"` (Mongoose's default) or `"after"`.
    pub return_document: Option<String>,
    pub array_filters: Option<Vec<Document>>,
    pub bypass_document_validation: Option<bool>,
    #[serde(rename = "let")]
    pub let_vars: Option<Document>,
}

impl QueryOptions {
    fn max_time(&self) -> Option<Duration> {
        self.max_time_ms.map(Duration::from_millis)
    }

    fn return_document(&self) -> Result<Option<ReturnDocument>, Error> {
        match self.return_document.as_deref() {
            None => Ok(None),
            Some("before") => Ok(Some(ReturnDocument::Before)),
            Some("after") => Ok(Some(ReturnDocument::After)),
            Some(other) => {
                Err(Error::InvalidArgument(format!("returnDocument must be \"before\" or \"after\", got {other:?}")))
            }
        }
    }

    pub fn find(self) -> FindOptions {
        FindOptions::builder()
            .max_time(self.max_time())
            .sort(self.sort)
            .skip(self.skip)
            .limit(self.limit)
            .projection(self.projection)
            .batch_size(self.batch_size)
            .comment(self.comment)
            .hint(self.hint)
            .collation(self.collation)
            .allow_disk_use(self.allow_disk_use)
            .let_vars(self.let_vars)
            .build()
    }

    pub fn count(self) -> Result<CountOptions, Error> {
        let limit = self.limit.map(|l| l.unsigned_abs());
        Ok(CountOptions::builder()
            .max_time(self.max_time())
            .skip(self.skip)
            .limit(limit)
            .hint(self.hint)
            .collation(self.collation)
            .comment(self.comment)
            .build())
    }

    pub fn estimated_count(self) -> EstimatedDocumentCountOptions {
        EstimatedDocumentCountOptions::builder().max_time(self.max_time()).comment(self.comment).build()
    }

    pub fn distinct(self) -> DistinctOptions {
        DistinctOptions::builder()
            .max_time(self.max_time())
            .collation(self.collation)
            .comment(self.comment)
            .hint(self.hint)
            .build()
    }

    pub fn aggregate(self) -> AggregateOptions {
        AggregateOptions::builder()
            .max_time(self.max_time())
            .batch_size(self.batch_size)
            .comment(self.comment)
            .hint(self.hint)
            .collation(self.collation)
            .allow_disk_use(self.allow_disk_use)
            .bypass_document_validation(self.bypass_document_validation)
            .let_vars(self.let_vars)
            .build()
    }

    pub fn find_one_and_update(self) -> Result<FindOneAndUpdateOptions, Error> {
        Ok(FindOneAndUpdateOptions::builder()
            .return_document(self.return_document()?)
            .max_time(self.max_time())
            .projection(self.projection)
            .sort(self.sort)
            .upsert(self.upsert)
            .array_filters(self.array_filters)
            .bypass_document_validation(self.bypass_document_validation)
            .collation(self.collation)
            .hint(self.hint)
            .let_vars(self.let_vars)
            .comment(self.comment)
            .build())
    }

    pub fn find_one_and_replace(self) -> Result<FindOneAndReplaceOptions, Error> {
        Ok(FindOneAndReplaceOptions::builder()
            .return_document(self.return_document()?)
            .max_time(self.max_time())
            .projection(self.projection)
            .sort(self.sort)
            .upsert(self.upsert)
            .bypass_document_validation(self.bypass_document_validation)
            .collation(self.collation)
            .hint(self.hint)
            .let_vars(self.let_vars)
            .comment(self.comment)
            .build())
    }

    pub fn find_one_and_delete(self) -> FindOneAndDeleteOptions {
        FindOneAndDeleteOptions::builder()
            .max_time(self.max_time())
            .projection(self.projection)
            .sort(self.sort)
            .collation(self.collation)
            .hint(self.hint)
            .let_vars(self.let_vars)
            .comment(self.comment)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn options(doc: Document) -> Result<QueryOptions, Error> {
        crate::ops::decode("options", &bson::serialize_to_vec(&doc).unwrap())
    }

    #[test]
    fn reads_mongoose_option_names() {
        let o = options(doc! {
            "sort": { "name": 1 }, "skip": 5, "limit": 10, "maxTimeMS": 250, "batchSize": 7,
            "hint": "name_1", "collation": { "locale": "en", "strength": 2 }, "comment": "why",
        })
        .unwrap();
        let find = o.find();
        assert_eq!(find.sort, Some(doc! { "name": 1 }));
        assert_eq!((find.skip, find.limit, find.batch_size), (Some(5), Some(10), Some(7)));
        assert_eq!(find.max_time, Some(Duration::from_millis(250)));
        assert_eq!(find.hint, Some(Hint::Name("name_1".into())));
        assert_eq!(find.collation.unwrap().locale, "en");
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        assert!(options(doc! { "skip": -1 }).is_err());
        assert!(options(doc! { "sort": "name" }).is_err());
        let bad = options(doc! { "returnDocument": "later" }).unwrap();
        assert!(matches!(bad.find_one_and_update(), Err(Error::InvalidArgument(_))));
    }
}

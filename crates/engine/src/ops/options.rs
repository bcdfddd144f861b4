//! Query options under their Mongoose / Node-driver names, turned into the driver's option structs.

use std::time::Duration;

use bson::{Bson, Document};
use mongodb::options::{
    AggregateOptions, Collation, CountOptions, DistinctOptions, EstimatedDocumentCountOptions, FindOptions, Hint,
    ReadConcern, SelectionCriteria,
};
use serde::Deserialize;

use crate::error::Error;

/// Every option a read takes, under the Node driver's names; each operation reads the ones that apply
/// to it. The JS driver refuses options it cannot honour before they get here.
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
    pub bypass_document_validation: Option<bool>,
    #[serde(rename = "let")]
    pub let_vars: Option<Document>,
    pub min: Option<Document>,
    pub max: Option<Document>,
    pub return_key: Option<bool>,
    pub show_record_id: Option<bool>,
    pub no_cursor_timeout: Option<bool>,
    pub allow_partial_results: Option<bool>,
    /// `{ mode, tagSets?, maxStalenessSeconds? }`
    pub read_preference: Option<SelectionCriteria>,
    /// `{ level }`
    pub read_concern: Option<ReadConcern>,
}

impl QueryOptions {
    fn max_time(&self) -> Option<Duration> {
        self.max_time_ms.map(Duration::from_millis)
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
            .min(self.min)
            .max(self.max)
            .return_key(self.return_key)
            .show_record_id(self.show_record_id)
            .no_cursor_timeout(self.no_cursor_timeout)
            .allow_partial_results(self.allow_partial_results)
            .selection_criteria(self.read_preference)
            .read_concern(self.read_concern)
            .build()
    }

    pub fn count(self) -> Result<CountOptions, Error> {
        // The server refuses a negative `$limit` in the count's pipeline, as the Node driver sends it.
        let limit = self
            .limit
            .map(|l| {
                u64::try_from(l)
                    .map_err(|_| Error::InvalidArgument(format!("a count's limit must not be negative, got {l}")))
            })
            .transpose()?;
        Ok(CountOptions::builder()
            .max_time(self.max_time())
            .skip(self.skip)
            .limit(limit)
            .hint(self.hint)
            .collation(self.collation)
            .comment(self.comment)
            .selection_criteria(self.read_preference)
            .read_concern(self.read_concern)
            .build())
    }

    pub fn estimated_count(self) -> EstimatedDocumentCountOptions {
        EstimatedDocumentCountOptions::builder()
            .max_time(self.max_time())
            .comment(self.comment)
            .selection_criteria(self.read_preference)
            .read_concern(self.read_concern)
            .build()
    }

    pub fn distinct(self) -> DistinctOptions {
        DistinctOptions::builder()
            .max_time(self.max_time())
            .collation(self.collation)
            .comment(self.comment)
            .hint(self.hint)
            .selection_criteria(self.read_preference)
            .read_concern(self.read_concern)
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
            .selection_criteria(self.read_preference)
            .read_concern(self.read_concern)
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
        assert!(options(doc! { "readPreference": { "mode": "sometimes" } }).is_err());
        let secondary = options(doc! { "readPreference": { "mode": "secondaryPreferred" } }).unwrap();
        assert!(matches!(secondary.find().selection_criteria, Some(SelectionCriteria::ReadPreference(_))));
    }
}

//! Mongoose schemas in Rust: a model's spec casts and validates whole documents, updates and filters as
//! Mongoose would, derives a `$jsonSchema` validator, and lists the indexes to build.

mod cast;
mod document;
mod filter;
mod js;
mod json_schema;
mod path;
mod spec;
mod update;

use bson::{Bson, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use serde::Serialize;

pub use spec::Spec;

use crate::error::Error;

/// One failing path, as Mongoose reports it: a CastError (`cast` set) or a built-in validator's error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    pub path: String,
    /// The validator's type (`required`, `enum`, ...) or, for a cast, the type cast to (`Number`, `[Number]`).
    pub kind: String,
    /// The value that failed; absent where the path had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Bson>,
    /// The Mongoose validator this error came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validator: Option<u32>,
    pub cast: bool,
    /// For a failure inside an element of an array of subdocuments in a filter: the path inside the
    /// element, which Mongoose 8 reports where Mongoose 9 reports the array's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_path: Option<String>,
}

impl FieldError {
    /// A value that cannot be cast to `kind`.
    pub fn cast(path: &str, kind: impl Into<String>, value: &Bson) -> Self {
        FieldError {
            path: path.to_owned(),
            kind: kind.into(),
            value: Some(value.clone()),
            validator: None,
            cast: true,
            element_path: None,
        }
    }

    /// A built-in validator (`kind`, Mongoose validator `id`) refusing `value`, or a missing value.
    pub fn validator(path: &str, kind: &str, value: Option<&Bson>, id: u32) -> Self {
        FieldError {
            path: path.to_owned(),
            kind: kind.into(),
            value: value.cloned(),
            validator: Some(id),
            cast: false,
            element_path: None,
        }
    }
}

/// What a whole document is being cast for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentMode {
    /// A new document: `_id`, defaults, timestamps and the version key are filled in.
    Insert,
    /// A replacement: defaults are filled in and `updatedAt` set; `_id` and the version key are kept as given.
    Replace,
}

/// A model's schema, parsed once and shared by every operation on the model.
#[derive(Debug)]
pub struct Schema {
    spec: Spec,
    js_checks: Vec<u32>,
}

impl Schema {
    pub fn parse(json: &str) -> Result<Schema, Error> {
        let (spec, js_checks) = Spec::parse(json)?;
        Ok(Schema { spec, js_checks })
    }

    /// The ids of the validators Rust cannot run (patterns outside the `regex` crate's syntax).
    pub fn js_checks(&self) -> &[u32] {
        &self.js_checks
    }

    /// Casts and validates a whole document, filling in what Mongoose fills in on save.
    pub fn cast_document(&self, doc: Document, mode: DocumentMode) -> Result<Document, Error> {
        document::cast(&self.spec, doc, mode, DateTime::now())
    }

    /// Casts an update's values and validates the paths it sets, adding `updatedAt` (and, for an upsert,
    /// `createdAt` and the defaults of paths neither the filter nor the update sets).
    pub fn cast_update(&self, update: Document, filter: &Document, upsert: bool) -> Result<Document, Error> {
        update::cast(&self.spec, update, filter, upsert, DateTime::now())
    }

    /// Casts a filter's values on typed paths; a value that cannot be cast is a CastError.
    pub fn cast_filter(&self, filter: &mut Document) -> Result<(), Error> {
        filter::cast(&self.spec, filter).map_err(|error| Error::Cast { model: self.spec.model.clone(), error })
    }

    /// `{ $jsonSchema: ... }` for a collection validator.
    pub fn json_schema(&self) -> Document {
        json_schema::derive(&self.spec)
    }

    /// The schema's indexes, as the driver builds them.
    pub fn indexes(&self) -> Result<Vec<IndexModel>, Error> {
        self.spec
            .indexes
            .iter()
            .map(|index| {
                let options: IndexOptions = bson::deserialize_from_document(index.options.clone())
                    .map_err(|e| Error::InvalidArgument(format!("invalid index options {}: {e}", index.options)))?;
                Ok(IndexModel::builder().keys(index.key.clone()).options(options).build())
            })
            .collect()
    }
}

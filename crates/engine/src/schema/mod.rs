//! Mongoose schemas in Rust: a model's spec casts and validates whole documents, updates and filters as
//! Mongoose would, and derives a `$jsonSchema` validator.

mod cast;
mod document;
mod filter;
mod js;
mod json_schema;
mod path;
mod spec;
mod update;

use bson::{DateTime, Document};

pub use document::IdMaker;

/// A whole document cast for a write.
pub struct CastDocument {
    /// As Mongoose's new document holds it: its key order, and the empty nested objects it keeps.
    pub held: Document,
    /// What Mongoose's save stores of it (minimized), when that differs from `held`.
    pub stored: Option<Document>,
}
pub use spec::Spec;

use crate::error::Error;
pub use crate::error::FieldError;

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

    /// Casts and validates a whole document, filling in what Mongoose fills in on save; `ids` makes
    /// each auto `_id`, in Mongoose's order ([`IdMaker`]). Errors: Mongoose's ValidationError,
    /// StrictModeError, ..., `NotCastable` ([`document::cast`]).
    pub fn cast_document(&self, doc: Document, mode: DocumentMode, ids: IdMaker) -> Result<CastDocument, Error> {
        let held = document::cast(&self.spec, doc, mode, DateTime::now(), ids)?;
        let stored = document::stored(&self.spec, &held);
        Ok(CastDocument { stored: (stored != held).then_some(stored), held })
    }

    /// Casts an update's values and validates the paths it sets, adding `updatedAt` (and, for an upsert,
    /// `createdAt` and the defaults of paths neither the filter nor the update sets).
    pub fn cast_update(&self, update: Document, filter: &Document, upsert: bool) -> Result<Document, Error> {
        update::cast(&self.spec, update, filter, upsert, DateTime::now())
    }

    /// Casts a filter's values on typed paths; a value that cannot be cast is a CastError, and a filter
    /// the engine does not cast as Mongoose would is [`Error::NotCastable`].
    pub fn cast_filter(&self, filter: &mut Document) -> Result<(), Error> {
        filter::cast(&self.spec, filter).map_err(|refused| match refused {
            filter::Refused::Cast(error) => Error::Cast { model: self.spec.model.clone(), error },
            filter::Refused::NotCastable(what) => Error::NotCastable(what),
        })
    }

    /// `{ $jsonSchema: ... }` for a collection validator.
    pub fn json_schema(&self) -> Document {
        json_schema::derive(&self.spec)
    }
}

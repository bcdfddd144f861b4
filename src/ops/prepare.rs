//! A model's schema applied to a request before it runs: filters cast, updates cast and validated.
//! Whole documents (inserts, replacements) are cast by the facade through the schema itself, so that
//! custom validators see the cast values and callers get the cast document back.

use bson::{Bson, Document, RawBson, RawDocumentBuf};

use super::read::{DistinctRequest, FilterRequest, ReplaceRequest, UpdateRequest};
use super::write::{BulkWriteRequest, WriteModel};
use crate::error::Error;
use crate::schema::Schema;

pub trait Prepare {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error>;
}

impl Prepare for FilterRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        schema.cast_filter(&mut self.filter)
    }
}

impl Prepare for DistinctRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        schema.cast_filter(&mut self.filter)
    }
}

impl Prepare for ReplaceRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        schema.cast_filter(&mut self.filter)
    }
}

impl Prepare for UpdateRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        schema.cast_filter(&mut self.filter)?;
        // An aggregation pipeline is the server's to evaluate; Mongoose does not cast it either.
        if let Bson::Document(update) = &mut self.update {
            *update = schema.cast_update(std::mem::take(update), &self.filter, self.options.upsert.unwrap_or(false))?;
        }
        Ok(())
    }
}

fn cast_raw_filter(schema: &Schema, filter: &mut RawDocumentBuf) -> Result<Document, Error> {
    let mut doc = Document::try_from(filter.as_ref())?;
    schema.cast_filter(&mut doc)?;
    *filter = RawDocumentBuf::try_from(&doc)?;
    Ok(doc)
}

impl Prepare for WriteModel {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        match self {
            WriteModel::InsertOne { .. } => {}
            WriteModel::UpdateOne(m) | WriteModel::UpdateMany(m) => {
                let filter = cast_raw_filter(schema, &mut m.filter)?;
                if let RawBson::Document(update) = &m.update {
                    let cast = schema.cast_update(Document::try_from(update.as_ref())?, &filter, m.upsert)?;
                    m.update = RawBson::Document(RawDocumentBuf::try_from(&cast)?);
                }
            }
            WriteModel::ReplaceOne(m) => {
                cast_raw_filter(schema, &mut m.filter)?;
            }
            WriteModel::DeleteOne(m) | WriteModel::DeleteMany(m) => {
                cast_raw_filter(schema, &mut m.filter)?;
            }
        }
        Ok(())
    }
}

impl Prepare for BulkWriteRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        self.ops.iter_mut().try_for_each(|op| op.prepare(schema))
    }
}

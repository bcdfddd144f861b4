//! The fast path: a model's schema applied to a request before it runs, filters cast, updates cast and
//! validated as Mongoose would. Whole documents (inserts, replacements) are cast by the JS side through
//! the schema itself, so that custom validators see the cast values and callers get the cast document.

use bson::{Document, RawBson, RawDocumentBuf};

use super::read::{AggregateRequest, DistinctRequest, FilterRequest};
use super::write::{BulkWriteRequest, WriteModel};
use super::{CursorRequest, Request};
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

impl Prepare for AggregateRequest {
    /// A pipeline is the server's to evaluate; Mongoose does not cast it either.
    fn prepare(&mut self, _: &Schema) -> Result<(), Error> {
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
                // An aggregation pipeline is the server's to evaluate; Mongoose does not cast it either.
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

impl Prepare for Request {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        match self {
            Request::FindOne(req) | Request::CountDocuments(req) | Request::EstimatedDocumentCount(req) => {
                req.prepare(schema)
            }
            Request::Distinct(req) => req.prepare(schema),
            Request::Write(req) => req.prepare(schema),
            Request::Command(_) => Err(Error::InvalidArgument("a command is sent as it is, with no schema".into())),
            // Its writes belong to many collections, whose schemas are Mongoose's to apply.
            Request::ClientWrite(_) => {
                Err(Error::InvalidArgument("a client bulkWrite is sent as it is, with no schema".into()))
            }
        }
    }
}

impl Prepare for CursorRequest {
    fn prepare(&mut self, schema: &Schema) -> Result<(), Error> {
        match self {
            CursorRequest::Find(req) => req.prepare(schema),
            CursorRequest::Aggregate(req) => req.prepare(schema),
            CursorRequest::Command(_) => {
                Err(Error::InvalidArgument("a command is sent as it is, with no schema".into()))
            }
        }
    }
}

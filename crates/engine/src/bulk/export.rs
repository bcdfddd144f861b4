//! Reads a database collection by collection: each collection's description, then its documents in
//! raw BSON chunks as the server's batches bring them, then its end.

use std::collections::VecDeque;
use std::sync::Arc;

use bson::doc;

use super::{list_collections, BulkOptions, CollectionKind, CollectionSpec, Progress, DEFAULT_BATCH_DOCS};
use crate::error::{At, Error};
use crate::namespace::Namespace;
use crate::ops::cursor::{Chunk, DocCursor};
use crate::ops::options::QueryOptions;
use crate::ops::read::FilterRequest;
use crate::ops::CursorRequest;

/// What an export reads next.
#[derive(Debug)]
pub enum ExportItem {
    /// A collection starts: its options and indexes.
    Collection(CollectionSpec),
    /// Some of its documents, laid end to end as BSON.
    Documents(Chunk),
    /// The collection has no more documents.
    End,
}

pub struct Exporter {
    db: Namespace,
    options: BulkOptions,
    progress: Arc<Progress>,
    /// The collections still to read, once listed.
    plan: Option<VecDeque<CollectionSpec>>,
    /// The collection being read: its documents so far and its chunks (none for a view).
    current: Option<Current>,
    /// Whether documents read count in the progress (a copy counts those written instead).
    counts: bool,
}

struct Current {
    name: String,
    documents: u64,
    /// Chunks read ahead by the collection's reader task (none for a view): the server's next batch
    /// is on its way while the one before is written. Dropping it stops the task and its cursor.
    chunks: Option<tokio::sync::mpsc::Receiver<Result<Chunk, Error>>>,
}

/// Chunks read ahead of the writer: one waiting, one being read.
const READ_AHEAD_CHUNKS: usize = 1;

/// Reads `cursor` chunk by chunk in a task of its own, sending each chunk with documents; ends after
/// the last one or an error, or once the receiver is gone.
fn read_ahead(mut cursor: DocCursor) -> tokio::sync::mpsc::Receiver<Result<Chunk, Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
    tokio::spawn(async move {
        loop {
            let chunk = cursor.next_chunk().await;
            let last = chunk.as_ref().map_or(true, |c| c.done);
            if matches!(&chunk, Ok(c) if c.count == 0) || tx.send(chunk).await.is_err() || last {
                return;
            }
        }
    });
    rx
}

impl Exporter {
    /// An export of database `db` (a namespace without collection); nothing is read until `next`.
    pub fn new(db: Namespace, options: BulkOptions, progress: Arc<Progress>) -> Self {
        Exporter { db, options, progress, plan: None, current: None, counts: true }
    }

    /// An exporter whose progress names each collection and its size but leaves the counting of
    /// documents to what writes them (a copy's importer).
    pub fn counting_nothing(mut self) -> Self {
        self.counts = false;
        self
    }

    /// Stops reading: the cursor is released, and `next` gives `None`.
    pub fn close(&mut self) {
        self.current = None;
        self.plan = Some(VecDeque::new());
    }

    /// The next item, `None` at the end of the database. Errors: `Error::Aborted` once the task's
    /// progress was aborted; `Error::Bulk` naming the collection (and document) that failed.
    pub async fn next(&mut self) -> Result<Option<ExportItem>, Error> {
        self.progress.check()?;
        if self.plan.is_none() {
            self.plan = Some(list_collections(&self.db, &self.options.collections).await?.into());
        }
        if let Some(current) = &mut self.current {
            let name = &current.name;
            let chunk = match &mut current.chunks {
                Some(chunks) => chunks
                    .recv()
                    .await
                    .transpose()
                    .map_err(|e| super::in_collection(name, Some(At::Document(current.documents)), e))?,
                None => None,
            }
            .unwrap_or_default();
            if chunk.count == 0 {
                self.current = None;
                return Ok(Some(ExportItem::End));
            }
            current.documents += u64::from(chunk.count);
            if self.counts {
                self.progress.add(u64::from(chunk.count), chunk.bytes.len() as u64);
            }
            return Ok(Some(ExportItem::Documents(chunk)));
        }
        let Some(spec) = self.plan.as_mut().and_then(VecDeque::pop_front) else { return Ok(None) };
        let (cursor, total) = match spec.kind {
            CollectionKind::View => (None, Some(0)),
            CollectionKind::Collection => {
                let ns = self.db.with_collection(&spec.name)?;
                let filter = self.options.query.get(&spec.name).cloned();
                let total = match filter {
                    Some(_) => None,
                    None => estimated_count(&self.db, &spec.name).await,
                };
                let options = QueryOptions {
                    batch_size: Some(self.options.batch_size.unwrap_or(DEFAULT_BATCH_DOCS)),
                    ..QueryOptions::default()
                };
                let request = CursorRequest::Find(FilterRequest { filter: filter.unwrap_or_default(), options });
                (Some(read_ahead(DocCursor::new(ns, request, None))), total)
            }
        };
        self.progress.start(&spec.name, total);
        self.current = Some(Current { name: spec.name.clone(), documents: 0, chunks: cursor });
        Ok(Some(ExportItem::Collection(spec)))
    }
}

/// The collection's document count from its metadata, for progress; `None` when the server does not
/// say.
async fn estimated_count(db: &Namespace, coll: &str) -> Option<u64> {
    let database = db.database().await.ok()?;
    let reply = database.run_command(doc! { "count": coll }).await.ok()?;
    match reply.get("n")? {
        bson::Bson::Int32(n) => u64::try_from(*n).ok(),
        bson::Bson::Int64(n) => u64::try_from(*n).ok(),
        bson::Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

//! Writes collections into a database, one at a time, so that none is left half-written.
//!
//! A collection that does not exist yet is created with its options, filled, and given its indexes
//! at its end (as `mongorestore` does); a failure or an abort drops it again. One that `drop`
//! replaces is written into a temporary collection (`tmp.polymongo.<ObjectId>`) renamed over it at
//! its end (`renameCollection` with `dropTarget`): until then it stays whole, and a failure drops
//! the temporary one. One that exists and is not dropped is appended to, as `mongorestore` without
//! `--drop` does, and a failure deletes the documents this import inserted (by `_id`, kept until
//! the collection ends).

use std::sync::Arc;

use bson::{doc, oid::ObjectId, Bson, Document, RawDocumentBuf};
use mongodb::action::Action;
use mongodb::error::ErrorKind;
use serde::Serialize;

use super::ndjson::{Reader, Record};
use super::{in_collection, split_documents, Batch, BulkOptions, CollectionKind, CollectionSpec, Progress, Validators};
use super::{DEFAULT_BATCH_DOCS, MAX_BATCH_BYTES, TEMPORARY_PREFIX};
use crate::error::{At, Error, WriteError};
use crate::namespace::Namespace;
use crate::schema::{DocumentMode, Schema};

/// Batches inserted at once into one collection: the server takes more than one at a time (1.3× with
/// 2 and 1.45× with 4 on the test server, measured with the Node driver).
const INSERTS_IN_FLIGHT: usize = 4;
/// Failures listed in a summary at most; past this the count goes on (`Summary::failure_count`).
const MAX_LISTED_FAILURES: usize = 1000;
/// Documents deleted per command when a collection appended to is rolled back.
const ROLLBACK_IDS_PER_DELETE: usize = 10_000;

/// What an import or copy did, in PolyMongo 1.3's summary shape.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub database: String,
    pub collections: Vec<CollectionSummary>,
    pub failures: Vec<Failure>,
    /// Every failure, listed or not.
    pub failure_count: u64,
    pub inserted_documents: u64,
    pub created_indexes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectionSummary {
    pub collection: String,
    pub documents: u64,
    pub indexes: u64,
}

/// One document that was not written (`ordered: false`), or one collection rolled back
/// (`stopOnError: false`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub collection: String,
    /// `"import"` for documents the server refused, `"validate"` for those the model's schema
    /// refused, `"index"` for indexes.
    pub stage: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The document's place in its collection, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Whether the collection was rolled back (else only this document is missing).
    pub rolled_back: bool,
}

impl Failure {
    fn of(collection: &str, at: Option<&At>, source: &Error, rolled_back: bool) -> Self {
        let (line, document, index) = match at {
            Some(At::Line(n)) => (Some(*n), None, None),
            Some(At::Document(n)) => (None, Some(*n), None),
            Some(At::Index(name)) => (None, None, Some(name.clone())),
            None => (None, None, None),
        };
        let code = match source {
            Error::Write(w) => Some(w.code),
            Error::Driver(e) => match e.kind.as_ref() {
                ErrorKind::Command(c) => Some(c.code),
                _ => None,
            },
            _ => None,
        };
        let stage = if index.is_some() { "index" } else { "import" };
        Failure {
            collection: collection.to_owned(),
            stage,
            message: source.to_string(),
            line,
            document,
            index,
            code,
            rolled_back,
        }
    }
}

/// A batch being inserted in a task of its own.
struct InFlight {
    insert: tokio::task::JoinHandle<(Vec<RawDocumentBuf>, Result<(), Error>)>,
    /// Where each of its documents came from.
    at: Vec<At>,
    bytes: usize,
    ordered: bool,
}

/// Where a collection's documents go until it ends.
enum Mode {
    /// A temporary collection renamed over the target at the end (`drop` of an existing one: it stays
    /// whole until its replacement is).
    Temporary(String),
    /// The target, which did not exist and was created by this import.
    Created,
    /// Left out by the `collections` option: nothing is written, nothing is undone.
    Skipped,
    /// The existing collection, with the `_id`s inserted so far for a rollback.
    Append(Vec<Bson>),
    View,
}

struct Target {
    name: String,
    mode: Mode,
    indexes: Vec<Document>,
    /// Documents received, written or not: the next one's place.
    received: u64,
    inserted: u64,
    /// Failed under `stopOnError: false` and rolled back: its other records are skipped.
    skipping: bool,
}

pub struct Importer {
    db: Namespace,
    options: BulkOptions,
    progress: Arc<Progress>,
    current: Option<Target>,
    batch: Batch,
    summary: Summary,
    /// Whether starting a collection starts it in the progress (a copy's exporter does instead).
    starts: bool,
    /// The schema each collection's documents must satisfy to be written (`validate: true`).
    validators: Validators,
    /// The batches being inserted while the next is read, oldest first.
    in_flight: std::collections::VecDeque<InFlight>,
}

impl Importer {
    /// An import into database `db` (a namespace without collection).
    pub fn new(db: Namespace, options: BulkOptions, progress: Arc<Progress>) -> Self {
        let summary = Summary { database: db.db.clone(), ..Summary::default() };
        let validators = Validators::new();
        Importer {
            db,
            options,
            progress,
            current: None,
            batch: Batch::default(),
            summary,
            starts: true,
            validators,
            in_flight: std::collections::VecDeque::new(),
        }
    }

    /// An importer that checks each document of the collections named against their model's schema
    /// (`Schema::cast_document`, as `create` would) before writing it: a document the schema refuses
    /// is listed in the summary (stage `"validate"`, with its line or place) and not written.
    pub fn validating(mut self, validators: Validators) -> Self {
        self.validators = validators;
        self
    }

    /// An importer that counts documents written in the progress but leaves each collection's start
    /// (its name and size) to what reads them (a copy's exporter).
    pub fn starting_nothing(mut self) -> Self {
        self.starts = false;
        self
    }

    /// Starts collection `spec.name` (ending the one before, as PolyMongo 1.3 does): creates it with
    /// its options (a temporary one when `drop` replaces it), or the view; skips it when the
    /// `collections` option leaves it out. Its indexes are built at its end, with those `add_index`
    /// adds. Errors: an invalid name, a `system.*` or temporary one; a view that exists without
    /// `drop`; the server's (`Error::Bulk` naming the collection).
    pub async fn begin(&mut self, spec: CollectionSpec) -> Result<(), Error> {
        self.end().await?;
        let result = self.open(spec).await;
        self.settle(result).await
    }

    async fn open(&mut self, spec: CollectionSpec) -> Result<(), Error> {
        self.progress.check()?;
        let name = spec.name.clone();
        let wrap = |e| in_collection(&name, None, e);
        self.db.with_collection(&name).map_err(wrap)?;
        if name.starts_with("system.") || name.starts_with(TEMPORARY_PREFIX) {
            let refused = format!("{name:?} is MongoDB's or an import's own collection, which imports do not write");
            return Err(wrap(Error::InvalidArgument(refused)));
        }
        if !self.options.collections.takes(&name) {
            // Left out by `collections`: its records are read and skipped.
            let skipped =
                Target { name, mode: Mode::Skipped, indexes: Vec::new(), received: 0, inserted: 0, skipping: true };
            self.current = Some(skipped);
            return Ok(());
        }
        let database = self.db.database().await.map_err(wrap)?;
        let exists =
            database.list_collection_names().filter(doc! { "name": &name }).await.map_err(|e| wrap(e.into()))?;
        let exists = !exists.is_empty();
        let create = |target: &str| {
            let mut command = doc! { "create": target };
            command.extend(spec.options.clone());
            command
        };
        let mode = match spec.kind {
            CollectionKind::View => {
                if exists && !self.options.drop {
                    return Err(wrap(Error::InvalidArgument(format!(
                        "{name:?} exists; pass drop: true to replace it with the view"
                    ))));
                }
                if exists {
                    database.collection::<Document>(&name).drop().await.map_err(|e| wrap(e.into()))?;
                }
                database.run_command(create(&name)).await.map_err(|e| wrap(e.into()))?;
                Mode::View
            }
            CollectionKind::Collection if exists && !self.options.drop => Mode::Append(Vec::new()),
            CollectionKind::Collection if exists => {
                let temporary = format!("{TEMPORARY_PREFIX}{}", ObjectId::new().to_hex());
                database.run_command(create(&temporary)).await.map_err(|e| wrap(e.into()))?;
                Mode::Temporary(temporary)
            }
            // Created here, so dropped again on a failure; created by someone else meanwhile, this
            // fails (NamespaceExists) rather than write into their collection.
            CollectionKind::Collection => {
                database.run_command(create(&name)).await.map_err(|e| wrap(e.into()))?;
                Mode::Created
            }
        };
        if self.starts {
            self.progress.start(&name, None);
        }
        self.current = Some(Target { name, mode, indexes: spec.indexes, received: 0, inserted: 0, skipping: false });
        Ok(())
    }

    /// An index of the current collection, built at its end.
    pub fn add_index(&mut self, collection: &str, index: Document) -> Result<(), Error> {
        let target = self.target(collection)?;
        target.indexes.push(index);
        Ok(())
    }

    /// A document of the current collection, from `at`; written with the batch it closes.
    pub async fn add(&mut self, collection: &str, document: RawDocumentBuf, at: At) -> Result<(), Error> {
        let target = self.target(collection)?;
        target.received += 1;
        if target.skipping {
            return Ok(());
        }
        if let Some(schema) = self.validators.get(collection) {
            if let Err(refusal) = validate(schema, &document) {
                let mut failure = Failure::of(collection, Some(&at), &refusal, false);
                failure.stage = "validate";
                self.note(failure);
                return Ok(());
            }
        }
        self.batch.bytes += document.as_bytes().len();
        self.batch.docs.push(document);
        self.batch.at.push(at);
        let batch_docs = self.options.batch_size.unwrap_or(DEFAULT_BATCH_DOCS).max(1) as usize;
        if self.batch.docs.len() >= batch_docs || self.batch.bytes >= MAX_BATCH_BYTES {
            let result = self.flush().await;
            self.settle(result).await?;
        }
        Ok(())
    }

    /// Documents laid end to end as BSON (a cursor's chunk) for the current collection.
    pub async fn add_chunk(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let name = self.target("")?.name.clone();
        for document in split_documents(chunk) {
            let at = At::Document(self.target(&name)?.received);
            let document = document.map_err(|e| in_collection(&name, Some(at.clone()), e))?;
            self.add(&name, document.to_owned(), at).await?;
        }
        Ok(())
    }

    /// The current collection, which `collection` names (any when empty). Errors: a record outside
    /// its collection.
    fn target(&mut self, collection: &str) -> Result<&mut Target, Error> {
        match &mut self.current {
            Some(target) if collection.is_empty() || target.name == collection => Ok(target),
            _ => Err(Error::InvalidArgument(format!(
                "a record of collection {collection:?} outside that collection's records"
            ))),
        }
    }

    /// Ends the current collection, if any: writes its last batch, builds its indexes and puts it in
    /// place.
    pub async fn end(&mut self) -> Result<(), Error> {
        if self.current.as_ref().is_none_or(|t| t.skipping) {
            self.current = None;
            return Ok(());
        }
        let result = self.close().await;
        self.settle(result).await?;
        self.current = None;
        Ok(())
    }

    async fn close(&mut self) -> Result<(), Error> {
        self.flush().await?;
        self.written().await?;
        let Some(target) = &self.current else { return Ok(()) };
        let name = target.name.clone();
        let wrap = |e| in_collection(&name, None, e);
        let database = self.db.database().await.map_err(wrap)?;
        let written_to = match &target.mode {
            Mode::Temporary(temporary) => temporary.clone(),
            Mode::Created | Mode::Append(_) => name.clone(),
            Mode::View => {
                self.summary.collections.push(CollectionSummary { collection: name, documents: 0, indexes: 0 });
                return Ok(());
            }
            Mode::Skipped => return Ok(()),
        };
        let indexes: Vec<Document> = target
            .indexes
            .iter()
            .filter(|index| index.get_str("name").ok() != Some("_id_"))
            .map(|index| index.iter().filter(|(k, _)| *k != "ns").map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect();
        if !indexes.is_empty() {
            let at = match indexes.as_slice() {
                [one] => one.get_str("name").ok().map(|n| At::Index(n.to_owned())),
                _ => None,
            };
            let command = doc! { "createIndexes": &written_to, "indexes": indexes.clone() };
            database.run_command(command).await.map_err(|e| in_collection(&name, at, e.into()))?;
        }
        if let Mode::Temporary(temporary) = &target.mode {
            let rename = doc! {
                "renameCollection": format!("{}.{temporary}", self.db.db),
                "to": format!("{}.{name}", self.db.db),
                "dropTarget": self.options.drop,
            };
            database.client().database("admin").run_command(rename).await.map_err(|e| wrap(e.into()))?;
        }
        let (documents, indexes) = (target.inserted, indexes.len() as u64);
        self.summary.inserted_documents += documents;
        self.summary.created_indexes += indexes;
        self.summary.collections.push(CollectionSummary { collection: name, documents, indexes });
        Ok(())
    }

    /// Writes the batch into the current collection. With `ordered` (the default) the first document
    /// the server refuses fails the collection, naming the document; with `ordered: false` each one
    /// refused is listed in the summary and the others are written.
    async fn flush(&mut self) -> Result<(), Error> {
        if self.in_flight.len() >= INSERTS_IN_FLIGHT {
            self.written_oldest().await?;
        }
        let batch = std::mem::take(&mut self.batch);
        let Some(target) = &mut self.current else { return Ok(()) };
        if batch.docs.is_empty() {
            return Ok(());
        }
        self.progress.check()?;
        let (name, ordered) = (target.name.clone(), self.options.ordered.unwrap_or(true));
        let (coll_name, docs) = match &target.mode {
            Mode::Temporary(temporary) => (temporary.clone(), batch.docs),
            Mode::Created => (name.clone(), batch.docs),
            Mode::Append(_) => (name.clone(), batch.docs.into_iter().map(with_id).collect::<Result<Vec<_>, _>>()?),
            Mode::View => return Err(Error::InvalidArgument(format!("view {name:?} has documents"))),
            Mode::Skipped => return Ok(()),
        };
        let bypass = self.options.bypass_document_validation.then_some(true);
        let ns = self.db.with_collection(&coll_name)?;
        // The insert runs while the next batches are read, parsed and inserted; `written_oldest`
        // takes in its outcome, in the batches' order.
        let insert = tokio::spawn(async move {
            let result = ns
                .track(
                    async {
                        let coll = ns.collection().await?;
                        coll.insert_many(&docs)
                            .ordered(ordered)
                            .optional(bypass, |a, b| a.bypass_document_validation(b))
                            .await?;
                        Ok(())
                    },
                    |_| true,
                )
                .await;
            (docs, result)
        });
        self.in_flight.push_back(InFlight { insert, at: batch.at, bytes: batch.bytes, ordered });
        Ok(())
    }

    /// Waits for every batch being inserted and takes in their outcomes, all of them (a rollback
    /// must know each `_id` written); the first error, in the batches' order.
    async fn written(&mut self) -> Result<(), Error> {
        let mut first = Ok(());
        while !self.in_flight.is_empty() {
            let outcome = self.written_oldest().await;
            if first.is_ok() {
                first = outcome;
            }
        }
        first
    }

    /// Waits for the oldest batch being inserted, if any, and takes in its outcome: the documents
    /// written (for the progress, and the `_id`s a rollback of an appended collection deletes) and
    /// those refused (an error with `ordered`, else failures listed). Batches after a refused one may
    /// be written too: a failed collection is rolled back whole.
    async fn written_oldest(&mut self) -> Result<(), Error> {
        let Some(InFlight { insert, at, bytes, ordered }) = self.in_flight.pop_front() else { return Ok(()) };
        let (mut docs, inserted) = insert.await.map_err(|e| Error::internal("an import's insert", e))?;
        let Some(target) = &mut self.current else { return Ok(()) };
        let name = target.name.clone();
        // Which documents the server refused, by their place in the batch.
        let refused = match inserted {
            Ok(()) => Vec::new(),
            Err(Error::Driver(e)) => match *e.kind {
                ErrorKind::InsertMany(ref failure) if failure.write_concern_error.is_none() => {
                    failure.write_errors.clone().unwrap_or_default()
                }
                _ => return Err(in_collection(&name, None, Error::Driver(e))),
            },
            Err(e) => return Err(in_collection(&name, None, e)),
        };
        let written = |i: usize| {
            if ordered {
                refused.first().is_none_or(|r| i < r.index)
            } else {
                !refused.iter().any(|r| r.index == i)
            }
        };
        let inserted = (0..docs.len()).filter(|&i| written(i)).count();
        if let Mode::Append(ids) = &mut target.mode {
            for (i, doc) in docs.iter_mut().enumerate() {
                if written(i) {
                    let id = doc.get("_id")?.map(Bson::try_from).transpose()?;
                    ids.push(id.unwrap_or(Bson::Null));
                }
            }
        }
        target.inserted += inserted as u64;
        self.progress.add(inserted as u64, bytes as u64);
        for refusal in &refused {
            let source = Error::Write(Box::new(WriteError {
                code: refusal.code,
                code_name: refusal.code_name.clone(),
                message: refusal.message.clone(),
                details: refusal.details.clone(),
            }));
            let at = at.get(refusal.index).cloned();
            if ordered {
                return Err(Error::Bulk { collection: name, at, source: Box::new(source) });
            }
            self.note(Failure::of(&name, at.as_ref(), &source, false));
        }
        Ok(())
    }

    fn note(&mut self, failure: Failure) {
        self.summary.failure_count += 1;
        if self.summary.failures.len() < MAX_LISTED_FAILURES {
            self.summary.failures.push(failure);
        }
    }

    /// A failure in the current collection: rolled back, then returned, or under `stopOnError:
    /// false` listed in the summary while the import goes on with the next collection. An abort or
    /// a closed wrapper always stops.
    async fn settle(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        let Err(err) = result else { return Ok(()) };
        let stops = matches!(err, Error::Aborted | Error::Closed) || self.options.stop_on_error != Some(false);
        if stops {
            return Err(self.fail(err).await);
        }
        let rollback = self.rollback().await;
        let (collection, at, source) = match &err {
            Error::Bulk { collection, at, source } => (collection.clone(), at.as_ref(), source.as_ref()),
            other => (self.current.as_ref().map(|t| t.name.clone()).unwrap_or_default(), None, other),
        };
        let mut failure = Failure::of(&collection, at, source, rollback.is_ok());
        if let Err(e) = rollback {
            failure.message = format!("{}; and its rollback failed: {e}", failure.message);
        }
        self.note(failure);
        if let Some(target) = &mut self.current {
            target.skipping = true;
        }
        Ok(())
    }

    /// Stops the import on `err`: rolls back the collection being written and returns `err` (with
    /// the rollback's own failure, if it failed, in its message).
    pub async fn fail(&mut self, err: Error) -> Error {
        let rollback = self.rollback().await;
        self.current = None;
        match rollback {
            Ok(()) => err,
            // Closed: the wrapper's error says it all, and nothing can be undone through it.
            Err(Error::Closed) if matches!(err, Error::Closed) => err,
            Err(e) => Error::NotRolledBack { error: Box::new(err), rollback: e.to_string() },
        }
    }

    /// Undoes what the current collection wrote: drops its temporary collection (or its view), or
    /// deletes the documents appended.
    async fn rollback(&mut self) -> Result<(), Error> {
        self.batch = Batch::default();
        // The batch in flight lands (or not) first, so that what it wrote is undone too.
        let _ = self.written().await;
        let Some(target) = &mut self.current else { return Ok(()) };
        let database = self.db.database().await?;
        match &mut target.mode {
            Mode::Skipped => {}
            Mode::Temporary(temporary) => database.collection::<Document>(temporary).drop().await?,
            Mode::Created | Mode::View => database.collection::<Document>(&target.name).drop().await?,
            Mode::Append(ids) => {
                let coll = database.collection::<Document>(&target.name);
                for chunk in ids.chunks(ROLLBACK_IDS_PER_DELETE) {
                    coll.delete_many(doc! { "_id": { "$in": chunk } }).await?;
                }
                ids.clear();
            }
        }
        target.inserted = 0;
        Ok(())
    }

    /// The collection being written, if one has begun and not ended.
    pub fn open_collection(&self) -> Option<String> {
        self.current.as_ref().map(|t| t.name.clone())
    }

    /// Ends the last collection and returns what the import did.
    pub async fn finish(&mut self) -> Result<Summary, Error> {
        self.end().await?;
        Ok(self.summary.clone())
    }
}

/// Whether `schema` takes `document` as a new document of its model. The engine's cast is Mongoose's
/// (`NotCastable` where it would not cast as Mongoose does: that document is refused too, as it
/// cannot be vouched for).
fn validate(schema: &Schema, document: &RawDocumentBuf) -> Result<(), Error> {
    let mut document = Document::try_from(document.as_ref())?;
    promote_longs(&mut document);
    schema.cast_document(document, DocumentMode::Insert, &mut ObjectId::new).map(drop)
}

/// 64-bit integers within JS's safe range as numbers, as the Node driver reads a stored document
/// (`promoteLongs`) before Mongoose sees it.
fn promote_longs(document: &mut Document) {
    fn promote(value: &mut Bson) {
        match value {
            Bson::Int64(n) if n.unsigned_abs() <= (1 << 53) => {
                *value = i32::try_from(*n).map_or(Bson::Double(*n as f64), Bson::Int32);
            }
            Bson::Document(doc) => doc.iter_mut().for_each(|(_, v)| promote(v)),
            Bson::Array(items) => items.iter_mut().for_each(promote),
            _ => {}
        }
    }
    document.iter_mut().for_each(|(_, v)| promote(v));
}

/// `document` with an `_id` first when it has none, so that a rollback can find it.
fn with_id(document: RawDocumentBuf) -> Result<RawDocumentBuf, Error> {
    if document.get("_id")?.is_some() {
        return Ok(document);
    }
    let mut with_id = RawDocumentBuf::new();
    with_id.append(bson::raw::cstr!("_id"), ObjectId::new());
    for element in document.iter() {
        let (key, value) = element?;
        with_id.append(key, value);
    }
    Ok(with_id)
}

/// An NDJSON import: lines as they arrive, written collection by collection.
pub struct NdjsonImport {
    reader: Reader,
    importer: Importer,
    /// `mongoimport`'s NDJSON: the one collection, begun with the first push.
    collection: Option<CollectionSpec>,
}

impl NdjsonImport {
    /// An import of our NDJSON records.
    pub fn new(importer: Importer) -> Self {
        NdjsonImport { reader: Reader::default(), importer, collection: None }
    }

    /// An import of `mongoexport`'s NDJSON (a document per line) into collection `collection`.
    pub fn documents_of(importer: Importer, collection: &str) -> Self {
        let spec = CollectionSpec {
            name: collection.to_owned(),
            kind: CollectionKind::Collection,
            options: Document::new(),
            indexes: Vec::new(),
        };
        NdjsonImport { reader: Reader::documents_of(collection.to_owned()), importer, collection: Some(spec) }
    }

    /// More of the stream: every record it completes is written (a batch at a time) before this
    /// returns, which is the stream's backpressure. Errors: as `Reader::next_record` and
    /// `Importer`'s; the collection being written is rolled back first.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.begin().await?;
        self.reader.push(bytes);
        self.drain().await
    }

    async fn begin(&mut self) -> Result<(), Error> {
        let Some(spec) = self.collection.take() else { return Ok(()) };
        match self.importer.begin(spec).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.importer.fail(e).await),
        }
    }

    /// The stream ended: its last line, its last collection, and what the import did.
    pub async fn finish(&mut self) -> Result<Summary, Error> {
        self.begin().await?;
        self.reader.end();
        self.drain().await?;
        // A stream of records that stops inside a collection, or before its end record, was cut
        // short: the collection it was in is rolled back and the import fails.
        if !self.reader.documents_style() {
            if let Some(open) = self.importer.open_collection() {
                let cut = Error::Stream {
                    line: self.reader.line(),
                    message: "the stream ended before this collection's end record: it was cut short".into(),
                };
                return Err(self.importer.fail(in_collection(&open, None, cut)).await);
            }
            if let Err(e) = self.reader.check_whole() {
                return Err(self.importer.fail(e).await);
            }
        }
        match self.importer.finish().await {
            Ok(summary) => Ok(summary),
            Err(e) => Err(self.importer.fail(e).await),
        }
    }

    /// Stops: rolls back the collection being written.
    pub async fn abort(&mut self) -> Error {
        self.importer.fail(Error::Aborted).await
    }

    async fn drain(&mut self) -> Result<(), Error> {
        loop {
            let written = match self.reader.next_record() {
                Ok(None) => return Ok(()),
                Ok(Some((line, record))) => self.write(line, record).await,
                // A record's content (a document that is not Extended JSON) fails its collection.
                Err(e @ Error::Bulk { .. }) => {
                    self.importer.target("").map(|t| t.received += 1).ok();
                    self.importer.settle(Err(e)).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                return Err(self.importer.fail(e).await);
            }
        }
    }

    async fn write(&mut self, line: u64, record: Record) -> Result<(), Error> {
        match record {
            Record::Meta | Record::StreamEnd => Ok(()),
            Record::Collection(spec) => self.importer.begin(spec).await,
            Record::Index { collection, index } => self.importer.add_index(&collection, index),
            Record::Document { collection, document } => self.importer.add(&collection, document, At::Line(line)).await,
            Record::End { collection, documents } => {
                let received = self.importer.target(&collection)?.received;
                if let Some(expected) = documents.filter(|&n| n != received) {
                    let short = Error::InvalidArgument(format!(
                        "its end record counts {expected} documents and the stream had {received}"
                    ));
                    return Err(in_collection(&collection, Some(At::Line(line)), short));
                }
                self.importer.end().await
            }
        }
    }
}

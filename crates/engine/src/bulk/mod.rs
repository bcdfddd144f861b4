//! Bulk tasks on whole databases: export, import and copy, with documents kept as raw BSON from the
//! server's batches to the target's inserts (copy), to Extended JSON text (`ndjson`) and back.
//!
//! One shape for every task: an `Exporter` reads a database collection by collection (`ExportItem`s),
//! an `Importer` writes collections (`begin`, `documents`, `end`), and `ndjson` is the text between
//! them. A collection is imported into a temporary collection and renamed into place at its end, so
//! a failed or aborted import leaves no collection half-written (`import`).

pub mod dump;
pub mod export;
pub mod import;
pub mod ndjson;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bson::{doc, Document, RawDocumentBuf};
use serde::Deserialize;

use crate::error::{At, Error};
use crate::namespace::Namespace;
use crate::sync::Mutex;

/// The names of an import's temporary collections (`tmp.polymongo.<ObjectId>`): never exported, and
/// never imported into.
pub const TEMPORARY_PREFIX: &str = "tmp.polymongo.";

/// Which collections a task takes: those named in `include` (every one when absent) but not in
/// `exclude`. `system.*` collections are never taken (views travel as their definitions).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CollectionFilter {
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
}

impl CollectionFilter {
    pub fn takes(&self, name: &str) -> bool {
        !name.starts_with("system.")
            && !name.starts_with(TEMPORARY_PREFIX)
            && self.include.as_ref().is_none_or(|names| names.iter().any(|n| n == name))
            && !self.exclude.iter().any(|n| n == name)
    }
}

/// A collection as `listCollections` and `listIndexes` describe it: what creating it again takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSpec {
    pub name: String,
    pub kind: CollectionKind,
    /// `listCollections`' `options`: `create`'s options (capped, size, validator, viewOn, ...).
    pub options: Document,
    /// `listIndexes`' specs, `_id_` included (it is skipped when indexes are built).
    pub indexes: Vec<Document>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    Collection,
    View,
}

impl CollectionKind {
    /// `listCollections`' `type`; a time-series collection or another kind is refused, naming it.
    pub fn parse(name: &str, kind: &str) -> Result<Self, Error> {
        match kind {
            "collection" => Ok(CollectionKind::Collection),
            "view" => Ok(CollectionKind::View),
            other => Err(Error::InvalidArgument(format!(
                "collection {name:?} is a {other}, which bulk tasks do not export or import"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Collection => "collection",
            CollectionKind::View => "view",
        }
    }
}

/// The collections of `db` the filter takes, by name, with their options and indexes. Errors: the
/// pool's, the server's.
pub async fn list_collections(db: &Namespace, filter: &CollectionFilter) -> Result<Vec<CollectionSpec>, Error> {
    let database = db.database().await?;
    let listed: Vec<Document> = {
        use futures_util::TryStreamExt;
        let cursor = database.run_cursor_command(doc! { "listCollections": 1 }).await?;
        cursor.try_collect().await?
    };
    let mut specs = Vec::new();
    for info in listed {
        let name = info.get_str("name").map_err(|_| Error::InvalidArgument("listCollections gave no name".into()))?;
        if !filter.takes(name) {
            continue;
        }
        let kind = CollectionKind::parse(name, info.get_str("type").unwrap_or("collection"))?;
        let options = info.get_document("options").cloned().unwrap_or_default();
        let indexes = match kind {
            CollectionKind::View => Vec::new(),
            CollectionKind::Collection => list_indexes(&database, name).await?,
        };
        specs.push(CollectionSpec { name: name.to_owned(), kind, options, indexes });
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(specs)
}

async fn list_indexes(database: &mongodb::Database, coll: &str) -> Result<Vec<Document>, Error> {
    use futures_util::TryStreamExt;
    let cursor = database.run_cursor_command(doc! { "listIndexes": coll }).await?;
    Ok(cursor.try_collect().await?)
}

/// The schema each collection's documents must satisfy to be imported, by collection name.
pub type Validators = HashMap<String, Arc<crate::schema::Schema>>;

/// Options every bulk task reads (`ExportOptions`' and `ImportOptions`' shared part).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BulkOptions {
    pub collections: CollectionFilter,
    /// A filter per collection name: only the documents it matches are exported or copied.
    pub query: HashMap<String, Document>,
    /// Documents per batch read or written (default 1,000; a batch also closes at 8 MiB).
    pub batch_size: Option<u32>,
    /// Drop each target collection first (at the end: its replacement is renamed over it).
    pub drop: bool,
    /// Stop at a collection's first failing document (default); `false` inserts the others and lists
    /// each failure in the summary.
    pub ordered: Option<bool>,
    /// `false` goes on with the next collection after one fails (PolyMongo's `stopOnError`).
    pub stop_on_error: Option<bool>,
    pub bypass_document_validation: bool,
    /// `"ndjson"` (ours, the default), `"mongoexport"` (one collection, a document per line) or
    /// `"dump"` (mongodump's layout in `dir`).
    pub format: Option<String>,
    /// The collection of a `mongoexport` format.
    pub collection: Option<String>,
    /// `mongoexport`'s `--jsonFormat`: `"relaxed"` (its default) or `"canonical"`.
    pub json_format: Option<String>,
    /// The folder of a dump: `<dir>/<db>/` is written; `<dir>` or `<dir>/<db>` is read.
    pub dir: Option<String>,
    /// Gzip each file of a dump (`.gz`); read from the files' names on import.
    pub gzip: bool,
}

/// The shape of a bulk task's data, from its options.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Ndjson(ndjson::Style),
    Dump { dir: std::path::PathBuf, gzip: bool },
}

impl BulkOptions {
    /// The format the options ask for, and the collection filter it implies (`mongoexport`'s one
    /// collection). Errors: an unknown format or `jsonFormat`, a `mongoexport` format without
    /// `collection`, a dump without `dir`.
    pub fn format(&mut self) -> Result<Format, Error> {
        let bad = |message: String| Err(Error::InvalidArgument(message));
        match self.format.as_deref().unwrap_or("ndjson") {
            "ndjson" => Ok(Format::Ndjson(ndjson::Style::Records)),
            "mongoexport" => {
                let Some(collection) = self.collection.clone() else {
                    return bad("format 'mongoexport' is one collection's: name it with `collection`".into());
                };
                let relaxed = match self.json_format.as_deref().unwrap_or("relaxed") {
                    "relaxed" => true,
                    "canonical" => false,
                    other => return bad(format!("jsonFormat is 'relaxed' or 'canonical', not {other:?}")),
                };
                self.collections = CollectionFilter { include: Some(vec![collection]), exclude: Vec::new() };
                Ok(Format::Ndjson(ndjson::Style::Documents { relaxed }))
            }
            "dump" => match &self.dir {
                Some(dir) => Ok(Format::Dump { dir: dir.into(), gzip: self.gzip }),
                None => bad("format 'dump' writes to a folder: name it with `dir`".into()),
            },
            other => bad(format!("format is 'ndjson', 'mongoexport' or 'dump', not {other:?}")),
        }
    }
}

/// What a task has done so far, read by the caller whenever it likes (no I/O), and its abort flag.
#[derive(Debug, Default)]
pub struct Progress {
    collection: Mutex<String>,
    documents: AtomicU64,
    bytes: AtomicU64,
    /// The collection's document count when known, else -1.
    total: AtomicI64,
    aborted: AtomicBool,
}

/// `Progress` at one moment: the collection being worked on and its documents and bytes so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressSnapshot {
    pub collection: String,
    pub documents: u64,
    /// Bytes of BSON read or written in this collection.
    pub bytes: u64,
    pub total: Option<u64>,
}

impl Progress {
    pub fn snapshot(&self) -> ProgressSnapshot {
        let total = self.total.load(Ordering::Relaxed);
        ProgressSnapshot {
            collection: self.collection.lock().expect("progress lock").clone(),
            documents: self.documents.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            total: u64::try_from(total).ok(),
        }
    }

    fn start(&self, collection: &str, total: Option<u64>) {
        *self.collection.lock().expect("progress lock") = collection.to_owned();
        self.documents.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.total.store(total.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1), Ordering::Relaxed);
    }

    fn add(&self, documents: u64, bytes: u64) {
        self.documents.fetch_add(documents, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Asks the task to stop at its next batch: it fails with `Error::Aborted` and rolls back the
    /// collection it was writing.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    fn check(&self) -> Result<(), Error> {
        if self.aborted.load(Ordering::Relaxed) {
            Err(Error::Aborted)
        } else {
            Ok(())
        }
    }
}

/// Documents laid end to end as BSON (a cursor's chunk), one at a time. Errors: malformed BSON.
pub fn split_documents(mut bytes: &[u8]) -> impl Iterator<Item = Result<&bson::RawDocument, Error>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let len = bytes.get(..4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).unwrap_or(0);
        if len < 5 || len > bytes.len() {
            bytes = &[];
            return Some(Err(Error::InvalidArgument("malformed BSON: a document's length runs past its batch".into())));
        }
        let (doc, rest) = bytes.split_at(len);
        bytes = rest;
        Some(bson::RawDocument::from_bytes(doc).map_err(Error::from))
    })
}

/// `err`, about collection `collection` at `at`.
pub(crate) fn in_collection(collection: &str, at: Option<At>, err: Error) -> Error {
    match err {
        Error::Aborted | Error::Closed | Error::Bulk { .. } => err,
        err => Error::Bulk { collection: collection.to_owned(), at, source: Box::new(err) },
    }
}

/// The documents of a collection to write, one batch: raw BSON and where each came from.
#[derive(Debug, Default)]
pub struct Batch {
    pub docs: Vec<RawDocumentBuf>,
    pub at: Vec<At>,
    pub bytes: usize,
}

/// A batch closes at this many bytes whatever its count (as a cursor's chunk).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Documents per batch unless `batchSize` says otherwise.
pub const DEFAULT_BATCH_DOCS: u32 = 1000;

/// Copies the collections of `from` the options take into `to`, as raw BSON: documents, indexes and
/// options (`copyDatabase`). Each collection is written as an import writes it (`Importer`).
/// Errors: `Error::Bulk` naming the collection, `Error::Aborted`, the pools'.
pub async fn copy(
    from: &Namespace,
    to: &Namespace,
    options: BulkOptions,
    progress: Arc<Progress>,
    validators: Validators,
) -> Result<import::Summary, Error> {
    let mut exporter = export::Exporter::new(from.clone(), options.clone(), progress.clone()).counting_nothing();
    let mut importer = import::Importer::new(to.clone(), options, progress).starting_nothing().validating(validators);
    let copied = async {
        while let Some(item) = exporter.next().await? {
            match item {
                export::ExportItem::Collection(spec) => importer.begin(spec).await?,
                export::ExportItem::Documents(chunk) => importer.add_chunk(&chunk.bytes).await?,
                export::ExportItem::End => importer.end().await?,
            }
        }
        Ok(())
    };
    match copied.await {
        Ok(()) => importer.finish().await,
        Err(err) => Err(importer.fail(err).await),
    }
}

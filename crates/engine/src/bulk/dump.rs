//! The layout `mongodump --db` writes and `mongorestore` reads (mongodb/mongo-tools: `mongodump/
//! prepare.go`, `metadata_dump.go`, `mongorestore/filepath.go`, `metadata.go`):
//!
//! - `<dir>/<db>/<name>.bson`: the collection's documents as raw BSON, end to end;
//! - `<dir>/<db>/<name>.metadata.json`: one line of canonical Extended JSON, `{"options"?, "indexes",
//!   "uuid"?, "collectionName", "type"}` (options left out when empty); a view has only this file;
//! - with gzip, each file is one gzip stream and its name ends in `.gz`;
//! - `<name>` is the collection name escaped as Go's `url.QueryEscape` does, and past 238 bytes cut
//!   to 208 bytes + `%24` + the unpadded URL-safe base64 of the name's SHA-1, so that
//!   `.metadata.json.gz` still fits 255 bytes (the full name is then read from `collectionName`).
//!
//! Documents are copied between the server's batches and the files without being decoded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use bson::{Bson, Document, RawDocumentBuf};
use sha1::Digest;

use super::export::{ExportItem, Exporter};
use super::import::{Importer, Summary};
use super::{in_collection, CollectionKind, CollectionSpec, Progress};
use crate::error::{At, Error};

/// Longest escaped file stem mongodump writes (`mongodump/prepare.go`).
const MAX_STEM_BYTES: usize = 238;
/// Where a stem too long is cut before its hash.
const CUT_STEM_BYTES: usize = 208;
/// mongorestore refuses a document larger than this in a `.bson` file (`db.MaxBSONSize`).
const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Bytes read from a `.bson` file before its documents are handed to the importer.
const READ_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// `name` escaped as Go's `url.QueryEscape`: `[A-Za-z0-9-_.~]` kept, a space as `+`, any other byte
/// as `%XX` (upper-case hex).
pub fn query_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The inverse of `query_escape`: `+` as a space, `%XX` as its byte. `None` for a `%` not followed
/// by two hex digits or bytes that are not UTF-8.
pub fn query_unescape(stem: &str) -> Option<String> {
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The file stem mongodump gives collection `name`.
pub fn file_stem(name: &str) -> String {
    let escaped = query_escape(name);
    if escaped.len() <= MAX_STEM_BYTES {
        return escaped;
    }
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(name.as_bytes()));
    format!("{}%24{hash}", &escaped[..CUT_STEM_BYTES])
}

/// A collection's `.metadata.json`, as mongodump writes it.
pub fn metadata_json(spec: &CollectionSpec) -> String {
    let mut metadata = Document::new();
    if !spec.options.is_empty() {
        metadata.insert("options", spec.options.clone());
    }
    metadata.insert("indexes", spec.indexes.iter().cloned().map(Bson::Document).collect::<Vec<_>>());
    metadata.insert("collectionName", spec.name.clone());
    metadata.insert("type", spec.kind.as_str());
    Bson::Document(metadata).into_canonical_extjson().to_string()
}

/// A file written plainly or as one gzip stream.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn create(path: &Path, gzip: bool) -> std::io::Result<Sink> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        Ok(if gzip {
            Sink::Gzip(flate2::write::GzEncoder::new(file, flate2::Compression::default()))
        } else {
            Sink::Plain(file)
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(file) => file.write_all(bytes),
            Sink::Gzip(file) => file.write_all(bytes),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        let mut file = match self {
            Sink::Plain(file) => file,
            Sink::Gzip(file) => file.finish()?,
        };
        file.flush()?;
        file.get_ref().sync_all()
    }
}

/// Runs file I/O off the runtime's worker (its threads move bytes for every pool).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal("a dump file's I/O", e))?
        .map_err(|e| Error::InvalidArgument(format!("dump file: {e}")))
}

fn io_error(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// What an export to a directory wrote.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpSummary {
    pub database: String,
    /// The folder the collections' files are in (`<dir>/<db>`).
    pub path: String,
    pub collections: Vec<super::import::CollectionSummary>,
    pub documents: u64,
    /// Bytes of BSON written (before gzip).
    pub bytes: u64,
}

/// Writes the collections `exporter` reads into `<dir>/<db>/` in mongodump's layout (`gzip`: `.gz`
/// files). Errors: the exporter's; a file that cannot be written (naming it). Files of a collection
/// that failed are removed.
pub async fn write_dump(mut exporter: Exporter, db: &str, dir: &Path, gzip: bool) -> Result<DumpSummary, Error> {
    let folder = dir.join(db);
    let create = folder.clone();
    blocking(move || std::fs::create_dir_all(&create).map_err(|e| io_error(&create, e))).await?;
    let suffix = if gzip { ".gz" } else { "" };
    // A collection's file of `kind` ("bson" or "metadata.json"), as mongodump names it.
    let file = |name: &str, kind: &str| folder.join(format!("{}.{kind}{suffix}", file_stem(name)));
    let mut summary =
        DumpSummary { database: db.to_owned(), path: folder.display().to_string(), ..DumpSummary::default() };
    let mut current: Option<(CollectionSpec, PathBuf, Option<Sink>, u64)> = None;
    let written = async {
        while let Some(item) = exporter.next().await? {
            match item {
                ExportItem::Collection(spec) => {
                    let data = file(&spec.name, "bson");
                    let sink = match spec.kind {
                        CollectionKind::View => None,
                        CollectionKind::Collection => {
                            let path = data.clone();
                            Some(blocking(move || Sink::create(&path, gzip).map_err(|e| io_error(&path, e))).await?)
                        }
                    };
                    current = Some((spec, data, sink, 0));
                }
                ExportItem::Documents(chunk) => {
                    let Some((spec, path, sink, count)) = current.as_mut() else { continue };
                    let mut file = sink
                        .take()
                        .ok_or_else(|| Error::InvalidArgument(format!("view {:?} has documents", spec.name)))?;
                    let at = path.clone();
                    let bytes = chunk.bytes;
                    let written = bytes.len() as u64;
                    *sink = Some(
                        blocking(move || {
                            file.write_all(&bytes).map_err(|e| io_error(&at, e))?;
                            Ok(file)
                        })
                        .await?,
                    );
                    *count += u64::from(chunk.count);
                    summary.bytes += written;
                }
                ExportItem::End => {
                    let Some((spec, path, sink, count)) = current.take() else { continue };
                    let metadata = file(&spec.name, "metadata.json");
                    let json = metadata_json(&spec);
                    let meta_path = metadata.clone();
                    blocking(move || {
                        if let Some(sink) = sink {
                            sink.finish().map_err(|e| io_error(&path, e))?;
                        }
                        let mut file = Sink::create(&meta_path, gzip).map_err(|e| io_error(&meta_path, e))?;
                        file.write_all(json.as_bytes())
                            .and_then(|()| file.finish())
                            .map_err(|e| io_error(&meta_path, e))
                    })
                    .await?;
                    summary.documents += count;
                    let indexes = spec.indexes.len() as u64;
                    summary.collections.push(super::import::CollectionSummary {
                        collection: spec.name,
                        documents: count,
                        indexes,
                    });
                }
            }
        }
        Ok(())
    };
    let result: Result<(), Error> = written.await;
    if let Err(err) = result {
        if let Some((spec, data, _, _)) = current {
            let metadata = file(&spec.name, "metadata.json");
            // The collection that failed leaves no file that mongorestore would take for whole.
            blocking(move || {
                let _ = std::fs::remove_file(&data);
                let _ = std::fs::remove_file(&metadata);
                Ok(())
            })
            .await?;
        }
        return Err(err);
    }
    Ok(summary)
}

/// A file of a dump, and whether it is gzipped.
type DumpFile = (PathBuf, bool);

/// One collection of a dump folder: its data file (none for a view or a collection dumped without
/// one), and its metadata (empty without a metadata file).
#[derive(Debug, Default)]
struct DumpedCollection {
    data: Option<DumpFile>,
    metadata: Document,
}

/// The folder of a dump of `db` in `dir`: `dir` itself when it holds `.bson` or `.metadata.json`
/// files (as `mongorestore -d <db> <dir>`), else `dir/<db>` (where `write_dump` writes).
fn dump_folder(dir: &Path, db: &str) -> std::io::Result<PathBuf> {
    let holds_dump = |folder: &Path| -> std::io::Result<bool> {
        Ok(std::fs::read_dir(folder)?.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            [".bson", ".bson.gz", ".metadata.json", ".metadata.json.gz"].iter().any(|s| name.ends_with(s))
        }))
    };
    if holds_dump(dir).map_err(|e| io_error(dir, e))? {
        return Ok(dir.to_owned());
    }
    let nested = dir.join(db);
    if nested.is_dir() && holds_dump(&nested).map_err(|e| io_error(&nested, e))? {
        return Ok(nested);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no dump in {} or {} (no .bson or .metadata.json file)", dir.display(), nested.display()),
    ))
}

/// The collections of a dump folder by name: its files paired by their stem, each named by its
/// metadata's `collectionName` (mongodump writes it; file names were escaped as a path segment by
/// mongo-tools before 2021 and as a query string since, so `a+b` could be either), else by its
/// unescaped stem. Skipped as mongorestore skips them: `system.*` collections, `$admin.*` user and
/// role files, `prelude.json`. Errors: two files naming one collection; unreadable metadata.
fn list_dump(folder: &Path) -> std::io::Result<BTreeMap<String, DumpedCollection>> {
    // Per stem: its data file and its metadata file.
    let mut stems: BTreeMap<String, (Option<DumpFile>, Option<DumpFile>)> = BTreeMap::new();
    for entry in std::fs::read_dir(folder).map_err(|e| io_error(folder, e))? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let (stem, gzip) = match file.strip_suffix(".gz") {
            Some(stem) => (stem.to_owned(), true),
            None => (file.clone(), false),
        };
        let (stem, is_data) = match (stem.strip_suffix(".bson"), stem.strip_suffix(".metadata.json")) {
            (Some(stem), _) => (stem, true),
            (_, Some(stem)) => (stem, false),
            _ => continue,
        };
        if stem.starts_with('$') {
            continue;
        }
        let files = stems.entry(stem.to_owned()).or_default();
        *(if is_data { &mut files.0 } else { &mut files.1 }) = Some((entry.path(), gzip));
    }
    let mut found = BTreeMap::new();
    for (stem, (data, metadata_file)) in stems {
        let metadata = match &metadata_file {
            Some((path, gzip)) => read_metadata(path, *gzip)?,
            None => Document::new(),
        };
        let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
        let name = match metadata.get_str("collectionName") {
            Ok(name) => name.to_owned(),
            Err(_) if stem.len() == MAX_STEM_BYTES && stem.contains("%24") => {
                return Err(invalid(format!(
                    "{}: a long name's metadata has no collectionName",
                    folder.join(&stem).display()
                )));
            }
            Err(_) => query_unescape(&stem)
                .ok_or_else(|| invalid(format!("{}: not an escaped collection name", folder.join(&stem).display())))?,
        };
        if name.starts_with("system.") {
            continue;
        }
        if found.insert(name.clone(), DumpedCollection { data, metadata }).is_some() {
            return Err(invalid(format!("{}: two sets of files hold collection {name:?}", folder.display())));
        }
    }
    Ok(found)
}

fn open_read(path: &Path, gzip: bool) -> std::io::Result<Box<dyn Read + Send>> {
    let file = BufReader::with_capacity(1 << 20, File::open(path).map_err(|e| io_error(path, e))?);
    Ok(if gzip { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) })
}

fn read_metadata(path: &Path, gzip: bool) -> std::io::Result<Document> {
    let mut text = String::new();
    open_read(path, gzip)?.read_to_string(&mut text).map_err(|e| io_error(path, e))?;
    if text.trim().is_empty() {
        return Ok(Document::new());
    }
    let invalid = |message: String| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {message}", path.display()))
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    match Bson::try_from(value) {
        Ok(Bson::Document(doc)) => Ok(doc),
        Ok(_) => Err(invalid("not a JSON object".into())),
        Err(e) => Err(invalid(format!("not Extended JSON: {e}"))),
    }
}

/// Imports the dump of `db` in `dir` (see `dump_folder`) with `importer`: each collection created
/// with its metadata's options, its documents, then its indexes, as `Importer` writes (whole or not
/// at all). Views are created after the collections. Errors name the collection and the document's
/// place in its `.bson` file.
pub async fn read_dump(
    mut importer: Importer,
    db: &str,
    dir: &Path,
    filter: &super::CollectionFilter,
    progress: Arc<Progress>,
) -> Result<Summary, Error> {
    let (dir, db_name) = (dir.to_owned(), db.to_owned());
    let listed = blocking(move || list_dump(&dump_folder(&dir, &db_name)?)).await?;
    let mut specs = Vec::new();
    for (name, DumpedCollection { data, metadata }) in listed.into_iter().filter(|(name, _)| filter.takes(name)) {
        let options = metadata.get_document("options").cloned().unwrap_or_default();
        let kind = match metadata.get_str("type") {
            Ok(kind) => CollectionKind::parse(&name, kind).map_err(|e| in_collection(&name, None, e))?,
            Err(_) if options.contains_key("viewOn") => CollectionKind::View,
            Err(_) => CollectionKind::Collection,
        };
        let indexes = match metadata.get_array("indexes") {
            Ok(list) => list.iter().filter_map(|index| index.as_document().cloned()).collect(),
            Err(_) => Vec::new(),
        };
        specs.push((CollectionSpec { name, kind, options, indexes }, data));
    }
    // Views after collections, as they read them.
    specs.sort_by_key(|(spec, _)| spec.kind == CollectionKind::View);
    let imported = async {
        for (spec, data) in specs {
            let name = spec.name.clone();
            importer.begin(spec).await?;
            if let Some((path, gzip)) = data {
                read_bson(&mut importer, &name, path, gzip, &progress).await?;
            }
            importer.end().await?;
        }
        Ok(())
    };
    match imported.await {
        Ok(()) => importer.finish().await,
        Err(err) => Err(importer.fail(err).await),
    }
}

/// Hands the documents of a `.bson` file to `importer`, a few MiB at a time.
async fn read_bson(
    importer: &mut Importer,
    name: &str,
    path: PathBuf,
    gzip: bool,
    progress: &Progress,
) -> Result<(), Error> {
    let reader = blocking(move || open_read(&path, gzip).map(|r| (r, path))).await?;
    let mut state = Some(reader);
    let mut index = 0u64;
    loop {
        progress.check()?;
        let (mut reader, path) = state.take().expect("the reader comes back with each chunk");
        let (reader, path, documents) = blocking(move || {
            let documents = read_documents(&mut reader, &path)?;
            Ok((reader, path, documents))
        })
        .await
        .map_err(|e| in_collection(name, Some(At::Document(index)), e))?;
        if documents.is_empty() {
            return Ok(());
        }
        for document in documents {
            importer.add(name, document, At::Document(index)).await?;
            index += 1;
        }
        state = Some((reader, path));
    }
}

/// The next documents of a `.bson` stream, about `READ_CHUNK_BYTES` of them; none at its end.
/// Errors: a length under 5 or over 16 MiB, a document cut short (naming the file).
fn read_documents(reader: &mut dyn Read, path: &Path) -> std::io::Result<Vec<RawDocumentBuf>> {
    let invalid =
        |message: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {message}", path.display()));
    let mut documents = Vec::new();
    let mut read = 0;
    while read < READ_CHUNK_BYTES {
        let mut length = [0u8; 4];
        match reader.read(&mut length[..1])? {
            0 => break,
            _ => reader.read_exact(&mut length[1..]).map_err(|_| invalid("a document's length is cut short"))?,
        }
        let size = i32::from_le_bytes(length);
        if size < 5 || size as usize > MAX_DOCUMENT_BYTES {
            return Err(invalid(&format!("a document of {size} bytes (BSON documents are 5 bytes to 16 MiB)")));
        }
        let mut bytes = vec![0u8; size as usize];
        bytes[..4].copy_from_slice(&length);
        reader.read_exact(&mut bytes[4..]).map_err(|_| invalid("a document is cut short"))?;
        documents.push(RawDocumentBuf::from_bytes(bytes).map_err(|e| invalid(&format!("not BSON: {e}")))?);
        read += size as usize;
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_mongodump_escapes_them() {
        assert_eq!(query_escape("a/b $x cafés+~"), "a%2Fb+%24x+caf%C3%A9s%2B~");
        for name in ["plain", "a/b $x cafés+~", "100%", "日本"] {
            assert_eq!(query_unescape(&query_escape(name)).as_deref(), Some(name));
        }
        assert_eq!(query_unescape("bad%2"), None);
        let long = "é".repeat(100);
        let stem = file_stem(&long);
        assert_eq!(stem.len(), MAX_STEM_BYTES);
        assert!(stem[CUT_STEM_BYTES..].starts_with("%24"));
        assert_eq!(file_stem("short"), "short");
    }

    #[test]
    fn metadata_is_canonical_and_leaves_out_empty_options() {
        let spec = CollectionSpec {
            name: "c".into(),
            kind: CollectionKind::Collection,
            options: Document::new(),
            indexes: vec![bson::doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
        };
        assert_eq!(
            metadata_json(&spec),
            r#"{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"collectionName":"c","type":"collection"}"#
        );
    }

    #[test]
    fn bson_files_are_read_a_chunk_at_a_time_and_bad_lengths_named() {
        let doc = RawDocumentBuf::try_from(&bson::doc! { "a": 1 }).unwrap();
        let bytes: Vec<u8> = std::iter::repeat_n(doc.as_bytes(), 3).flatten().copied().collect();
        let docs = read_documents(&mut &bytes[..], Path::new("c.bson")).unwrap();
        assert_eq!(docs.len(), 3);
        assert!(read_documents(&mut &bytes[..bytes.len() - 1], Path::new("c.bson"))
            .unwrap_err()
            .to_string()
            .contains("c.bson: a document is cut short"));
        assert!(read_documents(&mut &[1u8, 0, 0, 0][..], Path::new("c.bson"))
            .unwrap_err()
            .to_string()
            .contains("a document of 1 bytes"));
    }
}

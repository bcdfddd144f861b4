//! The NDJSON export format: one JSON record per line, values in canonical Extended JSON so that every
//! BSON type (Int32 and Double, Long, Decimal128, dates before 1970, NaN and -0, binary subtypes, ...)
//! comes back as it was, byte for byte.
//!
//! ```text
//! {"type":"meta","format":"polymongo.ndjson","version":2,"database":"acme","exportedAt":"2026-…Z"}
//! {"type":"collection","collection":"users","collectionType":"collection","options":{…}}
//! {"type":"index","collection":"users","index":{"v":{"$numberInt":"2"},"key":{…},"name":"_id_"}}
//! {"type":"document","collection":"users","document":{"_id":{"$oid":"…"},…}}
//! {"type":"collectionEnd","collection":"users"}
//! ```
//! PolyMongo 1.3 writes the same records with version 1 and plain JSON values; they are read too,
//! with Extended JSON's rules (canonical or relaxed), which give an Int32 for a whole number, a Double
//! for a fraction and an ObjectId for `{"$oid": …}`. Version 2 keeps PolyMongo 1.3 from reading our
//! streams: it would insert `{"$oid": …}` as an object.

use base64::Engine as _;
use bson::{Bson, Document, RawDocument, RawDocumentBuf};
use serde::Deserialize;

use super::export::{ExportItem, Exporter};
use super::{split_documents, CollectionKind, CollectionSpec};
use crate::error::{At, Error};

pub const FORMAT: &str = "polymongo.ndjson";
pub const VERSION: u64 = 2;
/// A line longer than this is refused: a 16 MiB document is at most ~3 times longer as Extended JSON.
pub const MAX_LINE_BYTES: usize = 128 * 1024 * 1024;

/// An export as NDJSON text, a piece at a time.
/// Which NDJSON: ours, or `mongoexport`'s (one document per line, of a single collection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The meta, collection, index, document and end records, canonical Extended JSON.
    Records,
    /// Documents only, as `mongoexport` writes them (`--jsonFormat=relaxed`, its default, or
    /// `canonical`) and `mongoimport` reads them.
    Documents { relaxed: bool },
}

pub struct NdjsonExport {
    exporter: Exporter,
    database: String,
    style: Style,
    started: bool,
    /// The end record is written.
    finished: bool,
    /// Collections and documents so far, for the end record.
    collections: u64,
    total: u64,
    /// The collection being read and its documents so far.
    collection: String,
    documents: u64,
}

impl NdjsonExport {
    pub fn new(exporter: Exporter, database: String, style: Style) -> Self {
        NdjsonExport {
            exporter,
            database,
            style,
            started: false,
            finished: false,
            collections: 0,
            total: 0,
            collection: String::new(),
            documents: 0,
        }
    }

    /// Stops the export (`Exporter::close`).
    pub fn close(&mut self) {
        self.exporter.close();
    }

    /// The next lines (whole lines: the meta record, a collection's records, a batch of documents),
    /// `None` at the end. Errors: the exporter's.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut out = Vec::new();
        // mongoexport's lines are documents only: other items give no text.
        while out.is_empty() {
            let item = self.exporter.next().await?;
            // The meta line goes out with the first item read, so that a stream that cannot start
            // (a closed wrapper, a server gone) gives nothing that looks like an export.
            if !self.started && self.style == Style::Records {
                let now = bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default();
                write_meta(&mut out, &self.database, &now);
            }
            self.started = true;
            match item {
                None if self.finished || self.style != Style::Records => return Ok((!out.is_empty()).then_some(out)),
                None => {
                    write_stream_end(&mut out, self.collections, self.total);
                    self.finished = true;
                }
                Some(ExportItem::Collection(spec)) => {
                    if self.style == Style::Records {
                        write_collection(&mut out, &spec);
                    }
                    (self.collection, self.documents) = (spec.name, 0);
                    self.collections += 1;
                }
                Some(ExportItem::Documents(chunk)) => {
                    // Written on a thread of its own: the runtime's worker reads the next batch
                    // meanwhile.
                    let (collection, first, style) = (self.collection.clone(), self.documents, self.style);
                    self.documents += u64::from(chunk.count);
                    self.total += u64::from(chunk.count);
                    let text = tokio::task::spawn_blocking(move || {
                        let mut out = Vec::with_capacity(chunk.bytes.len() * 2);
                        write_documents(&mut out, &collection, &chunk.bytes, first, style).map(|()| out)
                    })
                    .await
                    .map_err(|e| Error::internal("an export's Extended JSON", e))??;
                    out.extend_from_slice(&text);
                }
                Some(ExportItem::End) if self.style == Style::Records => {
                    write_end(&mut out, &self.collection, self.documents)
                }
                Some(ExportItem::End) => {}
            }
        }
        Ok(Some(out))
    }
}

/// The first line: what the stream is, from which database, when.
pub fn write_meta(out: &mut Vec<u8>, database: &str, exported_at: &str) {
    let meta = serde_json::json!({
        "type": "meta", "format": FORMAT, "version": VERSION, "database": database, "exportedAt": exported_at,
    });
    line(out, &meta);
}

/// A collection's record, then one record per index.
pub fn write_collection(out: &mut Vec<u8>, spec: &CollectionSpec) {
    let record = serde_json::json!({
        "type": "collection",
        "collection": spec.name,
        "collectionType": spec.kind.as_str(),
        "options": Bson::Document(spec.options.clone()).into_canonical_extjson(),
    });
    line(out, &record);
    for index in &spec.indexes {
        let record = serde_json::json!({
            "type": "index", "collection": spec.name, "index": Bson::Document(index.clone()).into_canonical_extjson(),
        });
        line(out, &record);
    }
}

/// One line per document of `chunk` (documents laid end to end as BSON): a document record, or
/// the document alone in `mongoexport`'s style. Errors: a document that is not valid BSON (a string
/// that is not UTF-8) or that Extended JSON cannot carry, at its place in the collection from `first`.
pub fn write_documents(
    out: &mut Vec<u8>,
    collection: &str,
    chunk: &[u8],
    first: u64,
    style: Style,
) -> Result<(), Error> {
    let (prefix, suffix) = match style {
        Style::Records => {
            (format!(r#"{{"type":"document","collection":{},"document":"#, serde_json::Value::from(collection)), "}\n")
        }
        Style::Documents { .. } => (String::new(), "\n"),
    };
    let relaxed = style == Style::Documents { relaxed: true };
    for (i, doc) in split_documents(chunk).enumerate() {
        let start = out.len();
        out.extend_from_slice(prefix.as_bytes());
        let written = doc.and_then(|doc| {
            // A field named as a type wrapper: its path, from the walk that names it.
            write_extjson(out, doc, relaxed).map_err(|e| check_representable(doc).err().unwrap_or(e))
        });
        if let Err(e) = written {
            out.truncate(start);
            return Err(super::in_collection(collection, Some(At::Document(first + i as u64)), e));
        }
        out.extend_from_slice(suffix.as_bytes());
    }
    Ok(())
}

/// `doc` as canonical Extended JSON (what `Bson::into_canonical_extjson` gives), or relaxed (numbers
/// as JSON numbers, dates from 1970 to 9999 as ISO-8601 strings), written straight from its BSON
/// rather than through a `Document` and a JSON value. Errors: malformed BSON; a field named as a
/// type wrapper (`check_representable`).
fn write_extjson(out: &mut Vec<u8>, doc: &RawDocument, relaxed: bool) -> Result<(), Error> {
    out.push(b'{');
    for (i, element) in doc.iter().enumerate() {
        let (key, value) = element?;
        let key = key.as_str();
        if TYPE_WRAPPER_KEYS.contains(&key) {
            return Err(Error::InvalidArgument(format!("field {key:?} is named as an Extended JSON type")));
        }
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value, relaxed)?;
    }
    out.push(b'}');
    Ok(())
}

/// The last millisecond of year 9999: relaxed Extended JSON writes dates up to it as strings.
const MAX_ISO_DATE_MS: i64 = 253_402_300_799_999;

fn write_value(out: &mut Vec<u8>, value: bson::RawBsonRef, relaxed: bool) -> Result<(), Error> {
    use bson::RawBsonRef as V;
    use std::io::Write as _;
    match value {
        V::Document(doc) => write_extjson(out, doc, relaxed)?,
        V::Array(array) => {
            out.push(b'[');
            for (i, item) in array.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item?, relaxed)?;
            }
            out.push(b']');
        }
        V::String(text) => write_str(out, text),
        V::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        V::Null => out.extend_from_slice(b"null"),
        V::Int32(n) if relaxed => write!(out, "{n}").expect("a Vec takes writes"),
        V::Int64(n) if relaxed => write!(out, "{n}").expect("a Vec takes writes"),
        // Debug gives the shortest digits that read back as the same double, with a `.0` or an
        // exponent that keeps it a double ("1.0", "-0.0", "1e300", "5e-324").
        V::Double(f) if relaxed && f.is_finite() => write!(out, "{f:?}").expect("a Vec takes writes"),
        V::DateTime(date) if relaxed && (0..=MAX_ISO_DATE_MS).contains(&date.timestamp_millis()) => {
            let iso = date.try_to_rfc3339_string().map_err(|e| Error::InvalidArgument(e.to_string()))?;
            write!(out, r#"{{"$date":"{iso}"}}"#).expect("a Vec takes writes");
        }
        V::Int32(n) => write!(out, r#"{{"$numberInt":"{n}"}}"#).expect("a Vec takes writes"),
        V::Int64(n) => write!(out, r#"{{"$numberLong":"{n}"}}"#).expect("a Vec takes writes"),
        V::Double(f) => {
            let text = if f.is_nan() {
                "NaN".to_owned()
            } else if f.is_infinite() {
                (if f > 0.0 { "Infinity" } else { "-Infinity" }).to_owned()
            } else {
                format!("{f:?}")
            };
            write!(out, r#"{{"$numberDouble":"{text}"}}"#).expect("a Vec takes writes");
        }
        V::ObjectId(id) => write!(out, r#"{{"$oid":"{}"}}"#, id.to_hex()).expect("a Vec takes writes"),
        V::DateTime(date) => {
            write!(out, r#"{{"$date":{{"$numberLong":"{}"}}}}"#, date.timestamp_millis()).expect("a Vec takes writes")
        }
        V::Binary(binary) => {
            let subtype: u8 = binary.subtype.into();
            let base64 = base64::engine::general_purpose::STANDARD.encode(binary.bytes);
            write!(out, r#"{{"$binary":{{"base64":"{base64}","subType":"{subtype:02x}"}}}}"#)
                .expect("a Vec takes writes");
        }
        V::Timestamp(ts) => {
            write!(out, r#"{{"$timestamp":{{"t":{},"i":{}}}}}"#, ts.time, ts.increment).expect("a Vec takes writes")
        }
        V::Decimal128(d) => write!(out, r#"{{"$numberDecimal":"{d}"}}"#).expect("a Vec takes writes"),
        V::MinKey => out.extend_from_slice(br#"{"$minKey":1}"#),
        V::MaxKey => out.extend_from_slice(br#"{"$maxKey":1}"#),
        V::Undefined => out.extend_from_slice(br#"{"$undefined":true}"#),
        V::JavaScriptCode(code) => {
            out.extend_from_slice(br#"{"$code":"#);
            write_str(out, code);
            out.push(b'}');
        }
        V::Symbol(symbol) => {
            out.extend_from_slice(br#"{"$symbol":"#);
            write_str(out, symbol);
            out.push(b'}');
        }
        // Rare types: the bson crate's own conversion (regular expressions sort their options there).
        other => {
            let value = Bson::try_from(other)?.into_canonical_extjson();
            serde_json::to_writer(&mut *out, &value).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        }
    }
    Ok(())
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("a string serializes");
}

/// The keys that make an Extended JSON object a BSON value (a type wrapper) when it is read back.
const TYPE_WRAPPER_KEYS: [&str; 17] = [
    "$oid",
    "$symbol",
    "$regularExpression",
    "$numberInt",
    "$numberLong",
    "$numberDouble",
    "$numberDecimal",
    "$binary",
    "$code",
    "$scope",
    "$timestamp",
    "$date",
    "$minKey",
    "$maxKey",
    "$dbPointer",
    "$undefined",
    "$uuid",
];

/// Refuses a document with a (sub)document holding a type wrapper's key (`{ "$oid": … }` stored as a
/// document): Extended JSON would read it back as another value, or not at all. Iterative, so that
/// no depth overflows the stack.
fn check_representable(doc: &RawDocument) -> Result<(), Error> {
    let mut stack = vec![(String::new(), doc.iter())];
    while let Some((path, elements)) = stack.last_mut() {
        let Some(element) = elements.next() else {
            stack.pop();
            continue;
        };
        let (key, value) = element?;
        let key = key.as_str();
        let here = if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
        if TYPE_WRAPPER_KEYS.contains(&key) {
            return Err(Error::InvalidArgument(format!(
                "field {here:?} is named as an Extended JSON type, which NDJSON would read back as that type; \
                 export this collection with format 'dump' (BSON) instead"
            )));
        }
        match value {
            bson::RawBsonRef::Document(sub) => stack.push((here, sub.iter())),
            bson::RawBsonRef::Array(array) => stack.push((here, RawDocument::from_bytes(array.as_bytes())?.iter())),
            _ => {}
        }
    }
    Ok(())
}

/// A collection's end, with its count of documents (an import checks it).
pub fn write_end(out: &mut Vec<u8>, collection: &str, documents: u64) {
    line(out, &serde_json::json!({ "type": "collectionEnd", "collection": collection, "documents": documents }));
}

/// The stream's end: without it, an import knows the stream was cut short.
pub fn write_stream_end(out: &mut Vec<u8>, collections: u64, documents: u64) {
    line(out, &serde_json::json!({ "type": "end", "collections": collections, "documents": documents }));
}

fn line(out: &mut Vec<u8>, value: &serde_json::Value) {
    serde_json::to_writer(&mut *out, value).expect("a JSON value serializes");
    out.push(b'\n');
}

/// A record read from a line.
#[derive(Debug, PartialEq)]
pub enum Record {
    Meta,
    /// A collection with its options; its indexes come as `Index` records.
    Collection(CollectionSpec),
    Index {
        collection: String,
        index: Document,
    },
    Document {
        collection: String,
        document: RawDocumentBuf,
    },
    /// A collection's end, with its count of documents when the stream gives it (version 2).
    End {
        collection: String,
        documents: Option<u64>,
    },
    /// The stream's end (version 2): what comes before it is whole.
    StreamEnd,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Line {
    Meta {
        format: Option<String>,
        version: Option<serde_json::Value>,
    },
    #[serde(rename_all = "camelCase")]
    Collection {
        collection: String,
        collection_type: Option<String>,
        options: Option<serde_json::Value>,
    },
    Index {
        collection: String,
        index: serde_json::Value,
    },
    Document {
        collection: String,
        document: serde_json::Value,
    },
    CollectionEnd {
        collection: String,
        documents: Option<u64>,
    },
    End {},
}

/// Splits bytes as they arrive into lines and reads each as a `Record`; a line may span any number
/// of pushes. The first record must be the meta line.
#[derive(Debug, Default)]
pub struct Reader {
    /// For `mongoimport`'s NDJSON: each line a document of this collection (no meta record).
    documents_of: Option<String>,
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    pos: usize,
    /// Lines read so far.
    line: u64,
    /// The stream's version, once its meta record is read.
    version: Option<u64>,
    /// Whether the end record was read (nothing may follow it).
    finished: bool,
    ended: bool,
}

impl Reader {
    /// A reader of `mongoexport`'s lines: each a document (relaxed or canonical Extended JSON) of
    /// `collection`.
    pub fn documents_of(collection: String) -> Self {
        Reader { documents_of: Some(collection), ..Reader::default() }
    }

    /// More of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The stream has ended: what is left is its last line.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// The next record and its line (from 1), `None` when the next line has not fully arrived (or,
    /// after `end`, when nothing is left). Blank lines are skipped. Errors name the line: a line that
    /// is not JSON or not a record, a stream that does not start with the meta record or is not
    /// this format, a line over `MAX_LINE_BYTES`.
    pub fn next_record(&mut self) -> Result<Option<(u64, Record)>, Error> {
        loop {
            let rest = &self.buf[self.pos..];
            let (line, consumed) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], end + 1),
                None if self.ended && !rest.is_empty() => (rest, rest.len()),
                None if rest.len() > MAX_LINE_BYTES => {
                    return Err(line_error(self.line + 1, format!("a line longer than {MAX_LINE_BYTES} bytes")))
                }
                None => return Ok(None),
            };
            self.line += 1;
            let number = self.line;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // A byte-order mark before the first line, as mongoimport allows.
            let line = if number == 1 { line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line) } else { line };
            let blank = line.iter().all(u8::is_ascii_whitespace);
            let record = match &self.documents_of {
                _ if blank => None,
                Some(collection) => Some(parse_document(collection, number, line)),
                None => Some(parse(&mut self.version, &mut self.finished, number, line)),
            };
            self.pos += consumed;
            match record {
                None => continue,
                Some(record) => return record.map(|r| Some((number, r))),
            }
        }
    }
}

impl Reader {
    /// Whether the stream read is whole, once it has ended: it had its meta record and, from
    /// version 2 on, its end record. Errors: `Error::Stream` at the last line.
    pub fn check_whole(&self) -> Result<(), Error> {
        if self.documents_of.is_some() {
            return Ok(());
        }
        match self.version {
            None => Err(line_error(self.line.max(1), format!("the stream is empty: it has no {FORMAT} meta record"))),
            Some(version) if version >= 2 && !self.finished => Err(line_error(
                self.line,
                "the stream ended before its end record: it was cut short, and the collection it was in is rolled back"
                    .into(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Whether each line is a document (`mongoexport`'s lines) rather than a record.
    pub fn documents_style(&self) -> bool {
        self.documents_of.is_some()
    }

    /// The last line read.
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// A line of `mongoexport`'s NDJSON: a document of `collection`.
fn parse_document(collection: &str, number: u64, line: &[u8]) -> Result<Record, Error> {
    let at = |e: Error| super::in_collection(collection, Some(At::Line(number)), e);
    let mut value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| at(Error::InvalidArgument(format!("not JSON: {e}"))))?;
    legacy_to_v2(&mut value);
    let document =
        document(value, "document").and_then(|d| RawDocumentBuf::try_from(&d).map_err(Error::from)).map_err(at)?;
    Ok(Record::Document { collection: collection.to_owned(), document })
}

/// Rewrites the Extended JSON v1 forms older `mongoexport`s wrote, which `mongoimport` still reads,
/// as their v2 forms: `{"$regex", "$options"}`, `{"$binary": base64, "$type": hex}` and a `$date`
/// string whose offset has no colon (`+0000`).
fn legacy_to_v2(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter_mut().for_each(legacy_to_v2),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            match keys.as_slice() {
                ["$regex", "$options"] | ["$options", "$regex"] | ["$regex"] if map["$regex"].is_string() => {
                    let options = map.get("$options").cloned().unwrap_or_else(|| Value::from(""));
                    let pattern = map["$regex"].clone();
                    *value = serde_json::json!({ "$regularExpression": { "pattern": pattern, "options": options } });
                }
                ["$binary", "$type"] | ["$type", "$binary"]
                    if map["$binary"].is_string() && map["$type"].is_string() =>
                {
                    let sub_type = map["$type"].as_str().unwrap_or_default();
                    let sub_type = format!("{:0>2}", sub_type.to_ascii_lowercase());
                    *value =
                        serde_json::json!({ "$binary": { "base64": map["$binary"].clone(), "subType": sub_type } });
                }
                ["$date"] => {
                    if let Some(text) = map["$date"].as_str() {
                        let bytes = text.as_bytes();
                        let n = bytes.len();
                        if n > 5 && matches!(bytes[n - 5], b'+' | b'-') && bytes[n - 4..].iter().all(u8::is_ascii_digit)
                        {
                            let fixed = format!("{}:{}", &text[..n - 2], &text[n - 2..]);
                            map.insert("$date".into(), Value::from(fixed));
                        }
                    }
                }
                _ => map.values_mut().for_each(legacy_to_v2),
            }
        }
        _ => {}
    }
}

/// A line's record; the first must be the meta record (`stream_version` is then the stream's), and none
/// may follow the end record (`finished`).
fn parse(stream_version: &mut Option<u64>, finished: &mut bool, number: u64, line: &[u8]) -> Result<Record, Error> {
    let parsed: Line = serde_json::from_slice(line).map_err(|e| line_error(number, format!("not a record: {e}")))?;
    if *finished {
        return Err(line_error(number, "a record after the end record".into()));
    }
    if stream_version.is_none() {
        let Line::Meta { format, version } = parsed else {
            return Err(line_error(number, format!("the stream does not start with a {FORMAT} meta record")));
        };
        let version_read = version.as_ref().and_then(serde_json::Value::as_u64);
        if format.as_deref() != Some(FORMAT) || !matches!(version_read, Some(1..=VERSION)) {
            return Err(line_error(
                number,
                format!(
                    "not a {FORMAT} stream of version 1 or {VERSION} (format {format:?}, version {version_read:?})"
                ),
            ));
        }
        *stream_version = version_read;
        return Ok(Record::Meta);
    }
    let at = |e: Error, collection: &str| super::in_collection(collection, Some(At::Line(number)), e);
    Ok(match parsed {
        Line::Meta { .. } => return Err(line_error(number, "a second meta record".into())),
        Line::Collection { collection, collection_type, options } => {
            let kind = CollectionKind::parse(&collection, collection_type.as_deref().unwrap_or("collection"))
                .map_err(|e| at(e, &collection))?;
            let options = match options {
                Some(value) => document(value, "options").map_err(|e| at(e, &collection))?,
                None => Document::new(),
            };
            Record::Collection(CollectionSpec { name: collection, kind, options, indexes: Vec::new() })
        }
        Line::Index { collection, index } => {
            let index = document(index, "index").map_err(|e| at(e, &collection))?;
            Record::Index { collection, index }
        }
        Line::Document { collection, document: value } => {
            let document = document(value, "document")
                .and_then(|d| RawDocumentBuf::try_from(&d).map_err(Error::from))
                .map_err(|e| at(e, &collection))?;
            Record::Document { collection, document }
        }
        Line::CollectionEnd { collection, documents } => Record::End { collection, documents },
        Line::End {} => {
            *finished = true;
            Record::StreamEnd
        }
    })
}

fn line_error(line: u64, message: String) -> Error {
    Error::Stream { line, message }
}

/// An Extended JSON object as a document.
fn document(value: serde_json::Value, what: &str) -> Result<Document, Error> {
    match Bson::try_from(value) {
        Ok(Bson::Document(doc)) => Ok(doc),
        Ok(other) => Err(Error::InvalidArgument(format!("the {what} is a {:?}, not a document", other.element_type()))),
        Err(e) => Err(Error::InvalidArgument(format!("the {what} is not Extended JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, spec::BinarySubtype, Binary, DateTime, Decimal128, Regex, Timestamp};

    fn every_type() -> Document {
        doc! {
            "_id": bson::oid::ObjectId::new(),
            "int": 5_i32, "long": i64::MIN, "double": 1.0_f64, "nan": f64::NAN, "inf": f64::INFINITY,
            "ninf": f64::NEG_INFINITY, "nzero": -0.0_f64, "tiny": 5e-324_f64, "big": 1e300_f64,
            "before1970": DateTime::from_millis(-1_000_000_000_000), "far": DateTime::from_millis(8_640_000_000_000_000),
            "dec": "1.2345E+6000".parse::<Decimal128>().unwrap(),
            "bin0": Binary { subtype: BinarySubtype::Generic, bytes: b"hi".to_vec() },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1; 16] },
            "md5": Binary { subtype: BinarySubtype::Md5, bytes: vec![2; 16] },
            "user": Binary { subtype: BinarySubtype::UserDefined(128), bytes: b"x".to_vec() },
            "re": Regex { pattern: "a.b".try_into().unwrap(), options: "imsx".try_into().unwrap() }, "ts": Timestamp { time: 5, increment: 7 },
            "min": Bson::MinKey, "max": Bson::MaxKey, "code": Bson::JavaScriptCode("function() {}".into()),
            "nested": [[1, [2, { "a": { "$x": 1, "a.b": 2 } }]]], "ключ": "значение", "null": null,
        }
    }

    fn read_all(text: &[u8], step: usize) -> Vec<(u64, Record)> {
        let mut reader = Reader::default();
        let mut records = Vec::new();
        for piece in text.chunks(step) {
            reader.push(piece);
            while let Some(record) = reader.next_record().unwrap() {
                records.push(record);
            }
        }
        reader.end();
        while let Some(record) = reader.next_record().unwrap() {
            records.push(record);
        }
        records
    }

    #[test]
    fn every_bson_type_comes_back_byte_for_byte() {
        let doc = RawDocumentBuf::try_from(&every_type()).unwrap();
        let spec = CollectionSpec {
            name: "things".into(),
            kind: CollectionKind::Collection,
            options: doc! { "capped": true, "size": 4096_i64 },
            indexes: vec![doc! { "v": 2, "key": { "a": 1.0 }, "name": "a_1", "unique": true }],
        };
        let mut out = Vec::new();
        write_meta(&mut out, "acme", "2026-12-01T00:00:00Z");
        write_collection(&mut out, &spec);
        write_documents(&mut out, "things", doc.as_bytes(), 0, Style::Records).unwrap();
        write_end(&mut out, "things", 1);
        write_stream_end(&mut out, 1, 1);
        // Whatever pieces the stream arrives in, and without its last newline.
        for step in [1, 7, out.len()] {
            let records = read_all(&out[..out.len() - 1], step);
            assert_eq!(records.len(), 6);
            assert_eq!(records[0], (1, Record::Meta));
            let Record::Collection(ref read) = records[1].1 else { panic!("{:?}", records[1]) };
            assert_eq!((read.kind, &read.options), (spec.kind, &spec.options));
            assert_eq!(records[2].1, Record::Index { collection: "things".into(), index: spec.indexes[0].clone() });
            let Record::Document { ref document, .. } = records[3].1 else { panic!("{:?}", records[3]) };
            assert_eq!(document.as_bytes(), doc.as_bytes());
            assert_eq!(records[4], (5, Record::End { collection: "things".into(), documents: Some(1) }));
            assert_eq!(records[5], (6, Record::StreamEnd));
        }
    }

    #[test]
    fn canonical_text_is_the_bson_crates() {
        let doc = RawDocumentBuf::try_from(&every_type()).unwrap();
        let mut out = Vec::new();
        write_extjson(&mut out, &doc, false).unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let crates = Bson::Document(Document::try_from(doc.as_ref()).unwrap()).into_canonical_extjson();
        // The same values, the doubles' digits aside (1e300 is the crate's 1000…0.0).
        let back = |v: serde_json::Value| RawDocumentBuf::try_from(&document(v, "document").unwrap()).unwrap();
        assert_eq!(back(ours.clone()).as_bytes(), doc.as_bytes());
        assert_eq!(back(crates).as_bytes(), doc.as_bytes());
        assert_eq!(ours["big"], serde_json::json!({ "$numberDouble": "1e300" }));
        assert_eq!(ours["nzero"], serde_json::json!({ "$numberDouble": "-0.0" }));
        assert_eq!(ours["uuid"]["$binary"]["subType"], "04");
        assert_eq!(ours["user"]["$binary"]["subType"], "80");

        // Relaxed: numbers as JSON numbers, ISO dates only from 1970 to 9999 (the bson crate's
        // conversion writes year 9999 for any later date).
        let mut out = Vec::new();
        write_extjson(&mut out, &doc, true).unwrap();
        let relaxed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((relaxed["int"].clone(), relaxed["long"].clone()), (5.into(), i64::MIN.into()));
        assert_eq!(relaxed["far"], serde_json::json!({ "$date": { "$numberLong": "8640000000000000" } }));
        let date = RawDocumentBuf::try_from(&bson::doc! { "d": DateTime::from_millis(1_577_934_245_678) }).unwrap();
        let mut out = Vec::new();
        write_extjson(&mut out, &date, true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"d":{"$date":"2020-01-02T03:04:05.678Z"}}"#);
    }

    #[test]
    fn mongoexport_lines_in_older_forms_are_read() {
        let mut reader = Reader::documents_of("c".into());
        reader.push(b"\xEF\xBB\xBF{\"r\":{\"$regex\":\"^a\",\"$options\":\"i\"},\"b\":{\"$binary\":\"aGk=\",\"$type\":\"0\"},\"d\":{\"$date\":\"2020-01-01T00:00:00.000+0000\"}}\n");
        let Some((1, Record::Document { document, .. })) = reader.next_record().unwrap() else { panic!() };
        let doc = Document::try_from(document.as_ref()).unwrap();
        let Some(Bson::RegularExpression(regex)) = doc.get("r") else { panic!("{doc}") };
        assert_eq!((regex.pattern.as_str(), regex.options.as_str()), ("^a", "i"));
        assert_eq!(doc.get_binary_generic("b").unwrap(), b"hi");
        assert_eq!(doc.get_datetime("d").unwrap().timestamp_millis(), 1_577_836_800_000);
    }

    #[test]
    fn polymongo_13_streams_are_read_and_bad_lines_named() {
        let text = br#"{"type":"meta","format":"polymongo.ndjson","version":1,"database":"a","exportedAt":"x"}

{"type":"collection","collection":"c"}
{"type":"document","collection":"c","document":{"_id":"abc","n":1.5,"d":{"$numberDecimal":"1.10"}}}
{"type":"document","collection":"c","document":{"n": 1}
"#;
        let mut reader = Reader::default();
        reader.push(text);
        assert_eq!(reader.next_record().unwrap().unwrap().0, 1);
        assert!(matches!(reader.next_record().unwrap().unwrap(), (3, Record::Collection(_))));
        let (line, Record::Document { document, .. }) = reader.next_record().unwrap().unwrap() else { panic!() };
        assert_eq!(line, 4);
        let doc = Document::try_from(document.as_ref()).unwrap();
        assert_eq!(doc, doc! { "_id": "abc", "n": 1.5, "d": "1.10".parse::<Decimal128>().unwrap() });
        let err = reader.next_record().unwrap_err().to_string();
        assert!(err.contains("line 5 of the import stream: not a record"), "{err}");

        let mut reader = Reader::default();
        reader.push(b"{\"type\":\"document\",\"collection\":\"c\",\"document\":{}}\n");
        assert!(reader
            .next_record()
            .unwrap_err()
            .to_string()
            .contains("line 1 of the import stream: the stream does not start"));
        let mut reader = Reader::default();
        reader.push(b"{\"type\":\"meta\",\"format\":\"polymongo.ndjson\",\"version\":3}\n");
        assert!(reader.next_record().unwrap_err().to_string().contains("version 1 or 2"));
    }
}

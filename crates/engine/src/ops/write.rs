//! Writes as the server's own `insert` / `update` / `delete` commands.
//!
//! The driver's typed writes drop the fields a duplicate-key error carries (`keyPattern`, `keyValue`)
//! and its `bulk_write` needs MongoDB 8's `bulkWrite` command; issuing the classic write commands keeps
//! the server's whole answer and gives a bulk write on every server version. The outcome is the Node
//! driver's bulk result, write errors included as data, so the JS driver raises them with the
//! application's own error classes exactly as the Node driver would.

use bson::oid::ObjectId;
use bson::raw::CStr;
use bson::{cstr, doc, rawdoc, Bson, Document, RawArrayBuf, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use mongodb::ClientSession;
use serde::Deserialize;

use crate::error::Error;
use crate::namespace::Namespace;
use crate::retry;

/// The server's `maxWriteBatchSize` since MongoDB 3.6.
const MAX_BATCH_OPS: usize = 100_000;
/// Room for a batch's entries inside a command of at most `maxBsonObjectSize` (16 MiB) + 16 KiB.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkWriteRequest {
    pub ops: Vec<WriteModel>,
    #[serde(default = "ordered_by_default")]
    pub ordered: bool,
    pub bypass_document_validation: Option<bool>,
    /// `{ w, j, wtimeout }`; the URI's when absent.
    pub write_concern: Option<RawDocumentBuf>,
    pub comment: Option<RawBson>,
    #[serde(rename = "let")]
    pub let_vars: Option<RawDocumentBuf>,
    /// The server's time limit for each command of the write, ms (`maxTimeMS`).
    #[serde(rename = "maxTimeMS")]
    pub max_time_ms: Option<RawBson>,
}

fn ordered_by_default() -> bool {
    true
}

/// One write, in the shape of Mongoose's and the Node driver's `bulkWrite` entries.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteModel {
    InsertOne { document: RawDocumentBuf },
    UpdateOne(UpdateModel),
    UpdateMany(UpdateModel),
    ReplaceOne(ReplaceModel),
    DeleteOne(DeleteModel),
    DeleteMany(DeleteModel),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateModel {
    pub filter: RawDocumentBuf,
    /// An update document with operators, or an aggregation pipeline.
    pub update: RawBson,
    #[serde(default)]
    pub upsert: bool,
    pub array_filters: Option<RawArrayBuf>,
    pub collation: Option<RawDocumentBuf>,
    pub hint: Option<RawBson>,
    /// Which document a single-document update changes (the `update` command's `sort`, MongoDB 8.0+).
    pub sort: Option<RawDocumentBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplaceModel {
    pub filter: RawDocumentBuf,
    pub replacement: RawDocumentBuf,
    #[serde(default)]
    pub upsert: bool,
    pub collation: Option<RawDocumentBuf>,
    pub hint: Option<RawBson>,
    /// Which document is replaced (the `update` command's `sort`, MongoDB 8.0+).
    pub sort: Option<RawDocumentBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteModel {
    pub filter: RawDocumentBuf,
    pub collation: Option<RawDocumentBuf>,
    pub hint: Option<RawBson>,
}

/// What a write did, as the Node driver's bulk result: counts, the `_id` of every insert and upsert by
/// the index of its operation, and the server's write errors and write-concern errors.
#[derive(Debug, Default, PartialEq)]
pub struct BulkResult {
    /// False under a write concern of `w: 0`, whose replies carry no counts.
    pub unacknowledged: bool,
    pub n_inserted: i64,
    pub n_matched: i64,
    pub n_modified: i64,
    pub n_removed: i64,
    /// `(operation index, _id)` of every insert sent or not, as the Node driver lists them.
    pub inserted_ids: Vec<(usize, Bson)>,
    pub upserted: Vec<(usize, Bson)>,
    /// `{ index, code, codeName, errmsg, ...the server's other fields }`, indexes into the request.
    pub write_errors: Vec<Document>,
    pub write_concern_errors: Vec<Document>,
}

impl BulkResult {
    /// `{ ok, acknowledged, nInserted, nUpserted, nMatched, nModified, nRemoved, insertedIds: [{ index,
    /// _id }], upserted: [{ index, _id }], writeErrors, writeConcernErrors }`
    pub fn to_document(&self) -> Document {
        let ids = |list: &[(usize, Bson)]| -> Vec<Bson> {
            list.iter().map(|(index, id)| Bson::Document(doc! { "index": *index as i64, "_id": id.clone() })).collect()
        };
        doc! {
            "ok": 1,
            "acknowledged": !self.unacknowledged,
            "nInserted": self.n_inserted,
            "nUpserted": self.upserted.len() as i64,
            "nMatched": self.n_matched,
            "nModified": self.n_modified,
            "nRemoved": self.n_removed,
            "insertedIds": ids(&self.inserted_ids),
            "upserted": ids(&self.upserted),
            "writeErrors": self.write_errors.clone(),
            "writeConcernErrors": self.write_concern_errors.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Update,
    Delete,
}

impl Kind {
    fn command(self) -> &'static CStr {
        match self {
            Kind::Insert => cstr!("insert"),
            Kind::Update => cstr!("update"),
            Kind::Delete => cstr!("delete"),
        }
    }

    fn entries(self) -> &'static CStr {
        match self {
            Kind::Insert => cstr!("documents"),
            Kind::Update => cstr!("updates"),
            Kind::Delete => cstr!("deletes"),
        }
    }
}

/// One operation ready for a command: its index in the request and its entry in the command's array.
struct Entry {
    index: usize,
    kind: Kind,
    body: RawDocumentBuf,
    /// The `_id` of an inserted document.
    id: Option<Bson>,
    /// Whether it writes one document at most, which a retryable write may hold only.
    single: bool,
}

impl WriteModel {
    fn into_entry(self, index: usize) -> Result<Entry, Error> {
        let single = !matches!(self, WriteModel::UpdateMany(_) | WriteModel::DeleteMany(_));
        let (kind, body, id) = match self {
            WriteModel::InsertOne { document } => {
                let (document, id) = with_id(document)?;
                (Kind::Insert, document, Some(id))
            }
            WriteModel::UpdateOne(m) => (Kind::Update, update_statement(m, false)?, None),
            WriteModel::UpdateMany(m) => (Kind::Update, update_statement(m, true)?, None),
            WriteModel::ReplaceOne(m) => (Kind::Update, replace_statement(m)?, None),
            WriteModel::DeleteOne(m) => (Kind::Delete, delete_statement(m, 1), None),
            WriteModel::DeleteMany(m) => (Kind::Delete, delete_statement(m, 0), None),
        };
        Ok(Entry { index, kind, body, id, single })
    }
}

/// The document with an `_id`, generating an ObjectId first in the document if it has none.
fn with_id(document: RawDocumentBuf) -> Result<(RawDocumentBuf, Bson), Error> {
    if let Some(id) = document.get("_id")? {
        let id = Bson::try_from(id)?;
        return Ok((document, id));
    }
    let id = ObjectId::new();
    let mut with_id = rawdoc! { "_id": id };
    for element in document.iter() {
        let (key, value) = element?;
        with_id.append(key, value);
    }
    Ok((with_id, Bson::ObjectId(id)))
}

fn first_key_is_operator(doc: &RawDocumentBuf) -> Result<Option<bool>, Error> {
    Ok(doc.iter().next().transpose()?.map(|(key, _)| key.as_str().starts_with('$')))
}

fn update_statement(m: UpdateModel, multi: bool) -> Result<RawDocumentBuf, Error> {
    match &m.update {
        RawBson::Document(doc) if first_key_is_operator(doc)? == Some(true) => {}
        RawBson::Array(_) => {}
        _ => {
            return Err(Error::InvalidArgument(
                "an update must be a document of update operators ($set, $inc, ...) or a pipeline".into(),
            ))
        }
    }
    let mut statement = rawdoc! { "q": m.filter, "u": m.update, "upsert": m.upsert, "multi": multi };
    if let Some(filters) = m.array_filters {
        statement.append(cstr!("arrayFilters"), filters);
    }
    append_collation_and_hint(&mut statement, m.collation, m.hint);
    append_sort(&mut statement, m.sort);
    Ok(statement)
}

fn replace_statement(m: ReplaceModel) -> Result<RawDocumentBuf, Error> {
    if first_key_is_operator(&m.replacement)? == Some(true) {
        return Err(Error::InvalidArgument("a replacement document must not contain update operators".into()));
    }
    let mut statement = rawdoc! { "q": m.filter, "u": m.replacement, "upsert": m.upsert, "multi": false };
    append_collation_and_hint(&mut statement, m.collation, m.hint);
    append_sort(&mut statement, m.sort);
    Ok(statement)
}

fn delete_statement(m: DeleteModel, limit: i32) -> RawDocumentBuf {
    let mut statement = rawdoc! { "q": m.filter, "limit": limit };
    append_collation_and_hint(&mut statement, m.collation, m.hint);
    statement
}

fn append_sort(statement: &mut RawDocumentBuf, sort: Option<RawDocumentBuf>) {
    if let Some(sort) = sort {
        statement.append(cstr!("sort"), sort);
    }
}

fn append_collation_and_hint(statement: &mut RawDocumentBuf, collation: Option<RawDocumentBuf>, hint: Option<RawBson>) {
    if let Some(collation) = collation {
        statement.append(cstr!("collation"), collation);
    }
    if let Some(hint) = hint {
        statement.append(cstr!("hint"), hint);
    }
}

/// Runs the writes; an ordered request stops at its first failed write, as the server does. Resolves
/// to the bulk result as BSON (see `BulkResult::to_document`), write errors included, and whether any
/// write or its write concern failed.
pub async fn bulk_write(
    ns: &Namespace,
    req: BulkWriteRequest,
    mut session: Option<&mut ClientSession>,
    in_transaction: bool,
) -> Result<(RawDocumentBuf, bool), Error> {
    if req.ops.is_empty() {
        return Err(Error::InvalidArgument("a bulk write needs at least one operation".into()));
    }
    let coll = ns.coll()?;
    let entries = req.ops.into_iter().enumerate().map(|(i, op)| op.into_entry(i)).collect::<Result<Vec<_>, _>>()?;
    let mut result = BulkResult {
        inserted_ids: entries.iter().filter_map(|e| Some((e.index, e.id.clone()?))).collect(),
        ..BulkResult::default()
    };
    let batches = batches(entries, req.ordered);
    // One lease for the whole batch: a second one would wait for admission while holding the first.
    let db = ns.database().await?;
    // A transaction's statements take the transaction's write concern, given at its commit: one of
    // their own is left out, as the Node driver leaves it out (the server refuses it).
    let write_concern = match (req.write_concern.filter(|wc| !wc.is_empty()), db.write_concern()) {
        _ if in_transaction => None,
        (Some(wc), _) => Some(wc),
        (None, Some(wc)) => Some(bson::serialize_to_raw_document_buf(wc)?),
        (None, None) => None,
    }
    .filter(|wc| !wc.is_empty());
    // `w: 0`, given with the call or by the connection string.
    result.unacknowledged = write_concern.as_deref().is_some_and(unacknowledged);
    for batch in batches {
        let kind = batch[0].kind;
        let mut items = RawArrayBuf::new();
        for entry in &batch {
            items.push(entry.body.as_ref());
        }
        let mut command = RawDocumentBuf::new();
        command.append(kind.command(), coll);
        command.append(kind.entries(), items);
        command.append(cstr!("ordered"), req.ordered);
        if let Some(bypass) = req.bypass_document_validation {
            command.append(cstr!("bypassDocumentValidation"), bypass);
        }
        if let Some(wc) = &write_concern {
            command.append(cstr!("writeConcern"), wc.as_ref());
        }
        if let Some(comment) = &req.comment {
            command.append(cstr!("comment"), comment.clone());
        }
        if let Some(ms) = &req.max_time_ms {
            command.append(cstr!("maxTimeMS"), ms.clone());
        }
        if let (Some(vars), false) = (&req.let_vars, kind == Kind::Insert) {
            command.append(cstr!("let"), vars.as_ref());
        }
        // Retryable Writes: a batch of single-document writes, acknowledged, outside the application's sessions.
        let retryable = !result.unacknowledged && batch.iter().all(|entry| entry.single);
        let writes = if retryable { ns.cluster().write_sessions() } else { None };
        let reply = retry::run_write(&db, writes.as_ref(), command, session.as_deref_mut()).await?;
        if merge_reply(&mut result, kind, &batch, &reply, req.ordered) {
            break;
        }
    }
    let failed = !result.write_errors.is_empty() || !result.write_concern_errors.is_empty();
    Ok((RawDocumentBuf::try_from(&result.to_document())?, failed))
}

/// Whether write concern `write_concern` is `w: 0`.
pub(crate) fn unacknowledged(write_concern: &RawDocument) -> bool {
    let w = write_concern.get("w").ok().flatten();
    matches!(w, Some(RawBsonRef::Int32(0) | RawBsonRef::Int64(0)))
        || matches!(w, Some(RawBsonRef::Double(n)) if n == 0.0)
}

/// Groups entries into server batches: consecutive runs of one kind when ordered, one group per kind
/// otherwise; each split to the server's limits on count and size.
fn batches(entries: Vec<Entry>, ordered: bool) -> Vec<Vec<Entry>> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    if ordered {
        for entry in entries {
            match groups.last_mut() {
                Some(group) if group[0].kind == entry.kind => group.push(entry),
                _ => groups.push(vec![entry]),
            }
        }
    } else {
        let mut by_kind = [Vec::new(), Vec::new(), Vec::new()];
        for entry in entries {
            by_kind[entry.kind as usize].push(entry);
        }
        groups.extend(by_kind.into_iter().filter(|g| !g.is_empty()));
    }
    let mut out = Vec::new();
    for group in groups {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in group {
            let size = entry.body.as_bytes().len();
            if !batch.is_empty() && (batch.len() == MAX_BATCH_OPS || bytes + size > MAX_BATCH_BYTES) {
                out.push(std::mem::take(&mut batch));
                bytes = 0;
            }
            bytes += size;
            batch.push(entry);
        }
        out.push(batch);
    }
    out
}

/// Adds one command reply to the outcome; tells whether an ordered write must stop here.
fn merge_reply(out: &mut BulkResult, kind: Kind, batch: &[Entry], reply: &Document, ordered: bool) -> bool {
    let n = number(reply, "n");
    let mut failed = false;
    if let Ok(list) = reply.get_array("writeErrors") {
        for item in list {
            let Bson::Document(error) = item else { continue };
            let at = number(error, "index") as usize;
            let mut error = error.clone();
            error.insert("index", batch.get(at).map_or(at, |e| e.index) as i64);
            out.write_errors.push(error);
            failed = true;
        }
    }
    match kind {
        Kind::Insert => out.n_inserted += n,
        Kind::Update => {
            let upserted = reply.get_array("upserted").map(|a| a.as_slice()).unwrap_or_default();
            for item in upserted {
                let Bson::Document(doc) = item else { continue };
                let at = number(doc, "index") as usize;
                let index = batch.get(at).map_or(at, |e| e.index);
                out.upserted.push((index, doc.get("_id").cloned().unwrap_or(Bson::Null)));
            }
            out.n_matched += n - upserted.len() as i64;
            out.n_modified += number(reply, "nModified");
        }
        Kind::Delete => out.n_removed += n,
    }
    if let Ok(error) = reply.get_document("writeConcernError") {
        out.write_concern_errors.push(error.clone());
    }
    ordered && failed
}

/// A count from a server reply, whichever numeric type the server chose.
fn number(doc: &Document, key: &str) -> i64 {
    match doc.get(key) {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(ops: Vec<Document>) -> Vec<WriteModel> {
        let req = doc! { "ops": ops };
        crate::ops::decode::<BulkWriteRequest>("request", &bson::serialize_to_vec(&req).unwrap()).unwrap().ops
    }

    fn entries(ops: Vec<Document>) -> Vec<Entry> {
        models(ops).into_iter().enumerate().map(|(i, m)| m.into_entry(i).unwrap()).collect()
    }

    fn kinds(batches: &[Vec<Entry>]) -> Vec<(Kind, Vec<usize>)> {
        batches.iter().map(|b| (b[0].kind, b.iter().map(|e| e.index).collect())).collect()
    }

    fn mixed() -> Vec<Document> {
        vec![
            doc! { "insertOne": { "document": { "a": 1 } } },
            doc! { "updateOne": { "filter": {}, "update": { "$set": { "a": 2 } } } },
            doc! { "insertOne": { "document": { "_id": 7, "a": 3 } } },
            doc! { "deleteMany": { "filter": { "a": 1 } } },
        ]
    }

    #[test]
    fn ordered_batches_keep_order_unordered_group_by_kind() {
        use Kind::*;
        assert_eq!(
            kinds(&batches(entries(mixed()), true)),
            vec![(Insert, vec![0]), (Update, vec![1]), (Insert, vec![2]), (Delete, vec![3])]
        );
        assert_eq!(
            kinds(&batches(entries(mixed()), false)),
            vec![(Insert, vec![0, 2]), (Update, vec![1]), (Delete, vec![3])]
        );
    }

    #[test]
    fn batches_respect_the_size_limit() {
        let big = "x".repeat(5 * 1024 * 1024);
        let ops = (0..4).map(|_| doc! { "insertOne": { "document": { "s": big.clone() } } }).collect();
        assert_eq!(kinds(&batches(entries(ops), true)).iter().map(|(_, i)| i.len()).collect::<Vec<_>>(), vec![3, 1]);
    }

    #[test]
    fn inserts_get_an_id_first_and_keep_theirs() {
        let e = entries(mixed());
        let generated = Document::try_from(e[0].body.clone()).unwrap();
        assert_eq!(generated.keys().collect::<Vec<_>>(), vec!["_id", "a"]);
        assert_eq!(Some(generated.get("_id").unwrap().clone()), e[0].id);
        assert_eq!(e[2].id, Some(Bson::Int32(7)));
    }

    #[test]
    fn updates_need_operators_and_replacements_must_not_have_them() {
        for op in [
            doc! { "updateOne": { "filter": {}, "update": { "a": 1 } } },
            doc! { "updateMany": { "filter": {}, "update": {} } },
            doc! { "replaceOne": { "filter": {}, "replacement": { "$set": { "a": 1 } } } },
        ] {
            let model = models(vec![op]).pop().unwrap();
            assert!(matches!(model.into_entry(0), Err(Error::InvalidArgument(_))));
        }
        let pipeline = models(vec![doc! { "updateOne": { "filter": {}, "update": [{ "$set": { "a": 1 } }] } }]);
        assert!(pipeline.into_iter().next().unwrap().into_entry(0).is_ok());
    }

    #[test]
    fn write_errors_are_mapped_back_to_request_indexes() {
        let batch = batches(entries(mixed()), false).remove(0);
        let reply = doc! {
            "n": 1, "ok": 1,
            "writeErrors": [{ "index": 1, "code": 11000, "errmsg": "E11000 dup", "keyValue": { "_id": 7 } }],
        };
        let mut out = BulkResult::default();
        assert!(!merge_reply(&mut out, Kind::Insert, &batch, &reply, false));
        assert_eq!(
            out.write_errors,
            vec![doc! { "index": 2_i64, "code": 11000, "errmsg": "E11000 dup", "keyValue": { "_id": 7 } }]
        );
        assert_eq!(out.n_inserted, 1);
        assert!(merge_reply(&mut out, Kind::Insert, &batch, &reply, true));
        let result = out.to_document();
        assert_eq!(result.get_i64("nInserted").unwrap(), 2);
        assert_eq!(result.get_array("writeErrors").unwrap().len(), 2);
    }
}

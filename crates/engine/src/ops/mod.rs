//! Requests and the one entry point that runs them. A request arrives as an operation name and a BSON
//! document shaped like the Node driver's arguments (`{ filter, options }`, `{ ops: [{ updateOne: ...
//! }] }`, `{ command }`), is decoded here with serde, optionally cast by a model's schema (the fast
//! path), and runs on its namespace: admitted by its pool, counted in its database's metrics.

pub mod client_write;
pub mod command;
pub mod cursor;
pub mod options;
pub mod prepare;
pub mod read;
pub mod write;

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::namespace::Namespace;
use crate::schema::Schema;
use crate::session::Session;
use client_write::ClientBulkWriteRequest;
use command::CommandRequest;
use read::{AggregateRequest, DistinctRequest, FilterRequest};
use write::BulkWriteRequest;

/// MongoDB's limit on how deeply a command's BSON nests (the server parameter `maxBSONDepth`, 200 by
/// default): a request nested deeper is refused before it is sent, as the server would refuse it.
/// A server that does not check (the test server overflows its stack on a 2,000-deep `$and`) is
/// never sent one.
const MAX_DEPTH: usize = 200;

/// Keys that run JavaScript on the server: the query operator `$where` and the aggregation operators
/// `$function` and `$accumulator`, wherever they are (a document's field so named included). The
/// `mapReduce` command (any case, as the server takes it) is refused as a command's name only.
const JAVASCRIPT_KEYS: [&str; 3] = ["$where", "$function", "$accumulator"];

/// Decodes a document the engine reads (options, a document to cast), naming what was wrong with it.
/// Errors: `InvalidArgument` for malformed BSON, a document nested deeper than `MAX_DEPTH`, or one
/// that is not a `T`.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    decode_request(what, bytes, true)
}

/// Decodes a request the engine sends, as `decode`; with `javascript_enabled` false (the wrapper's
/// `javascriptEnabled: false`, as a server's `security.javascriptEnabled`), a request with
/// server-side JavaScript anywhere in it (`JAVASCRIPT_KEYS`, a BSON JavaScript code value, the
/// `mapReduce` command) is `JavaScriptDisabled`, before anything is sent.
pub fn decode_request<T: DeserializeOwned>(what: &str, bytes: &[u8], javascript_enabled: bool) -> Result<T, Error> {
    check_request(bytes, javascript_enabled).map_err(|refusal| match refusal {
        Refusal::Invalid(e) => Error::InvalidArgument(format!("invalid {what}: {e}")),
        Refusal::JavaScript(key) => Error::JavaScriptDisabled(key),
    })?;
    bson::deserialize_from_slice(bytes).map_err(|e| Error::InvalidArgument(format!("invalid {what}: {e}")))
}

/// Why `check_request` refused a request.
#[derive(Debug, PartialEq)]
enum Refusal {
    Invalid(String),
    /// The key or BSON type that runs JavaScript.
    JavaScript(String),
}

/// Walks `bytes` (a BSON document) without recursion, so that no depth overflows the stack; fails
/// past `MAX_DEPTH` levels, on malformed BSON, and at server-side JavaScript unless
/// `javascript_enabled`.
fn check_request(bytes: &[u8], javascript_enabled: bool) -> Result<(), Refusal> {
    let malformed = |e: bson::error::Error| Refusal::Invalid(format!("malformed BSON: {e}"));
    // Each level's elements, and whether it is a command request's `command` (whose first key names
    // the command) and its next element the first.
    let mut stack = vec![(RawDocument::from_bytes(bytes).map_err(malformed)?.iter(), false)];
    while let Some((top, command_name_next)) = stack.last_mut() {
        let Some(element) = top.next() else {
            stack.pop();
            continue;
        };
        let names_command = std::mem::take(command_name_next);
        let (key, value) = element.map_err(malformed)?;
        if !javascript_enabled {
            let key = key.as_str();
            if JAVASCRIPT_KEYS.contains(&key) || (names_command && key.eq_ignore_ascii_case("mapReduce")) {
                return Err(Refusal::JavaScript(key.to_owned()));
            }
            if matches!(value, RawBsonRef::JavaScriptCode(_) | RawBsonRef::JavaScriptCodeWithScope(_)) {
                return Err(Refusal::JavaScript("a BSON JavaScript code value".to_owned()));
            }
        }
        let is_command = stack.len() == 1 && key.as_str() == "command";
        let nested = match value {
            RawBsonRef::Document(doc) => doc,
            RawBsonRef::Array(array) => RawDocument::from_bytes(array.as_bytes()).map_err(malformed)?,
            RawBsonRef::JavaScriptCodeWithScope(code) => code.scope,
            _ => continue,
        };
        if stack.len() >= MAX_DEPTH {
            return Err(Refusal::Invalid(format!(
                "it nests deeper than {MAX_DEPTH} levels, which MongoDB refuses (maxBSONDepth)"
            )));
        }
        stack.push((nested.iter(), is_command));
    }
    Ok(())
}

/// A request that resolves to one reply.
#[derive(Debug)]
pub enum Request {
    /// `{ filter, options }` → the first matching document, or none.
    FindOne(FilterRequest),
    /// `{ filter, options }` → a count.
    CountDocuments(FilterRequest),
    /// `{ options }` → the collection's count from its metadata.
    EstimatedDocumentCount(FilterRequest),
    /// `{ field, filter, options }` → `{ values: [...] }`.
    Distinct(DistinctRequest),
    /// `{ ops, ordered, ... }` → the Node driver's bulk result (`nInserted`, `writeErrors`, ...).
    Write(BulkWriteRequest),
    /// `{ command }` → the server's reply, run on the namespace's database.
    Command(CommandRequest),
    /// `{ models, ordered, verboseResults, ... }` → the Node driver's client bulk write counts and
    /// results, failed writes included; runs on the pool of the namespace's database.
    ClientWrite(ClientBulkWriteRequest),
}

/// A request that opens a cursor.
#[derive(Debug)]
pub enum CursorRequest {
    /// `{ filter, options }`
    Find(FilterRequest),
    /// `{ pipeline, options }`; a database namespace aggregates the database.
    Aggregate(AggregateRequest),
    /// `{ command }` answered with a cursor (listCollections, listIndexes).
    Command(CommandRequest),
}

/// What a request resolves to.
#[derive(Debug)]
pub enum Reply {
    Document(RawDocumentBuf),
    /// A write's bulk result; `failed` when the server refused any of its writes or its write concern.
    Written {
        result: RawDocumentBuf,
        failed: bool,
    },
    Count(u64),
    None,
}

/// A request's bytes as they came, to decode as the request its name says.
struct RawRequest<'a> {
    bytes: &'a [u8],
    javascript_enabled: bool,
}

impl RawRequest<'_> {
    fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        decode_request(what, self.bytes, self.javascript_enabled)
    }
}

impl Request {
    /// The request `op` (`findOne`, `countDocuments`, `estimatedDocumentCount`, `distinct`, `write`,
    /// `command`, `clientWrite`) read from `bytes`; an unknown name or a malformed request is `InvalidArgument`,
    /// server-side JavaScript without `javascript_enabled` `JavaScriptDisabled` (`decode_request`).
    pub fn decode(op: &str, bytes: &[u8], javascript_enabled: bool) -> Result<Self, Error> {
        let raw = RawRequest { bytes, javascript_enabled };
        Ok(match op {
            "findOne" => Request::FindOne(raw.decode("findOne request")?),
            "countDocuments" => Request::CountDocuments(raw.decode("countDocuments request")?),
            "estimatedDocumentCount" => Request::EstimatedDocumentCount(raw.decode("estimatedDocumentCount request")?),
            "distinct" => Request::Distinct(raw.decode("distinct request")?),
            "write" => Request::Write(raw.decode("write request")?),
            "command" => Request::Command(raw.decode("command request")?),
            "clientWrite" => Request::ClientWrite(raw.decode("client bulkWrite request")?),
            other => return Err(Error::InvalidArgument(format!("unknown request {other:?}"))),
        })
    }
}

impl CursorRequest {
    /// The cursor request `op` (`find`, `aggregate`, `command`) read from `bytes`, as `Request::decode`.
    pub fn decode(op: &str, bytes: &[u8], javascript_enabled: bool) -> Result<Self, Error> {
        let raw = RawRequest { bytes, javascript_enabled };
        Ok(match op {
            "find" => CursorRequest::Find(raw.decode("find request")?),
            "aggregate" => CursorRequest::Aggregate(raw.decode("aggregate request")?),
            "command" => CursorRequest::Command(raw.decode("command request")?),
            other => return Err(Error::InvalidArgument(format!("unknown cursor request {other:?}"))),
        })
    }
}

/// Decodes a request, casting it by `schema` when one is given (the fast path: filters and updates as
/// Mongoose casts them). Runs on the caller's thread, so a malformed request or a value that cannot be
/// cast fails before anything is sent.
pub fn prepare<R: prepare::Prepare>(request: Result<R, Error>, schema: Option<&Schema>) -> Result<R, Error> {
    let mut request = request?;
    if let Some(schema) = schema {
        request.prepare(schema)?;
    }
    Ok(request)
}

/// The engine's entry point: runs `request` on `ns` (admitted by the namespace's pool, counted in its
/// database's metrics), in `session` when given (its transaction, if one is in progress), and
/// resolves to its reply. A session of another pool, or one that has ended, is refused before
/// anything is sent.
pub async fn execute(ns: &Namespace, request: Request, session: Option<&Session>) -> Result<Reply, Error> {
    let run = async {
        let mut checked_out = match session {
            Some(session) => Some(session.checkout(ns).await?),
            None => None,
        };
        let in_transaction = checked_out.as_ref().is_some_and(|c| c.in_transaction);
        let session = checked_out.as_mut().map(|c| &mut *c.session);
        Ok(match request {
            Request::FindOne(req) => read::find_one(ns, req, session).await?.map_or(Reply::None, Reply::Document),
            Request::CountDocuments(req) => Reply::Count(read::count_documents(ns, req, session).await?),
            Request::EstimatedDocumentCount(req) => {
                Reply::Count(read::estimated_document_count(ns, req, session).await?)
            }
            Request::Distinct(req) => Reply::Document(read::distinct(ns, req, session).await?),
            Request::Write(req) => {
                let (result, failed) = write::bulk_write(ns, req, session, in_transaction).await?;
                Reply::Written { result, failed }
            }
            Request::Command(req) => Reply::Document(command::run(ns, req, session).await?),
            Request::ClientWrite(req) => {
                let (result, failed) = client_write::client_bulk_write(ns, req, session).await?;
                Reply::Written { result, failed }
            }
        })
    };
    ns.track(run, |reply| !matches!(reply, Reply::Written { failed: true, .. })).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    /// A BSON document `levels` documents (or arrays) deep around `{ n: 1 }`, written out byte by byte:
    /// building it as a `Bson` value would recurse as deep.
    fn nested(levels: usize, arrays: bool) -> Vec<u8> {
        let inner = bson::serialize_to_vec(&doc! { "n": 1 }).unwrap();
        let wrappers = levels - 1;
        let mut out = Vec::with_capacity(inner.len() + 8 * wrappers);
        for k in (1..=wrappers).rev() {
            let child_is_array = arrays && k > 1;
            out.extend_from_slice(&((inner.len() + 8 * k) as i32).to_le_bytes());
            out.extend_from_slice(&[if child_is_array { 4 } else { 3 }, if arrays { b'0' } else { b'a' }, 0]);
        }
        out.extend_from_slice(&inner);
        out.resize(out.len() + wrappers, 0);
        out
    }

    #[test]
    fn requests_nested_deeper_than_mongodb_allows_are_refused() {
        for arrays in [false, true] {
            assert_eq!(check_request(&nested(MAX_DEPTH, arrays), true), Ok(()));
            let Err(Refusal::Invalid(refused)) = check_request(&nested(MAX_DEPTH + 1, arrays), true) else { panic!() };
            assert!(refused.contains("deeper than 200 levels"), "{refused}");
        }
        assert!(check_request(&nested(100_000, false), true).is_err());
        let Err(Refusal::Invalid(refused)) = check_request(&[5, 0, 0, 0, 1], true) else { panic!() };
        assert!(refused.contains("malformed BSON"), "{refused}");
    }

    #[test]
    fn server_side_javascript_is_refused_anywhere_in_a_request_when_disabled() {
        let refused = |request: bson::Document| {
            let bytes = bson::serialize_to_vec(&request).unwrap();
            assert_eq!(check_request(&bytes, true), Ok(()), "allowed by default: {request}");
            match check_request(&bytes, false) {
                Err(Refusal::JavaScript(what)) => what,
                other => panic!("{request}: {other:?}"),
            }
        };
        assert_eq!(refused(doc! { "filter": { "$where": "sleep(100) || true" } }), "$where");
        assert_eq!(refused(doc! { "filter": { "$or": [{ "a": 1 }, { "$where": "true" }] } }), "$where");
        let function = doc! { "$function": { "body": "function() { return 1 }", "args": [], "lang": "js" } };
        assert_eq!(refused(doc! { "filter": { "$expr": function.clone() } }), "$function");
        assert_eq!(
            refused(
                doc! { "pipeline": [{ "$lookup": { "from": "b", "pipeline": [{ "$addFields": { "x": function } }], "as": "b" } }] }
            ),
            "$function"
        );
        assert_eq!(
            refused(doc! { "pipeline": [{ "$group": { "_id": null, "a": { "$accumulator": {} } } }] }),
            "$accumulator"
        );
        assert_eq!(refused(doc! { "command": { "mapreduce": "items", "map": "function() {}" } }), "mapreduce");
        let code = bson::Bson::JavaScriptCode("this.a > 1".to_owned());
        assert_eq!(refused(doc! { "filter": { "a": code } }), "a BSON JavaScript code value");
        for plain in [
            doc! { "filter": { "where": "$where", "n": { "$gt": 1 } } },
            doc! { "ops": [{ "insertOne": { "document": { "mapReduce": true } } }] },
            doc! { "command": { "find": "items", "filter": { "mapReduce": true } } },
        ] {
            assert_eq!(check_request(&bson::serialize_to_vec(&plain).unwrap(), false), Ok(()), "{plain}");
        }
    }
}

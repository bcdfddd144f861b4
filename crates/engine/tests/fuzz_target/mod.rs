//! The entry point of coverage-guided fuzzing (`fuzz/`, run with cargo-afl: `npm run fuzz`) and of
//! the replay of what it found (`tests/corpus/`, replayed by `cargo test` in `tests/fuzz.rs`): the
//! first byte picks what the rest goes through. Nothing may panic; a property that fails panics, and
//! AFL reports the input as a crash.

use bson::oid::ObjectId;
use bson::Document;
use polymongo_engine::config::WrapperConfig;
use polymongo_engine::names::check_db_name;
use polymongo_engine::ops::{decode_request, CursorRequest, Request};
use polymongo_engine::redact::{redact_uri, scrub};
use polymongo_engine::schema::{DocumentMode, Schema};

/// The schema of every path type the engine casts, as `lib/wrapper/schema.js` describes it.
pub fn schema() -> Schema {
    Schema::parse(include_str!("../fixtures/fuzz-schema.json")).expect("the fixture schema parses")
}

/// Runs `data` through one of the engine's entry points for hostile input, picked by its first byte:
/// request decoding (bytes from JS), the document, filter and update casts (the rest as a BSON
/// document), database-name rules and URI redaction (the rest as UTF-8, lossily).
pub fn run(schema: &Schema, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    // The rest of the byte picks a variant: the request's kind, a replacement, an upsert.
    let variant = usize::from(pick / 6);
    match pick % 6 {
        0 => check_requests(rest, variant),
        1 => {
            if let Ok(mut filter) = Document::from_reader(rest) {
                if schema.cast_filter(&mut filter).is_ok() {
                    bson::serialize_to_vec(&filter).expect("a cast filter serializes");
                }
            }
        }
        2 => {
            if let Ok(doc) = Document::from_reader(rest) {
                let mode = if variant % 2 == 0 { DocumentMode::Insert } else { DocumentMode::Replace };
                let mut n = 0u32;
                let mut ids = move || {
                    n += 1;
                    let mut bytes = [0u8; 12];
                    bytes[8..].copy_from_slice(&n.to_be_bytes());
                    ObjectId::from_bytes(bytes)
                };
                if let Ok(cast) = schema.cast_document(doc, mode, &mut ids) {
                    bson::serialize_to_vec(&cast.held).expect("a cast document serializes");
                }
            }
        }
        3 => {
            // `{ u: update, f: filter }`; anything else is an update with an empty filter.
            if let Ok(doc) = Document::from_reader(rest) {
                let (update, filter) = match (doc.get_document("u"), doc.get_document("f")) {
                    (Ok(u), Ok(f)) => (u.clone(), f.clone()),
                    _ => (doc, Document::new()),
                };
                if let Ok(cast) = schema.cast_update(update, &filter, variant % 2 == 1) {
                    bson::serialize_to_vec(&cast).expect("a cast update serializes");
                }
            }
        }
        4 => {
            let name = String::from_utf8_lossy(rest);
            assert_eq!(check_db_name(&name).is_ok(), name_allowed(&name), "{name:?}");
        }
        _ => {
            let uri = String::from_utf8_lossy(rest);
            let redacted = redact_uri(&uri);
            let _ = scrub(&format!("failed: {uri}"), &uri);
            // A URI the wrapper takes: whatever password the driver reads from it, it reads none from
            // the redacted one.
            if credential(&uri).is_some() {
                let left = credential(&redacted);
                assert!(left.is_none() || left.as_deref() == Some("****"), "{uri:?} gave {redacted:?}");
            }
        }
    }
}

/// The password the driver reads from `uri`, if the wrapper takes it (`WrapperConfig::validate`, which
/// checks it before the driver's parser sees it) and it has one.
fn credential(uri: &str) -> Option<String> {
    WrapperConfig::new(uri).validate().ok()?;
    let parsed = mongodb::options::ConnectionString::parse(uri).ok()?;
    parsed.credential?.password.filter(|p| !p.is_empty())
}

/// Whether MongoDB takes `name` for a database and it names itself: never empty, under 64 bytes, none
/// of the characters any platform forbids, no U+FFFD (what a lone surrogate from JS becomes).
pub fn name_allowed(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 64
        && !name.contains(['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0', '\u{FFFD}'])
}

/// Decodes `bytes` as each kind of request `op` picks, with server-side JavaScript allowed and refused.
pub fn check_requests(bytes: &[u8], op: usize) {
    const OPS: [&str; 7] =
        ["findOne", "countDocuments", "estimatedDocumentCount", "distinct", "write", "command", "clientWrite"];
    const CURSOR_OPS: [&str; 3] = ["find", "aggregate", "command"];
    for javascript in [true, false] {
        let _ = Request::decode(OPS[op % OPS.len()], bytes, javascript);
        let _ = CursorRequest::decode(CURSOR_OPS[op % CURSOR_OPS.len()], bytes, javascript);
        let _ = decode_request::<Document>("request", bytes, javascript);
    }
}

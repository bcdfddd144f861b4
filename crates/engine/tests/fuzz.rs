//! Property-based fuzzing of what hostile input reaches first: the BSON bridge (request bytes from JS),
//! the schema casts (documents, filters, updates), database-name validation, date parsing and URI
//! redaction. Each property must hold for every generated case; none may panic.
//!
//! The seeds are fixed (`SEED`), so a run is reproducible and CI runs the same cases each time;
//! `PROPTEST_CASES=N cargo test --release -p polymongo-engine --test fuzz` runs N cases per property
//! (a shrunk failure is printed, and would be added to the regression tests below).

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Decimal128, Document, Regex, Timestamp};
use polymongo_engine::names::check_db_name;
use polymongo_engine::redact::{redact_uri, scrub};
use polymongo_engine::schema::DocumentMode;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The coverage-guided fuzzer's entry point, shared with these properties: `schema()`, a schema with
/// every path type the engine casts (strings with setters and validators, numbers with bounds and
/// defaults, Decimal128, BigInt, dates, booleans, buffers, ObjectIds, Mixed, arrays, nested arrays,
/// maps, nested objects, subdocuments and arrays of them, immutable paths, timestamps), the request
/// decoders and the database-name rule.
mod fuzz_target;
use fuzz_target::{check_requests, name_allowed, schema};

/// The seed of every property's generator.
const SEED: u64 = 0x706f_6c79_6d6f_6e67;

fn config() -> Config {
    Config { cases: Config::default().cases.max(2_048), rng_seed: RngSeed::Fixed(SEED), ..Config::default() }
}

/// Keys a filter, update or document from a request body may hold: the schema's paths (dotted and
/// positional too), operators the engine casts and ones it leaves to Mongoose, and any string.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "_id", "email", "name", "age", "score", "big", "at", "flag", "blob", "ref", "any", "tags", "nums", "map",
            "map.k", "address", "address.zip", "address.geo.lat", "pets", "pets.age", "pets.0.name", "best", "best.age",
            "status", "tags.0", "nums.0.1", "createdAt", "updatedAt", "__v",
            "$and", "$or", "$nor", "$not", "$in", "$nin", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists", "$type",
            "$regex", "$options", "$size", "$all", "$elemMatch", "$mod", "$where", "$expr", "$text", "$comment",
            "$set", "$unset", "$inc", "$mul", "$min", "$max", "$push", "$addToSet", "$pull", "$pullAll", "$pop",
            "$each", "$position", "$slice", "$sort", "$rename", "$setOnInsert", "$currentDate", "$[]", "$[x]", "$",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Strings that look like what the casts parse (numbers, dates, ObjectIds, booleans), and any string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " 42 ",
            "1e400",
            "-0",
            "NaN",
            "Infinity",
            "0x1F",
            "12abc",
            "true",
            "false",
            "yes",
            "0",
            "1",
            "2024-02-30",
            "1970-01-01T00:00:00Z",
            "+275760-09-13T00:00:00.000Z",
            "Tue, 01 Dec 2026 10:00:00 GMT",
            "507f1f77bcf86cd799439011",
            "507f1f77bcf86cd79943901",
            "ANN@X.IO",
            "bob",
            "on",
            "\u{0}",
            "é\u{FFFD}",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        Just(Bson::Null),
        Just(Bson::Undefined),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
        any::<bool>().prop_map(Bson::Boolean),
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0)].prop_map(Bson::Double),
        text().prop_map(Bson::String),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(ObjectId::from_bytes(b))),
        any::<i64>().prop_map(|ms| Bson::DateTime(DateTime::from_millis(ms))),
        any::<[u8; 16]>().prop_map(|b| Bson::Decimal128(Decimal128::from_bytes(b))),
        (prop::sample::select(vec![0u8, 4, 5, 128]), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(t, bytes)| { Bson::Binary(Binary { subtype: BinarySubtype::from(t), bytes }) }),
        (any::<String>(), "[imsux]{0,3}").prop_map(|(pattern, options)| Bson::RegularExpression(Regex {
            pattern: pattern.replace('\0', "").try_into().unwrap(),
            options: options.try_into().unwrap(),
        })),
        (any::<u32>(), any::<u32>()).prop_map(|(time, increment)| Bson::Timestamp(Timestamp { time, increment })),
        any::<String>().prop_map(Bson::JavaScriptCode),
    ]
}

/// Any BSON value, nested up to 6 levels in documents and arrays whose keys are `key()`.
fn value() -> impl Strategy<Value = Bson> {
    scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Bson::Array),
            document_of(inner).prop_map(Bson::Document),
        ]
    })
}

fn document_of(values: impl Strategy<Value = Bson>) -> impl Strategy<Value = Document> {
    // BSON keys cannot hold NUL.
    prop::collection::vec((key().prop_map(|k| k.replace('\0', "")), values), 0..6)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn document() -> impl Strategy<Value = Document> {
    document_of(value())
}

/// A new ObjectId for each auto `_id`, as the application's maker would give.
fn ids() -> impl FnMut() -> ObjectId {
    let mut n = 0u32;
    move || {
        n += 1;
        let mut bytes = [0u8; 12];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        ObjectId::from_bytes(bytes)
    }
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a filter holds, its cast is a value, a CastError or a refusal to Mongoose's path, and
    /// what it gives serializes.
    #[test]
    fn filter_casts_never_panic(mut filter in document()) {
        if schema().cast_filter(&mut filter).is_ok() {
            prop_assert!(bson::serialize_to_vec(&filter).is_ok());
        }
    }

    /// Whatever a document holds, a new document or a replacement casts or fails.
    #[test]
    fn document_casts_never_panic(doc in document(), replace in any::<bool>()) {
        let mode = if replace { DocumentMode::Replace } else { DocumentMode::Insert };
        let mut ids = ids();
        if let Ok(cast) = schema().cast_document(doc, mode, &mut ids) {
            prop_assert!(bson::serialize_to_vec(&cast.held).is_ok());
        }
    }

    /// Whatever an update holds (operators or a replacement), with any filter, as an upsert or not.
    #[test]
    fn update_casts_never_panic(update in document(), filter in document(), upsert in any::<bool>()) {
        if let Ok(cast) = schema().cast_update(update, &filter, upsert) {
            prop_assert!(bson::serialize_to_vec(&cast).is_ok());
        }
    }

    /// Any bytes from JS as a request: decoded, or an error; never a panic or an overflow.
    #[test]
    fn arbitrary_bytes_as_requests_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), op in 0..10usize) {
        check_requests(&bytes, op);
    }

    /// Well-formed requests with bytes flipped, cut or lengthened: the malformed BSON a buggy or
    /// hostile caller sends.
    #[test]
    fn corrupted_requests_never_panic(
        request in document(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        op in 0..10usize,
    ) {
        let mut bytes = bson::serialize_to_vec(&doc! { "filter": request.clone(), "update": request, "options": {} }).unwrap();
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        check_requests(&bytes, op);
        check_requests(&bytes[..cut.index(bytes.len())], op);
    }

    /// A database name is accepted only when MongoDB would take it and it names itself: never empty,
    /// under 64 bytes, none of the characters any platform forbids, no U+FFFD.
    #[test]
    fn database_names_follow_mongodb_rules(name in prop_oneof![any::<String>(), "[a-zA-Z0-9_.$/ -]{0,70}", text()]) {
        prop_assert_eq!(check_db_name(&name).is_ok(), name_allowed(&name), "{:?}", name);
    }

    /// Date strings from request bodies, through Mongoose's date parsing of filters and documents.
    #[test]
    fn date_strings_never_panic(s in prop_oneof![any::<String>(), text(), "[0-9+:TZ .,a-zA-Z-]{0,40}"]) {
        let schema = schema();
        let _ = schema.cast_filter(&mut doc! { "at": &s, "createdAt": { "$gte": &s } });
        let mut ids = ids();
        let _ = schema.cast_document(doc! { "email": "a@b.c", "at": &s }, DocumentMode::Insert, &mut ids);
    }

    /// A URI's password never survives redaction, whatever it holds once percent-encoded, and a
    /// message quoting it is scrubbed.
    #[test]
    fn passwords_never_survive_redaction(
        user in "[a-zA-Z0-9_]{1,12}",
        password in any::<String>().prop_filter("a password", |p| !p.is_empty()),
        hosts in "[a-z0-9.]{1,20}(:[0-9]{1,5})?(,[a-z0-9.]{1,20})?",
        tail in "(/[a-z]{0,8})?(\\?[a-zA-Z=&@]{0,30})?",
    ) {
        let encoded: String = password
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let uri = format!("mongodb://{user}:{encoded}@{hosts}{tail}");
        prop_assert_eq!(redact_uri(&uri), format!("mongodb://{user}:****@{hosts}{tail}"));
        let message = format!("auth failed for {uri} with {encoded}");
        prop_assert!(!scrub(&message, &uri).contains(&encoded));
    }
}

/// Cases the properties above found, kept as they were shrunk.
#[test]
fn regressions() {
    let mut ids = ids();
    let _ = schema().cast_document(doc! { "pets": [{ "age": "1e400" }] }, DocumentMode::Insert, &mut ids);
}

/// What coverage-guided fuzzing (`npm run fuzz`) kept: its minimized corpus, each input through the
/// same entry point again, so that a case it once found stays fixed.
#[test]
fn the_fuzzers_corpus_replays() {
    let schema = schema();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).expect("tests/corpus is in the repository") {
        let path = entry.unwrap().path();
        fuzz_target::run(&schema, &std::fs::read(&path).unwrap());
        replayed += 1;
    }
    assert!(replayed > 0, "the corpus is empty");
}

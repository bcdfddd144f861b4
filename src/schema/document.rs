//! Whole documents (create, insertMany, replaceOne, findOneAndReplace): cast every path, drop or refuse
//! unknown ones per `strict`, fill in `_id`, defaults, timestamps and the version key, and validate, as
//! Mongoose does between `new Model(doc)` and the insert it sends.

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};

use super::cast::{apply_setters, as_number, cast_scalar, kind_name};
use super::js;
use super::spec::{DefaultValue, Field, Kind, Rule, Spec, Strict};
use super::{DocumentMode, FieldError};
use crate::error::Error;

/// The state of one cast: the time defaults and timestamps use, and what failed so far.
pub struct Context {
    pub now: DateTime,
    /// Whether absent paths get their defaults and are checked for `required` (not so in updates).
    pub whole: bool,
    pub errors: Vec<FieldError>,
    /// The first path refused by `strict: 'throw'`.
    pub strict_violation: Option<String>,
}

impl Context {
    pub fn new(now: DateTime, whole: bool) -> Self {
        Context { now, whole, errors: Vec::new(), strict_violation: None }
    }

    pub fn cast_error(&mut self, path: &str, kind: String, value: &Bson) {
        self.errors.push(FieldError { path: path.to_owned(), kind, value: Some(value.clone()), validator: None, cast: true });
    }

    /// The outcome: the value, or the errors as Mongoose throws them.
    pub fn finish<T>(self, model: &str, value: T) -> Result<T, Error> {
        if let Some(path) = self.strict_violation {
            return Err(Error::Strict { path });
        }
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Error::Validation { model: model.to_owned(), errors: self.errors })
        }
    }
}

pub fn cast(spec: &Spec, doc: Document, mode: DocumentMode, now: DateTime) -> Result<Document, Error> {
    if mode == DocumentMode::Replace && doc.keys().next().is_some_and(|k| k.starts_with('$')) {
        return Err(Error::InvalidArgument("a replacement document must not contain update operators".into()));
    }
    let mut ctx = Context::new(now, true);
    let mut out = cast_subdocument(spec, doc, "", &mut ctx, mode == DocumentMode::Insert);
    if let Some(ts) = &spec.timestamps {
        let created = ts.created_at.as_deref();
        if mode == DocumentMode::Insert {
            if let Some(name) = created.filter(|n| matches!(out.get(*n), None | Some(Bson::Null))) {
                out.insert(name, now);
            }
        }
        if let Some(name) = &ts.updated_at {
            // A new document's updatedAt is its createdAt, as Mongoose sets it.
            let stamp = match created.and_then(|c| out.get(c)) {
                Some(created @ Bson::DateTime(_)) if mode == DocumentMode::Insert => created.clone(),
                _ => Bson::DateTime(now),
            };
            out.insert(name.as_str(), stamp);
        }
    }
    if let (DocumentMode::Insert, Some(key)) = (mode, &spec.version_key) {
        if !out.contains_key(key) {
            out.insert(key.as_str(), 0);
        }
    }
    ctx.finish(&spec.model, out)
}

/// A document under `spec`, with an `_id` first when the schema gives one and `with_id` asks for it.
pub fn cast_subdocument(spec: &Spec, doc: Document, prefix: &str, ctx: &mut Context, with_id: bool) -> Document {
    let mut out = Document::new();
    if with_id && spec.auto_id && !doc.contains_key("_id") {
        out.insert("_id", ObjectId::new());
    }
    cast_fields(&spec.fields, spec.strict, doc, prefix, ctx, &mut out);
    out
}

/// The paths of one level (a schema's, or a nested object's) from `doc` into `out`.
fn cast_fields(fields: &[Field], strict: Strict, doc: Document, prefix: &str, ctx: &mut Context, out: &mut Document) {
    let mut seen = Vec::with_capacity(doc.len());
    for (key, value) in doc {
        match fields.iter().position(|f| f.name == key) {
            Some(i) => {
                seen.push(i);
                let field = &fields[i];
                let path = format!("{prefix}{key}");
                if let Some(v) = cast_value(field, value, &path, ctx) {
                    check(field, Some(&v), &path, ctx);
                    out.insert(key, v);
                }
            }
            None => match strict {
                Strict::Drop => {}
                Strict::Keep => {
                    out.insert(key, value);
                }
                Strict::Throw => {
                    ctx.strict_violation.get_or_insert_with(|| format!("{prefix}{key}"));
                }
            },
        }
    }
    if !ctx.whole {
        return;
    }
    for (i, field) in fields.iter().enumerate() {
        if seen.contains(&i) {
            continue;
        }
        let path = format!("{prefix}{}", field.name);
        let value = match (&field.default, field.kind) {
            (Some(DefaultValue::Now(_)), _) => Some(Bson::DateTime(ctx.now)),
            (Some(DefaultValue::Value(v)), _) => cast_value(field, v.clone(), &path, ctx),
            (None, Kind::Object) => cast_value(field, Bson::Document(Document::new()), &path, ctx),
            (None, _) => None,
        };
        check(field, value.as_ref(), &path, ctx);
        if let Some(v) = value {
            out.insert(field.name.clone(), v);
        }
    }
}

/// Casts one value to its path's type. `None` leaves the path out: a cast error (recorded), an empty
/// object Mongoose's `minimize` drops, or a primitive set on a nested path, which Mongoose ignores.
pub fn cast_value(field: &Field, value: Bson, path: &str, ctx: &mut Context) -> Option<Bson> {
    match field.kind {
        Kind::Array => cast_array(field, value, path, ctx),
        Kind::Object => {
            let doc = match value {
                Bson::Document(doc) => doc,
                Bson::Null => return Some(Bson::Null),
                _ if ctx.whole => Document::new(),
                _ => return None,
            };
            let mut out = Document::new();
            cast_fields(&field.fields, Strict::Drop, doc, &format!("{path}."), ctx, &mut out);
            (!out.is_empty()).then_some(Bson::Document(out))
        }
        Kind::Subdocument => match (value, &field.schema) {
            (Bson::Document(doc), Some(schema)) => {
                let out = cast_subdocument(schema, doc, &format!("{path}."), &mut *ctx, true);
                (!out.is_empty()).then_some(Bson::Document(out))
            }
            (Bson::Null, _) => Some(Bson::Null),
            (other, _) => {
                ctx.cast_error(path, "Embedded".into(), &other);
                None
            }
        },
        Kind::Map => match value {
            Bson::Document(doc) => {
                let mut out = Document::new();
                for (key, v) in doc {
                    let entry_path = format!("{path}.{key}");
                    if key.starts_with('$') || key.contains('.') {
                        ctx.cast_error(path, "Map".into(), &Bson::String(key));
                        return None;
                    }
                    let v = match &field.item {
                        Some(item) => match cast_value(item, v, &entry_path, ctx) {
                            Some(v) => {
                                check(item, Some(&v), &entry_path, ctx);
                                v
                            }
                            None => continue,
                        },
                        None => v,
                    };
                    out.insert(key, v);
                }
                Some(Bson::Document(out))
            }
            Bson::Null => Some(Bson::Null),
            other => {
                ctx.cast_error(path, "Map".into(), &other);
                None
            }
        },
        Kind::Mixed => minimize(value),
        kind => match cast_scalar(kind, &value) {
            Some(v) => Some(apply_setters(v, field.trim, field.lowercase, field.uppercase)),
            None => {
                ctx.cast_error(path, kind_name(kind).into(), &value);
                None
            }
        },
    }
}

fn cast_array(field: &Field, value: Bson, path: &str, ctx: &mut Context) -> Option<Bson> {
    let items = match value {
        Bson::Null => return Some(Bson::Null),
        Bson::Array(items) => items,
        // Mongoose makes a single value a one-element array.
        other => vec![other],
    };
    let Some(item) = &field.item else { return Some(Bson::Array(items)) };
    let mut out = Vec::with_capacity(items.len());
    match item.kind {
        Kind::Subdocument => {
            let schema = item.schema.as_deref()?;
            for (i, element) in items.into_iter().enumerate() {
                match element {
                    Bson::Document(doc) => {
                        out.push(Bson::Document(cast_subdocument(schema, doc, &format!("{path}.{i}."), ctx, true)))
                    }
                    Bson::Null => out.push(Bson::Null),
                    other => {
                        ctx.cast_error(path, "embedded".into(), &other);
                        return None;
                    }
                }
            }
        }
        Kind::Array | Kind::Mixed | Kind::Object | Kind::Map => {
            for (i, element) in items.into_iter().enumerate() {
                let element_path = format!("{path}.{i}");
                let v = cast_value(item, element, &element_path, ctx)?;
                check(item, Some(&v), &element_path, ctx);
                out.push(v);
            }
        }
        kind => {
            let mut cast = Vec::with_capacity(items.len());
            for (i, element) in items.iter().enumerate() {
                match cast_scalar(kind, element) {
                    Some(v) => cast.push(apply_setters(v, item.trim, item.lowercase, item.uppercase)),
                    None => {
                        // Mongoose names the element's path and gives the whole array as the value.
                        ctx.cast_error(&format!("{path}.{i}"), format!("[{}]", kind_name(kind)), &Bson::Array(items));
                        return None;
                    }
                }
            }
            for (i, v) in cast.iter().enumerate() {
                check(item, Some(v), &format!("{path}.{i}"), ctx);
            }
            out = cast;
        }
    }
    Some(Bson::Array(out))
}

/// Mongoose's `minimize`: empty objects inside a Mixed value are dropped, and so is an empty value.
fn minimize(value: Bson) -> Option<Bson> {
    match value {
        Bson::Document(doc) => {
            let out: Document = doc.into_iter().filter_map(|(k, v)| minimize(v).map(|v| (k, v))).collect();
            (!out.is_empty()).then_some(Bson::Document(out))
        }
        other => Some(other),
    }
}

/// Runs the built-in validators of a path on its cast value (`None` when the path has no value).
pub fn check(field: &Field, value: Option<&Bson>, path: &str, ctx: &mut Context) {
    let value = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined));
    for c in &field.checks {
        let ok = match (&c.rule, value) {
            (Rule::Required, None) => false,
            (Rule::Required, Some(v)) => match v {
                Bson::String(s) => !s.is_empty(),
                Bson::Binary(b) => !b.bytes.is_empty(),
                _ => true,
            },
            (_, None) => true,
            (Rule::Enum { values }, Some(v)) => values.iter().any(|allowed| same(allowed, v)),
            (Rule::Min { value: bound }, Some(v)) => compare(v, bound).is_none_or(|o| o.is_ge()),
            (Rule::Max { value: bound }, Some(v)) => compare(v, bound).is_none_or(|o| o.is_le()),
            (Rule::Minlength { value: n }, Some(Bson::String(s))) => js::length(s) as f64 >= *n,
            (Rule::Maxlength { value: n }, Some(Bson::String(s))) => js::length(s) as f64 <= *n,
            (Rule::Match { regex: Some(re), .. }, Some(Bson::String(s))) => s.is_empty() || re.is_match(s),
            _ => true,
        };
        if !ok {
            let kind = match c.rule {
                Rule::Required => "required",
                Rule::Enum { .. } => "enum",
                Rule::Min { .. } => "min",
                Rule::Max { .. } => "max",
                Rule::Minlength { .. } => "minlength",
                Rule::Maxlength { .. } => "maxlength",
                Rule::Match { .. } => "regexp",
            };
            ctx.errors.push(FieldError {
                path: path.to_owned(),
                kind: kind.into(),
                value: value.cloned(),
                validator: Some(c.id),
                cast: false,
            });
            // Mongoose reports one error per path: the first validator that fails.
            return;
        }
    }
}

/// JS `===` between an enum value and a cast value (numbers compare across int32 and double).
fn same(a: &Bson, b: &Bson) -> bool {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Numbers and dates against a min/max bound.
fn compare(v: &Bson, bound: &Bson) -> Option<std::cmp::Ordering> {
    match (v, bound) {
        (Bson::DateTime(a), Bson::DateTime(b)) => Some(a.cmp(b)),
        _ => as_number(v)?.partial_cmp(&as_number(bound)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn spec(json: &str) -> Spec {
        Spec::parse(json).unwrap().0
    }

    fn errors(result: Result<Document, Error>) -> Vec<(String, String)> {
        match result {
            Err(Error::Validation { errors, .. }) => errors.into_iter().map(|e| (e.path, e.kind)).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    const USER: &str = r#"{"model":"User","autoId":true,"versionKey":"__v",
        "timestamps":{"createdAt":"createdAt","updatedAt":"updatedAt"},
        "fields":[
        {"name":"_id","type":"objectId"},
        {"name":"name","type":"string","trim":true,"checks":[{"id":1,"kind":"required"},{"id":2,"kind":"minlength","value":2}]},
        {"name":"age","type":"number","checks":[{"id":3,"kind":"min","value":18}]},
        {"name":"role","type":"string","default":{"value":"user"},"checks":[{"id":4,"kind":"enum","values":["user","admin"]}]},
        {"name":"tags","type":"array","item":{"name":"","type":"string","lowercase":true}},
        {"name":"address","type":"object","fields":[
            {"name":"city","type":"string","checks":[{"id":5,"kind":"required"}]},
            {"name":"zip","type":"number","default":{"value":0}}]},
        {"name":"pets","type":"array","item":{"name":"","type":"subdocument","schema":{"autoId":false,"fields":[
            {"name":"kind","type":"string","checks":[{"id":6,"kind":"required"}]}]}}}]}"#;

    #[test]
    fn casts_fills_in_and_stamps_a_new_document() {
        let s = spec(USER);
        let now = DateTime::from_millis(1000);
        let input = doc! { "name": "  Ann ", "age": "30", "tags": "A", "address": { "city": "X" }, "extra": 1, "pets": [{ "kind": "cat" }] };
        let out = cast(&s, input, DocumentMode::Insert, now).unwrap();
        assert!(out.get_object_id("_id").is_ok());
        assert_eq!(out.keys().next().map(String::as_str), Some("_id"));
        assert_eq!(out.get_str("name").unwrap(), "Ann");
        assert_eq!(out.get_i32("age").unwrap(), 30);
        assert_eq!(out.get_str("role").unwrap(), "user");
        assert_eq!(out.get_array("tags").unwrap(), &vec![Bson::from("a")]);
        assert_eq!(out.get_document("address").unwrap(), &doc! { "city": "X", "zip": 0 });
        assert_eq!(out.get_array("pets").unwrap(), &vec![Bson::from(doc! { "kind": "cat" })]);
        assert!(!out.contains_key("extra"));
        assert_eq!(out.get_datetime("createdAt").unwrap(), &now);
        assert_eq!(out.get_datetime("updatedAt").unwrap(), &now);
        assert_eq!(out.get_i32("__v").unwrap(), 0);
    }

    #[test]
    fn reports_every_failing_path() {
        let s = spec(USER);
        let input = doc! { "name": "A", "age": 5, "role": "root", "pets": [{}, { "kind": "dog" }] };
        let errs = errors(cast(&s, input, DocumentMode::Insert, DateTime::now()));
        let expected = [("name", "minlength"), ("age", "min"), ("role", "enum"), ("pets.0.kind", "required"), ("address.city", "required")];
        assert_eq!(errs, expected.map(|(p, k)| (p.to_owned(), k.to_owned())));
        let errs = errors(cast(&s, doc! { "age": "abc", "tags": [[1]] }, DocumentMode::Insert, DateTime::now()));
        assert!(errs.contains(&("age".into(), "Number".into())));
        assert!(errs.contains(&("tags.0".into(), "[string]".into())));
        assert!(errs.contains(&("name".into(), "required".into())));
    }

    #[test]
    fn strict_throw_refuses_unknown_paths() {
        let s = spec(r#"{"strict":"throw","fields":[{"name":"a","type":"number"}]}"#);
        let err = cast(&s, doc! { "a": 1, "b": 2 }, DocumentMode::Insert, DateTime::now()).unwrap_err();
        assert!(matches!(err, Error::Strict { path } if path == "b"));
        let s = spec(r#"{"strict":"keep","fields":[{"name":"a","type":"number"}]}"#);
        assert_eq!(cast(&s, doc! { "b": 2 }, DocumentMode::Insert, DateTime::now()).unwrap(), doc! { "b": 2 });
    }

    #[test]
    fn a_replacement_keeps_its_id_and_version_and_gets_updated_at() {
        let s = spec(USER);
        let now = DateTime::from_millis(5);
        let out = cast(&s, doc! { "name": "Bo", "address": { "city": "Y" } }, DocumentMode::Replace, now).unwrap();
        assert!(!out.contains_key("_id") && !out.contains_key("__v") && !out.contains_key("createdAt"));
        assert_eq!(out.get_datetime("updatedAt").unwrap(), &now);
    }
}

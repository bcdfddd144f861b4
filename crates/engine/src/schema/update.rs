//! Update documents: values cast to their paths' types, the validators of the paths an operator sets
//! (Mongoose's `runValidators`), unknown paths dropped or refused per `strict`, `updatedAt` maintained,
//! and for upserts `createdAt` and the defaults of untouched paths in `$setOnInsert`.

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};

use super::cast::{cast_scalar, kind_name, only_mongoose_casts};
use super::document::{as_object, cast_value, cast_whole_subdocument, check, check_nested_required, Context};
use super::path::{resolve, Target};
use super::spec::{DefaultValue, Field, Kind, Spec, Strict};
use crate::error::Error;

pub fn cast(spec: &Spec, update: Document, filter: &Document, upsert: bool, now: DateTime) -> Result<Document, Error> {
    // The subdocuments an update makes get the engine's ids: only a new document's ids are made in
    // Mongoose's order (document::IdMaker).
    let mut new_id = ObjectId::new;
    let mut ctx = Context::new(now, false, &mut new_id);
    let mut out = Document::new();
    let was_empty = update.is_empty();
    for (op, body) in update {
        let Bson::Document(body) = body else {
            out.insert(op, body);
            continue;
        };
        let mut cast_body = Document::new();
        for (path, value) in body {
            let field = match resolve(spec, &path) {
                Target::Field(field) => field,
                Target::Untyped => {
                    cast_body.insert(path, value);
                    continue;
                }
                Target::Unknown(Strict::Keep) => {
                    cast_body.insert(path, value);
                    continue;
                }
                Target::Unknown(Strict::Drop) => continue,
                Target::Unknown(Strict::Throw) => {
                    ctx.refuse_unknown(path);
                    continue;
                }
            };
            if field.kind == Kind::Opaque || field.item.as_ref().is_some_and(|item| item.kind == Kind::Opaque) {
                ctx.thrown = Some(Error::NotCastable("an update of a path only Mongoose casts"));
                continue;
            }
            if field.immutable && op != "$setOnInsert" {
                continue;
            }
            if let Some(v) = cast_operand(&op, field, value, &path, &mut ctx) {
                cast_body.insert(path, v);
            }
        }
        if !cast_body.is_empty() {
            out.insert(op, cast_body);
        }
    }
    stamp(spec, &mut out, filter, upsert, now);
    if out.is_empty() && !was_empty && ctx.errors.is_empty() && ctx.thrown.is_none() {
        return Err(Error::InvalidArgument(
            "the update sets no path of the schema (strict mode drops the others)".into(),
        ));
    }
    ctx.finish(&spec.model, out)
}

/// One operator's value for one path; `None` drops the path (a failed cast, recorded).
fn cast_operand(op: &str, field: &Field, value: Bson, path: &str, ctx: &mut Context) -> Option<Bson> {
    match op {
        "$set" | "$setOnInsert" => {
            let v = cast_value(field, value, path, ctx).unwrap_or(Bson::Document(Document::new()));
            check(field, Some(&v), path, ctx);
            if let (Kind::Object, Bson::Document(d)) = (field.kind, &v) {
                check_nested_required(field, Some(d), path, ctx);
            }
            Some(v)
        }
        "$min" | "$max" => cast_value(field, value, path, ctx),
        "$unset" => {
            check(field, None, path, ctx);
            if field.kind == Kind::Object {
                check_nested_required(field, None, path, ctx);
            }
            Some(value)
        }
        "$inc" | "$mul" => {
            let kind = match field.kind {
                Kind::BigInt | Kind::Decimal128 => field.kind,
                _ => Kind::Number,
            };
            if let Some(why) = only_mongoose_casts(kind, &value) {
                ctx.thrown = Some(Error::NotCastable(why));
                return None;
            }
            match cast_scalar(kind, &value).filter(|v| !matches!(v, Bson::Null)) {
                Some(v) => Some(v),
                None => {
                    ctx.cast_error(path, kind_name(kind).into(), &value);
                    None
                }
            }
        }
        "$push" | "$addToSet" => {
            let item = element_of(field)?;
            match value {
                Bson::Document(mut modifiers) if modifiers.contains_key("$each") => {
                    let each = modifiers.remove("$each").unwrap_or(Bson::Null);
                    let Bson::Array(elements) = each else {
                        ctx.cast_error(path, format!("[{}]", kind_name(item.kind)), &each);
                        return None;
                    };
                    let cast =
                        elements.into_iter().map(|e| cast_element(item, e, path, ctx)).collect::<Option<Vec<_>>>()?;
                    let mut out = Document::new();
                    out.insert("$each", cast);
                    out.extend(modifiers);
                    Some(Bson::Document(out))
                }
                // An array pushed onto an array of values is its elements, as Mongoose reads it.
                Bson::Array(elements) if item.kind != Kind::Array => {
                    let cast =
                        elements.into_iter().map(|e| cast_element(item, e, path, ctx)).collect::<Option<Vec<_>>>()?;
                    Some(bson::bson!({ "$each": cast }))
                }
                element => cast_element(item, element, path, ctx),
            }
        }
        "$pullAll" => {
            let item = element_of(field)?;
            match value {
                Bson::Array(elements) => elements
                    .into_iter()
                    .map(|e| cast_element(item, e, path, ctx))
                    .collect::<Option<Vec<_>>>()
                    .map(Bson::Array),
                other => Some(other),
            }
        }
        // $pull takes a condition, $rename a name, $currentDate/$pop/$bit their own operands.
        _ => Some(value),
    }
}

/// The element type of the array a path names (the field itself when the path already names an element).
fn element_of(field: &Field) -> Option<&Field> {
    match field.kind {
        Kind::Array => field.item.as_deref(),
        _ => Some(field),
    }
}

fn cast_element(item: &Field, element: Bson, path: &str, ctx: &mut Context) -> Option<Bson> {
    match (item.kind, &item.schema) {
        (Kind::Subdocument, Some(schema)) => match as_object(element) {
            Ok(doc) => Some(Bson::Document(cast_whole_subdocument(schema, doc, &format!("{path}."), ctx))),
            Err(Bson::Null) => Some(Bson::Null),
            Err(other) => {
                let value = match other {
                    Bson::String(s) => s,
                    other => other.to_string(),
                };
                ctx.thrown.get_or_insert(Error::ObjectParameter { path: path.to_owned(), value });
                None
            }
        },
        _ => {
            let v = cast_value(item, element, path, ctx)?;
            check(item, Some(&v), path, ctx);
            Some(v)
        }
    }
}

fn operator<'a>(update: &'a mut Document, op: &str) -> &'a mut Document {
    if !matches!(update.get(op), Some(Bson::Document(_))) {
        update.insert(op, Document::new());
    }
    match update.get_mut(op) {
        Some(Bson::Document(d)) => d,
        _ => unreachable!("inserted above"),
    }
}

/// Whether any path the update sets is `name`, under it, or above it.
fn touches(update: &Document, filter: &Document, name: &str) -> bool {
    let overlaps = |path: &str| {
        path == name
            || path.strip_prefix(name).is_some_and(|rest| rest.starts_with('.'))
            || name.strip_prefix(path).is_some_and(|rest| rest.starts_with('.'))
    };
    filter.keys().any(|k| overlaps(k))
        || update.values().any(|body| matches!(body, Bson::Document(d) if d.keys().any(|k| overlaps(k))))
}

fn stamp(spec: &Spec, update: &mut Document, filter: &Document, upsert: bool, now: DateTime) {
    if let Some(ts) = &spec.timestamps {
        if let Some(name) = &ts.created_at {
            // createdAt is immutable, as Mongoose makes it: an update may not move it.
            for (_, body) in update.iter_mut() {
                if let Bson::Document(d) = body {
                    d.remove(name);
                }
            }
            operator(update, "$setOnInsert").insert(name.as_str(), now);
        }
        if let Some(name) = &ts.updated_at {
            if !touches(update, &Document::new(), name) {
                operator(update, "$set").insert(name.as_str(), now);
            }
        }
    }
    if !upsert {
        return;
    }
    let mut defaults = Document::new();
    for field in &spec.fields {
        if field.name == "_id" || touches(update, filter, &field.name) {
            continue;
        }
        let value = match (&field.default, field.kind) {
            (Some(DefaultValue::Now(_)), _) => Bson::DateTime(now),
            (Some(DefaultValue::Value(v)), _) => v.clone(),
            (None, _) => continue,
        };
        defaults.insert(field.name.as_str(), value);
    }
    if let Some(key) = &spec.version_key {
        if !touches(update, filter, key) {
            defaults.insert(key.as_str(), 0);
        }
    }
    if !defaults.is_empty() {
        operator(update, "$setOnInsert").extend(defaults);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn spec() -> Spec {
        Spec::parse(
            r#"{"model":"U","strict":"drop","versionKey":"__v","timestamps":{"createdAt":"createdAt","updatedAt":"updatedAt"},"fields":[
            {"name":"_id","type":"objectId"},
            {"name":"age","type":"number","checks":[{"id":1,"kind":"min","value":0}]},
            {"name":"name","type":"string","checks":[{"id":2,"kind":"required"}]},
            {"name":"role","type":"string","default":{"value":"user"}},
            {"name":"tags","type":"array","default":{"value":[]},"item":{"name":"","type":"string","checks":[{"id":3,"kind":"enum","values":["a","b"]}]}}]}"#,
        )
        .unwrap()
        .0
    }

    #[test]
    fn casts_values_stamps_and_drops_unknown_paths() {
        let now = DateTime::from_millis(7);
        let update = doc! { "$set": { "age": "41", "nope": 1 }, "$inc": { "age": "2" }, "$push": { "tags": { "$each": ["a"], "$slice": 3 } } };
        let out = cast(&spec(), update, &doc! {}, false, now).unwrap();
        assert_eq!(
            out,
            doc! { "$set": { "age": 41, "updatedAt": now }, "$inc": { "age": 2 }, "$push": { "tags": { "$each": ["a"], "$slice": 3 } },
            "$setOnInsert": { "createdAt": now } }
        );
    }

    #[test]
    fn validates_the_paths_it_sets() {
        let update = doc! { "$set": { "age": -1 }, "$unset": { "name": "" }, "$addToSet": { "tags": "z" } };
        let Err(Error::Validation { errors, .. }) = cast(&spec(), update, &doc! {}, false, DateTime::now()) else {
            panic!()
        };
        let got: Vec<_> = errors.iter().map(|e| (e.path.as_str(), e.kind.as_str())).collect();
        assert_eq!(got, [("age", "min"), ("name", "required"), ("tags", "enum")]);
        // A value that cannot be cast stops the update with a CastError before any validator runs.
        let update = doc! { "$set": { "age": "x" }, "$unset": { "name": "" } };
        let Err(Error::Cast { error, .. }) = cast(&spec(), update, &doc! {}, false, DateTime::now()) else { panic!() };
        assert_eq!((error.path.as_str(), error.kind.as_str()), ("age", "Number"));
    }

    #[test]
    fn an_upsert_sets_defaults_of_untouched_paths_on_insert() {
        let now = DateTime::from_millis(9);
        let out = cast(&spec(), doc! { "$set": { "age": 3 } }, &doc! { "name": "x" }, true, now).unwrap();
        assert_eq!(
            out.get_document("$setOnInsert").unwrap(),
            &doc! { "createdAt": now, "role": "user", "tags": [], "__v": 0 }
        );
    }
}

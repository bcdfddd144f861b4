//! Filters: values on typed paths cast as Mongoose's query casting does (`'6543…'` → ObjectId on `_id`,
//! `'42'` → 42, ISO strings → Date), through `$and`/`$or`/`$nor`, comparison operators, `$in`/`$nin`/
//! `$all`, `$not` and `$elemMatch`. Unknown paths are left alone (Mongoose's `strictQuery: false`).
//!
//! A filter is cast here for the fast path, which serves a query only when the result is Mongoose's
//! own; what Mongoose casts in a way of its own is refused with a CastError, and the query then runs
//! Mongoose's path: a subdocument matched whole (Mongoose gives it a fresh `_id`) and a map matched
//! whole (Mongoose's Map cast throws).

use bson::{Bson, Document};

use super::cast::{apply_setters, cast_scalar, kind_name};
use super::path::{resolve, Target};
use super::spec::{Field, Kind, Spec, Strict};
use super::FieldError;

pub fn cast(spec: &Spec, filter: &mut Document) -> Result<(), Box<FieldError>> {
    // Mongoose casts a filter's paths last to first, then its $and/$or/$nor; the CastError it reports
    // is the first one met in that order.
    let is_logical = |k: &&String| matches!(k.as_str(), "$and" | "$or" | "$nor");
    let (logical, paths): (Vec<&String>, Vec<&String>) = filter.keys().partition(is_logical);
    let keys: Vec<String> = paths.into_iter().rev().chain(logical.into_iter().rev()).cloned().collect();
    for key in &keys {
        let Some(value) = filter.get_mut(key) else { continue };
        match key.as_str() {
            "$and" | "$or" | "$nor" => {
                if let Bson::Array(clauses) = value {
                    for clause in clauses {
                        if let Bson::Document(clause) = clause {
                            cast(spec, clause)?;
                        }
                    }
                }
            }
            k if k.starts_with('$') => {}
            path => {
                if let Target::Field(field) = resolve(spec, path) {
                    condition(field, value, path)?;
                }
            }
        }
    }
    Ok(())
}

fn is_operator_object(value: &Bson) -> bool {
    matches!(value, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')))
}

/// A path's condition: a value to match, or an object of operators.
fn condition(field: &Field, value: &mut Bson, path: &str) -> Result<(), Box<FieldError>> {
    if !is_operator_object(value) {
        return operand(field, value, path);
    }
    let Bson::Document(ops) = value else { return Ok(()) };
    for (op, arg) in ops.iter_mut() {
        match op.as_str() {
            "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" => operand(field, arg, path)?,
            "$in" | "$nin" | "$all" => {
                if let Bson::Array(values) = arg {
                    for v in values {
                        operand(field, v, path)?;
                    }
                }
            }
            "$not" if is_operator_object(arg) => condition(field, arg, path)?,
            "$elemMatch" => {
                if let (Kind::Array, Some(item)) = (field.kind, &field.item) {
                    match (&item.schema, is_operator_object(arg), &mut *arg) {
                        (Some(schema), false, Bson::Document(inner)) => cast(schema, inner)?,
                        _ => condition(item, arg, path)?,
                    }
                }
            }
            "$size" => {
                if let Some(v) = cast_scalar(Kind::Number, arg) {
                    *arg = v;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The values of a subdocument in an equality match, reported at `at` or else by their path in the
/// subdocument, as Mongoose does. One Mongoose would give a fresh `_id` (its schema has them, it has
/// none) is refused: see the module's note.
fn cast_subdocument_values(schema: &Spec, doc: &mut Document, at: Option<&str>) -> Result<(), Box<FieldError>> {
    if schema.auto_id && !doc.contains_key("_id") {
        return Err(cast_error(at.unwrap_or("_id"), "Embedded", &Bson::Document(doc.clone())));
    }
    if schema.strict == Strict::Drop {
        *doc = std::mem::take(doc).into_iter().filter(|(key, _)| schema.field(key).is_some()).collect();
    }
    for (key, v) in doc.iter_mut() {
        if let Some(field) = schema.field(key) {
            operand(field, v, key).map_err(|mut e| {
                if let Some(at) = at {
                    e.element_path = Some(std::mem::replace(&mut e.path, at.to_owned()));
                }
                e
            })?;
        }
    }
    Ok(())
}

fn cast_error(path: &str, kind: &str, value: &Bson) -> Box<FieldError> {
    Box::new(FieldError::cast(path, kind, value))
}

/// A value compared with a path: cast to the path's type, or to its elements' type for an array.
fn operand(field: &Field, value: &mut Bson, path: &str) -> Result<(), Box<FieldError>> {
    let target = match (field.kind, &field.item) {
        (Kind::Array, Some(item)) => item.as_ref(),
        _ => field,
    };
    match (target.kind, &mut *value) {
        (_, Bson::Null | Bson::RegularExpression(_)) => Ok(()),
        // Subdocuments matched whole: their values are cast by their schema. A failure inside an array's
        // element is reported at the array's path, as Mongoose 9 does.
        (Kind::Subdocument, Bson::Document(doc)) => match &target.schema {
            Some(schema) => cast_subdocument_values(schema, doc, (field.kind == Kind::Array).then_some(path)),
            None => Ok(()),
        },
        (Kind::Subdocument, v) if !matches!(v, Bson::Array(_)) => {
            Err(cast_error(path, if field.kind == Kind::Array { "embedded" } else { "Embedded" }, v))
        }
        // An array on a path that holds one value means any of them, as Mongoose reads it.
        (kind, Bson::Array(elements)) if field.kind != Kind::Array && kind != Kind::Buffer => {
            for element in elements.iter_mut() {
                operand(field, element, path)?;
            }
            *value = bson::bson!({ "$in": std::mem::take(elements) });
            Ok(())
        }
        // A map matched whole: see the module's note.
        (Kind::Map, v @ Bson::Document(_)) => Err(cast_error(path, "Map", v)),
        // An array is matched whole, element by element.
        (kind, Bson::Array(elements)) if field.kind == Kind::Array => {
            for element in elements {
                if matches!(element, Bson::Array(_)) && target.kind != Kind::Array {
                    return Err(cast_error(path, kind_name(kind), element));
                }
                match (element, &target.schema) {
                    (Bson::Document(doc), Some(schema)) => cast_subdocument_values(schema, doc, Some(path))?,
                    (element, _) => operand(target, element, path)?,
                }
            }
            Ok(())
        }
        (Kind::Mixed | Kind::Object | Kind::Subdocument | Kind::Map | Kind::Array, _) => Ok(()),
        (kind, v) => match cast_scalar(kind, v) {
            Some(cast) => {
                *v = apply_setters(cast, target.trim, target.lowercase, target.uppercase);
                Ok(())
            }
            None => Err(cast_error(path, kind_name(kind), v)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use bson::oid::ObjectId;

    fn spec() -> Spec {
        Spec::parse(
            r#"{"fields":[{"name":"_id","type":"objectId"},{"name":"age","type":"number"},{"name":"at","type":"date"},
            {"name":"email","type":"string","lowercase":true},
            {"name":"tags","type":"array","item":{"name":"","type":"string"}},
            {"name":"pets","type":"array","item":{"name":"","type":"subdocument","schema":{"fields":[{"name":"age","type":"number"}]}}}]}"#,
        )
        .unwrap()
        .0
    }

    #[test]
    fn casts_values_and_operators() {
        let id = ObjectId::new();
        let mut f = doc! {
            "_id": { "$in": [id.to_hex()] }, "age": { "$gte": "18", "$not": { "$lt": "3" } }, "at": "1970-01-01",
            "email": "A@B.C", "tags": ["x"], "pets": { "$elemMatch": { "age": "2" } }, "other": "5",
            "$or": [{ "age": "1" }], "pets.age": "4",
        };
        cast(&spec(), &mut f).unwrap();
        assert_eq!(
            f,
            doc! {
                "_id": { "$in": [id] }, "age": { "$gte": 18, "$not": { "$lt": 3 } }, "at": bson::DateTime::from_millis(0),
                "email": "a@b.c", "tags": ["x"], "pets": { "$elemMatch": { "age": 2 } }, "other": "5",
                "$or": [{ "age": 1 }], "pets.age": 4,
            }
        );
    }

    #[test]
    fn what_mongoose_casts_its_own_way_is_refused() {
        let with_ids = r#"{"fields":[{"name":"pet","type":"subdocument","schema":{"autoId":true,"fields":[{"name":"age","type":"number"}]}},
            {"name":"plain","type":"subdocument","schema":{"fields":[{"name":"age","type":"number"}]}},
            {"name":"prices","type":"map","item":{"name":"","type":"number"}}]}"#;
        let spec = Spec::parse(with_ids).unwrap().0;
        assert_eq!(cast(&spec, &mut doc! { "pet": { "age": "1" } }).unwrap_err().kind, "Embedded");
        assert!(cast(&spec, &mut doc! { "pet": { "_id": ObjectId::new(), "age": "1" } }).is_ok());
        let mut plain = doc! { "plain": { "age": "1" } };
        cast(&spec, &mut plain).unwrap();
        assert_eq!(plain, doc! { "plain": { "age": 1 } });
        assert_eq!(cast(&spec, &mut doc! { "prices": { "a": "1" } }).unwrap_err().kind, "Map");
        assert!(cast(&spec, &mut doc! { "prices.a": "1" }).is_ok());
    }

    #[test]
    fn a_value_that_cannot_be_cast_is_a_cast_error() {
        let err = cast(&spec(), &mut doc! { "_id": "nope" }).unwrap_err();
        assert_eq!((err.path.as_str(), err.kind.as_str()), ("_id", "ObjectId"));
        let err = cast(&spec(), &mut doc! { "$and": [{ "age": { "$in": ["x"] } }] }).unwrap_err();
        assert_eq!(err.value, Some(Bson::from("x")));
    }
}

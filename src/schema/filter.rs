//! Filters: values on typed paths cast as Mongoose's query casting does (`'6543…'` → ObjectId on `_id`,
//! `'42'` → 42, ISO strings → Date), through `$and`/`$or`/`$nor`, comparison operators, `$in`/`$nin`/
//! `$all`, `$not` and `$elemMatch`. Unknown paths are left alone (Mongoose's `strictQuery: false`).

use bson::{Bson, Document};

use super::cast::{apply_setters, cast_scalar, kind_name};
use super::path::{resolve, Target};
use super::spec::{Field, Kind, Spec};
use super::FieldError;

pub fn cast(spec: &Spec, filter: &mut Document) -> Result<(), FieldError> {
    for (key, value) in filter.iter_mut() {
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
fn condition(field: &Field, value: &mut Bson, path: &str) -> Result<(), FieldError> {
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
            "$not" => {
                if is_operator_object(arg) {
                    condition(field, arg, path)?;
                }
            }
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

/// A value compared with a path: cast to the path's type, or to its elements' type for an array.
fn operand(field: &Field, value: &mut Bson, path: &str) -> Result<(), FieldError> {
    let target = match (field.kind, &field.item) {
        (Kind::Array, Some(item)) => item.as_ref(),
        _ => field,
    };
    match (target.kind, &mut *value) {
        (_, Bson::Null | Bson::RegularExpression(_)) => Ok(()),
        // An array is matched whole, element by element.
        (_, Bson::Array(elements)) if field.kind == Kind::Array => {
            for element in elements {
                operand(target, element, path)?;
            }
            Ok(())
        }
        (Kind::Mixed | Kind::Object | Kind::Subdocument | Kind::Map | Kind::Array, _) => Ok(()),
        (kind, v) => match cast_scalar(kind, v) {
            Some(cast) => {
                *v = apply_setters(cast, target.trim, target.lowercase, target.uppercase);
                Ok(())
            }
            None => Err(FieldError { path: path.to_owned(), kind: kind_name(kind).into(), value: Some(v.clone()), validator: None, cast: true }),
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
    fn a_value_that_cannot_be_cast_is_a_cast_error() {
        let err = cast(&spec(), &mut doc! { "_id": "nope" }).unwrap_err();
        assert_eq!((err.path.as_str(), err.kind.as_str()), ("_id", "ObjectId"));
        let err = cast(&spec(), &mut doc! { "$and": [{ "age": { "$in": ["x"] } }] }).unwrap_err();
        assert_eq!(err.value, Some(Bson::from("x")));
    }
}

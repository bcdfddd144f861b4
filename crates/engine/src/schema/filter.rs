//! Filters: values on typed paths cast as Mongoose's query casting does (`'6543…'` → ObjectId on `_id`,
//! `'42'` → 42, ISO strings → Date), through `$and`/`$or`/`$nor`, comparison operators, `$in`/`$nin`/
//! `$all`, `$not`, `$elemMatch`, `$size`, `$exists`, `$regex` and `$type`. Unknown paths are left alone
//! (Mongoose's `strictQuery: false`).
//!
//! A filter is cast here for the fast path, which serves a query only when the result is Mongoose's
//! own. The cast is an allow-list: an operator, a shape or a path type it does not implement exactly
//! as Mongoose does is [`Refused::NotCastable`], and the query then runs Mongoose's path (which casts
//! it, or refuses it with Mongoose's own error). So are what Mongoose casts in a way of its own: a
//! subdocument matched whole (Mongoose builds it as a document: its schema's key order, its defaults,
//! a fresh `_id`, and an equality match depends on all of them) is not castable here, and a map
//! matched whole (Mongoose's Map cast throws) is refused with a CastError, which also sends the query
//! to Mongoose's path.

use bson::{Bson, Document};

use super::cast::{apply_setters, cast_scalar, kind_name, only_mongoose_casts};
use super::path::{resolve, Target};
use super::spec::{Field, Kind, Spec};
use super::FieldError;

/// Filters nested deeper than this (`$and` in `$or`, `$not` in `$not`, `$elemMatch` in `$elemMatch`)
/// are left to Mongoose, which has its own limits.
const MAX_DEPTH: usize = 16;

/// Why a filter was not cast.
#[derive(Debug)]
pub enum Refused {
    /// A value Mongoose cannot cast either: its CastError.
    Cast(Box<FieldError>),
    /// Something only Mongoose casts; the reason, for tests and logs.
    NotCastable(&'static str),
}

impl From<Box<FieldError>> for Refused {
    fn from(e: Box<FieldError>) -> Self {
        Refused::Cast(e)
    }
}

pub fn cast(spec: &Spec, filter: &mut Document) -> Result<(), Refused> {
    cast_at(spec, filter, 0)
}

fn cast_at(spec: &Spec, filter: &mut Document, depth: usize) -> Result<(), Refused> {
    if depth > MAX_DEPTH {
        return Err(Refused::NotCastable("a filter nested this deep"));
    }
    // Mongoose casts a filter's paths last to first, then its $and/$or/$nor; the CastError it reports
    // is the first one met in that order.
    let is_logical = |k: &&String| matches!(k.as_str(), "$and" | "$or" | "$nor");
    let (logical, paths): (Vec<&String>, Vec<&String>) = filter.keys().partition(is_logical);
    let keys: Vec<String> = paths.into_iter().rev().chain(logical.into_iter().rev()).cloned().collect();
    for key in &keys {
        let Some(value) = filter.get_mut(key) else { continue };
        match key.as_str() {
            "$and" | "$or" | "$nor" => {
                // Mongoose drops an empty one (and clauses its strictQuery empties); the server refuses it.
                let Bson::Array(clauses) = value else {
                    return Err(Refused::NotCastable("$and/$or/$nor that is not an array"));
                };
                if clauses.is_empty() {
                    return Err(Refused::NotCastable("an empty $and/$or/$nor"));
                }
                for clause in clauses {
                    let Bson::Document(clause) = clause else {
                        return Err(Refused::NotCastable("$and/$or/$nor of a non-object"));
                    };
                    cast_at(spec, clause, depth + 1)?;
                }
            }
            "$comment" if matches!(value, Bson::String(_)) => {}
            // `$where`, `$expr`, `$text`, `$jsonSchema`, ...: Mongoose casts some of these itself.
            k if k.starts_with('$') => return Err(Refused::NotCastable("a top-level operator")),
            path => match resolve(spec, path) {
                Target::Field(field) => condition(field, value, path, depth)?,
                Target::Untyped | Target::Unknown(_) => {}
            },
        }
    }
    Ok(())
}

/// An object of operators (`{ $gt: 1 }`); one mixing operators with plain keys is not castable.
fn operator_object(value: &Bson) -> Result<bool, Refused> {
    let Bson::Document(d) = value else { return Ok(false) };
    let operators = d.keys().filter(|k| k.starts_with('$')).count();
    match operators {
        0 => Ok(false),
        n if n == d.len() => Ok(true),
        _ => Err(Refused::NotCastable("an object mixing operators and paths")),
    }
}

/// A path's condition: a value to match, or an object of operators, cast as Mongoose's `cast.js` and
/// the path type's `castForQuery` cast them; each type takes only the operators Mongoose gives it
/// (`$gt` on a Boolean is Mongoose's error, so it is not castable here).
fn condition(field: &Field, value: &mut Bson, path: &str, depth: usize) -> Result<(), Refused> {
    if depth > MAX_DEPTH {
        return Err(Refused::NotCastable("a filter nested this deep"));
    }
    match field.kind {
        Kind::Opaque => return Err(Refused::NotCastable("a path only Mongoose casts")),
        // Mongoose leaves a nested path's value as it is, operators included.
        Kind::Object => return Ok(()),
        _ => {}
    }
    if !operator_object(value)? {
        return operand(field, value, path);
    }
    // And a Mixed path's operators.
    if field.kind == Kind::Mixed {
        return Ok(());
    }
    let Bson::Document(ops) = value else { return Ok(()) };
    for (op, arg) in ops.iter_mut() {
        match op.as_str() {
            "$not" => match arg {
                Bson::RegularExpression(_) if field.kind == Kind::String => {}
                // Inside `$not`, each operator is cast on its own (no `$not` or `$elemMatch` in it).
                not if operator_object(not)? => {
                    let Bson::Document(inner) = not else { unreachable!("an operator object") };
                    for (op, arg) in inner.iter_mut() {
                        if matches!(op.as_str(), "$not" | "$elemMatch") {
                            return Err(Refused::NotCastable("$not or $elemMatch inside $not"));
                        }
                        operator(field, op, arg, path)?;
                    }
                }
                _ => return Err(Refused::NotCastable("a $not Mongoose casts its own way")),
            },
            "$elemMatch" => elem_match(field, arg, path, depth)?,
            op => operator(field, op, arg, path)?,
        }
    }
    Ok(())
}

/// One operator of a path's condition other than `$not` and `$elemMatch`.
fn operator(field: &Field, op: &str, arg: &mut Bson, path: &str) -> Result<(), Refused> {
    let ranged = matches!(
        field.kind,
        Kind::String
            | Kind::Number
            | Kind::Date
            | Kind::ObjectId
            | Kind::Buffer
            | Kind::Decimal128
            | Kind::BigInt
            | Kind::Array
    );
    let scalar_items = field.item.as_ref().is_none_or(|item| item.schema.is_none() && item.kind != Kind::Array);
    match (op, &mut *arg) {
        // An array operand of a comparison Mongoose casts its own way (and per type).
        ("$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte", Bson::Array(_)) => {
            Err(Refused::NotCastable("an array compared"))
        }
        ("$eq" | "$ne", _) => operand(field, arg, path),
        ("$gt" | "$gte" | "$lt" | "$lte", _) if ranged => operand(field, arg, path),
        ("$in" | "$nin", Bson::Array(values)) => values.iter_mut().try_for_each(|v| element_operand(field, v, path)),
        ("$all", Bson::Array(values)) if field.kind != Kind::Array || scalar_items => {
            values.iter_mut().try_for_each(|v| element_operand(field, v, path))
        }
        ("$size", size) if field.kind == Kind::Array => match cast_scalar(Kind::Number, size) {
            Some(v @ Bson::Int32(_)) => {
                *size = v;
                Ok(())
            }
            _ => Err(Refused::NotCastable("a $size that is not a whole number")),
        },
        ("$exists", Bson::Boolean(_)) => Ok(()),
        ("$type", Bson::String(_) | Bson::Int32(_)) => Ok(()),
        // Mongoose casts a `$regex` string without the path's setters, and keeps a RegExp.
        ("$regex", Bson::RegularExpression(_) | Bson::String(_)) | ("$options", Bson::String(_))
            if field.kind == Kind::String =>
        {
            Ok(())
        }
        _ => Err(Refused::NotCastable("an operator only Mongoose casts")),
    }
}

/// A value of `$in`, `$nin` or `$all`; an array inside one Mongoose casts its own way.
fn element_operand(field: &Field, value: &mut Bson, path: &str) -> Result<(), Refused> {
    if matches!(value, Bson::Array(_)) {
        return Err(Refused::NotCastable("an array inside $in/$nin/$all"));
    }
    operand(field, value, path)
}

/// `$elemMatch`, on an array of subdocuments (a filter cast by their schema) or of values (their
/// comparisons cast by the element type); other forms are Mongoose's.
fn elem_match(field: &Field, arg: &mut Bson, path: &str, depth: usize) -> Result<(), Refused> {
    let (Kind::Array, Some(item)) = (field.kind, &field.item) else {
        return Err(Refused::NotCastable("$elemMatch on a path that is not an array"));
    };
    let operators = operator_object(arg)?;
    match (&item.schema, arg) {
        (Some(schema), Bson::Document(inner)) if !operators && item.kind == Kind::Subdocument => {
            cast_at(schema, inner, depth + 1)
        }
        (None, Bson::Document(inner)) if operators && item.kind != Kind::Array => {
            for (op, arg) in inner.iter_mut() {
                if !matches!(op.as_str(), "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte") {
                    return Err(Refused::NotCastable("an $elemMatch operator only Mongoose casts"));
                }
                operator(item, op, arg, path)?;
            }
            Ok(())
        }
        _ => Err(Refused::NotCastable("an $elemMatch Mongoose casts its own way")),
    }
}

fn cast_error(path: &str, kind: &str, value: &Bson) -> Box<FieldError> {
    Box::new(FieldError::cast(path, kind, value))
}

/// A value compared with a path: cast to the path's type, or to its elements' type for an array.
fn operand(field: &Field, value: &mut Bson, path: &str) -> Result<(), Refused> {
    let target = match (field.kind, &field.item) {
        (Kind::Array, Some(item)) => item.as_ref(),
        _ => field,
    };
    match (target.kind, &mut *value) {
        (Kind::Opaque, _) => Err(Refused::NotCastable("a path only Mongoose casts")),
        (_, Bson::Null) => Ok(()),
        // Mongoose keeps a RegExp matched against a string; on other types it is a CastError.
        (Kind::String | Kind::Mixed, Bson::RegularExpression(_)) if field.kind != Kind::Array => Ok(()),
        (_, Bson::RegularExpression(_)) => Err(Refused::NotCastable("a RegExp on a path that is not a string")),
        // A subdocument matched whole: see the module's note.
        (Kind::Subdocument, Bson::Document(_)) => Err(Refused::NotCastable("a subdocument matched whole")),
        (Kind::Subdocument, v) if !matches!(v, Bson::Array(_)) => {
            Err(cast_error(path, if field.kind == Kind::Array { "embedded" } else { "Embedded" }, v).into())
        }
        // An array on a path that holds one value means any of them, as Mongoose reads it.
        (kind, Bson::Array(elements)) if field.kind != Kind::Array && kind != Kind::Buffer => {
            for element in elements.iter_mut() {
                if matches!(element, Bson::Array(_)) {
                    return Err(Refused::NotCastable("an array inside an array on a path of one value"));
                }
                operand(field, element, path)?;
            }
            *value = bson::bson!({ "$in": std::mem::take(elements) });
            Ok(())
        }
        // A map matched whole: see the module's note.
        (Kind::Map, v @ Bson::Document(_)) => Err(cast_error(path, "Map", v).into()),
        (Kind::Map, _) => Err(Refused::NotCastable("a map matched whole")),
        // An array is matched whole, element by element.
        (kind, Bson::Array(elements)) if field.kind == Kind::Array => {
            for element in elements {
                if matches!(element, Bson::Array(_)) && target.kind != Kind::Array {
                    return Err(cast_error(path, kind_name(kind), element).into());
                }
                operand(target, element, path)?;
            }
            Ok(())
        }
        (Kind::Mixed | Kind::Object | Kind::Subdocument, _) => Ok(()),
        (Kind::Array, _) => Err(Refused::NotCastable("a value matched against an array of arrays")),
        (kind, v) if only_mongoose_casts(kind, v).is_some() => {
            Err(Refused::NotCastable(only_mongoose_casts(kind, v).unwrap_or_default()))
        }
        (kind, v) => match cast_scalar(kind, v) {
            Some(cast) => {
                *v = apply_setters(cast, target.trim, target.lowercase, target.uppercase);
                Ok(())
            }
            None => Err(cast_error(path, kind_name(kind), v).into()),
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
            {"name":"email","type":"string","lowercase":true},{"name":"flag","type":"boolean"},{"name":"uid","type":"opaque"},
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

    /// The CastError of a refused filter.
    fn cast_failure(spec: &Spec, mut filter: Document) -> Box<FieldError> {
        match cast(spec, &mut filter) {
            Err(Refused::Cast(e)) => e,
            other => panic!("expected a CastError, got {other:?}"),
        }
    }

    fn regex() -> bson::Regex {
        bson::Regex { pattern: "x".to_owned().try_into().unwrap(), options: String::new().try_into().unwrap() }
    }

    fn castable(filter: Document) -> bool {
        let mut filter = filter;
        match cast(&spec(), &mut filter) {
            Ok(()) => true,
            Err(Refused::NotCastable(_)) => false,
            Err(Refused::Cast(e)) => panic!("unexpected CastError {e:?}"),
        }
    }

    #[test]
    fn what_only_mongoose_casts_goes_to_mongoose() {
        // Shapes and operators Mongoose casts its own way, or refuses with its own error.
        for filter in [
            doc! { "$where": "true" },
            doc! { "$expr": { "$eq": ["$age", 1] } },
            doc! { "$or": [] },
            doc! { "$or": { "age": 1 } },
            doc! { "age": { "$in": "1" } },
            doc! { "age": { "$in": [[1]] } },
            doc! { "age": { "$mod": ["4", "2"] } },
            doc! { "age": { "$exists": "false" } },
            doc! { "age": { "$foo": 1 } },
            doc! { "age": { "$eq": [1] } },
            doc! { "age": { "$gt": 1, "x": 1 } },
            doc! { "age": { "$not": { "$not": { "$gt": 1 } } } },
            doc! { "age": { "$not": regex() } },
            doc! { "age": regex() },
            doc! { "age": { "$elemMatch": { "$gt": 1 } } },
            doc! { "tags": { "$elemMatch": { "$in": ["a"] } } },
            doc! { "flag": { "$gt": true } },
            doc! { "uid": "0b3d0a5e-4a8e-4d52-9b0a-6b1f2c3d4e5f" },
            doc! { "tags": { "$regex": "a" } },
            doc! { "age": [[5]] },
        ] {
            assert!(!castable(filter.clone()), "{filter} should go to Mongoose");
        }
        let mut deep = doc! { "age": 1 };
        for _ in 0..=MAX_DEPTH {
            deep = doc! { "$and": [deep] };
        }
        assert!(!castable(deep));
    }

    #[test]
    fn what_it_implements_is_cast() {
        for filter in [
            doc! { "age": { "$exists": true }, "email": { "$regex": "A", "$options": "i" }, "$comment": "c" },
            doc! { "age": { "$type": "int" }, "tags": { "$size": 2, "$all": ["a"] }, "email": { "$not": regex() } },
            doc! { "tags": { "$elemMatch": { "$gt": "a" } }, "pets": { "$elemMatch": { "age": { "$gte": "1" } } } },
            doc! { "$nor": [{ "age": { "$nin": ["1"] } }], "other": { "$foo": 1 } },
        ] {
            assert!(castable(filter.clone()), "{filter} should be cast");
        }
        let mut f = doc! { "email": { "$regex": "ANN" }, "tags": { "$elemMatch": { "$gt": 1 } } };
        cast(&spec(), &mut f).unwrap();
        assert_eq!(f, doc! { "email": { "$regex": "ANN" }, "tags": { "$elemMatch": { "$gt": "1" } } });
    }

    #[test]
    fn what_mongoose_casts_its_own_way_is_refused() {
        let with_ids = r#"{"fields":[{"name":"pet","type":"subdocument","schema":{"autoId":true,"fields":[{"name":"age","type":"number"}]}},
            {"name":"plain","type":"subdocument","schema":{"fields":[{"name":"age","type":"number"}]}},
            {"name":"prices","type":"map","item":{"name":"","type":"number"}}]}"#;
        let spec = Spec::parse(with_ids).unwrap().0;
        for whole in [
            doc! { "pet": { "age": "1" } },
            doc! { "pet": { "_id": ObjectId::new(), "age": "1" } },
            doc! { "plain": { "age": 1 } },
            doc! { "plain": { "$ne": { "age": 1 } } },
            doc! { "plain": { "$in": [{ "age": 1 }] } },
        ] {
            assert!(matches!(cast(&spec, &mut whole.clone()), Err(Refused::NotCastable(_))), "{whole}");
        }
        assert!(cast(&spec, &mut doc! { "plain.age": "1", "pet": null }).is_ok());
        assert_eq!(cast_failure(&spec, doc! { "prices": { "a": "1" } }).kind, "Map");
        assert!(cast(&spec, &mut doc! { "prices.a": "1" }).is_ok());
    }

    #[test]
    fn a_value_that_cannot_be_cast_is_a_cast_error() {
        let err = cast_failure(&spec(), doc! { "_id": "nope" });
        assert_eq!((err.path.as_str(), err.kind.as_str()), ("_id", "ObjectId"));
        let err = cast_failure(&spec(), doc! { "$and": [{ "age": { "$in": ["x"] } }] });
        assert_eq!(err.value, Some(Bson::from("x")));
    }
}

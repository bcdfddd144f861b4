//! A `$jsonSchema` collection validator derived from a spec, so the server refuses (code 121) what the
//! schema would: types, required paths, enums, bounds, lengths and patterns. Paths that are not
//! required may be null, as in Mongoose.

use bson::{doc, Bson, Document};

use super::spec::{Field, Kind, Rule, Spec};

pub fn derive(spec: &Spec) -> Document {
    doc! { "$jsonSchema": object(&spec.fields) }
}

fn object(fields: &[Field]) -> Document {
    let mut properties = Document::new();
    let mut required = Vec::new();
    for field in fields {
        let (schema, is_required) = property(field);
        if is_required {
            required.push(Bson::String(field.name.clone()));
        }
        properties.insert(field.name.as_str(), schema);
    }
    let mut out = doc! { "bsonType": "object", "properties": properties };
    if !required.is_empty() {
        out.insert("required", required);
    }
    out
}

/// A path's schema, and whether it is required.
fn property(field: &Field) -> (Document, bool) {
    let required = field.checks.iter().any(|c| matches!(c.rule, Rule::Required));
    let mut out = match field.kind {
        Kind::Object => object(&field.fields),
        Kind::Subdocument => field.schema.as_ref().map_or_else(|| doc! { "bsonType": "object" }, |s| object(&s.fields)),
        Kind::Array => {
            let mut a = doc! { "bsonType": "array" };
            if let Some(item) = &field.item {
                a.insert("items", property(item).0);
            }
            a
        }
        Kind::Map => {
            let mut m = doc! { "bsonType": "object" };
            if let Some(item) = &field.item {
                m.insert("additionalProperties", property(item).0);
            }
            m
        }
        Kind::Mixed | Kind::Opaque => return (Document::new(), required),
        scalar => doc! { "bsonType": scalar_types(scalar) },
    };
    for check in &field.checks {
        match &check.rule {
            Rule::Enum { values } => {
                let mut values = values.clone();
                if !required {
                    values.push(Bson::Null);
                }
                out.insert("enum", values);
            }
            Rule::Min { value } if field.kind == Kind::Number => {
                out.insert("minimum", value.clone());
            }
            Rule::Max { value } if field.kind == Kind::Number => {
                out.insert("maximum", value.clone());
            }
            Rule::Minlength { value } => {
                out.insert("minLength", *value as i64);
            }
            Rule::Maxlength { value } => {
                out.insert("maxLength", *value as i64);
            }
            Rule::Match { pattern, flags, .. } if flags.is_empty() => {
                out.insert("pattern", pattern.as_str());
            }
            _ => {}
        }
    }
    // Mongoose's required refuses an empty string.
    if required && field.kind == Kind::String && !out.contains_key("minLength") {
        out.insert("minLength", 1);
    }
    if !required {
        if let Ok(types) = out.get_array_mut("bsonType") {
            types.push(Bson::from("null"));
        } else if let Some(Bson::String(t)) = out.get("bsonType").cloned() {
            out.insert("bsonType", vec![Bson::String(t), Bson::from("null")]);
        }
    }
    (out, required)
}

fn scalar_types(kind: Kind) -> Vec<Bson> {
    let names: &[&str] = match kind {
        Kind::String => &["string"],
        Kind::Number => &["int", "long", "double", "decimal"],
        Kind::Boolean => &["bool"],
        Kind::Date => &["date"],
        Kind::ObjectId => &["objectId"],
        Kind::Buffer => &["binData"],
        Kind::Decimal128 => &["decimal"],
        Kind::BigInt => &["long"],
        _ => &[],
    };
    names.iter().map(|n| Bson::from(*n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_types_required_and_bounds() {
        let (spec, _) = Spec::parse(
            r#"{"fields":[{"name":"name","type":"string","checks":[{"id":1,"kind":"required"}]},
            {"name":"age","type":"number","checks":[{"id":2,"kind":"min","value":0}]},
            {"name":"tags","type":"array","item":{"name":"","type":"string","checks":[{"id":3,"kind":"enum","values":["a"]}]}}]}"#,
        )
        .unwrap();
        let got = derive(&spec);
        let schema = got.get_document("$jsonSchema").unwrap();
        assert_eq!(schema.get_array("required").unwrap(), &vec![Bson::from("name")]);
        let props = schema.get_document("properties").unwrap();
        assert_eq!(props.get_document("name").unwrap(), &doc! { "bsonType": ["string"], "minLength": 1 });
        assert_eq!(
            props.get_document("age").unwrap(),
            &doc! { "bsonType": ["int", "long", "double", "decimal", "null"], "minimum": 0 }
        );
        assert_eq!(
            props.get_document("tags").unwrap(),
            &doc! { "bsonType": ["array", "null"], "items": { "bsonType": ["string", "null"], "enum": ["a", null] } }
        );
    }
}

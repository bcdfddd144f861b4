//! Finding the schema type behind a dotted path (`address.city`, `items.0.sku`, `items.$[i].sku`,
//! `scores.math`), as updates and filters name them.

use super::spec::{Field, Kind, Spec, Strict};

/// What a path leads to.
pub enum Target<'a> {
    /// A typed path.
    Field(&'a Field),
    /// A path inside a Mixed value, or under an unknown key in a non-strict schema: left as it is.
    Untyped,
    /// A path the schema does not have, and the `strict` of the (sub)schema that would hold it.
    Unknown(Strict),
}

fn is_position(segment: &str) -> bool {
    segment == "$" || segment.starts_with("$[") || (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
}

pub fn resolve<'a>(spec: &'a Spec, path: &str) -> Target<'a> {
    let mut segments = path.split('.').peekable();
    let mut fields: &'a [Field] = &spec.fields;
    let mut strict = spec.strict;
    loop {
        let Some(segment) = segments.next() else { return Target::Untyped };
        let Some(mut field) = fields.iter().find(|f| f.name == segment) else { return Target::Unknown(strict) };
        loop {
            match field.kind {
                // `items.0.sku` and `items.sku` both reach into the elements of an array.
                Kind::Array => {
                    if segments.peek().is_some_and(|s| is_position(s)) {
                        segments.next();
                    }
                    match &field.item {
                        Some(item) if segments.peek().is_some() || is_element_path(path) => field = item,
                        _ => return if segments.peek().is_some() { Target::Untyped } else { Target::Field(field) },
                    }
                    if segments.peek().is_none() {
                        return Target::Field(field);
                    }
                    if field.kind == Kind::Array {
                        continue;
                    }
                }
                Kind::Map => match (&field.item, segments.next()) {
                    (_, None) => return Target::Field(field),
                    (Some(item), Some(_)) => {
                        if segments.peek().is_none() {
                            return Target::Field(item);
                        }
                        field = item;
                        continue;
                    }
                    (None, Some(_)) => return Target::Untyped,
                },
                _ => {}
            }
            break;
        }
        if segments.peek().is_none() {
            return Target::Field(field);
        }
        match field.kind {
            Kind::Object => fields = &field.fields,
            Kind::Subdocument | Kind::Array | Kind::Map => match &field.schema {
                Some(schema) => {
                    fields = &schema.fields;
                    strict = schema.strict;
                }
                None => return Target::Untyped,
            },
            _ => return Target::Untyped,
        }
    }
}

/// Whether the path's last segment is a position (`tags.0`, `tags.$`): it names an element.
fn is_element_path(path: &str) -> bool {
    path.rsplit('.').next().is_some_and(is_position)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::parse(
            r#"{"strict":"throw","fields":[
            {"name":"tags","type":"array","item":{"name":"","type":"string"}},
            {"name":"address","type":"object","fields":[{"name":"city","type":"string"}]},
            {"name":"items","type":"array","item":{"name":"","type":"subdocument","schema":{"strict":"drop","fields":[{"name":"sku","type":"number"}]}}},
            {"name":"scores","type":"map","item":{"name":"","type":"number"}},
            {"name":"meta","type":"mixed"}]}"#,
        )
        .unwrap()
        .0
    }

    fn kind(spec: &Spec, path: &str) -> String {
        match resolve(spec, path) {
            Target::Field(f) => format!("{:?}", f.kind),
            Target::Untyped => "untyped".into(),
            Target::Unknown(strict) => format!("unknown {strict:?}"),
        }
    }

    #[test]
    fn resolves_paths_through_nesting_arrays_and_maps() {
        let s = spec();
        assert_eq!(kind(&s, "tags"), "Array");
        assert_eq!(kind(&s, "tags.0"), "String");
        assert_eq!(kind(&s, "tags.$"), "String");
        assert_eq!(kind(&s, "address.city"), "String");
        assert_eq!(kind(&s, "items.0.sku"), "Number");
        assert_eq!(kind(&s, "items.$[i].sku"), "Number");
        assert_eq!(kind(&s, "items.sku"), "Number");
        assert_eq!(kind(&s, "items.0"), "Subdocument");
        assert_eq!(kind(&s, "items.nope"), "unknown Drop");
        assert_eq!(kind(&s, "scores.math"), "Number");
        assert_eq!(kind(&s, "meta.anything.deep"), "untyped");
        assert_eq!(kind(&s, "nope"), "unknown Throw");
        assert_eq!(kind(&s, "address.zip"), "unknown Throw");
    }
}

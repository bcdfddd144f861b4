//! The schema spec: what the JS facade extracts from a Mongoose schema, as canonical Extended JSON (so
//! typed defaults, enum values and bounds keep their BSON types). Parsed once per model.

use bson::Bson;
use regex::Regex;
use serde::Deserialize;

use crate::error::Error;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The model's name, for messages.
    #[serde(default)]
    pub model: String,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub strict: Strict,
    /// Whether the schema gives each document an ObjectId `_id` when it has none.
    #[serde(default)]
    pub auto_id: bool,
    #[serde(default)]
    pub timestamps: Option<Timestamps>,
    #[serde(default)]
    pub version_key: Option<String>,
}

/// Mongoose's `strict`: unknown paths are dropped (`Drop`), kept (`Keep`) or refused (`Throw`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Strict {
    #[default]
    Drop,
    Keep,
    Throw,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timestamps {
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    String,
    Number,
    Boolean,
    Date,
    ObjectId,
    Buffer,
    Decimal128,
    BigInt,
    Mixed,
    Map,
    Array,
    /// A nested path: an object whose paths belong to the parent schema.
    Object,
    /// A single subdocument with a schema of its own.
    Subdocument,
    /// A path only Mongoose casts: a type the engine does not implement (UUID, Int32, Double, a
    /// plugin's SchemaType) or one with a custom setter or cast function. A filter, document or
    /// update that gives it a value is not castable here.
    Opaque,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Field {
    /// The path segment under its parent (`street` in `address.street`).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub trim: bool,
    #[serde(default)]
    pub lowercase: bool,
    #[serde(default)]
    pub uppercase: bool,
    /// Updates leave the path alone, as Mongoose's `immutable` (and timestamps' `createdAt`) does.
    #[serde(default)]
    pub immutable: bool,
    /// A static default, or the time of the write. Defaults computed by functions are filled in by the
    /// facade before the document gets here.
    #[serde(default)]
    pub default: Option<DefaultValue>,
    /// The element type of an array, the value type of a map.
    #[serde(default)]
    pub item: Option<Box<Field>>,
    /// The paths of a nested object, and the `strict` of the schema it belongs to.
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub strict: Strict,
    /// The schema of a subdocument.
    #[serde(default)]
    pub schema: Option<Box<Spec>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum DefaultValue {
    Value(Bson),
    Now(bool),
}

/// A built-in validator. `id` names the Mongoose validator it came from, so the facade can build the
/// error with that validator's own message.
#[derive(Debug, Deserialize)]
pub struct Check {
    pub id: u32,
    #[serde(flatten)]
    pub rule: Rule,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Rule {
    Required,
    Enum {
        values: Vec<Bson>,
    },
    Min {
        value: Bson,
    },
    Max {
        value: Bson,
    },
    Minlength {
        value: f64,
    },
    Maxlength {
        value: f64,
    },
    Match {
        pattern: String,
        flags: String,
        #[serde(skip)]
        regex: Option<Regex>,
    },
}

impl Spec {
    /// Parses a spec from canonical Extended JSON and compiles its `match` patterns. Returns the ids of
    /// the patterns the `regex` crate cannot run (lookaround, backreferences): the facade runs those.
    pub fn parse(json: &str) -> Result<(Spec, Vec<u32>), Error> {
        let invalid = |e: &dyn std::fmt::Display| Error::InvalidArgument(format!("invalid schema spec: {e}"));
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| invalid(&e))?;
        let bson = Bson::try_from(value).map_err(|e| invalid(&e))?;
        let mut spec: Spec = bson::deserialize_from_bson(bson).map_err(|e| invalid(&e))?;
        let mut left_to_js = Vec::new();
        spec.compile(&mut left_to_js);
        Ok((spec, left_to_js))
    }

    fn compile(&mut self, left_to_js: &mut Vec<u32>) {
        for field in &mut self.fields {
            field.compile(left_to_js);
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Field {
    fn compile(&mut self, left_to_js: &mut Vec<u32>) {
        let mut kept = Vec::with_capacity(self.checks.len());
        for mut check in self.checks.drain(..) {
            if let Rule::Match { pattern, flags, regex } = &mut check.rule {
                match compile_js_regex(pattern, flags) {
                    Some(re) => *regex = Some(re),
                    None => {
                        left_to_js.push(check.id);
                        continue;
                    }
                }
            }
            kept.push(check);
        }
        self.checks = kept;
        if let Some(item) = &mut self.item {
            item.compile(left_to_js);
        }
        for field in &mut self.fields {
            field.compile(left_to_js);
        }
        if let Some(schema) = &mut self.schema {
            schema.compile(left_to_js);
        }
    }
}

/// A JS regular expression as a `regex` one, when the syntax means the same in both: `i`, `m` and `s`
/// carry over, `g` and `y` do not matter to a single test (Mongoose resets `lastIndex`), and `u`/`v`
/// change escapes, so those are left to JS.
fn compile_js_regex(pattern: &str, flags: &str) -> Option<Regex> {
    let mut builder = regex::RegexBuilder::new(&translate_js_classes(pattern)?);
    for flag in flags.chars() {
        match flag {
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            'g' | 'y' | 'd' => &mut builder,
            _ => return None,
        };
    }
    builder.build().ok()
}

/// JS's `\d` and `\w` are ASCII (without the `u` flag) where the `regex` crate's are Unicode: spell
/// them out. `\b`, `\B`, and `\D`/`\W` inside a class have no short spelling: `None` leaves the
/// pattern to JS. (`\s` is Unicode whitespace in both.)
fn translate_js_classes(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                match (next, in_class) {
                    ('d', false) => out.push_str("[0-9]"),
                    ('d', true) => out.push_str("0-9"),
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('W', false) => out.push_str("[^0-9A-Za-z_]"),
                    ('D' | 'W' | 'b' | 'B', _) => return None,
                    (other, _) => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typed_values_and_leaves_unsupported_patterns_to_js() {
        let json = r#"{"model":"U","strict":"throw","autoId":true,"fields":[
            {"name":"born","type":"date","checks":[{"id":1,"kind":"min","value":{"$date":{"$numberLong":"0"}}}]},
            {"name":"code","type":"string","checks":[{"id":2,"kind":"match","pattern":"^(?=a)","flags":""},
                                                    {"id":3,"kind":"match","pattern":"^a\\d+$","flags":"i"}]}]}"#;
        let (spec, js) = Spec::parse(json).unwrap();
        assert_eq!(js, vec![2]);
        assert_eq!(spec.strict, Strict::Throw);
        let born = spec.field("born").unwrap();
        assert!(matches!(&born.checks[0].rule, Rule::Min { value: Bson::DateTime(_) }));
        let code = spec.field("code").unwrap();
        assert_eq!(code.checks.len(), 1);
        let Rule::Match { regex: Some(re), .. } = &code.checks[0].rule else { panic!() };
        assert!(re.is_match("A12") && !re.is_match("a1x"));
    }

    #[test]
    fn js_classes_keep_their_ascii_meaning() {
        let re = |p: &str| compile_js_regex(p, "");
        assert!(re(r"^\d+$").unwrap().is_match("123") && !re(r"^\d+$").unwrap().is_match("١٢٣"));
        assert!(re(r"^[\w.]+$").unwrap().is_match("a_b.c") && !re(r"^[\w.]+$").unwrap().is_match("é"));
        assert!(re(r"^[^@\s]+@[^@\s]+$").unwrap().is_match("ada@example.com"));
        assert!(re(r"^\S+\s\S+$").unwrap().is_match("a\u{3000}b"));
        assert!(re(r"\bword\b").is_none() && re(r"[\D]").is_none() && re("a").is_some());
    }

    #[test]
    fn rejects_an_unknown_type() {
        let err = Spec::parse(r#"{"fields":[{"name":"x","type":"vector"}]}"#).unwrap_err();
        assert!(err.to_string().contains("invalid schema spec"), "{err}");
    }
}

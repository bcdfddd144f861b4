//! Whole documents (create, insertMany, replaceOne, findOneAndReplace): cast every path, drop or refuse
//! unknown ones per `strict`, fill in `_id`, defaults, timestamps and the version key, and validate, as
//! Mongoose does between `new Model(doc)` and the insert it sends.

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};

use super::cast::{apply_setters, as_number, cast_scalar, kind_name, only_mongoose_casts};
use super::js;
use super::spec::{DefaultValue, Field, Kind, Rule, Spec, Strict};
use super::{DocumentMode, FieldError};
use crate::error::Error;

/// Makes the auto `_id` of a new document or subdocument. The cast calls it in the order Mongoose's
/// `new Model(doc)` makes them, so that given the application's ObjectId maker the ids sort as
/// Mongoose's do: a document's own `_id` first (its default runs before setters), then its paths in
/// schema order, each subdocument's `_id` before its own subdocuments'.
pub type IdMaker<'a> = &'a mut dyn FnMut() -> ObjectId;

/// The state of one cast: the time defaults and timestamps use, the `_id` maker, and what failed so
/// far.
pub struct Context<'a> {
    pub now: DateTime,
    /// Whether absent paths get their defaults and are checked for `required` (not so in updates).
    pub whole: bool,
    pub errors: Vec<FieldError>,
    /// The first error Mongoose throws as soon as it meets it rather than collecting it with the
    /// others (StrictModeError, ObjectExpectedError, ObjectParameterError).
    pub thrown: Option<Error>,
    /// Whether empty objects are kept where Mongoose's new document holds them (nested objects it
    /// builds or is given, unknown and Mixed values as given), for a document whose `minimize` the
    /// caller applies before storing it; otherwise they are dropped as Mongoose drops them on a write.
    pub held: bool,
    ids: IdMaker<'a>,
}

impl<'a> Context<'a> {
    pub fn new(now: DateTime, whole: bool, ids: IdMaker<'a>) -> Self {
        Context { now, whole, errors: Vec::new(), thrown: None, held: false, ids }
    }

    /// A context for a part cast on its own (its errors kept apart), with this one's clock, ids and
    /// way with empty objects.
    fn part(&mut self, whole: bool) -> Context<'_> {
        let held = self.held;
        Context { held, ..Context::new(self.now, whole, &mut *self.ids) }
    }

    /// `value` as the document keeps it: whole when held, else minimized.
    fn keep(&self, value: Bson) -> Option<Bson> {
        if self.held {
            Some(value)
        } else {
            minimize(value)
        }
    }

    pub fn refuse_unknown(&mut self, path: String) {
        self.thrown.get_or_insert(Error::Strict { path });
    }

    pub fn cast_error(&mut self, path: &str, kind: String, value: &Bson) {
        self.errors.push(FieldError::cast(path, kind, value));
    }

    /// The outcome: the value, or the errors as Mongoose throws them. An update stops at its first
    /// failed cast (a CastError) before its validators run, as Mongoose's does.
    pub fn finish<T>(mut self, model: &str, value: T) -> Result<T, Error> {
        if let Some(thrown) = self.thrown {
            return Err(thrown);
        }
        if !self.whole {
            if let Some(i) = self.errors.iter().position(|e| e.cast) {
                return Err(Error::Cast { model: model.to_owned(), error: Box::new(self.errors.swap_remove(i)) });
            }
        }
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Error::Validation { model: model.to_owned(), errors: self.errors })
        }
    }
}

/// A whole document as Mongoose's `new Model(doc)` holds it once validated, in its key order: cast,
/// unknown paths dropped or refused per `strict`, `_id`s (made by `ids`), defaults, timestamps and
/// the version key filled in, and the empty objects it holds (nested objects built or given) kept:
/// the caller stores it minimized, as Mongoose's save does. Errors: Mongoose's ValidationError,
/// StrictModeError, ..., or `NotCastable` for what only Mongoose casts.
pub fn cast(spec: &Spec, doc: Document, mode: DocumentMode, now: DateTime, ids: IdMaker) -> Result<Document, Error> {
    if mode == DocumentMode::Replace && doc.keys().next().is_some_and(|k| k.starts_with('$')) {
        return Err(Error::InvalidArgument("a replacement document must not contain update operators".into()));
    }
    let mut ctx = Context { held: true, ..Context::new(now, true, ids) };
    let mut out = cast_subdocument(spec, doc, "", &mut ctx, mode == DocumentMode::Insert);
    // Mongoose's save sets the timestamps, then the version key, on the document it built.
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
        // A new document's version is 0, whatever the input gave (Model#$__version).
        out.insert(key.as_str(), 0);
    }
    ctx.finish(&spec.model, out)
}

/// A document under `spec`, with its auto `_id` when the schema gives one and `with_id` asks for it.
pub fn cast_subdocument(spec: &Spec, doc: Document, prefix: &str, ctx: &mut Context, with_id: bool) -> Document {
    let level = Level::Document { auto_id: with_id && spec.auto_id };
    cast_fields(&spec.fields, spec.strict, doc, prefix, ctx, level)
}

/// How the object a level of paths fills came to be, which decides the order of its keys. Mongoose
/// builds a new document in steps (Document constructor): empty nested objects for every nested
/// path (`$__buildDoc`), static defaults, the input's paths in schema order (`$set` with
/// `getKeysInSchemaOrder`), a reorder of the top-level keys by `schema.tree`, then function defaults
/// such as `Date.now`. A nested object the input sets is built afresh: its paths in schema order,
/// then every default under it, creating the objects on their way (`$applyDefaultsToNested`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A document or subdocument: schema order (its auto `_id` included where the schema has it),
    /// then unknown paths kept by `strict: false`, then `Date.now` defaults.
    Document { auto_id: bool },
    /// A nested object the input leaves out: its nested objects, then static defaults, then
    /// `Date.now` defaults.
    Skeleton,
    /// A nested object the input sets: its given paths in schema order, unknown ones, then every
    /// default.
    Given,
}

/// The paths of one level (a schema's, or a nested object's) from `doc`, cast and checked. An update
/// (`!ctx.whole`) keeps the input's order and fills in nothing.
fn cast_fields(
    fields: &[Field],
    strict: Strict,
    doc: Document,
    prefix: &str,
    ctx: &mut Context,
    level: Level,
) -> Document {
    // A new (sub)document's own `_id` is made before any of its paths is set.
    let mut auto_id = (level == (Level::Document { auto_id: true }) && !doc.contains_key("_id")).then(|| (ctx.ids)());
    // The input's paths: a new document's set in schema order, then unknown ones in the input's
    // order (Mongoose's `$set` of an object, getKeysInSchemaOrder); an update's in its own order.
    let mut entries: Vec<(Option<usize>, String, Bson)> =
        doc.into_iter().map(|(key, value)| (fields.iter().position(|f| f.name == key), key, value)).collect();
    if ctx.whole {
        entries.sort_by_key(|(slot, _, _)| slot.unwrap_or(usize::MAX));
    }
    let mut given: Vec<(Option<usize>, String, Bson)> = Vec::with_capacity(entries.len());
    let mut seen = vec![false; fields.len()];
    for (slot, key, value) in entries {
        match slot {
            Some(i) => {
                seen[i] = true;
                let field = &fields[i];
                let path = format!("{prefix}{key}");
                if level == Level::Given
                    && ctx.whole
                    && field.kind == Kind::Object
                    && !matches!(value, Bson::Document(_))
                {
                    // Inside a nested object the input sets, Mongoose sets each path on its own: null
                    // is kept (and replaced by the defaults under it, below), a primitive is a
                    // CastError 'Object' (Document#$set); falsy values and arrays take other turns
                    // there, left to Mongoose.
                    match value {
                        Bson::Null => given.push((Some(i), key, Bson::Null)),
                        v if is_falsy(&v) || matches!(v, Bson::Array(_)) => {
                            ctx.thrown.get_or_insert(Error::NotCastable(
                                "a falsy value or an array on a nested path inside a nested object",
                            ));
                        }
                        v => ctx.cast_error(&path, "Object".into(), &v),
                    }
                    continue;
                }
                if let Some(v) = cast_value(field, value, &path, ctx) {
                    check(field, Some(&v), &path, ctx);
                    given.push((Some(i), key, v));
                }
            }
            None => match strict {
                Strict::Drop => {}
                // Mongoose's `minimize` drops the empty objects of a new document's unknown paths too.
                Strict::Keep if ctx.whole => given.extend(ctx.keep(value).map(|v| (None, key, v))),
                Strict::Keep => given.push((None, key, value)),
                Strict::Throw => ctx.refuse_unknown(format!("{prefix}{key}")),
            },
        }
    }
    let mut out = Document::new();
    if !ctx.whole {
        out.extend(given.into_iter().map(|(_, key, value)| (key, value)));
        return out;
    }
    let path_of = |field: &Field| format!("{prefix}{}", field.name);
    // The paths the input left out: static defaults (and the auto `_id`) come before the input's
    // paths are set, `Date.now` ones after.
    let mut before: Vec<Option<Bson>> = vec![None; fields.len()];
    let mut after: Vec<Option<Bson>> = vec![None; fields.len()];
    for (i, field) in fields.iter().enumerate() {
        if seen[i] {
            continue;
        }
        let path = path_of(field);
        let (value, is_before) = match (&field.default, field.kind) {
            _ if level == (Level::Document { auto_id: true }) && field.name == "_id" => {
                (auto_id.take().map(Bson::ObjectId), true)
            }
            (Some(DefaultValue::Now(_)), _) => (Some(Bson::DateTime(ctx.now)), false),
            // An array of subdocuments wraps its default in a function of its own, which runs after
            // the input's paths are set (SchemaDocumentArray); other static defaults run before.
            (Some(DefaultValue::Value(v)), _) => (cast_value(field, v.clone(), &path, ctx), !is_document_array(field)),
            (None, Kind::Object) => {
                let inner = if level == Level::Given { Level::Given } else { Level::Skeleton };
                let nested = cast_fields(&field.fields, field.strict, Document::new(), &format!("{path}."), ctx, inner);
                // A document holds the empty objects it built for its nested paths (not those under a
                // nested object the input gives, which Mongoose does not build); `minimize` drops
                // them from what is stored.
                let built = ctx.held && inner == Level::Skeleton;
                ((built || !nested.is_empty()).then_some(Bson::Document(nested)), true)
            }
            (None, _) => (None, true),
        };
        if field.kind != Kind::Object {
            check(field, value.as_ref(), &path, ctx);
        }
        if is_before {
            before[i] = value
        } else {
            after[i] = value
        }
    }
    // In a nested object the input sets, a nested object it sets to null is made again by the
    // defaults under it (`cur[piece] || {}` in $applyDefaultsToNested), then validated.
    if level == Level::Given {
        for (slot, _, value) in given.iter_mut() {
            let Some(field) = slot.map(|i| &fields[i]).filter(|f| f.kind == Kind::Object && *value == Bson::Null)
            else {
                continue;
            };
            let path = path_of(field);
            let mut unchecked = ctx.part(true);
            let nested = cast_fields(
                &field.fields,
                field.strict,
                Document::new(),
                &format!("{path}."),
                &mut unchecked,
                Level::Given,
            );
            check_nested_required(field, Some(&nested), &path, ctx);
            if !nested.is_empty() {
                *value = Bson::Document(nested);
            }
        }
    }
    let put = |out: &mut Document, key: &str, value: Option<Bson>| {
        if let Some(v) = value {
            out.insert(key, v);
        }
    };
    match level {
        Level::Document { .. } => {
            let mut by_field: Vec<Option<Bson>> = vec![None; fields.len()];
            let mut unknown = Vec::new();
            for (slot, key, value) in given {
                match slot {
                    Some(i) => by_field[i] = Some(value),
                    None => unknown.push((key, value)),
                }
            }
            for (i, field) in fields.iter().enumerate() {
                put(&mut out, &field.name, by_field[i].take().or_else(|| before[i].take()));
            }
            out.extend(unknown);
            for (i, field) in fields.iter().enumerate() {
                put(&mut out, &field.name, after[i].take());
            }
        }
        Level::Skeleton => {
            for (i, field) in fields.iter().enumerate() {
                if field.kind == Kind::Object {
                    put(&mut out, &field.name, before[i].take());
                }
            }
            for (i, field) in fields.iter().enumerate() {
                put(&mut out, &field.name, before[i].take());
            }
            for (i, field) in fields.iter().enumerate() {
                put(&mut out, &field.name, after[i].take());
            }
        }
        Level::Given => {
            let (mut known, unknown): (Vec<_>, Vec<_>) = given.into_iter().partition(|(slot, _, _)| slot.is_some());
            known.sort_by_key(|(slot, _, _)| *slot);
            out.extend(known.into_iter().chain(unknown).map(|(_, key, value)| (key, value)));
            for (i, field) in fields.iter().enumerate() {
                put(&mut out, &field.name, before[i].take().or_else(|| after[i].take()));
            }
        }
    }
    out
}

/// Casts one value to its path's type. `None` leaves the path out: a cast error (recorded), an empty
/// object Mongoose's `minimize` drops, or a primitive set on a nested path, which Mongoose ignores.
pub fn cast_value(field: &Field, value: Bson, path: &str, ctx: &mut Context) -> Option<Bson> {
    if let Some(why) = only_mongoose_casts(field.kind, &value) {
        ctx.thrown = Some(Error::NotCastable(why));
        return None;
    }
    match field.kind {
        // Not castable here, whatever else failed: Mongoose's path casts the whole write.
        Kind::Opaque => {
            ctx.thrown = Some(Error::NotCastable("a value of a path only Mongoose casts"));
            None
        }
        Kind::Array => cast_array(field, value, path, ctx),
        Kind::Object => {
            let doc = match value {
                Bson::Document(doc) => doc,
                // An update sets anything else on a nested path as it is, as Mongoose's does, and
                // checks the nested paths it leaves without a value.
                other if !ctx.whole => {
                    check_nested_required(field, None, path, ctx);
                    return Some(other);
                }
                Bson::Null if field.strict != Strict::Throw => {
                    check_nested_required(field, None, path, ctx);
                    return Some(Bson::Null);
                }
                // Anything else on a nested path is refused under `strict: 'throw'`; a primitive is a
                // CastError under `strict: false`; the rest is ignored, though the nested paths are
                // still checked for `required`.
                other if field.strict == Strict::Throw => {
                    let value = match &other {
                        Bson::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    ctx.thrown.get_or_insert(Error::ObjectExpected { path: path.to_owned(), value });
                    return None;
                }
                // Mongoose sets an array's elements as the paths "0", "1", ... of the nested object,
                // which it keeps whatever `strict` says: left to it.
                Bson::Array(_) => {
                    ctx.thrown.get_or_insert(Error::NotCastable("an array on a nested path"));
                    return None;
                }
                other => {
                    if field.strict == Strict::Keep {
                        // Mongoose sets it: a truthy primitive fails as a CastError, and what else
                        // it does with falsy ones and objects such as dates is left to it.
                        let primitive = matches!(
                            other,
                            Bson::String(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Boolean(_)
                        );
                        if !primitive || is_falsy(&other) {
                            ctx.thrown.get_or_insert(Error::NotCastable(
                                "a falsy value or an object on a nested path under strict: false",
                            ));
                            return None;
                        }
                        ctx.cast_error(path, "Object".into(), &other);
                    }
                    check_nested_required(field, None, path, ctx);
                    return None;
                }
            };
            let out = cast_fields(&field.fields, field.strict, doc, &format!("{path}."), ctx, Level::Given);
            // An update's value keeps its empty objects: Mongoose minimizes the documents it saves only.
            (ctx.held || !ctx.whole || !out.is_empty()).then_some(Bson::Document(out))
        }
        Kind::Subdocument => match (as_object(value), &field.schema) {
            (Ok(doc), Some(schema)) => {
                let out = cast_whole_subdocument(schema, doc, &format!("{path}."), ctx);
                (ctx.held || !out.is_empty()).then_some(Bson::Document(out))
            }
            (Ok(doc), None) => Some(Bson::Document(doc)),
            (Err(Bson::Null), _) => Some(Bson::Null),
            // A document refuses an array here (a CastError); an update makes it an empty subdocument
            // with its defaults, which is left to Mongoose.
            (Err(Bson::Array(_)), _) if !ctx.whole => {
                ctx.thrown = Some(Error::NotCastable("an array set on a single subdocument path"));
                None
            }
            (Err(other), _) => {
                ctx.cast_error(path, "Embedded".into(), &other);
                None
            }
        },
        Kind::Map => match map_entries(value) {
            Ok(doc) => {
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
            Err(Bson::Null) => Some(Bson::Null),
            Err(other) => {
                ctx.cast_error(path, "Map".into(), &other);
                None
            }
        },
        // Mongoose minimizes documents it saves, not the values of an update.
        Kind::Mixed if ctx.whole => ctx.keep(value),
        Kind::Mixed => Some(value),
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
                // An array inside an array of subdocuments is an object too, to Mongoose: an empty one.
                let element = if matches!(element, Bson::Array(_)) { Bson::Document(Document::new()) } else { element };
                match as_object(element) {
                    Ok(doc) => {
                        out.push(Bson::Document(cast_whole_subdocument(schema, doc, &format!("{path}.{i}."), ctx)))
                    }
                    // Mongoose keeps null as it is.
                    Err(Bson::Null) => out.push(Bson::Null),
                    // Other falsy elements it keeps in the cast and refuses when it validates before
                    // writing (ObjectParameterError, kind undefined): its own error, from its path.
                    Err(falsy) if is_falsy(&falsy) => {
                        ctx.thrown = Some(Error::NotCastable("a falsy value in an array of subdocuments"));
                        return None;
                    }
                    Err(other) => {
                        ctx.cast_error(path, "embedded".into(), &other);
                        return None;
                    }
                }
            }
        }
        Kind::Array | Kind::Mixed | Kind::Object | Kind::Map | Kind::Opaque => {
            // Mongoose wraps an array of arrays given flat values its own way (`[1, 2]` becomes
            // `[[1, 2]]`), left to it.
            if item.kind == Kind::Array && items.iter().any(|e| !matches!(e, Bson::Array(_) | Bson::Null)) {
                ctx.thrown = Some(Error::NotCastable("a value that is not an array in an array of arrays"));
                return None;
            }
            for (i, element) in items.into_iter().enumerate() {
                let element_path = format!("{path}.{i}");
                let v = cast_value(item, element, &element_path, ctx)?;
                check(item, Some(&v), &element_path, ctx);
                out.push(v);
            }
        }
        kind => {
            let mut cast = Vec::with_capacity(items.len());
            if let Some(why) = items.iter().find_map(|element| only_mongoose_casts(kind, element)) {
                ctx.thrown = Some(Error::NotCastable(why));
                return None;
            }
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

fn is_document_array(field: &Field) -> bool {
    field.kind == Kind::Array && field.item.as_ref().is_some_and(|item| item.kind == Kind::Subdocument)
}

/// JS falsiness, which Mongoose's setters often test.
fn is_falsy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => !b,
        Bson::String(s) => s.is_empty(),
        Bson::Null | Bson::Undefined => true,
        other => as_number(other).is_some_and(|n| n == 0.0 || n.is_nan()),
    }
}

/// The `required` checks of a nested object's paths, for a value that gives them none (or only the
/// ones in `given`).
pub fn check_nested_required(field: &Field, given: Option<&Document>, path: &str, ctx: &mut Context) {
    for child in &field.fields {
        let child_path = format!("{path}.{}", child.name);
        let value = given.and_then(|d| d.get(&child.name));
        match (child.kind, value) {
            (Kind::Object, Some(Bson::Document(d))) => check_nested_required(child, Some(d), &child_path, ctx),
            (Kind::Object, _) => check_nested_required(child, None, &child_path, ctx),
            (_, Some(_)) => {}
            (_, None) => {
                if let Some(c) = child.checks.iter().find(|c| matches!(c.rule, Rule::Required)) {
                    ctx.errors.push(FieldError::validator(&child_path, "required", None, c.id));
                }
            }
        }
    }
}

/// A subdocument given whole (created, set or pushed) is a new document: it gets its `_id`, defaults
/// and required checks even inside an update.
pub fn cast_whole_subdocument(schema: &Spec, doc: Document, prefix: &str, ctx: &mut Context) -> Document {
    if ctx.whole {
        return cast_subdocument(schema, doc, prefix, ctx, true);
    }
    let mut whole = ctx.part(true);
    let out = cast_subdocument(schema, doc, prefix, &mut whole, true);
    let Context { mut errors, thrown, .. } = whole;
    ctx.errors.append(&mut errors);
    if ctx.thrown.is_none() {
        ctx.thrown = thrown;
    }
    out
}

/// What a map can be made from: a document, an empty string (an empty map, to Mongoose), or an array
/// of `[key, value]` entries, as `new Map(entries)` takes.
fn map_entries(value: Bson) -> Result<Document, Bson> {
    match value {
        Bson::Document(doc) => Ok(doc),
        Bson::String(s) if s.is_empty() => Ok(Document::new()),
        Bson::Array(entries) => {
            let mut doc = Document::new();
            for entry in &entries {
                match entry {
                    // `[key]` alone is a key whose value is undefined, which is not stored.
                    Bson::Array(pair) if matches!(pair.len(), 1 | 2) => match (&pair[0], pair.get(1)) {
                        (Bson::String(key), Some(value)) => {
                            doc.insert(key.clone(), value.clone());
                        }
                        (Bson::String(_), None) => {}
                        _ => return Err(Bson::Array(entries)),
                    },
                    _ => return Err(Bson::Array(entries)),
                }
            }
            Ok(doc)
        }
        other => Err(other),
    }
}

/// A value a subdocument can be made from: a document, or a JS object with no plain fields of its own
/// (an ObjectId, a Date, a Buffer), which Mongoose turns into an empty subdocument.
pub fn as_object(value: Bson) -> Result<Document, Bson> {
    match value {
        Bson::Document(doc) => Ok(doc),
        Bson::ObjectId(_) | Bson::DateTime(_) | Bson::Binary(_) | Bson::Decimal128(_) => Ok(Document::new()),
        other => Err(other),
    }
}

/// What Mongoose's save stores of `held`, a document as [`cast`] gives it (as Mongoose's new document
/// holds it): `minimize`d, its empty nested objects, unknown and Mixed values dropped at any depth and
/// so are empty subdocuments and map entries, while an array's elements and a map stay.
pub fn stored(spec: &Spec, held: &Document) -> Document {
    stored_fields(&spec.fields, held).unwrap_or_default()
}

/// The paths of one level as stored; None when nothing is left.
fn stored_fields(fields: &[Field], doc: &Document) -> Option<Document> {
    let mut out = Document::new();
    for (key, value) in doc {
        let kept = match fields.iter().find(|f| f.name == *key) {
            Some(field) => stored_value(field, value),
            None => minimize(value.clone()),
        };
        if let Some(v) = kept {
            out.insert(key.clone(), v);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn stored_value(field: &Field, value: &Bson) -> Option<Bson> {
    match (field.kind, value) {
        (Kind::Object, Bson::Document(d)) => stored_fields(&field.fields, d).map(Bson::Document),
        (Kind::Subdocument, Bson::Document(d)) => match &field.schema {
            Some(schema) => stored_fields(&schema.fields, d).map(Bson::Document),
            None => Some(value.clone()),
        },
        (Kind::Mixed, v) => minimize(v.clone()),
        (Kind::Array, Bson::Array(items)) => match &field.item {
            Some(item) => Some(Bson::Array(items.iter().map(|e| stored_element(item, e)).collect())),
            None => Some(value.clone()),
        },
        (Kind::Map, Bson::Document(d)) => match &field.item {
            Some(item) => Some(Bson::Document(
                d.iter().filter_map(|(k, v)| stored_value(item, v).map(|v| (k.clone(), v))).collect(),
            )),
            None => Some(value.clone()),
        },
        _ => Some(value.clone()),
    }
}

/// An array's element as stored: the element stays, even empty; what is inside it is minimized.
fn stored_element(item: &Field, element: &Bson) -> Bson {
    match (item.kind, element) {
        (Kind::Array, Bson::Array(items)) => match &item.item {
            Some(inner) => Bson::Array(items.iter().map(|e| stored_element(inner, e)).collect()),
            None => element.clone(),
        },
        (Kind::Subdocument | Kind::Object | Kind::Mixed | Kind::Map, Bson::Document(_)) => {
            stored_value(item, element).unwrap_or_else(|| Bson::Document(Document::new()))
        }
        _ => element.clone(),
    }
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
                // An empty buffer is missing in a document, though not in an update's validators.
                Bson::Binary(b) => !b.bytes.is_empty() || !ctx.whole,
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
            ctx.errors.push(FieldError::validator(path, kind, value, c.id));
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
        let out = cast(&s, input, DocumentMode::Insert, now, &mut ObjectId::new).unwrap();
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
    fn a_document_holds_the_nested_objects_mongoose_builds() {
        let s = spec(
            r#"{"autoId":false,"fields":[
            {"name":"name","type":"string"},
            {"name":"t","type":"object","fields":[{"name":"a","type":"string"}]},
            {"name":"n","type":"object","fields":[
                {"name":"a","type":"string"},
                {"name":"deep","type":"object","fields":[{"name":"b","type":"string"}]}]}]}"#,
        );
        let cast = |d: Document| cast(&s, d, DocumentMode::Insert, DateTime::now(), &mut ObjectId::new).unwrap();
        // Nested objects the input leaves out are built empty, in schema order, nested in nested too.
        assert_eq!(cast(doc! { "name": "x" }), doc! { "name": "x", "t": {}, "n": { "deep": {} } });
        // A primitive on a nested path is ignored, with its object; under a nested object the input
        // gives, Mongoose builds no others.
        assert_eq!(cast(doc! { "t": "str", "n": { "a": "q" }, "name": "x" }), doc! { "name": "x", "n": { "a": "q" } });
    }

    #[test]
    fn ids_are_made_in_the_order_of_a_mongoose_document() {
        let s = spec(
            r#"{"autoId":true,"fields":[
            {"name":"_id","type":"objectId"},
            {"name":"subs","type":"array","item":{"name":"","type":"subdocument","schema":{"autoId":true,"fields":[
                {"name":"_id","type":"objectId"},
                {"name":"inner","type":"subdocument","schema":{"autoId":true,"fields":[{"name":"_id","type":"objectId"}]}}]}}},
            {"name":"one","type":"subdocument","schema":{"autoId":true,"fields":[{"name":"_id","type":"objectId"}]}}]}"#,
        );
        let mut made = 0u8;
        let mut ids = || {
            made += 1;
            ObjectId::from_bytes([made; 12])
        };
        // Given out of schema order, with one id given: the document's id first, then each
        // subdocument's before those inside it, in schema order.
        let given = ObjectId::from_bytes([0; 12]);
        let input = doc! { "one": {}, "subs": [{ "inner": {} }, { "_id": given, "inner": {} }] };
        let out = cast(&s, input, DocumentMode::Insert, DateTime::now(), &mut ids).unwrap();
        let id = |n: u8| Bson::ObjectId(ObjectId::from_bytes([n; 12]));
        assert_eq!(out.get("_id"), Some(&id(1)));
        assert_eq!(
            out.get("subs"),
            Some(&Bson::from(vec![
                Bson::from(doc! { "_id": id(2), "inner": { "_id": id(3) } }),
                Bson::from(doc! { "_id": given, "inner": { "_id": id(4) } }),
            ]))
        );
        assert_eq!(out.get_document("one").unwrap(), &doc! { "_id": id(5) });
        assert_eq!(made, 5);
    }

    #[test]
    fn keys_come_in_the_order_of_a_mongoose_document() {
        let s = spec(
            r#"{"autoId":true,"strict":"keep","versionKey":"__v","fields":[
            {"name":"a","type":"string"},
            {"name":"at","type":"date","default":{"now":true}},
            {"name":"n","type":"object","fields":[
                {"name":"x","type":"string"},
                {"name":"d","type":"object","fields":[{"name":"k","type":"string","default":{"value":"k"}}]},
                {"name":"y","type":"string","default":{"value":"y"}}]},
            {"name":"tags","type":"array","default":{"value":[]},"item":{"name":"","type":"string"}},
            {"name":"subs","type":"array","default":{"value":[]},"item":{"name":"","type":"subdocument","schema":{"autoId":true,"fields":[
                {"name":"p","type":"string"},{"name":"q","type":"number","default":{"value":1}},{"name":"_id","type":"objectId"}]}}},
            {"name":"b","type":"string","default":{"value":"b"}},
            {"name":"_id","type":"objectId"}]}"#,
        );
        let keys = |d: &Document| d.keys().cloned().collect::<Vec<_>>();
        let now = DateTime::from_millis(7);
        // Static defaults and the input's paths in schema order, then unknown paths, then `Date.now`
        // defaults and arrays of subdocuments, then the version key; a subdocument's `_id` where its
        // schema has it.
        let out = cast(
            &s,
            doc! { "extra": 1, "b": "B", "subs": [{ "q": 2, "p": "p" }] },
            DocumentMode::Insert,
            now,
            &mut ObjectId::new,
        )
        .unwrap();
        assert_eq!(keys(&out), ["n", "tags", "subs", "b", "_id", "extra", "at", "__v"]);
        assert_eq!(out.get_document("n").unwrap(), &doc! { "d": { "k": "k" }, "y": "y" });
        assert_eq!(keys(&out.get_array("subs").unwrap()[0].as_document().unwrap().clone()), ["p", "q", "_id"]);
        let out = cast(&s, doc! { "a": "A" }, DocumentMode::Insert, now, &mut ObjectId::new).unwrap();
        assert_eq!(keys(&out), ["a", "n", "tags", "b", "_id", "at", "subs", "__v"]);
        // A nested object the input sets: its paths in schema order, then the defaults under it.
        let out =
            cast(&s, doc! { "n": { "y": "Y", "x": "X" } }, DocumentMode::Insert, now, &mut ObjectId::new).unwrap();
        assert_eq!(out.get_document("n").unwrap(), &doc! { "x": "X", "y": "Y", "d": { "k": "k" } });
        let out = cast(&s, doc! { "n": { "d": null } }, DocumentMode::Insert, now, &mut ObjectId::new).unwrap();
        assert_eq!(out.get_document("n").unwrap(), &doc! { "d": { "k": "k" }, "y": "y" });
    }

    #[test]
    fn reports_every_failing_path() {
        let s = spec(USER);
        let input = doc! { "name": "A", "age": 5, "role": "root", "pets": [{}, { "kind": "dog" }] };
        let errs = errors(cast(&s, input, DocumentMode::Insert, DateTime::now(), &mut ObjectId::new));
        let expected = [
            ("name", "minlength"),
            ("age", "min"),
            ("role", "enum"),
            ("pets.0.kind", "required"),
            ("address.city", "required"),
        ];
        assert_eq!(errs, expected.map(|(p, k)| (p.to_owned(), k.to_owned())));
        let errs = errors(cast(
            &s,
            doc! { "age": "abc", "tags": [[1]] },
            DocumentMode::Insert,
            DateTime::now(),
            &mut ObjectId::new,
        ));
        assert!(errs.contains(&("age".into(), "Number".into())));
        assert!(errs.contains(&("tags.0".into(), "[string]".into())));
        assert!(errs.contains(&("name".into(), "required".into())));
    }

    #[test]
    fn strict_throw_refuses_unknown_paths() {
        let s = spec(r#"{"strict":"throw","fields":[{"name":"a","type":"number"}]}"#);
        let err =
            cast(&s, doc! { "a": 1, "b": 2 }, DocumentMode::Insert, DateTime::now(), &mut ObjectId::new).unwrap_err();
        assert!(matches!(err, Error::Strict { path } if path == "b"));
        let s = spec(r#"{"strict":"throw","fields":[{"name":"n","type":"object","strict":"throw","fields":[]}]}"#);
        let err = cast(&s, doc! { "n": 5 }, DocumentMode::Insert, DateTime::now(), &mut ObjectId::new).unwrap_err();
        assert!(matches!(err, Error::ObjectExpected { path, .. } if path == "n"));
        let s = spec(r#"{"strict":"keep","fields":[{"name":"a","type":"number"}]}"#);
        assert_eq!(
            cast(&s, doc! { "b": 2 }, DocumentMode::Insert, DateTime::now(), &mut ObjectId::new).unwrap(),
            doc! { "b": 2 }
        );
    }

    #[test]
    fn a_replacement_keeps_its_id_and_version_and_gets_updated_at() {
        let s = spec(USER);
        let now = DateTime::from_millis(5);
        let out =
            cast(&s, doc! { "name": "Bo", "address": { "city": "Y" } }, DocumentMode::Replace, now, &mut ObjectId::new)
                .unwrap();
        assert!(!out.contains_key("_id") && !out.contains_key("__v") && !out.contains_key("createdAt"));
        assert_eq!(out.get_datetime("updatedAt").unwrap(), &now);
    }
}

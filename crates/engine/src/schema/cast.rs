//! Casting one value to a schema type, by Mongoose's rules (`mongoose/lib/cast/*.js`). Values arrive as
//! the BSON that js-bson made of the caller's JS values: a JS number is an int32 or a double, a bigint
//! or Long an int64, a Buffer a binary.

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Decimal128};

use super::js;
use super::spec::Kind;

/// A JS number as js-bson writes it: an int32 when it is a whole number in range, else a double.
fn js_number(n: f64) -> Bson {
    if n.fract() == 0.0 && n >= i32::MIN as f64 && n <= i32::MAX as f64 && !(n == 0.0 && n.is_sign_negative()) {
        Bson::Int32(n as i32)
    } else {
        Bson::Double(n)
    }
}

/// The JS number a BSON value holds, if it is one.
pub fn as_number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        Bson::Int64(n) => Some(*n as f64),
        _ => None,
    }
}

/// The name Mongoose gives each type in a CastError's `kind`.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "string",
        Kind::Number => "Number",
        Kind::Boolean => "Boolean",
        Kind::Date => "date",
        Kind::ObjectId => "ObjectId",
        Kind::Buffer => "Buffer",
        Kind::Decimal128 => "Decimal128",
        Kind::BigInt => "BigInt",
        Kind::Map => "Map",
        Kind::Subdocument => "Embedded",
        Kind::Mixed | Kind::Array | Kind::Object | Kind::Opaque => "Mixed",
    }
}

/// Casts a scalar to `kind`; `None` is a CastError. Null stays null. Containers are cast by the caller.
pub fn cast_scalar(kind: Kind, v: &Bson) -> Option<Bson> {
    if matches!(v, Bson::Null | Bson::Undefined) {
        return Some(Bson::Null);
    }
    match kind {
        Kind::String => to_string(v).map(Bson::String),
        Kind::Number => to_number(v),
        Kind::Boolean => to_boolean(v).map(Bson::Boolean),
        Kind::Date => to_date(v),
        Kind::ObjectId => to_object_id(v).map(Bson::ObjectId),
        Kind::Buffer => to_buffer(v),
        Kind::Decimal128 => to_decimal(v).map(Bson::Decimal128),
        Kind::BigInt => to_bigint(v),
        Kind::Mixed | Kind::Map | Kind::Array | Kind::Object | Kind::Subdocument => Some(v.clone()),
        // Only Mongoose casts these; callers refuse them before casting.
        Kind::Opaque => None,
    }
}

fn to_string(v: &Bson) -> Option<String> {
    Some(match v {
        Bson::String(s) => s.clone(),
        Bson::Int32(_) | Bson::Double(_) => js::number_to_string(as_number(v)?),
        Bson::Int64(n) => n.to_string(),
        Bson::Boolean(b) => b.to_string(),
        Bson::ObjectId(oid) => oid.to_hex(),
        Bson::Decimal128(d) => d.to_string(),
        Bson::Binary(b) => String::from_utf8_lossy(&b.bytes).into_owned(),
        Bson::RegularExpression(re) => format!("/{}/{}", re.pattern, re.options),
        Bson::DateTime(d) => js::date_to_string(d.timestamp_millis())?,
        // `{ _id: 'x' }` casts to 'x', as a populated document would.
        Bson::Document(d) => match d.get("_id") {
            Some(Bson::String(s)) => s.clone(),
            _ => return None,
        },
        _ => return None,
    })
}

fn to_number(v: &Bson) -> Option<Bson> {
    let n = match v {
        Bson::Int32(_) | Bson::Double(_) => {
            return if as_number(v)?.is_nan() { None } else { Some(v.clone()) };
        }
        Bson::String(s) if s.is_empty() => return Some(Bson::Null),
        Bson::String(s) => js::string_to_number(s)?,
        Bson::Boolean(b) => *b as i32 as f64,
        // An int64 is a JS bigint, which Mongoose does not cast to a number (nor to a date).
        Bson::DateTime(d) => d.timestamp_millis() as f64,
        Bson::Decimal128(d) => js::string_to_number(&d.to_string())?,
        Bson::ObjectId(oid) => js::string_to_number(&oid.to_hex())?,
        _ => return None,
    };
    Some(js_number(n))
}

fn to_boolean(v: &Bson) -> Option<bool> {
    match v {
        Bson::Boolean(b) => Some(*b),
        Bson::Int32(_) | Bson::Double(_) => {
            let n = as_number(v)?;
            if n == 1.0 {
                Some(true)
            } else if n == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        Bson::String(s) => match s.as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_date(v: &Bson) -> Option<Bson> {
    let ms = match v {
        Bson::DateTime(d) => return js::time_clip(d.timestamp_millis() as f64).map(|_| v.clone()),
        Bson::String(s) if s.is_empty() => return Some(Bson::Null),
        // Mongoose reads a numeric string as a timestamp only outside the years JS parses as a year.
        Bson::String(s) => match js::string_to_number(s) {
            Some(n) if !(-271_820.0..275_761.0).contains(&n) => js::time_clip(n)?,
            _ => parse_date_string(s)?,
        },
        Bson::Int32(_) | Bson::Double(_) => js::time_clip(as_number(v)?)?,
        // `new Date(x)` reads other objects by their string: an array's is its elements joined by commas.
        Bson::Array(_) | Bson::Decimal128(_) => parse_date_string(&to_js_string(v))?,
        _ => return None,
    };
    Some(Bson::DateTime(DateTime::from_millis(ms)))
}

/// Why casting `v` to `kind` is Mongoose's alone: what JS makes of it depends on what the BSON value
/// does not carry. A date string JS reads as local time (a date-time without an offset, `'2020/01/02'`,
/// `'0'`), a date printed as a string, both by the process's time zone; bytes cast to a string, which
/// a Buffer gives as its text and a Uint8Array as its numbers.
pub fn only_mongoose_casts(kind: Kind, v: &Bson) -> Option<&'static str> {
    let local = |s: &str| match js::parse_date(s) {
        Some(_) => s.split_once('T').is_some_and(|(_, time)| !time.ends_with('Z') && !time.contains(['+', '-'])),
        None => {
            js::string_to_number(s).is_none_or(|n| (-271_820.0..275_761.0).contains(&n))
                && js::parse_legacy_date(s).is_some()
        }
    };
    match (kind, v) {
        (Kind::Date, Bson::String(s)) if local(s) => Some("a date string read in the local time zone"),
        (Kind::Date, Bson::Array(_) | Bson::Decimal128(_)) if local(&to_js_string(v)) => {
            Some("a date string read in the local time zone")
        }
        (Kind::String, Bson::DateTime(_)) => Some("a date printed in the local time zone"),
        // Mongoose reads a Buffer as a string (`Number(buffer)`, `String(buffer)`) or as an object of
        // its bytes (a subdocument, a nested path, a map).
        (kind, Bson::Binary(_)) if !matches!(kind, Kind::Buffer | Kind::Mixed) => {
            Some("bytes in a path that is not a Buffer")
        }
        _ => None,
    }
}

fn parse_date_string(s: &str) -> Option<i64> {
    js::parse_date(s).or_else(|| js::parse_legacy_date(s))
}

/// `String(x)` for the values an array holds, as `Array.prototype.join` writes them.
fn to_js_string(v: &Bson) -> String {
    match v {
        Bson::Null | Bson::Undefined => String::new(),
        Bson::Array(items) => items.iter().map(to_js_string).collect::<Vec<_>>().join(","),
        Bson::Document(_) => "[object Object]".into(),
        other => to_string(other).unwrap_or_default(),
    }
}

fn to_object_id(v: &Bson) -> Option<ObjectId> {
    match v {
        Bson::ObjectId(oid) => Some(*oid),
        Bson::String(s) if s.len() == 24 => ObjectId::parse_str(s).ok(),
        // A populated document stands for its `_id`.
        Bson::Document(d) => match d.get("_id")? {
            Bson::ObjectId(oid) => Some(*oid),
            Bson::String(s) if s.len() == 24 => ObjectId::parse_str(s).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// `Buffer.from([n])`'s conversion of one element to a byte.
fn to_byte(v: &Bson) -> u8 {
    let n = match v {
        Bson::String(s) => js::string_to_number(s).unwrap_or(f64::NAN),
        Bson::Boolean(b) => *b as u8 as f64,
        // An array reads as a number through its string: `[]` is 0, `[7]` is 7.
        Bson::Array(_) => js::string_to_number(&to_js_string(v)).unwrap_or(f64::NAN),
        other => as_number(other).unwrap_or(f64::NAN),
    };
    if n.is_finite() {
        n.trunc().rem_euclid(256.0) as u8
    } else {
        0
    }
}

fn binary(bytes: Vec<u8>) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes })
}

fn to_buffer(v: &Bson) -> Option<Bson> {
    Some(match v {
        Bson::Binary(_) => v.clone(),
        Bson::String(s) => binary(s.as_bytes().to_vec()),
        Bson::Int32(_) | Bson::Double(_) => binary(vec![to_byte(v)]),
        Bson::Array(items) => binary(items.iter().map(to_byte).collect()),
        // A Buffer that went through JSON.
        Bson::Document(d) if matches!(d.get_str("type"), Ok("Buffer")) => match d.get("data")? {
            Bson::Array(items) => binary(items.iter().map(to_byte).collect()),
            _ => return None,
        },
        _ => return None,
    })
}

fn to_decimal(v: &Bson) -> Option<Decimal128> {
    match v {
        Bson::Decimal128(d) => Some(*d),
        Bson::String(s) if s.is_empty() => None,
        Bson::String(s) => s.parse().ok(),
        Bson::Int32(_) | Bson::Double(_) => js::number_to_string(as_number(v)?).parse().ok(),
        Bson::Document(d) => d.get_str("$numberDecimal").ok()?.parse().ok(),
        Bson::Binary(b) => Some(Decimal128::from_bytes(b.bytes.as_slice().try_into().ok()?)),
        _ => None,
    }
}

fn to_bigint(v: &Bson) -> Option<Bson> {
    Some(Bson::Int64(match v {
        Bson::Int64(n) => *n,
        Bson::Int32(n) => *n as i64,
        Bson::Double(n) if n.fract() == 0.0 && n.abs() < 9.3e18 => i64::try_from(*n as i128).ok()?,
        Bson::String(s) if s.is_empty() => return Some(Bson::Null),
        Bson::String(s) => js::string_to_bigint(s)?,
        _ => return None,
    }))
}

/// String setters, in Mongoose's order: trim, then case.
pub fn apply_setters(v: Bson, trim: bool, lowercase: bool, uppercase: bool) -> Bson {
    match v {
        Bson::String(s) if trim || lowercase || uppercase => {
            let mut s = if trim { js::trim(&s).to_owned() } else { s };
            if lowercase {
                s = s.to_lowercase();
            }
            if uppercase {
                s = s.to_uppercase();
            }
            Bson::String(s)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn cast(kind: Kind, v: Bson) -> Option<Bson> {
        cast_scalar(kind, &v)
    }

    #[test]
    fn what_depends_on_the_time_zone_or_the_bytes_class_is_mongooses() {
        let local = [
            "2020-01-01T00:00:00",
            "2020-01-01T10:20",
            "2020/01/01",
            "01/02/2020",
            "2020-1-1",
            " 2020-01-01 ",
            "0",
            "-1",
        ];
        for s in local {
            assert!(only_mongoose_casts(Kind::Date, &s.into()).is_some(), "{s}");
        }
        let fixed = [
            "2020-01-01",
            "2020",
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00.5+02:00",
            "1600000000000",
            "garbage",
            "",
        ];
        for s in fixed {
            assert!(only_mongoose_casts(Kind::Date, &s.into()).is_none(), "{s}");
        }
        assert!(only_mongoose_casts(Kind::String, &Bson::DateTime(bson::DateTime::from_millis(0))).is_some());
        let bytes = Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: b"ann".to_vec() });
        for kind in [Kind::String, Kind::Number, Kind::ObjectId, Kind::Map, Kind::Object, Kind::Subdocument] {
            assert!(only_mongoose_casts(kind, &bytes).is_some(), "{kind:?}");
        }
        assert!(only_mongoose_casts(Kind::Mixed, &bytes).is_none());
        assert!(only_mongoose_casts(Kind::Buffer, &bytes).is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(cast(Kind::Number, "42".into()), Some(Bson::Int32(42)));
        assert_eq!(cast(Kind::Number, "4.5".into()), Some(Bson::Double(4.5)));
        assert_eq!(cast(Kind::Number, "".into()), Some(Bson::Null));
        assert_eq!(cast(Kind::Number, true.into()), Some(Bson::Int32(1)));
        assert_eq!(cast(Kind::Number, "abc".into()), None);
        assert_eq!(cast(Kind::Number, Bson::Double(f64::NAN)), None);
        assert_eq!(cast(Kind::Number, Bson::Array(vec![])), None);
        assert_eq!(cast(Kind::Number, "3000000000".into()), Some(Bson::Double(3e9)));
    }

    #[test]
    fn strings_booleans_and_ids() {
        assert_eq!(cast(Kind::String, Bson::Double(1.5)), Some("1.5".into()));
        assert_eq!(cast(Kind::String, doc! {}.into()), None);
        assert_eq!(cast(Kind::Boolean, "yes".into()), Some(true.into()));
        assert_eq!(cast(Kind::Boolean, Bson::Int32(0)), Some(false.into()));
        assert_eq!(cast(Kind::Boolean, "maybe".into()), None);
        let oid = ObjectId::new();
        assert_eq!(cast(Kind::ObjectId, oid.to_hex().into()), Some(oid.into()));
        assert_eq!(cast(Kind::ObjectId, doc! { "_id": oid }.into()), Some(oid.into()));
        assert_eq!(cast(Kind::ObjectId, "xyz".into()), None);
        assert_eq!(cast(Kind::ObjectId, Bson::Int32(5)), None);
    }

    #[test]
    fn dates_buffers_decimals_bigints() {
        assert_eq!(cast(Kind::Date, "1970-01-02".into()), Some(Bson::DateTime(DateTime::from_millis(86_400_000))));
        assert_eq!(cast(Kind::Date, Bson::Int32(5)), Some(Bson::DateTime(DateTime::from_millis(5))));
        assert_eq!(cast(Kind::Date, "300000".into()), Some(Bson::DateTime(DateTime::from_millis(300_000))));
        assert_eq!(cast(Kind::Date, true.into()), None);
        assert_eq!(cast(Kind::Buffer, Bson::Int32(300)), Some(binary(vec![44])));
        assert_eq!(cast(Kind::Buffer, "hi".into()), Some(binary(b"hi".to_vec())));
        assert_eq!(cast(Kind::Decimal128, "1.5".into()).map(|d| d.to_string()), Some("1.5".into()));
        assert_eq!(cast(Kind::Decimal128, true.into()), None);
        assert_eq!(cast(Kind::BigInt, "12".into()), Some(Bson::Int64(12)));
        assert_eq!(cast(Kind::BigInt, Bson::Double(1.5)), None);
        assert_eq!(cast(Kind::BigInt, "99999999999999999999".into()), None);
    }

    #[test]
    fn setters() {
        assert_eq!(apply_setters("  Ab ".into(), true, true, false), Bson::from("ab"));
        assert_eq!(apply_setters(Bson::Int32(1), true, true, true), Bson::Int32(1));
    }
}

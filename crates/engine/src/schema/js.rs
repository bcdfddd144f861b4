//! The few JavaScript conversions Mongoose's casts rely on (`String(n)`, `Number(s)`, `BigInt(s)`,
//! `new Date(s)`, `s.trim()`, `s.length`), so that Rust casts a value exactly as Mongoose would.

/// JS's whitespace and line terminators, which `trim()` and `Number()` strip.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{A}' | '\u{B}' | '\u{C}' | '\u{D}' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

pub fn trim(s: &str) -> &str {
    s.trim_matches(is_js_space)
}

/// `s.length`: UTF-16 code units.
pub fn length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `String(n)` for a JS number.
pub fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let abs = n.abs();
    if (1e-6..1e21).contains(&abs) {
        // Rust's shortest round-trip digits are the same digits JS prints.
        return format!("{n}");
    }
    let exp = format!("{n:e}");
    match exp.split_once('e') {
        Some((mantissa, power)) if !power.starts_with('-') => format!("{mantissa}e+{power}"),
        _ => exp,
    }
}

/// `Number(s)`: `None` where JS gives NaN.
pub fn string_to_number(s: &str) -> Option<f64> {
    let t = trim(s);
    if t.is_empty() {
        return Some(0.0);
    }
    let radix = |prefix: &[&str], radix| {
        prefix.iter().find_map(|p| t.strip_prefix(p)).map(|digits| {
            if digits.is_empty() {
                return None;
            }
            digits.chars().try_fold(0f64, |acc, c| c.to_digit(radix).map(|d| acc * radix as f64 + d as f64))
        })
    };
    if let Some(n) = radix(&["0x", "0X"], 16).or_else(|| radix(&["0o", "0O"], 8)).or_else(|| radix(&["0b", "0B"], 2)) {
        return n;
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return Some(if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    // Rust would also take "inf", "NaN" and "1_0"-free forms JS refuses; allow only a decimal literal.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let digits_ok = {
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        (!int.is_empty() || !frac.is_empty())
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !digits_ok || !exponent_ok {
        return None;
    }
    t.parse().ok()
}

/// `BigInt(s)` within the range of a BSON long.
pub fn string_to_bigint(s: &str) -> Option<i64> {
    let t = trim(s);
    if t.is_empty() {
        return Some(0);
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return if digits.starts_with(['+', '-']) { None } else { i64::from_str_radix(digits, radix).ok() };
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// The largest time JS dates can hold, in ms either side of the epoch.
const MAX_TIME: f64 = 8.64e15;

/// `new Date(n)`: TimeClip, or `None` for an invalid date.
pub fn time_clip(n: f64) -> Option<i64> {
    if !n.is_finite() || n.abs() > MAX_TIME {
        return None;
    }
    Some(n.trunc() as i64)
}

/// `new Date(s)` for the date-time format ECMAScript defines (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// optionally `THH:mm`, `:ss`, `.sss` and `Z` or `±HH:mm`; years as `±YYYYYY` too). A time without an
/// offset is read as UTC; JS reads it as local time. Other strings V8 happens to parse are refused.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, n: usize| -> Option<i64> {
        let part = b.get(*i..*i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *i += n;
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = match b.first()? {
        b'+' | b'-' => {
            i = 1;
            let y = num(&mut i, 6)?;
            if b[0] == b'-' {
                if y == 0 {
                    return None;
                }
                -y
            } else {
                y
            }
        }
        _ => num(&mut i, 4)?,
    };
    let (mut month, mut day) = (1, 1);
    if b.get(i) == Some(&b'-') {
        i += 1;
        month = num(&mut i, 2)?;
        if b.get(i) == Some(&b'-') {
            i += 1;
            day = num(&mut i, 2)?;
        }
    }
    let (mut hour, mut minute, mut second, mut millis, mut offset) = (0, 0, 0, 0, 0);
    if b.get(i) == Some(&b'T') {
        i += 1;
        hour = num(&mut i, 2)?;
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        minute = num(&mut i, 2)?;
        if b.get(i) == Some(&b':') {
            i += 1;
            second = num(&mut i, 2)?;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let frac = std::str::from_utf8(&b[start..i]).ok()?;
                if frac.is_empty() {
                    return None;
                }
                millis = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
            }
        }
        match b.get(i) {
            Some(b'Z') => i += 1,
            Some(&sign @ (b'+' | b'-')) => {
                i += 1;
                let h = num(&mut i, 2)?;
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i += 1;
                let m = num(&mut i, 2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                offset = (h * 60 + m) * if sign == b'+' { 1 } else { -1 };
            }
            _ => {}
        }
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = i == b.len()
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month[(month - 1) as usize]
        && (hour < 24 || (hour == 24 && minute == 0 && second == 0 && millis == 0))
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let ms = ((days * 24 + hour) * 60 + minute - offset) as f64 * 60_000.0 + (second * 1000 + millis) as f64;
    time_clip(ms)
}

/// What V8's `new Date(s)` makes of the strings outside the ISO format that are numbers and
/// separators only: `'7'` (July 2001), `'42'` (2042), `'2.25'` (25 February 2001), `'1,2,300'`,
/// `'2020/01/02'`. Read as UTC; V8 reads them as local time. Month names and times are refused.
pub fn parse_legacy_date(s: &str) -> Option<i64> {
    let t = trim(s);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'.' | b',' | b'/' | b'-')) {
        return None;
    }
    let parts: Vec<&str> = t.split([' ', '.', ',', '/', '-']).filter(|p| !p.is_empty()).collect();
    let numbers: Vec<i64> = parts.iter().map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let two_digit_year = |y: i64, digits: usize| match (digits <= 2, y) {
        (true, 0..=49) => 2000 + y,
        (true, 50..=99) => 1900 + y,
        _ => y,
    };
    let (year, month, day) = match numbers.as_slice() {
        [n] if (1..=12).contains(n) => (2001, *n, 1),
        [n] if *n == 0 || *n > 31 => (two_digit_year(*n, parts[0].len()), 1, 1),
        [y, m, rest @ ..] if parts[0].len() >= 3 || *y > 31 => {
            (two_digit_year(*y, parts[0].len()), *m, *rest.first().unwrap_or(&1))
        }
        [m, d] => (2001, *m, *d),
        [m, d, y] => (two_digit_year(*y, parts[2].len()), *m, *d),
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    // Beyond ±275,760 years is outside a JS date (`time_clip`), and the day count would overflow.
    if year.abs() > 300_000 || !(1..=12).contains(&month) || day < 1 || day > days_in_month[(month - 1) as usize] {
        return None;
    }
    time_clip(days_from_civil(year, month, day) as f64 * 86_400_000.0)
}

/// `String(date)` as JS prints it in UTC (`Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal
/// Time)`); JS uses the process's time zone, so the two agree where that zone is UTC.
pub fn date_to_string(ms: i64) -> Option<String> {
    time_clip(ms as f64)?;
    let days = ms.div_euclid(86_400_000);
    let secs = ms.rem_euclid(86_400_000) / 1000;
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let year = if y < 0 { format!("-{:06}", -y) } else { format!("{y:04}") };
    Some(format!(
        "{} {} {:02} {year} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// The proleptic Gregorian date of a day number (the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_in_js() {
        for (n, s) in [
            (1.5, "1.5"),
            (5.0, "5"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (0.1, "0.1"),
            (123456789012.0, "123456789012"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (2.5e-7, "2.5e-7"),
        ] {
            assert_eq!(number_to_string(n), s);
        }
    }

    #[test]
    fn strings_read_as_numbers_as_in_js() {
        for (s, n) in [
            ("42", Some(42.0)),
            (" 4.5\n", Some(4.5)),
            ("", Some(0.0)),
            ("0x1F", Some(31.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("-1e3", Some(-1000.0)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("inf", None),
            ("NaN", None),
            ("1_000", None),
            ("12px", None),
            ("-0x10", None),
            ("e5", None),
            ("1e", None),
        ] {
            assert_eq!(string_to_number(s), n, "{s:?}");
        }
    }

    #[test]
    fn bigints_read_as_in_js() {
        assert_eq!(string_to_bigint(" -12 "), Some(-12));
        assert_eq!(string_to_bigint("0x10"), Some(16));
        assert_eq!(string_to_bigint("1.0"), None);
        assert_eq!(string_to_bigint("99999999999999999999"), None);
    }

    #[test]
    fn dates_read_as_in_js() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2020-02-29T12:30:15.5Z"), Some(1_582_979_415_500));
        assert_eq!(parse_date("2020-01-01T01:00+01:00"), Some(1_577_836_800_000));
        assert_eq!(parse_date("2020"), Some(1_577_836_800_000));
        assert_eq!(parse_date("-000001-01-01"), Some(-62_198_755_200_000));
        for bad in ["2019-02-29", "2020-13-01", "garbage", "2020-01-01T25:00Z", "2020-1-1", "-000000-01-01", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn legacy_date_strings_read_as_v8_reads_them() {
        let date = |s| parse_legacy_date(s).map(|ms| date_to_string(ms).unwrap()[4..15].to_owned());
        for (s, expected) in [
            ("0", "Jan 01 2000"),
            ("7", "Jul 01 2001"),
            (" 9 ", "Sep 01 2001"),
            ("42", "Jan 01 2042"),
            ("50", "Jan 01 1950"),
            ("100", "Jan 01 0100"),
            ("2.25", "Feb 25 2001"),
            ("-1,3", "Jan 03 2001"),
            ("1,2,300", "Jan 02 0300"),
            ("3.5.7", "Mar 05 2007"),
            ("2020/01/02", "Jan 02 2020"),
            ("-3", "Mar 01 2001"),
        ] {
            assert_eq!(date(s).as_deref(), Some(expected), "{s}");
        }
        for bad in ["13", "31", "1e3", "abc", "2.30", "", "275761", "99999999999999999", "1/1/9223372036854775807"] {
            assert_eq!(parse_legacy_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_print_as_in_js_in_utc() {
        assert_eq!(date_to_string(0).unwrap(), "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)");
        assert_eq!(
            date_to_string(1_614_834_367_000).unwrap(),
            "Thu Mar 04 2021 05:06:07 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            date_to_string(-86_400_001).unwrap(),
            "Tue Dec 30 1969 23:59:59 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn trim_and_length_follow_js() {
        assert_eq!(trim("\u{FEFF} a \u{3000}"), "a");
        assert_eq!(trim("\u{85}a"), "\u{85}a");
        assert_eq!(length("a😀"), 3);
    }
}

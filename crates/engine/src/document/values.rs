//! Field values: checking and normalising what a caller sends against the
//! field's type, and defaults for new documents.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Number, Value};

use crate::doctype::{DocField, FieldType};
use crate::document::Doc;
use crate::error::{Error, Result};

pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The timestamp format of `creation` / `modified` (Frappe's).
/// (`%Y-%m-%d %H:%M:%S%.6f`, written out directly: every synced entry
/// stamps two or three of them, and a format string is parsed at each use.
/// The local offset is looked up once a second, not at every stamp.)
pub fn now_string() -> String {
    use chrono::{Datelike, Offset, TimeZone, Timelike};
    thread_local! {
        /// (UTC second, local offset in seconds) last looked up on this thread.
        static OFFSET: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((i64::MIN, 0)) };
    }
    let utc = chrono::Utc::now();
    let second = utc.timestamp();
    let offset = OFFSET.with(|cached| {
        let (at, offset) = cached.get();
        if at == second {
            return offset;
        }
        let offset = i64::from(
            chrono::Local
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
        );
        cached.set((second, offset));
        offset
    });
    let t = utc.naive_utc() + chrono::TimeDelta::seconds(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() % 1_000_000_000 / 1000
    )
}

fn type_error(doctype: &str, f: &DocField, expected: &str, got: &Value) -> Error {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    Error::invalid(
        &f.fieldname,
        format!(
            "{doctype}: {} ({}) expects {expected}, got {got}",
            f.label(),
            f.fieldname
        ),
    )
}

/// Like [`coerce`], taking the value: one already in its normal form (the
/// common case: a document from another site) is kept, not copied.
pub fn coerce_owned(doctype: &str, f: &DocField, v: Value) -> Result<Value> {
    let as_is = match (f.fieldtype, &v) {
        (_, Value::Null) | (FieldType::Json, _) => true,
        (FieldType::Link | FieldType::DynamicLink, Value::String(s)) => !s.trim().is_empty(),
        (FieldType::Date, Value::String(s)) => is_plain_date(s),
        (FieldType::Select, Value::String(s)) => s.is_empty() || f.select_options().any(|o| o == s),
        (t, Value::String(_)) => t.is_text(),
        (FieldType::Int, Value::Number(n)) => n.as_i64().is_some(),
        (FieldType::Float | FieldType::Currency | FieldType::Percent, Value::Number(_)) => true,
        _ => false,
    };
    if as_is {
        Ok(v)
    } else {
        coerce(doctype, f, &v)
    }
}

/// Whether `s` is a date already written as its normal form says
/// (`YYYY-MM-DD`, a day that exists): kept as it is, not parsed and
/// written out again.
fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    match (digits(0..4), digits(5..7), digits(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            i32::try_from(y).is_ok_and(|y| NaiveDate::from_ymd_opt(y, m, d).is_some())
        }
        _ => false,
    }
}

/// Checks `v` against `f`'s type and returns its normal form.
/// Table fields are handled by the caller.
pub fn coerce(doctype: &str, f: &DocField, v: &Value) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let bad = |expected: &str| Err(type_error(doctype, f, expected, v));
    match f.fieldtype {
        FieldType::Table => bad("a list of rows"),
        FieldType::Json => Ok(v.clone()),
        t if t.is_text() => match v {
            Value::String(_) => Ok(v.clone()),
            _ => bad("text"),
        },
        FieldType::Select => match v {
            Value::String(s) if s.is_empty() || f.select_options().any(|o| o == s) => Ok(v.clone()),
            Value::String(s) => {
                let choices: Vec<String> = f.select_options().map(|o| format!("{o:?}")).collect();
                Err(Error::invalid(
                    &f.fieldname,
                    format!("{doctype}: {} cannot be {s:?}. It should be one of {}", f.label(), choices.join(", ")),
                ))
            }
            _ => bad("one of its options as text"),
        },
        FieldType::Link | FieldType::DynamicLink => match v {
            Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
            Value::String(_) => Ok(v.clone()),
            _ => bad("a document name as text"),
        },
        FieldType::Int => match v.as_i64() {
            Some(_) => Ok(v.clone()),
            None => match v.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Value::from(x as i64)),
                _ => bad("a whole number"),
            },
        },
        FieldType::Float | FieldType::Currency | FieldType::Percent => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => bad("a number"),
        },
        FieldType::Check => match v {
            Value::Bool(b) => Ok(Value::from(i64::from(*b))),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => Ok(v.clone()),
            _ => bad("0 or 1"),
        },
        FieldType::Date => match v {
            Value::String(s) if s.is_empty() => Ok(Value::Null),
            Value::String(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Ok(Value::from(d.format("%Y-%m-%d").to_string())),
                Err(_) => Err(Error::invalid(
                    &f.fieldname,
                    format!("{doctype}: {} ({}) must be a date as YYYY-MM-DD, got {s:?}", f.label(), f.fieldname),
                )),
            },
            _ => bad("a date as YYYY-MM-DD"),
        },
        FieldType::Datetime => match v {
            Value::String(s) if s.is_empty() => Ok(Value::Null),
            Value::String(s) => match parse_datetime(s) {
                Some(d) => Ok(Value::from(d.format("%Y-%m-%d %H:%M:%S%.f").to_string())),
                None => Err(Error::invalid(
                    &f.fieldname,
                    format!(
                        "{doctype}: {} ({}) must be a date and time as YYYY-MM-DD HH:MM:SS, got {s:?}",
                        f.label(),
                        f.fieldname
                    ),
                )),
            },
            _ => bad("a date and time as YYYY-MM-DD HH:MM:SS"),
        },
        _ => bad("a value of its type"),
    }
}

fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
}

/// The default of `f` for a new document, if it declares one.
pub fn default_value(doctype: &str, f: &DocField) -> Result<Option<Value>> {
    let Some(d) = f.default.as_deref() else {
        return Ok(None);
    };
    let v = match f.fieldtype {
        FieldType::Date if d.eq_ignore_ascii_case("today") => {
            Value::from(today().format("%Y-%m-%d").to_string())
        }
        FieldType::Datetime if d.eq_ignore_ascii_case("now") => Value::from(
            chrono::Local::now()
                .naive_local()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        ),
        FieldType::Int | FieldType::Check => match d.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                return Err(Error::Corrupt(format!(
                    "{doctype}.{}: default {d:?} is not a number",
                    f.fieldname
                )))
            }
        },
        FieldType::Float | FieldType::Currency | FieldType::Percent => {
            match d.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => {
                    return Err(Error::Corrupt(format!(
                        "{doctype}.{}: default {d:?} is not a number",
                        f.fieldname
                    )))
                }
            }
        }
        _ => Value::from(d),
    };
    coerce(doctype, f, &v).map(Some)
}

pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// A text field of a document or row; empty when missing or not text.
pub(crate) fn text(doc: &Doc, key: &str) -> String {
    doc.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A Check field of a document or row (1 or true).
pub(crate) fn flag(doc: &Doc, key: &str) -> bool {
    matches!(doc.get(key), Some(Value::Bool(true)))
        || doc.get(key).and_then(Value::as_i64) == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn now_is_local_time_to_the_microsecond() {
        let before = chrono::Local::now().naive_local();
        let now =
            chrono::NaiveDateTime::parse_from_str(&now_string(), "%Y-%m-%d %H:%M:%S%.6f").unwrap();
        let after = chrono::Local::now().naive_local();
        assert!(
            before - chrono::TimeDelta::microseconds(1) <= now && now <= after,
            "{before} {now} {after}"
        );
    }

    #[test]
    fn now_is_written_as_frappe_writes_it() {
        let now = now_string();
        let parsed = chrono::NaiveDateTime::parse_from_str(&now, "%Y-%m-%d %H:%M:%S%.6f").unwrap();
        assert_eq!(parsed.format("%Y-%m-%d %H:%M:%S%.6f").to_string(), now);
        assert_eq!(now.len(), "2026-01-01 00:00:00.000000".len());
    }

    fn field(t: FieldType, options: Option<&str>) -> DocField {
        serde_json::from_value(json!({"fieldname": "f", "fieldtype": t, "options": options}))
            .unwrap()
    }

    #[test]
    fn types_are_checked_and_normalised() {
        let check = field(FieldType::Check, None);
        assert_eq!(coerce("T", &check, &json!(true)).unwrap(), json!(1));
        assert!(coerce("T", &check, &json!(2)).is_err());
        let int = field(FieldType::Int, None);
        assert_eq!(coerce("T", &int, &json!(3.0)).unwrap(), json!(3));
        assert!(coerce("T", &int, &json!("3")).is_err());
        let date = field(FieldType::Date, None);
        assert!(coerce("T", &date, &json!("2026-02-30")).is_err());
        let sel = field(FieldType::Select, Some("A\nB"));
        let err = coerce("T", &sel, &json!("C")).unwrap_err().to_string();
        assert!(err.contains("\"A\", \"B\""), "{err}");
    }

    /// A value kept as it is, without the full check, is one the full
    /// check keeps as it is too; anything else goes through it.
    #[test]
    fn the_shortcut_for_values_already_normal_agrees_with_the_full_check() {
        let date = field(FieldType::Date, None);
        let sel = field(FieldType::Select, Some("A\nB"));
        for (f, v) in [
            (&date, json!("2026-02-28")),
            (&date, json!("2024-02-29")),
            (&date, json!("2026-2-3")),
            (&date, json!("2026-02-30")),
            (&date, json!("2026-13-01")),
            (&date, json!("+026-02-03")),
            (&date, json!("2026-02-03 ")),
            (&date, json!("")),
            (&date, json!(20260203)),
            (&sel, json!("B")),
            (&sel, json!("")),
            (&sel, json!("C")),
            (&sel, json!(1)),
        ] {
            match (coerce_owned("T", f, v.clone()), coerce("T", f, &v)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{v}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{v}"),
                (a, b) => panic!("{v}: {a:?} against {b:?}"),
            }
        }
        assert_eq!(
            coerce_owned("T", &date, json!("2026-2-3")).unwrap(),
            json!("2026-02-03")
        );
    }
}

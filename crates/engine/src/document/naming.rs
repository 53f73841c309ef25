//! Giving a new document its name (SPEC F5).

use rand::Rng;
use rusqlite::Transaction;
use serde_json::Value;

use super::{store, Doc};
use crate::doctype::{DocType, NamingRule};
use crate::error::{Error, Result};

/// Checks a name given by a caller (prompt naming, or kept from a producer).
pub fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(Error::invalid("name", "Name cannot be empty"));
    }
    if n.chars().count() > 140 {
        return Err(Error::invalid(
            "name",
            "Name cannot be longer than 140 characters",
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "Name cannot contain control characters",
        ));
    }
    Ok(n.to_owned())
}

pub fn random_hash() -> String {
    let n: u64 = rand::thread_rng().gen();
    format!("{:010x}", n & 0xff_ffff_ffff)
}

fn next_counter(tx: &Transaction, key: &str) -> Result<i64> {
    Ok(tx.query_row(
        "INSERT INTO naming_counters (key, current) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET current = current + 1 RETURNING current",
        [key],
        |r| r.get(0),
    )?)
}

/// The name for a new document of `dt`. `given` is the name the caller
/// supplied, used for `prompt` and when `keep_given` is set.
pub fn assign(
    tx: &Transaction,
    dt: &DocType,
    doc: &Doc,
    given: Option<&Value>,
    keep_given: bool,
) -> Result<String> {
    let given = match given {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Null) | None => None,
        Some(_) => return Err(Error::invalid("name", "name must be text")),
    };
    let rule = dt.naming()?;
    let supplied = || match given {
        Some(g) => check_name(g),
        None => Err(Error::invalid(
            "name",
            format!(
                "A name is required: {} is named by the caller (prompt)",
                dt.name
            ),
        )),
    };
    if keep_given {
        return supplied();
    }
    match rule {
        NamingRule::Prompt => supplied(),
        NamingRule::Field(f) => {
            let value = match doc.get(&f) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            if value.trim().is_empty() {
                let label = dt.field(&f).map_or(f.as_str(), |d| d.label());
                return Err(Error::Mandatory {
                    doctype: dt.name.clone(),
                    row: String::new(),
                    field: f.clone(),
                    label: label.to_owned(),
                });
            }
            check_name(&value)
        }
        NamingRule::Hash => loop {
            let h = random_hash();
            if !store::exists(tx, &dt.name, &h)? {
                return Ok(h);
            }
        },
        NamingRule::Autoincrement => loop {
            let n = next_counter(tx, &format!("autoincrement:{}", dt.name))?.to_string();
            if !store::exists(tx, &dt.name, &n)? {
                return Ok(n);
            }
        },
        NamingRule::Series(pattern) => {
            let (prefix, width) = NamingRule::series_parts(&pattern, super::values::today());
            loop {
                let n = next_counter(tx, &prefix)?;
                let name = format!("{prefix}{n:0width$}");
                if !store::exists(tx, &dt.name, &name)? {
                    return Ok(name);
                }
            }
        }
    }
}

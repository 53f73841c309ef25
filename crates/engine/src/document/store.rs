//! Rows of the `documents` and `doc_links` tables. A document is stored
//! whole as JSON (child rows inside it); its outgoing links are kept in
//! `doc_links` so that "who links to this?" is one indexed query.

use rusqlite::{OptionalExtension, Transaction};

use super::values::text;
use super::Doc;
use crate::error::{Error, Result};

pub struct Link {
    pub fieldname: String,
    pub doctype: String,
    pub name: String,
}

pub fn load(tx: &Transaction, doctype: &str, name: &str) -> Result<Option<Doc>> {
    let data: Option<String> = tx
        .prepare_cached("SELECT data FROM documents WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |r| r.get(0))
        .optional()?;
    data.map(|d| parse(doctype, name, &d)).transpose()
}

pub fn exists(tx: &Transaction, doctype: &str, name: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM documents WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn parse(doctype: &str, name: &str, data: &str) -> Result<Doc> {
    serde_json::from_str(data).map_err(|e| Error::Corrupt(format!("{doctype} {name}: {e}")))
}

pub fn insert(tx: &Transaction, doctype: &str, doc: &Doc, links: &[Link]) -> Result<()> {
    let name = text(doc, "name");
    let data = serde_json::to_string(doc).map_err(|e| Error::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO documents (doctype, name, data, modified) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((doctype, &name, &data, text(doc, "modified")))?;
    write_links(tx, doctype, &name, links)
}

pub fn update(tx: &Transaction, doctype: &str, doc: &Doc, links: &[Link]) -> Result<()> {
    let name = text(doc, "name");
    let data = serde_json::to_string(doc).map_err(|e| Error::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "UPDATE documents SET data = ?3, modified = ?4 WHERE doctype = ?1 AND name = ?2",
    )?
    .execute((doctype, &name, &data, text(doc, "modified")))?;
    tx.prepare_cached("DELETE FROM doc_links WHERE doctype = ?1 AND name = ?2")?
        .execute((doctype, &name))?;
    write_links(tx, doctype, &name, links)
}

pub fn delete(tx: &Transaction, doctype: &str, name: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM documents WHERE doctype = ?1 AND name = ?2")?
        .execute((doctype, name))?;
    tx.prepare_cached("DELETE FROM doc_links WHERE doctype = ?1 AND name = ?2")?
        .execute((doctype, name))?;
    Ok(())
}

fn write_links(tx: &Transaction, doctype: &str, name: &str, links: &[Link]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO doc_links (doctype, name, fieldname, link_doctype, link_name) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for l in links {
        stmt.execute((doctype, name, &l.fieldname, &l.doctype, &l.name))?;
    }
    Ok(())
}

/// Another document that links to (doctype, name), if any.
pub fn first_linker(
    tx: &Transaction,
    doctype: &str,
    name: &str,
) -> Result<Option<(String, String)>> {
    Ok(tx
        .prepare_cached(
            "SELECT doctype, name FROM doc_links WHERE link_doctype = ?1 AND link_name = ?2
             AND NOT (doctype = ?1 AND name = ?2) LIMIT 1",
        )?
        .query_row((doctype, name), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Whether another document of `doctype` has `value` in `field`. Each
/// (doctype, unique field) gets its own partial index on first use, so the
/// check stays a lookup however many documents there are.
pub fn value_taken(
    tx: &Transaction,
    doctype: &str,
    field: &str,
    value: &serde_json::Value,
    except: &str,
) -> Result<bool> {
    let value = match value {
        serde_json::Value::String(s) => rusqlite::types::Value::Text(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => rusqlite::types::Value::Integer(i),
            None => rusqlite::types::Value::Real(n.as_f64().unwrap_or_default()),
        },
        _ => return Ok(false),
    };
    // Doctype and field names are validated identifiers (letters, digits,
    // spaces, '_' and '-'); quotes are doubled all the same.
    let dt = doctype.replace('\'', "''");
    let path = format!("$.\"{}\"", field.replace(['\'', '"'], ""));
    let expr = format!("json_extract(data, '{path}')");
    // A stable name per (doctype, field): the doctype's bytes in hex.
    let hex: String = doctype.bytes().map(|b| format!("{b:02x}")).collect();
    let index = format!(
        "unique_{hex}_{}",
        field.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "")
    );
    tx.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS {index} ON documents ({expr}) WHERE doctype = '{dt}'"
    ))?;
    Ok(tx
        .prepare_cached(&format!(
            "SELECT 1 FROM documents WHERE doctype = '{dt}' AND {expr} = ?1 AND name <> ?2 LIMIT 1"
        ))?
        .query_row((value, except), |_| Ok(()))
        .optional()?
        .is_some())
}

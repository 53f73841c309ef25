//! The Event Update Log (SPEC F10), written in the same transaction as the
//! change it records, for doctypes some consumer subscribes to.
//!
//! Wire format of an entry (pinned by `entry_wire_format` below):
//! `{"seq": 7, "update_type": "Create"|"Update"|"Delete", "ref_doctype": "Note",
//!   "docname": "…", "data": <doc> | <diff> | null, "creation": "…", "origin_site": "<site id>",
//!   "base": "<version changed>", "version": "<version made>"}` (versions: `document::version`).
//! An Update's `data` is `{"changed": {field: new}, "added": {table: [rows]},
//! "removed": {table: [row names]}, "row_changed": {table: [{"name": row, field: new…}]}}`.

use rusqlite::{OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::doctype::{DocType, FieldType};
use crate::document::{layout, values, Doc};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum UpdateType {
    Create,
    Update,
    Delete,
}

impl UpdateType {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Create => "Create",
            UpdateType::Update => "Update",
            UpdateType::Delete => "Delete",
        }
    }

    fn parse(s: &str) -> Result<UpdateType> {
        match s {
            "Create" => Ok(UpdateType::Create),
            "Update" => Ok(UpdateType::Update),
            "Delete" => Ok(UpdateType::Delete),
            other => Err(Error::Corrupt(format!("unknown update type {other:?}"))),
        }
    }
}

/// An entry. Its `data` is a parsed JSON value where the entry is read
/// (a consumer applying it); a producer passes the text it stored on as it
/// is ([`Stored`]): a page is served without building any document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, concrete(D = Value))]
pub struct LogEntry<D = Value> {
    #[ts(type = "number")]
    pub seq: i64,
    pub update_type: UpdateType,
    pub ref_doctype: String,
    pub docname: String,
    #[ts(type = "unknown")]
    pub data: D,
    pub creation: String,
    pub origin_site: String,
    /// The version of the document the change was made on (Update, Delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base: Option<String>,
    /// The version the change made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub version: Option<String>,
}

/// An entry's data as the JSON text it was stored as.
pub type Stored = Box<serde_json::value::RawValue>;

impl LogEntry<Stored> {
    /// The entry with its data parsed (a condition looks at it).
    pub fn parsed(&self) -> Result<LogEntry> {
        let data = super::presized::from_str(self.data.get())
            .map_err(|e| Error::Corrupt(format!("update log {}: {e}", self.seq)))?;
        Ok(self.with_data(data))
    }
}

impl<D> LogEntry<D> {
    /// The same entry with other data.
    pub fn with_data<E>(&self, data: E) -> LogEntry<E> {
        LogEntry {
            seq: self.seq,
            update_type: self.update_type,
            ref_doctype: self.ref_doctype.clone(),
            docname: self.docname.clone(),
            data,
            creation: self.creation.clone(),
            origin_site: self.origin_site.clone(),
            base: self.base.clone(),
            version: self.version.clone(),
        }
    }
}

impl LogEntry {
    /// What a `cmd:` condition sees as `update_log` when a document is
    /// judged outside an entry of its own (a held document looked at again,
    /// a dependency fetch).
    pub fn probe(doctype: &str, name: &str, seq: i64) -> LogEntry {
        LogEntry {
            seq,
            update_type: UpdateType::Update,
            ref_doctype: doctype.to_owned(),
            docname: name.to_owned(),
            data: Value::Null,
            creation: values::now_string(),
            origin_site: String::new(),
            base: None,
            version: None,
        }
    }
}

/// Whether any consumer subscribes to `doctype` (any approval status).
pub fn is_streamed(tx: &Transaction, doctype: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM stream_doctypes WHERE doctype = ?1")?
        .query_row([doctype], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn local_site_id(tx: &Transaction) -> Result<String> {
    Ok(tx
        .prepare_cached("SELECT value FROM site_meta WHERE key = 'site_id'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

/// Where a change stands among the document's versions, and where it was
/// first made (None: here).
#[derive(Debug, Default, Clone, Copy)]
pub struct Change<'a> {
    pub base: Option<&'a str>,
    pub version: Option<&'a str>,
    pub origin: Option<&'a str>,
}

/// Records a change if the doctype is streamed. `data` is the whole
/// document (Create), the diff (Update) or null (Delete).
pub fn record<T: Serialize + ?Sized>(
    tx: &Transaction,
    doctype: &str,
    name: &str,
    kind: UpdateType,
    data: Option<&T>,
    change: &Change,
) -> Result<()> {
    if !is_streamed(tx, doctype)? {
        return Ok(());
    }
    let origin = match change.origin {
        Some(o) => o.to_owned(),
        None => local_site_id(tx)?,
    };
    let data = data
        .map(|d| serde_json::to_string(d).map_err(|e| Error::Corrupt(e.to_string())))
        .transpose()?;
    tx.prepare_cached(
        "INSERT INTO update_log (update_type, ref_doctype, docname, data, creation, origin_site, base, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        kind.as_str(),
        doctype,
        name,
        data,
        values::now_string(),
        origin,
        change.base,
        change.version
    ])?;
    Ok(())
}

/// An Update that changes no field (only the document's version).
pub fn no_change() -> Value {
    serde_json::json!({"changed": {}, "added": {}, "removed": {}, "row_changed": {}})
}

/// An update-log row as read, in [`ENTRY_COLUMNS`] order.
pub struct RawEntry {
    seq: i64,
    kind: String,
    ref_doctype: String,
    docname: String,
    data: Option<String>,
    creation: String,
    origin_site: String,
    base: Option<String>,
    version: Option<String>,
}

pub fn row_to_entry(r: &rusqlite::Row) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        seq: r.get(0)?,
        kind: r.get(1)?,
        ref_doctype: r.get(2)?,
        docname: r.get(3)?,
        data: r.get(4)?,
        creation: r.get(5)?,
        origin_site: r.get(6)?,
        base: r.get(7)?,
        version: r.get(8)?,
    })
}

pub const ENTRY_COLUMNS: &str =
    "seq, update_type, ref_doctype, docname, data, creation, origin_site, base, version";

/// An entry read from the log, its data parsed.
pub fn entry_from(row: RawEntry) -> Result<LogEntry> {
    let seq = row.seq;
    let data = match &row.data {
        Some(d) => {
            serde_json::from_str(d).map_err(|e| Error::Corrupt(format!("update log {seq}: {e}")))?
        }
        None => Value::Null,
    };
    with_data(row, data)
}

/// An entry read from the log, its data kept as the text stored (checked
/// to be JSON, not built into a value).
pub fn stored_entry_from(mut row: RawEntry) -> Result<LogEntry<Stored>> {
    let seq = row.seq;
    let data = match row.data.take() {
        Some(d) => serde_json::value::RawValue::from_string(d)
            .map_err(|e| Error::Corrupt(format!("update log {seq}: {e}")))?,
        None => serde_json::value::RawValue::NULL.to_owned(),
    };
    with_data(row, data)
}

fn with_data<D>(row: RawEntry, data: D) -> Result<LogEntry<D>> {
    let RawEntry {
        seq,
        kind,
        ref_doctype,
        docname,
        data: _,
        creation,
        origin_site,
        base,
        version,
    } = row;
    Ok(LogEntry {
        seq,
        update_type: UpdateType::parse(&kind)?,
        ref_doctype,
        docname,
        data,
        creation,
        origin_site,
        base,
        version,
    })
}

pub fn last_seq(tx: &Transaction) -> Result<i64> {
    Ok(
        tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM update_log", [], |r| {
            r.get(0)
        })?,
    )
}

fn rows_of(doc: &Doc, table: &str) -> Vec<Map<String, Value>> {
    doc.get(table)
        .and_then(Value::as_array)
        .map(|rows| rows.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default()
}

/// The diff between two versions of a document; None when nothing changed.
pub fn diff(dt: &DocType, old: &Doc, new: &Doc) -> Option<Value> {
    let mut changed = Map::new();
    let (mut added, mut removed, mut row_changed) = (Map::new(), Map::new(), Map::new());
    if old.get("docstatus") != new.get("docstatus") {
        changed.insert(
            "docstatus".into(),
            new.get("docstatus").cloned().unwrap_or(Value::Null),
        );
    }
    for f in &dt.fields {
        let key = &f.fieldname;
        if f.fieldtype != FieldType::Table {
            let n = new.get(key).cloned().unwrap_or(Value::Null);
            if old.get(key).cloned().unwrap_or(Value::Null) != n {
                changed.insert(key.clone(), n);
            }
            continue;
        }
        let (old_rows, new_rows) = (rows_of(old, key), rows_of(new, key));
        let name_of = |r: &Map<String, Value>| {
            r.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut add = Vec::new();
        let mut change = Vec::new();
        for row in &new_rows {
            match old_rows.iter().find(|o| name_of(o) == name_of(row)) {
                None => add.push(Value::Object(row.clone())),
                Some(o) => {
                    let mut delta = Map::new();
                    for (k, v) in row {
                        // A row's standard fields are not its content; its place is.
                        let content = k == "idx" || !layout::ROW.contains(&k.as_str());
                        if content && o.get(k) != Some(v) {
                            delta.insert(k.clone(), v.clone());
                        }
                    }
                    if !delta.is_empty() {
                        delta.insert("name".into(), Value::from(name_of(row)));
                        change.push(Value::Object(delta));
                    }
                }
            }
        }
        let gone: Vec<Value> = old_rows
            .iter()
            .filter(|o| !new_rows.iter().any(|n| name_of(n) == name_of(o)))
            .map(|o| Value::from(name_of(o)))
            .collect();
        if !add.is_empty() {
            added.insert(key.clone(), Value::Array(add));
        }
        if !gone.is_empty() {
            removed.insert(key.clone(), Value::Array(gone));
        }
        if !change.is_empty() {
            row_changed.insert(key.clone(), Value::Array(change));
        }
    }
    if changed.is_empty() && added.is_empty() && removed.is_empty() && row_changed.is_empty() {
        return None;
    }
    Some(
        serde_json::json!({"changed": changed, "added": added, "removed": removed, "row_changed": row_changed}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_wire_format() {
        let e = LogEntry {
            seq: 7,
            update_type: UpdateType::Delete,
            ref_doctype: "Note".into(),
            docname: "n1".into(),
            data: Value::Null,
            creation: "2026-01-01 00:00:00.000000".into(),
            origin_site: "s".into(),
            base: Some("2026-01-01T00:00:00.000000Z a".into()),
            version: Some("2026-01-01T00:00:01.000000Z b".into()),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"seq": 7, "update_type": "Delete", "ref_doctype": "Note", "docname": "n1", "data": null,
                   "creation": "2026-01-01 00:00:00.000000", "origin_site": "s",
                   "base": "2026-01-01T00:00:00.000000Z a", "version": "2026-01-01T00:00:01.000000Z b"})
        );
    }

    /// A producer sends an entry's data as it stored it: the same bytes on
    /// the wire as the parsed entry would give, and parsed back the same.
    #[test]
    fn a_stored_entry_goes_on_the_wire_as_the_parsed_one() {
        let data = r#"{"name":"n1","title":"Ça va","rows":[{"idx":1,"qty":2.5}]}"#;
        let row = || RawEntry {
            seq: 3,
            kind: "Create".into(),
            ref_doctype: "Note".into(),
            docname: "n1".into(),
            data: Some(data.into()),
            creation: "2026-01-01 00:00:00.000000".into(),
            origin_site: "s".into(),
            base: None,
            version: Some("v".into()),
        };
        let stored = stored_entry_from(row()).unwrap();
        let parsed = entry_from(row()).unwrap();
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&parsed).unwrap()
        );
        assert_eq!(stored.parsed().unwrap(), parsed);
        let broken = RawEntry {
            data: Some("{\"name\": ".into()),
            ..row()
        };
        assert!(matches!(stored_entry_from(broken), Err(Error::Corrupt(_))));
    }

    #[test]
    fn diff_reports_changed_added_removed_and_row_changed() {
        let dt: DocType = serde_json::from_value(json!({"name": "T", "fields": [
            {"fieldname": "title", "fieldtype": "Data"},
            {"fieldname": "rows", "fieldtype": "Table", "options": "R"}]}))
        .unwrap();
        let old = json!({"docstatus": 0, "title": "a", "rows": [{"name": "r1", "x": 1}, {"name": "r2", "x": 2}]});
        let new = json!({"docstatus": 1, "title": "b", "rows": [{"name": "r1", "x": 5}, {"name": "r3", "x": 3}]});
        let d = diff(&dt, old.as_object().unwrap(), new.as_object().unwrap()).unwrap();
        assert_eq!(
            d,
            json!({"changed": {"docstatus": 1, "title": "b"}, "added": {"rows": [{"name": "r3", "x": 3}]},
                   "removed": {"rows": ["r2"]}, "row_changed": {"rows": [{"x": 5, "name": "r1"}]}})
        );
        assert!(diff(&dt, old.as_object().unwrap(), old.as_object().unwrap()).is_none());
    }
}

//! Amend after Cancel, as in Frappe Desk: a cancelled document is copied
//! into a new draft named after it (`SINV-2026-00001-1`, then `-2`, …) whose
//! `amended_from` names the one it replaces.

use rusqlite::Transaction;
use serde_json::Value;

use super::{insert_in, load_existing, parent_doctype, store, Doc, WriteOptions};
use crate::actor::Actor;
use crate::doctype::{Action, DocType, FieldType, Registry};
use crate::error::{Error, Result};
use crate::site::Site;

/// The field that names the document an amendment replaces.
pub const AMENDED_FROM: &str = "amended_from";

impl Site {
    /// A new draft from cancelled `doctype` `name`; the draft.
    pub fn amend(&self, actor: &Actor, doctype: &str, name: &str) -> Result<Doc> {
        let reg = self.doctypes();
        self.write(|tx| amend_in(tx, &reg, actor, doctype, name))
    }
}

pub fn amend_in(
    tx: &Transaction,
    reg: &Registry,
    actor: &Actor,
    doctype: &str,
    name: &str,
) -> Result<Doc> {
    let dt = parent_doctype(reg, doctype)?;
    actor.require(dt, Action::Create)?;
    if !dt.is_submittable || dt.field(AMENDED_FROM).is_none() {
        return Err(Error::invalid(
            "doctype",
            format!("{doctype} documents are not amended: only submittable DocTypes with an Amended From field are"),
        ));
    }
    let old = load_existing(tx, doctype, name)?;
    match old.get("docstatus").and_then(Value::as_i64) {
        Some(2) => {}
        Some(1) => {
            return Err(Error::Docstatus(format!(
                "{doctype} {name} is submitted: cancel it first, then amend it"
            )))
        }
        _ => {
            return Err(Error::Docstatus(format!(
                "{doctype} {name} is a draft: edit it instead of amending it"
            )))
        }
    }
    let mut draft = declared(reg, dt, &old);
    draft.insert(AMENDED_FROM.into(), Value::from(name));
    draft.insert(
        "name".into(),
        Value::from(next_name(tx, doctype, name, &old)?),
    );
    let opts = WriteOptions {
        keep_name: true,
        ..WriteOptions::default()
    };
    insert_in(tx, reg, actor, doctype, Value::Object(draft), opts)
}

/// `SINV-2026-00001` → `SINV-2026-00001-1`; an amendment's own amendment
/// counts on from the original (`-1` → `-2`), skipping names taken.
fn next_name(tx: &Transaction, doctype: &str, name: &str, old: &Doc) -> Result<String> {
    let original = match old.get(AMENDED_FROM).and_then(Value::as_str) {
        Some(from) if !from.is_empty() => name
            .rsplit_once('-')
            .filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
            .map_or(name, |(base, _)| base),
        _ => name,
    };
    for n in 1..10_000 {
        let candidate = format!("{original}-{n}");
        if !store::exists(tx, doctype, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(Error::Duplicate {
        field: Some("name".into()),
        message: format!("{doctype} {original} has been amended too many times"),
    })
}

/// The document's declared fields and rows (rows without their names, so
/// the draft's rows are its own); standard fields are the new draft's.
fn declared(reg: &Registry, dt: &DocType, doc: &Doc) -> Doc {
    let mut out = Doc::new();
    for f in &dt.fields {
        let Some(v) = doc.get(&f.fieldname) else {
            continue;
        };
        let v = match (f.fieldtype, v, reg.get(f.options())) {
            (FieldType::Table, Value::Array(rows), Some(child)) => Value::Array(
                rows.iter()
                    .filter_map(Value::as_object)
                    .map(|r| Value::Object(declared(reg, child, r)))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(f.fieldname.clone(), v);
    }
    out
}

//! Doctype logic declared in DocType JSON and applied on every save — from
//! the API, the UI and sync alike — so a document reads the same wherever
//! it was saved:
//! - `fetch_from: "item_code.item_name"`: the field takes the named field of
//!   the document its Link field points at;
//! - `compute: "qty * rate"` (a product of two numeric fields of the same
//!   document or row) or `compute: "sum(items.amount)"` (a total over a
//!   child table): rows first, then the document;
//! - `status_by_docstatus: ["Draft", "Unpaid|Paid", "Cancelled"]` on the
//!   DocType: the `status` field follows docstatus; a value allowed for the
//!   docstatus is kept (Paid stays Paid), else the first is set.

use rusqlite::{OptionalExtension, Transaction};
use serde_json::{Number, Value};

use super::{layout, Doc};
use crate::doctype::{DocField, DocType, FieldType, Registry};
use crate::error::{Error, Result};
use crate::hashed::HashMap;

/// A `compute` expression, parsed (naming fields of the expression's text:
/// parsed for every document and row saved, it allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formula<'a> {
    Product(&'a str, &'a str),
    Sum { table: &'a str, field: &'a str },
}

impl<'a> Formula<'a> {
    pub fn parse(expr: &'a str) -> Option<Formula<'a>> {
        let e = expr.trim();
        if let Some(inner) = e.strip_prefix("sum(").and_then(|r| r.strip_suffix(')')) {
            let (table, field) = inner.trim().split_once('.')?;
            return Some(Formula::Sum {
                table: table.trim(),
                field: field.trim(),
            });
        }
        let (a, b) = e.split_once('*')?;
        Some(Formula::Product(a.trim(), b.trim()))
    }
}

/// Checks a field's `fetch_from` and `compute` against its DocType (and the
/// doctypes known), naming what is wrong.
pub fn validate_field(dt: &DocType, f: &DocField, known: &Registry) -> Result<()> {
    let fail = |msg: String| Err(Error::invalid(&f.fieldname, msg));
    if let Some(from) = &f.fetch_from {
        let Some((link, target)) = from.split_once('.') else {
            return fail(format!(
                "{}: fetch_from {from:?} must be link_field.field",
                f.fieldname
            ));
        };
        match dt.field(link) {
            Some(l) if l.fieldtype == FieldType::Link => {
                let to = l.options();
                if let Some(t) = known.get(to) {
                    if t.field(target).is_none() && target != "name" {
                        return fail(format!(
                            "{}: fetch_from {from:?}: {to} has no field {target}",
                            f.fieldname
                        ));
                    }
                }
            }
            _ => {
                return fail(format!(
                    "{}: fetch_from {from:?}: {link} is not a Link field of {}",
                    f.fieldname, dt.name
                ))
            }
        }
    }
    if let Some(expr) = &f.compute {
        if !f.fieldtype.is_number() {
            return fail(format!(
                "{}: only a numeric field can be computed",
                f.fieldname
            ));
        }
        match Formula::parse(expr) {
            Some(Formula::Product(a, b)) => {
                for x in [a, b] {
                    if !dt.field(x).is_some_and(|g| g.fieldtype.is_number()) {
                        return fail(format!(
                            "{}: compute {expr:?}: {x} is not a numeric field of {}",
                            f.fieldname, dt.name
                        ));
                    }
                }
            }
            Some(Formula::Sum { table, field }) => {
                let child = dt
                    .field(table)
                    .filter(|t| t.fieldtype == FieldType::Table)
                    .and_then(|t| known.get(t.options()));
                if let Some(child) = child {
                    if !child.field(field).is_some_and(|g| g.fieldtype.is_number()) {
                        return fail(format!(
                            "{}: compute {expr:?}: {field} is not a numeric field of {}",
                            f.fieldname, child.name
                        ));
                    }
                } else if dt
                    .field(table)
                    .is_none_or(|t| t.fieldtype != FieldType::Table)
                {
                    return fail(format!(
                        "{}: compute {expr:?}: {table} is not a table of {}",
                        f.fieldname, dt.name
                    ));
                }
            }
            None => {
                return fail(format!(
                "{}: compute {expr:?} is not understood: write \"a * b\" or \"sum(table.field)\"",
                f.fieldname
            ))
            }
        }
    }
    Ok(())
}

/// Whether a doctype (or any of its child tables) declares logic to apply.
fn has_logic(reg: &Registry, dt: &DocType) -> bool {
    dt.status_by_docstatus.is_some()
        || dt
            .fields
            .iter()
            .any(|f| f.fetch_from.is_some() || f.compute.is_some())
        || dt.table_fields().any(|t| {
            reg.get(t.options()).is_some_and(|c| {
                c.fields
                    .iter()
                    .any(|f| f.fetch_from.is_some() || f.compute.is_some())
            })
        })
}

/// Applies the doctype's fetched and computed fields to `body` (its
/// declared fields and rows, before standard fields are set). Only a draft
/// is recomputed: a submitted document keeps the values it was submitted with.
pub fn apply(tx: &Transaction, reg: &Registry, dt: &DocType, body: &mut Doc) -> Result<()> {
    if !has_logic(reg, dt) {
        return Ok(());
    }
    FETCHED.with_borrow_mut(|seen| {
        if seen.len() > FETCHED_MAX {
            seen.clear();
        }
        for t in dt.table_fields() {
            let Some(child) = reg.get(t.options()) else {
                continue;
            };
            if let Some(Value::Array(rows)) = body.get_mut(&t.fieldname) {
                for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                    fields(tx, reg, child, row, layout::ROW, seen)?;
                }
            }
        }
        fields(tx, reg, dt, body, layout::DOC, seen)
    })
}

thread_local! {
    /// Values fetched in the transaction under way on this thread (a page
    /// of 500 invoices fetches the same Items' names again and again).
    static FETCHED: std::cell::RefCell<Fetched> = Default::default();
}
/// A transaction fetching from more documents than this starts afresh.
const FETCHED_MAX: usize = 10_000;

/// Forgets every fetched value: a transaction begins, or part of one was
/// rolled back (what was fetched may have been written in that part).
pub fn forget_fetched() {
    FETCHED.with_borrow_mut(Fetched::clear);
}

/// Forgets what was fetched from documents of `doctype` (one of them was
/// changed or deleted).
pub fn forget_fetched_from(doctype: &str) {
    FETCHED.with_borrow_mut(|seen| {
        if let Some(gone) = seen.by_doctype.remove(doctype) {
            seen.count -= gone.values().map(HashMap::len).sum::<usize>();
        }
    });
}

/// Sets the `status` field from docstatus, where the doctype says so.
pub fn status(dt: &DocType, body: &mut Doc, docstatus: i64) {
    if let Some(states) = &dt.status_by_docstatus {
        if let Some(allowed) = usize::try_from(docstatus).ok().and_then(|i| states.get(i)) {
            let choices: Vec<&str> = allowed.split('|').map(str::trim).collect();
            let now = body.get("status").and_then(Value::as_str).unwrap_or("");
            if !choices.contains(&now) {
                if let Some(first) = choices.first() {
                    body.insert("status".into(), Value::from(*first));
                }
            }
        }
    }
}

/// The fields a save sets by itself, which a submitted document's "no
/// change" check leaves out.
pub fn is_derived(dt: &DocType, field: &str) -> bool {
    field == "status" && dt.status_by_docstatus.is_some()
}

/// Values already fetched in this transaction: (doctype, name, field) → value.
/// Looked up by borrowed names (no key is built to ask).
#[derive(Default)]
struct Fetched {
    /// doctype → name → field → value.
    by_doctype: HashMap<String, HashMap<String, HashMap<String, Value>>>,
    count: usize,
}

impl Fetched {
    fn len(&self) -> usize {
        self.count
    }

    fn clear(&mut self) {
        self.by_doctype.clear();
        self.count = 0;
    }

    fn get(&self, doctype: &str, name: &str, field: &str) -> Option<&Value> {
        self.by_doctype.get(doctype)?.get(name)?.get(field)
    }

    fn insert(&mut self, doctype: &str, name: &str, field: &str, value: Value) {
        let fields = self
            .by_doctype
            .entry(doctype.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default();
        if fields.insert(field.to_owned(), value).is_none() {
            self.count += 1;
        }
    }
}

/// One field of a stored document, read in SQL (not the whole document).
fn fetch(
    tx: &Transaction,
    seen: &mut Fetched,
    doctype: &str,
    name: &str,
    field: &str,
) -> Result<Option<Value>> {
    if let Some(v) = seen.get(doctype, name, field) {
        return Ok(Some(v.clone()));
    }
    let path = format!("$.\"{}\"", field.replace('"', ""));
    let found: Option<Option<String>> = tx
        .prepare_cached(
            "SELECT json_quote(json_extract(data, ?3)) FROM documents WHERE doctype = ?1 AND name = ?2",
        )?
        .query_row((doctype, name, &path), |r| r.get(0))
        .optional()?;
    let Some(raw) = found else {
        return Ok(None);
    };
    let value = match raw {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt(format!("{doctype} {name}: {e}")))?,
        None => Value::Null,
    };
    seen.insert(doctype, name, field, value.clone());
    Ok(Some(value))
}

/// `fetch_from`, then products, then sums, over one document or row
/// (`standard`: its standard fields, [`layout::DOC`] or [`layout::ROW`]).
/// Fields are found by their place in the stored form's order.
fn fields(
    tx: &Transaction,
    reg: &Registry,
    dt: &DocType,
    doc: &mut Doc,
    standard: &[&str],
    seen: &mut Fetched,
) -> Result<()> {
    let at = |doc: &Doc, field: &str| -> f64 {
        let value = dt
            .position(field)
            .and_then(|i| layout::value(doc, standard, &dt.fields, i));
        number(value)
    };
    for (i, f) in dt.fields.iter().enumerate() {
        let Some((link, target)) = f.fetch_from.as_deref().and_then(|s| s.split_once('.')) else {
            continue;
        };
        let Some(l) = dt.position(link) else {
            continue;
        };
        let to = dt.fields[l].options();
        let Some(Value::String(name)) = layout::value(doc, standard, &dt.fields, l) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if let Some(value) = fetch(tx, seen, to, name, target)? {
            layout::set(doc, standard, &dt.fields, i, value);
        }
    }
    for (i, f) in dt.fields.iter().enumerate() {
        let value = match f.compute.as_deref().and_then(Formula::parse) {
            Some(Formula::Product(a, b)) => at(doc, a) * at(doc, b),
            Some(Formula::Sum { table, field }) => {
                let t = dt.position(table);
                let child = t.and_then(|t| reg.get(dt.fields[t].options()));
                let place = child.and_then(|c| Some((c, c.position(field)?)));
                let value = |row: &Value| match (row.as_object(), place) {
                    (Some(row), Some((c, i))) => {
                        number(layout::value(row, layout::ROW, &c.fields, i))
                    }
                    _ => number(row.get(field)),
                };
                t.and_then(|t| layout::value(doc, standard, &dt.fields, t))
                    .and_then(Value::as_array)
                    .map(|rows| rows.iter().map(value).sum())
                    .unwrap_or(0.0)
            }
            None => continue,
        };
        // Money in cents: 0.1 × 3 is 0.3, not 0.30000000000000004.
        let rounded = (value * 1e6).round() / 1e6;
        let v = Number::from_f64(rounded)
            .map(Value::Number)
            .unwrap_or(Value::Null);
        layout::set(doc, standard, &dt.fields, i, v);
    }
    Ok(())
}

fn number(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_products_or_sums() {
        assert_eq!(
            Formula::parse("qty * rate"),
            Some(Formula::Product("qty", "rate"))
        );
        assert_eq!(
            Formula::parse("sum(items.amount)"),
            Some(Formula::Sum {
                table: "items",
                field: "amount"
            })
        );
        assert_eq!(Formula::parse("qty + rate"), None);
    }

    /// Within one transaction (a page of sync), an Item renamed after an
    /// invoice fetched its name gives the next invoice the new name; an
    /// Item written in a part that was rolled back is not remembered.
    #[test]
    fn fetched_values_follow_writes_within_one_transaction() {
        use crate::document::{insert_in, update_in, WriteOptions};
        use crate::site::Site;
        use crate::Actor;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let site = Site::open(dir.path()).unwrap();
        let reg = site.doctypes();
        let me = Actor::system();
        let names = site
            .write(|tx| {
                let opts = WriteOptions::default;
                insert_in(tx, &reg, &me, "Customer", json!({"customer_name": "Acme"}), opts())?;
                insert_in(tx, &reg, &me, "Item", json!({"item_code": "PEN", "item_name": "Pen"}), opts())?;
                let invoice = json!({"customer": "Acme", "items": [{"item_code": "PEN", "qty": 1, "rate": 1}]});
                let first = insert_in(tx, &reg, &me, "Sales Invoice", invoice.clone(), opts())?;
                update_in(tx, &reg, &me, "Item", "PEN", json!({"item_name": "Blue pen"}), &opts())?;
                let second = insert_in(tx, &reg, &me, "Sales Invoice", invoice.clone(), opts())?;
                // A rename inside a savepoint that is rolled back.
                tx.execute_batch("SAVEPOINT part")?;
                update_in(tx, &reg, &me, "Item", "PEN", json!({"item_name": "Red pen"}), &opts())?;
                insert_in(tx, &reg, &me, "Sales Invoice", invoice.clone(), opts())?;
                crate::document::forget_cached();
                tx.execute_batch("ROLLBACK TO part; RELEASE part")?;
                let third = insert_in(tx, &reg, &me, "Sales Invoice", invoice, opts())?;
                Ok([first, second, third].map(|d| d["items"][0]["item_name"].clone()))
            })
            .unwrap();
        assert_eq!(names, [json!("Pen"), json!("Blue pen"), json!("Blue pen")]);
    }
}

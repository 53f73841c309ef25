//! Documents (SPEC F3, F6): building a document from what a caller sends,
//! validating it, naming it, and storing it — all inside the caller's
//! transaction so that nothing is half-written.

pub mod amend;
pub mod compute;
pub mod layout;
pub mod naming;
pub mod store;
pub mod values;
pub mod version;

use rusqlite::Transaction;
use serde_json::Value;

use crate::actor::Actor;
use crate::doctype::{
    Action, DocField, DocType, FieldType, Registry, DOCTYPE_LINK, STANDARD_FIELDS,
};
use crate::error::{Error, Result};
use crate::site::Site;
use crate::stream::log::{self, UpdateType};
use store::Link;

/// Forgets what the transaction under way on this thread remembers of the
/// store (documents seen present, values fetched): a transaction begins,
/// or part of one was rolled back.
pub fn forget_cached() {
    store::forget_present();
    compute::forget_fetched();
}

/// A document as JSON: standard fields, declared fields, child rows inline.
pub type Doc = serde_json::Map<String, Value>;

/// How a write may deviate from what an outside caller may ask for.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Keep the `name` given in the document instead of applying the naming
    /// rule (sync with `use_same_name`).
    pub keep_name: bool,
    /// The site where the change was first made, when it is not this one
    /// (a change applied by sync keeps its origin, SPEC F19).
    pub origin: Option<String>,
    /// Record Link values without checking that their targets exist
    /// (dependencies arriving from a producer, possibly in a cycle).
    pub ignore_links: bool,
    /// The versions the document is to have (a change from another site
    /// keeps its version); None gives it a new version made here.
    pub versions: Option<Vec<String>>,
}

impl Site {
    pub fn insert(&self, actor: &Actor, doctype: &str, input: Value) -> Result<Doc> {
        if doctype == crate::stream::EVENT_PRODUCER {
            return self.save_event_producer(actor, None, input);
        }
        let reg = self.doctypes();
        self.write(|tx| insert_in(tx, &reg, actor, doctype, input, WriteOptions::default()))
    }

    pub fn get(&self, actor: &Actor, doctype: &str, name: &str) -> Result<Doc> {
        let reg = self.doctypes();
        let dt = parent_doctype(&reg, doctype)?;
        actor.require(dt, Action::Read)?;
        self.read(|tx| load_existing(tx, doctype, name))
    }

    pub fn update(&self, actor: &Actor, doctype: &str, name: &str, patch: Value) -> Result<Doc> {
        if doctype == crate::stream::EVENT_PRODUCER {
            return self.save_event_producer(actor, Some(name), patch);
        }
        let reg = self.doctypes();
        self.write(|tx| {
            update_in(
                tx,
                &reg,
                actor,
                doctype,
                name,
                patch,
                &WriteOptions::default(),
            )
        })
    }

    pub fn delete(&self, actor: &Actor, doctype: &str, name: &str) -> Result<()> {
        let reg = self.doctypes();
        self.write(|tx| delete_in(tx, &reg, actor, doctype, name, &WriteOptions::default()))
    }
}

fn parent_doctype<'r>(reg: &'r Registry, doctype: &str) -> Result<&'r DocType> {
    let dt = reg.require(doctype)?;
    if dt.istable {
        return Err(Error::bad_input(format!(
            "{doctype} is a child table: its rows live inside their parent document"
        )));
    }
    Ok(dt)
}

fn load_existing(tx: &Transaction, doctype: &str, name: &str) -> Result<Doc> {
    store::load(tx, doctype, name)?.ok_or_else(|| Error::NotFound {
        doctype: doctype.to_owned(),
        name: name.to_owned(),
    })
}

fn as_object(input: Value) -> Result<Doc> {
    match input {
        Value::Object(m) => Ok(m),
        _ => Err(Error::bad_input("A document must be a JSON object")),
    }
}

fn docstatus_of(v: Option<&Value>) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n @ 0..=2) => Ok(Some(n)),
            _ => Err(Error::invalid(
                "docstatus",
                "docstatus must be 0 (draft), 1 (submitted) or 2 (cancelled)",
            )),
        },
    }
}

/// Inserts a new document of `doctype` from `input`.
pub fn insert_in(
    tx: &Transaction,
    reg: &Registry,
    actor: &Actor,
    doctype: &str,
    input: Value,
    opts: WriteOptions,
) -> Result<Doc> {
    let dt = parent_doctype(reg, doctype)?;
    actor.require(dt, Action::Create)?;
    let input = as_object(input)?;
    let docstatus = docstatus_of(input.get("docstatus"))?.unwrap_or(0);
    match docstatus {
        1 if !dt.is_submittable => {
            return Err(Error::invalid(
                "docstatus",
                format!("{doctype} is not submittable"),
            ))
        }
        1 => actor.require(dt, Action::Submit)?,
        2 => {
            return Err(Error::invalid(
                "docstatus",
                "A new document cannot be cancelled",
            ))
        }
        _ => {}
    }
    let given_name = input.get("name").cloned();
    let mut body = build(reg, dt, input, None)?;
    compute::apply(tx, reg, dt, &mut body)?;
    compute::status(dt, &mut body, docstatus);
    let links = validate(tx, reg, dt, &body, None, opts.ignore_links)?;
    let name = naming::assign(tx, dt, &body, given_name.as_ref(), opts.keep_name)?;
    if store::exists(tx, doctype, &name)? {
        return Err(Error::Duplicate {
            field: Some("name".into()),
            message: format!("{doctype} {name} already exists"),
        });
    }
    let now = values::now_string();
    let versions = match opts.versions {
        Some(v) => v,
        None => vec![version::next(&log::local_site_id(tx)?, None)],
    };
    let meta = Meta {
        doctype: &dt.name,
        name: &name,
        owner: &actor.user,
        creation: &now,
        modified: &now,
        modified_by: &actor.user,
        docstatus,
        versions: &versions,
    };
    let doc = assemble(dt, &meta, body, None);
    store::insert(tx, doctype, &doc, &links)?;
    let change = log::Change {
        base: None,
        version: versions.last().map(String::as_str),
        origin: opts.origin.as_deref(),
    };
    log::record(tx, doctype, &name, UpdateType::Create, Some(&doc), &change)?;
    crate::stream::after_write(tx, reg, doctype, Some(&doc))?;
    Ok(doc)
}

/// Merges `patch` into the document (child tables replaced when given).
/// A patch that changes nothing writes nothing.
pub fn update_in(
    tx: &Transaction,
    reg: &Registry,
    actor: &Actor,
    doctype: &str,
    name: &str,
    patch: Value,
    opts: &WriteOptions,
) -> Result<Doc> {
    let dt = parent_doctype(reg, doctype)?;
    actor.require(dt, Action::Write)?;
    let patch = as_object(patch)?;
    if let Some(n) = patch.get("name") {
        if n.as_str() != Some(name) {
            return Err(Error::invalid(
                "name",
                "Renaming a document is not supported",
            ));
        }
    }
    let old = load_existing(tx, doctype, name)?;
    let old_status = docstatus_of(old.get("docstatus"))?.unwrap_or(0);
    let new_status = docstatus_of(patch.get("docstatus"))?.unwrap_or(old_status);

    let mut merged = old.clone();
    for (k, v) in patch {
        merged.insert(k, v);
    }
    let mut body = build(reg, dt, merged, Some(&old))?;
    if old_status == 0 {
        compute::apply(tx, reg, dt, &mut body)?;
    }
    compute::status(dt, &mut body, new_status);
    let unchanged_body = same_content(&body, &old, dt);
    check_transition(dt, name, old_status, new_status, unchanged_body)?;
    if new_status != old_status {
        actor.require(dt, Action::Submit)?;
    }
    // Nothing changed: not the content, nor (for a change from another
    // site) the versions.
    let unchanged = unchanged_body && new_status == old_status;
    let old_versions = version::history(&old);
    let versions = match &opts.versions {
        Some(v) if unchanged && *v == old_versions => return Ok(old),
        Some(v) => v.clone(),
        None if unchanged => return Ok(old),
        None => version::extended(
            old_versions.clone(),
            version::next(
                &log::local_site_id(tx)?,
                old_versions.last().map(String::as_str),
            ),
        ),
    };
    let links = validate(tx, reg, dt, &body, Some(name), opts.ignore_links)?;
    let now = values::now_string();
    let meta = Meta {
        doctype: &dt.name,
        name,
        owner: old
            .get("owner")
            .and_then(Value::as_str)
            .unwrap_or(&actor.user),
        creation: old.get("creation").and_then(Value::as_str).unwrap_or(&now),
        modified: &now,
        modified_by: &actor.user,
        docstatus: new_status,
        versions: &versions,
    };
    let doc = assemble(dt, &meta, body, Some(&old));
    store::update(tx, doctype, &doc, &links)?;
    // A change of version alone (the same content arriving from another
    // site) is logged too, so that sites further on keep the same versions.
    let diff =
        log::diff(dt, &old, &doc).or_else(|| (versions != old_versions).then(log::no_change));
    if let Some(d) = diff {
        let change = log::Change {
            base: old_versions.last().map(String::as_str),
            version: versions.last().map(String::as_str),
            origin: opts.origin.as_deref(),
        };
        log::record(tx, doctype, name, UpdateType::Update, Some(&d), &change)?;
    }
    crate::stream::after_write(tx, reg, doctype, Some(&doc))?;
    Ok(doc)
}

fn check_transition(dt: &DocType, name: &str, old: i64, new: i64, unchanged: bool) -> Result<()> {
    let d = &dt.name;
    let refuse = |m: String| Err(Error::Docstatus(m));
    match (old, new) {
        (0, 0) => Ok(()),
        (0, 1) if dt.is_submittable => Ok(()),
        (0, 1) => Err(Error::invalid(
            "docstatus",
            format!("{d} is not submittable"),
        )),
        (0, 2) => refuse(format!(
            "{d} {name} is a draft: only a submitted document can be cancelled"
        )),
        (1, 1) | (1, 2) if unchanged => Ok(()),
        (1, 1) | (1, 2) => refuse(format!("Cannot edit submitted {d} {name}: cancel it first")),
        (1, 0) => refuse(format!(
            "Submitted {d} {name} cannot go back to draft: cancel it instead"
        )),
        _ => refuse(format!("Cancelled {d} {name} cannot be changed")),
    }
}

pub fn delete_in(
    tx: &Transaction,
    reg: &Registry,
    actor: &Actor,
    doctype: &str,
    name: &str,
    opts: &WriteOptions,
) -> Result<()> {
    let dt = parent_doctype(reg, doctype)?;
    actor.require(dt, Action::Delete)?;
    let old = load_existing(tx, doctype, name)?;
    if docstatus_of(old.get("docstatus"))? == Some(1) {
        return Err(Error::Docstatus(format!(
            "Cannot delete submitted {doctype} {name}: cancel it first"
        )));
    }
    if let Some((by_doctype, by_name)) = store::first_linker(tx, doctype, name)? {
        return Err(Error::LinkExists {
            doctype: doctype.into(),
            name: name.into(),
            by_doctype,
            by_name,
        });
    }
    store::delete(tx, doctype, name)?;
    let base = version::current(&old);
    let made = match &opts.versions {
        Some(v) => v.last().cloned(),
        None => Some(version::next(&log::local_site_id(tx)?, base.as_deref())),
    };
    let change = log::Change {
        base: base.as_deref(),
        version: made.as_deref(),
        origin: opts.origin.as_deref(),
    };
    log::record(
        tx,
        doctype,
        name,
        UpdateType::Delete,
        None::<&Value>,
        &change,
    )?;
    crate::stream::after_write(tx, reg, doctype, None)
}

struct Meta<'a> {
    doctype: &'a str,
    name: &'a str,
    owner: &'a str,
    creation: &'a str,
    modified: &'a str,
    modified_by: &'a str,
    docstatus: i64,
    versions: &'a [String],
}

/// Checks and normalises the declared fields of `input` (and its child
/// rows), in the stored form's order ([`layout`]). Standard fields are set
/// later by [`assemble`]; until then they hold what was given, or null.
/// A document already in that order (one from another site) is filled in
/// place.
fn build(reg: &Registry, dt: &DocType, input: Doc, old: Option<&Doc>) -> Result<Doc> {
    let mut body = if layout::holds(&input, layout::DOC, &dt.fields) {
        input
    } else {
        reject_unknown(dt, &input, String::new)?;
        layout::arrange(input, layout::DOC, &dt.fields)
    };
    for ((_, slot), f) in body.iter_mut().skip(layout::DOC.len()).zip(&dt.fields) {
        let given = std::mem::take(slot);
        *slot = if f.fieldtype == FieldType::Table {
            Value::Array(build_rows(reg, dt, f, given)?)
        } else {
            match (values::coerce_owned(&dt.name, f, given)?, old) {
                (Value::Null, None) => values::default_value(&dt.name, f)?.unwrap_or(Value::Null),
                (v, _) => v,
            }
        };
    }
    Ok(body)
}

/// `place` says where, for the error (made only when there is one).
fn reject_unknown(dt: &DocType, input: &Doc, place: impl Fn() -> String) -> Result<()> {
    for key in input.keys() {
        let standard = STANDARD_FIELDS.contains(&key.as_str())
            || crate::doctype::CHILD_FIELDS.contains(&key.as_str())
            || key.starts_with("__");
        if !standard && dt.field(key).is_none() {
            return Err(Error::invalid(
                key,
                format!("Unknown field {key} for DocType {}{}", dt.name, place()),
            ));
        }
    }
    Ok(())
}

fn build_rows(reg: &Registry, dt: &DocType, f: &DocField, given: Value) -> Result<Vec<Value>> {
    let mut rows = match given {
        Value::Null => return Ok(Vec::new()),
        Value::Array(rows) => rows,
        _ => {
            return Err(Error::invalid(
                &f.fieldname,
                format!(
                    "{}: {} ({}) expects a list of rows",
                    dt.name,
                    f.label(),
                    f.fieldname
                ),
            ))
        }
    };
    let child = reg.require(f.options())?;
    let mut names = std::collections::HashSet::new();
    for (i, slot) in rows.iter_mut().enumerate() {
        let Value::Object(row) = std::mem::take(slot) else {
            return Err(Error::invalid(
                &f.fieldname,
                format!(
                    "Each row of {} ({}) must be an object",
                    f.label(),
                    f.fieldname
                ),
            ));
        };
        let mut row = if layout::holds(&row, layout::ROW, &child.fields) {
            row
        } else {
            reject_unknown(child, &row, || {
                format!(" in row {} of {}", i + 1, f.label())
            })?;
            layout::arrange(row, layout::ROW, &child.fields)
        };
        // The row's name leads it (ROW): set in its place.
        let held = match row.iter_mut().next() {
            Some((k, held)) if k == "name" => held,
            _ => row.entry("name").or_insert(Value::Null),
        };
        let name = match held {
            Value::String(s) if !s.trim().is_empty() => naming::check_name(s)?,
            _ => naming::random_hash(),
        };
        if !names.insert(name.clone()) {
            return Err(Error::invalid(
                &f.fieldname,
                format!("Row name {name} appears twice in {}", f.label()),
            ));
        }
        *held = Value::from(name);
        for ((_, v), cf) in row.iter_mut().skip(layout::ROW.len()).zip(&child.fields) {
            *v = match values::coerce_owned(&child.name, cf, std::mem::take(v))? {
                Value::Null => values::default_value(&child.name, cf)?.unwrap_or(Value::Null),
                v => v,
            };
        }
        *slot = Value::Object(row);
    }
    Ok(rows)
}

/// Mandatory fields, Link integrity and unique fields. Returns the links
/// the document holds, for `doc_links`.
fn validate(
    tx: &Transaction,
    reg: &Registry,
    dt: &DocType,
    body: &Doc,
    name: Option<&str>,
    ignore_links: bool,
) -> Result<Vec<Link>> {
    let mut links = Vec::new();
    check_fields(tx, reg, dt, body, None, ignore_links, &mut links)?;
    for f in dt.table_fields() {
        let child = reg.require(f.options())?;
        let rows = body
            .get(&f.fieldname)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (i, row) in rows.iter().enumerate() {
            if let Value::Object(row) = row {
                check_fields(
                    tx,
                    reg,
                    child,
                    row,
                    Some((i, f.label())),
                    ignore_links,
                    &mut links,
                )?;
            }
        }
    }
    for f in dt.fields.iter().filter(|f| f.unique) {
        if let Some(v) = body
            .get(&f.fieldname)
            .filter(|v| !values::is_empty(Some(v)))
        {
            if store::value_taken(tx, &dt.name, &f.fieldname, v, name.unwrap_or(""))? {
                return Err(Error::Duplicate {
                    field: Some(f.fieldname.clone()),
                    message: format!(
                        "{} {} ({}) must be unique: {v} is already used",
                        dt.name,
                        f.label(),
                        f.fieldname
                    ),
                });
            }
        }
    }
    Ok(links)
}

/// Checks `body`'s fields against `dt` (mandatory values, links), and
/// gathers its links. `row`: the index and table label of a child row
/// (named in errors only, so not written out for every row checked).
fn check_fields(
    tx: &Transaction,
    reg: &Registry,
    dt: &DocType,
    body: &Doc,
    row: Option<(usize, &str)>,
    ignore_links: bool,
    links: &mut Vec<Link>,
) -> Result<()> {
    let place = || {
        row.map_or_else(String::new, |(i, table)| {
            format!(" row {} of {table}", i + 1)
        })
    };
    let standard = if row.is_some() {
        layout::ROW
    } else {
        layout::DOC
    };
    for (f, v) in layout::declared(body, standard, &dt.fields) {
        if f.reqd && values::is_empty(v) {
            return Err(Error::Mandatory {
                doctype: dt.name.clone(),
                row: place(),
                field: f.fieldname.clone(),
                label: f.label().to_owned(),
            });
        }
        let Some(Value::String(target_name)) = v else {
            continue;
        };
        let target = match f.fieldtype {
            FieldType::Link => f.options().to_owned(),
            FieldType::DynamicLink => match body.get(f.options()).and_then(Value::as_str) {
                Some(t) if reg.get(t).is_some() => t.to_owned(),
                other => {
                    return Err(Error::invalid(
                        &f.fieldname,
                        format!(
                            "{}{}: {} ({}) needs {} to name a DocType, found {:?}",
                            dt.name,
                            place(),
                            f.label(),
                            f.fieldname,
                            f.options(),
                            other.unwrap_or("")
                        ),
                    ))
                }
            },
            _ => continue,
        };
        let found = if target == DOCTYPE_LINK {
            reg.get(target_name).is_some()
        } else {
            ignore_links || store::exists(tx, &target, target_name)?
        };
        if !found {
            return Err(Error::Link {
                field: f.fieldname.clone(),
                target_doctype: target,
                value: match row {
                    None => target_name.clone(),
                    Some(_) => format!("{target_name} in{}", place()),
                },
            });
        }
        if target != DOCTYPE_LINK {
            links.push(Link {
                fieldname: f.fieldname.clone(),
                doctype: target,
                name: target_name.clone(),
            });
        }
    }
    Ok(())
}

/// Whether `body` holds the same field values (and rows) as `old`.
fn same_content(body: &Doc, old: &Doc, dt: &DocType) -> bool {
    dt.fields
        .iter()
        .filter(|f| !compute::is_derived(dt, &f.fieldname))
        .all(|f| {
            let new = body.get(&f.fieldname).unwrap_or(&Value::Null);
            let before = old.get(&f.fieldname).unwrap_or(&Value::Null);
            if f.fieldtype == FieldType::Table {
                let strip = |v: &Value| -> Vec<Doc> {
                    v.as_array()
                        .map(|rows| {
                            rows.iter()
                                .filter_map(Value::as_object)
                                .map(|r| {
                                    r.iter()
                                        .filter(|(k, _)| !is_row_meta(k))
                                        .map(|(k, v)| (k.clone(), v.clone()))
                                        .collect()
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                strip(new) == strip(before)
            } else {
                new == before
            }
        })
}

fn is_row_meta(key: &str) -> bool {
    key != "name" && layout::ROW.contains(&key)
}

/// The stored form: standard fields first, then declared fields; child rows
/// get their own standard fields (keeping `creation` of rows that existed).
/// `body` comes from [`build`], in that order: its standard fields are
/// overwritten in place.
fn assemble(dt: &DocType, m: &Meta, body: Doc, old: Option<&Doc>) -> Doc {
    let mut doc = if layout::begins_with(&body, layout::DOC) {
        body
    } else {
        layout::lead_with(body, layout::DOC)
    };
    layout::fill(
        &mut doc,
        [
            Value::from(m.name),
            Value::from(m.owner),
            Value::from(m.creation),
            Value::from(m.modified),
            Value::from(m.modified_by),
            Value::from(m.docstatus),
            Value::from(0),
            Value::from(dt.name.as_str()),
            Value::from(m.versions.to_vec()),
        ],
    );
    for f in dt.table_fields() {
        if let Some(Value::Array(rows)) = doc.get_mut(&f.fieldname) {
            let old_rows = old
                .and_then(|o| o.get(&f.fieldname))
                .and_then(Value::as_array);
            for (i, row) in rows.iter_mut().enumerate() {
                if let Value::Object(row) = row {
                    assemble_row(f, m, i, row, old_rows);
                }
            }
        }
    }
    doc
}

fn assemble_row(f: &DocField, m: &Meta, i: usize, row: &mut Doc, old_rows: Option<&Vec<Value>>) {
    if !layout::begins_with(row, layout::ROW) {
        *row = layout::lead_with(std::mem::take(row), layout::ROW);
    }
    let name = row.get("name").cloned().unwrap_or(Value::Null);
    let creation = old_rows
        .and_then(|rows| rows.iter().find(|r| r.get("name") == Some(&name)))
        .and_then(|r| r.get("creation").cloned())
        .unwrap_or_else(|| Value::from(m.creation));
    layout::fill(
        row,
        [
            name,
            Value::from(m.owner),
            creation,
            Value::from(m.modified),
            Value::from(m.modified_by),
            Value::from(m.docstatus),
            Value::from(m.name),
            Value::from(f.fieldname.as_str()),
            Value::from(m.doctype),
            Value::from(i as i64 + 1),
            Value::from(f.options()),
        ],
    );
}

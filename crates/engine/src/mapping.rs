//! Document Type Mapping (SPEC F16): a remote doctype stored as a local one
//! whose structure or field names differ (a remote Note as a local ToDo).
//!
//! A mapping copies the remote fields its rows name into local fields,
//! falls back on default values, maps child-table rows through another
//! mapping ("Child Table") and turns a remote value into a local document
//! created first ("Document", found on the producer with remote value
//! filters). Fields of the same name in both doctypes flow without a row,
//! as in Frappe, unless they are links or tables (those always need a row).

use std::collections::{HashMap, HashSet};

use rusqlite::Transaction;
use serde_json::{Map, Value};

use crate::doctype::{DocType, FieldType, Registry, STANDARD_FIELDS};
use crate::document::{store, Doc};
use crate::error::{Error, Result};

pub const DOCUMENT_TYPE_MAPPING: &str = "Document Type Mapping";

/// How deep "Document" rows may nest (a mapping whose dependency has a
/// dependency…); deeper is taken for a cycle.
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub enum RowKind {
    /// Copy the remote value.
    Plain,
    /// Map each row of a remote table through `mapping`.
    ChildTable { mapping: String },
    /// Find the remote document with `filters`, map it through `mapping`,
    /// insert it first and put its local name in the field.
    Document {
        mapping: String,
        filters: Vec<(String, FilterValue)>,
    },
}

/// One value of `remote_value_filters`.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A field of the incoming document (or, when it has none, this text).
    Field(String),
    /// `eval:<expression>` over the incoming `doc`, may read the local store.
    Eval(String),
}

#[derive(Debug, Clone)]
pub struct FieldRow {
    pub idx: usize,
    pub local: String,
    pub remote: Option<String>,
    pub default: Option<String>,
    pub kind: RowKind,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    pub local_doctype: String,
    pub remote_doctype: String,
    pub rows: Vec<FieldRow>,
}

/// A dependency asked for by a "Document" row: the remote document of
/// `mapping`'s remote doctype that matches `filters`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocRequest {
    pub local_field: String,
    pub mapping: String,
    pub filters: Map<String, Value>,
}

/// A mapped document ready to be stored, with the mapped documents whose
/// local names go into its fields first.
#[derive(Debug, Clone)]
pub struct MappedDoc {
    pub doctype: String,
    pub body: Doc,
    pub deps: Vec<(String, MappedDoc)>,
}

/// Evaluates an `eval:` expression over the incoming document.
pub type Evaluator<'a> = dyn Fn(&str, &Doc) -> Result<Value> + 'a;

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A value that counts as given: not missing, null, empty text or an empty list.
fn given(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    })
}

impl Mapping {
    /// Reads a stored Document Type Mapping, checking its own shape.
    pub fn from_doc(doc: &Doc) -> Result<Mapping> {
        let name = text(doc, "name").unwrap_or_default();
        let local_doctype = text(doc, "local_doctype")
            .ok_or_else(|| Error::invalid("local_doctype", "Choose the local DocType"))?;
        let remote_doctype = text(doc, "remote_doctype")
            .ok_or_else(|| Error::invalid("remote_doctype", "Name the DocType on the producer"))?;
        let mut rows = Vec::new();
        for (i, r) in doc
            .get("field_mapping")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .enumerate()
        {
            let idx = i + 1;
            let local = text(r, "local_fieldname").ok_or_else(|| {
                Error::invalid(
                    "local_fieldname",
                    format!("Row #{idx}: Local Fieldname is required"),
                )
            })?;
            let remote = text(r, "remote_fieldname");
            let default = r
                .get("default_value")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let inner = text(r, "mapping");
            let need_inner = |what: &str| {
                inner.clone().ok_or_else(|| {
                    Error::invalid(
                        "mapping",
                        format!("Row #{idx}: a {what} row needs a Mapping for {local}"),
                    )
                })
            };
            let kind = match text(r, "mapping_type").as_deref() {
                None => RowKind::Plain,
                Some("Child Table") => RowKind::ChildTable {
                    mapping: need_inner("Child Table")?,
                },
                Some("Document") => RowKind::Document {
                    mapping: need_inner("Document")?,
                    filters: parse_filters(idx, &remote, r.get("remote_value_filters"))?,
                },
                Some(other) => {
                    return Err(Error::invalid(
                        "mapping_type",
                        format!("Row #{idx}: Mapping Type must be empty, Child Table or Document, not {other:?}"),
                    ))
                }
            };
            if remote.is_none() && default.is_none() && matches!(kind, RowKind::Plain) {
                return Err(Error::invalid(
                    "remote_fieldname",
                    format!("Row #{idx}: give {local} a Remote Fieldname or a Default Value"),
                ));
            }
            rows.push(FieldRow {
                idx,
                local,
                remote,
                default,
                kind,
            });
        }
        Ok(Mapping {
            name,
            local_doctype,
            remote_doctype,
            rows,
        })
    }

    /// Checks the mapping against the local doctypes and the mappings it
    /// names (run when it is saved): every local field exists; a Link,
    /// Dynamic Link or Table field has a mapping or a default; inner
    /// mappings produce the right doctype.
    pub fn check(&self, reg: &Registry, inner: &dyn Fn(&str) -> Result<Mapping>) -> Result<()> {
        let dt = reg.get(&self.local_doctype).ok_or_else(|| {
            Error::invalid(
                "local_doctype",
                format!("DocType {} does not exist on this site", self.local_doctype),
            )
        })?;
        let mut seen = HashSet::new();
        for row in &self.rows {
            let idx = row.idx;
            let f = dt.field(&row.local).ok_or_else(|| {
                Error::invalid(
                    "local_fieldname",
                    format!("Row #{idx}: {} has no field {}", dt.name, row.local),
                )
            })?;
            if !seen.insert(row.local.as_str()) {
                return Err(Error::invalid(
                    "local_fieldname",
                    format!("Row #{idx}: {} is mapped twice", row.local),
                ));
            }
            let dependency = matches!(
                f.fieldtype,
                FieldType::Link | FieldType::DynamicLink | FieldType::Table
            );
            if dependency && matches!(row.kind, RowKind::Plain) && row.default.is_none() {
                return Err(Error::invalid(
                    "mapping",
                    format!(
                        "Row #{idx}: {} is a {} field: set a Mapping or a Default Value for it, since it is a dependency",
                        row.local,
                        match f.fieldtype {
                            FieldType::Link => "Link",
                            FieldType::DynamicLink => "Dynamic Link",
                            _ => "Table",
                        }
                    ),
                ));
            }
            match &row.kind {
                RowKind::Plain => {}
                RowKind::ChildTable { mapping } => {
                    if f.fieldtype != FieldType::Table {
                        return Err(Error::invalid(
                            "mapping_type",
                            format!("Row #{idx}: {} is not a Table field, so it cannot take a Child Table mapping", row.local),
                        ));
                    }
                    if row.remote.is_none() {
                        return Err(Error::invalid(
                            "remote_fieldname",
                            format!(
                                "Row #{idx}: name the remote table mapped onto {}",
                                row.local
                            ),
                        ));
                    }
                    let m = inner(mapping)?;
                    if m.local_doctype != f.options() {
                        return Err(Error::invalid(
                            "mapping",
                            format!(
                                "Row #{idx}: mapping {mapping} gives {}, but {} holds {} rows",
                                m.local_doctype,
                                row.local,
                                f.options()
                            ),
                        ));
                    }
                }
                RowKind::Document { mapping, .. } => {
                    let m = inner(mapping)?;
                    if f.fieldtype == FieldType::Link && m.local_doctype != f.options() {
                        return Err(Error::invalid(
                            "mapping",
                            format!(
                                "Row #{idx}: mapping {mapping} gives {}, but {} links to {}",
                                m.local_doctype,
                                row.local,
                                f.options()
                            ),
                        ));
                    }
                    if f.fieldtype == FieldType::Table {
                        return Err(Error::invalid(
                            "mapping_type",
                            format!(
                                "Row #{idx}: {} is a Table field: use a Child Table mapping",
                                row.local
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn row_for_remote_table(&self, table: &str) -> Option<(&FieldRow, &str)> {
        self.rows.iter().find_map(|r| match &r.kind {
            RowKind::ChildTable { mapping } if r.remote.as_deref() == Some(table) => {
                Some((r, mapping.as_str()))
            }
            _ => None,
        })
    }

    /// Maps a remote document (`fresh`: a whole new one, where defaults
    /// apply) or the `changed` part of an update. Returns the local body
    /// and the dependencies its "Document" rows ask for.
    pub fn map_doc(
        &self,
        all: &Mappings,
        reg: &Registry,
        remote: &Doc,
        fresh: bool,
        eval: &Evaluator,
    ) -> Result<(Doc, Vec<DocRequest>)> {
        let dt = reg.require(&self.local_doctype)?;
        let consumed: HashSet<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.remote.as_deref())
            .collect();
        let mut out = carried_over(dt, remote, &consumed);
        let mut requests = Vec::new();
        for row in &self.rows {
            let value = given(row.remote.as_deref().and_then(|r| remote.get(r)));
            match (&row.kind, value) {
                (_, None) => {
                    if let (true, Some(d)) = (fresh, &row.default) {
                        out.insert(row.local.clone(), Value::from(d.clone()));
                    }
                }
                (RowKind::Plain, Some(v)) => {
                    out.insert(row.local.clone(), v.clone());
                }
                (RowKind::ChildTable { mapping }, Some(v)) => {
                    let rows = all.get(mapping)?.map_rows(all, reg, v, true, eval)?;
                    out.insert(row.local.clone(), rows);
                }
                (RowKind::Document { .. }, Some(_)) if row.default.is_some() => {
                    out.insert(row.local.clone(), Value::from(row.default.clone()));
                }
                (RowKind::Document { mapping, filters }, Some(_)) => {
                    requests.push(DocRequest {
                        local_field: row.local.clone(),
                        mapping: mapping.clone(),
                        filters: eval_filters(filters, remote, eval)?,
                    });
                }
            }
        }
        Ok((out, requests))
    }

    /// Maps a list of child-table rows.
    fn map_rows(
        &self,
        all: &Mappings,
        reg: &Registry,
        rows: &Value,
        fresh: bool,
        eval: &Evaluator,
    ) -> Result<Value> {
        rows.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|r| self.map_row(all, reg, r, fresh, eval).map(Value::Object))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array)
    }

    /// Maps one child-table row, keeping its name and position.
    fn map_row(
        &self,
        all: &Mappings,
        reg: &Registry,
        remote: &Doc,
        fresh: bool,
        eval: &Evaluator,
    ) -> Result<Doc> {
        let (mut row, requests) = self.map_doc(all, reg, remote, fresh, eval)?;
        if let Some(r) = requests.first() {
            return Err(Error::invalid(
                "mapping_type",
                format!(
                    "Mapping {} is used for child-table rows and cannot create documents ({})",
                    self.name, r.local_field
                ),
            ));
        }
        for k in ["name", "idx"] {
            if let Some(v) = remote.get(k) {
                row.insert(k.to_owned(), v.clone());
            }
        }
        Ok(row)
    }

    /// Maps an update's diff (SPEC F10 form): `changed` through the field
    /// rows, table parts through the Child Table rows (under the local
    /// table's name); tables without a row are left behind.
    pub fn map_diff(
        &self,
        all: &Mappings,
        reg: &Registry,
        diff: &Value,
        eval: &Evaluator,
    ) -> Result<(Value, Vec<DocRequest>)> {
        let mut out = Map::new();
        let mut requests = Vec::new();
        if let Some(changed) = diff.get("changed").and_then(Value::as_object) {
            let (mapped, reqs) = self.map_doc(all, reg, changed, false, eval)?;
            out.insert("changed".into(), Value::Object(mapped));
            requests = reqs;
        }
        for part in ["added", "removed", "row_changed"] {
            let mut tables = Map::new();
            for (table, rows) in diff
                .get(part)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let Some((row, inner)) = self.row_for_remote_table(table) else {
                    continue;
                };
                let mapped = match part {
                    "removed" => rows.clone(),
                    _ => all
                        .get(inner)?
                        .map_rows(all, reg, rows, part == "added", eval)?,
                };
                tables.insert(row.local.clone(), mapped);
            }
            if !tables.is_empty() {
                out.insert(part.into(), Value::Object(tables));
            }
        }
        Ok((Value::Object(out), requests))
    }
}

/// Same-named fields that need no row: plain values the local doctype
/// declares, not links or tables, and not remote fields a row consumes.
fn carried_over(dt: &DocType, remote: &Doc, consumed: &HashSet<&str>) -> Doc {
    let mut out = Doc::new();
    for (k, v) in remote {
        if consumed.contains(k.as_str()) {
            continue;
        }
        if k == "docstatus" && dt.is_submittable {
            out.insert(k.clone(), v.clone());
            continue;
        }
        if STANDARD_FIELDS.contains(&k.as_str()) {
            continue;
        }
        if let Some(f) = dt.field(k) {
            if !matches!(
                f.fieldtype,
                FieldType::Link | FieldType::DynamicLink | FieldType::Table
            ) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn parse_filters(
    idx: usize,
    remote: &Option<String>,
    v: Option<&Value>,
) -> Result<Vec<(String, FilterValue)>> {
    let missing = || {
        Error::invalid(
            "remote_value_filters",
            format!(
                "Row #{idx}: set Remote Value Filters for {} to find the one remote document it depends on",
                remote.as_deref().unwrap_or("this row")
            ),
        )
    };
    let parsed: Value = match v {
        None | Some(Value::Null) => return Err(missing()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(missing()),
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
            Error::invalid(
                "remote_value_filters",
                format!("Row #{idx}: Remote Value Filters must be a JSON object like {{\"title\": \"title\"}}: {e}"),
            )
        })?,
        Some(other) => other.clone(),
    };
    let Value::Object(map) = parsed else {
        return Err(Error::invalid(
            "remote_value_filters",
            format!("Row #{idx}: Remote Value Filters must be a JSON object like {{\"title\": \"title\"}}"),
        ));
    };
    if map.is_empty() {
        return Err(missing());
    }
    let mut out = Vec::new();
    for (k, v) in map {
        let Some(s) = v.as_str() else {
            return Err(Error::invalid(
                "remote_value_filters",
                format!(
                    "Row #{idx}: the filter for {k} must be a field name or \"eval:<expression>\""
                ),
            ));
        };
        let value = match s.strip_prefix("eval:") {
            Some(expr) => {
                crate::condition::check_eval(expr).map_err(|e| {
                    Error::invalid("remote_value_filters", format!("Row #{idx}: {e}"))
                })?;
                FilterValue::Eval(expr.to_owned())
            }
            None => FilterValue::Field(s.to_owned()),
        };
        out.push((k, value));
    }
    Ok(out)
}

fn eval_filters(
    filters: &[(String, FilterValue)],
    remote: &Doc,
    eval: &Evaluator,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in filters {
        let value = match v {
            FilterValue::Eval(expr) => eval(expr, remote)?,
            FilterValue::Field(f) => match given(remote.get(f)) {
                Some(v) => v.clone(),
                None => Value::from(f.clone()),
            },
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// Every Document Type Mapping of a site, by name.
#[derive(Debug, Clone, Default)]
pub struct Mappings(HashMap<String, Mapping>);

impl Mappings {
    pub fn load(tx: &Transaction) -> Result<Mappings> {
        let mut stmt = tx.prepare("SELECT name, data FROM documents WHERE doctype = ?1")?;
        let rows = stmt.query_map([DOCUMENT_TYPE_MAPPING], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (name, data) = row?;
            let doc = store::parse(DOCUMENT_TYPE_MAPPING, &name, &data)?;
            out.insert(name, Mapping::from_doc(&doc)?);
        }
        Ok(Mappings(out))
    }

    pub fn get(&self, name: &str) -> Result<&Mapping> {
        self.0.get(name).ok_or_else(|| Error::NotFound {
            doctype: DOCUMENT_TYPE_MAPPING.into(),
            name: name.into(),
        })
    }
}

/// Checks a Document Type Mapping before it is stored (SPEC F16).
pub(crate) fn validate(tx: &Transaction, reg: &Registry, doc: &Doc) -> Result<()> {
    let m = Mapping::from_doc(doc)?;
    m.check(reg, &|name| {
        let d = store::load(tx, DOCUMENT_TYPE_MAPPING, name)?.ok_or_else(|| {
            Error::invalid("mapping", format!("No Document Type Mapping named {name}"))
        })?;
        Mapping::from_doc(&d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctype::builtin_doctypes;
    use serde_json::json;

    fn reg() -> Registry {
        let mut reg = Registry::default();
        for dt in builtin_doctypes().unwrap() {
            reg.insert(dt);
        }
        reg
    }

    fn mapping(v: Value) -> Result<Mapping> {
        Mapping::from_doc(v.as_object().unwrap())
    }

    fn no_eval(_: &str, _: &Doc) -> Result<Value> {
        Err(Error::invalid("remote_value_filters", "no eval here"))
    }

    #[test]
    fn a_note_becomes_a_todo_with_defaults_only_for_new_documents() {
        let m = mapping(json!({"name": "Note to ToDo", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "description", "remote_fieldname": "content", "default_value": "(empty note)"},
            {"local_fieldname": "priority", "default_value": "High"}]}))
        .unwrap();
        m.check(&reg(), &|_| unreachable!()).unwrap();
        let all = Mappings::default();
        let note =
            json!({"name": "n1", "title": "T", "content": "hello", "public": 1, "owner": "a@x"});
        let (todo, reqs) = m
            .map_doc(&all, &reg(), note.as_object().unwrap(), true, &no_eval)
            .unwrap();
        assert_eq!(
            Value::Object(todo),
            json!({"description": "hello", "priority": "High"})
        );
        assert!(reqs.is_empty());
        let (todo, _) = m
            .map_doc(
                &all,
                &reg(),
                json!({"title": "T"}).as_object().unwrap(),
                true,
                &no_eval,
            )
            .unwrap();
        assert_eq!(todo["description"], "(empty note)");
        let (diff, _) = m
            .map_diff(
                &all,
                &reg(),
                &json!({"changed": {"content": "bye", "title": "U"}}),
                &no_eval,
            )
            .unwrap();
        assert_eq!(diff, json!({"changed": {"description": "bye"}}));
    }

    #[test]
    fn links_without_mapping_or_default_and_documents_without_filters_are_refused() {
        let r = reg();
        let err = mapping(json!({"name": "m", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "role", "remote_fieldname": "title"}]}))
        .unwrap()
        .check(&r, &|_| unreachable!())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Row #1: role is a Link field: set a Mapping or a Default Value"),
            "{err}"
        );
        let err = mapping(json!({"name": "m", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document", "mapping": "x"}]}))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Row #1: set Remote Value Filters for title"),
            "{err}"
        );
        let err = mapping(json!({"name": "m", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "nope", "remote_fieldname": "title"}]}))
        .unwrap()
        .check(&r, &|_| unreachable!())
        .unwrap_err()
        .to_string();
        assert!(err.contains("ToDo has no field nope"), "{err}");
        let err = mapping(json!({"name": "m", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document", "mapping": "x",
             "remote_value_filters": "{\"title\": \"eval:doc.title +\"}"}]}))
        .unwrap_err()
        .to_string();
        assert!(err.contains("Invalid eval: expression"), "{err}");
    }

    #[test]
    fn document_rows_ask_for_the_remote_document_with_evaluated_filters() {
        let m = mapping(json!({"name": "m", "local_doctype": "ToDo", "remote_doctype": "Note", "field_mapping": [
            {"local_fieldname": "description", "remote_fieldname": "content"},
            {"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document", "mapping": "Note to Role",
             "remote_value_filters": "{\"title\": \"title\", \"public\": \"eval:1 + 1\"}"}]}))
        .unwrap();
        let eval = |e: &str, _: &Doc| -> Result<Value> { Ok(json!(format!("evaluated {e}"))) };
        let note = json!({"title": "Ops", "content": "c"});
        let (todo, reqs) = m
            .map_doc(
                &Mappings::default(),
                &reg(),
                note.as_object().unwrap(),
                true,
                &eval,
            )
            .unwrap();
        assert_eq!(Value::Object(todo), json!({"description": "c"}));
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].local_field, "role");
        assert_eq!(
            Value::Object(reqs[0].filters.clone()),
            json!({"title": "Ops", "public": "evaluated 1 + 1"})
        );
    }
}

//! Listing documents (SPEC F7): Frappe's `filters`, `fields`, `order_by`,
//! `limit_start` and `limit_page_length`, checked against the doctype
//! before any SQL is built. Field names only ever reach SQL after being
//! matched against the doctype's declaration; values are bound parameters.

use rusqlite::types::Value as Sql;
use serde::Deserialize;
use serde_json::Value;
use ts_rs::TS;

use crate::actor::Actor;
use crate::doctype::{Action, DocType, FieldType, Registry, STANDARD_FIELDS};
use crate::document::{store, Doc};
use crate::error::{Error, Result};
use crate::site::Site;

pub const DEFAULT_PAGE_LENGTH: u64 = 20;
pub const MAX_PAGE_LENGTH: u64 = 1000;
/// Bounds on a query, checked before any SQL is built (each a 400 naming it).
pub const MAX_FILTERS: usize = 50;
pub const MAX_IN_VALUES: usize = 1000;
pub const MAX_ORDER_TERMS: usize = 10;
pub const MAX_FIELDS: usize = 200;
pub const MAX_SEARCH_CHARS: usize = 140;
pub const MAX_SEARCH_WORDS: usize = 8;

#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct ListQuery {
    /// `{field: value}`, `{field: [op, value]}` or `[[field, op, value], …]`.
    #[ts(optional, type = "unknown")]
    pub filters: Option<Value>,
    /// Field names, or `["*"]` for every field but child tables. Default `["name"]`.
    #[ts(optional)]
    pub fields: Option<Vec<String>>,
    /// `field [asc|desc]`, comma-separated. Default `modified desc`.
    #[ts(optional)]
    pub order_by: Option<String>,
    /// Words to find, case-insensitively, in the name or any text, Link or
    /// Select field (the list's search box); every word must match.
    #[ts(optional)]
    pub search: Option<String>,
    #[ts(optional, type = "number")]
    pub limit_start: Option<u64>,
    #[ts(optional, type = "number")]
    pub limit_page_length: Option<u64>,
}

impl Site {
    pub fn list(&self, actor: &Actor, doctype: &str, q: &ListQuery) -> Result<Vec<Doc>> {
        let reg = self.doctypes();
        let dt = reg.require(doctype)?;
        if dt.istable {
            return Err(Error::bad_input(format!(
                "{doctype} is a child table: list its parent instead"
            )));
        }
        actor.require(dt, Action::Read)?;
        let plan = Plan::new(dt, q)?;
        self.read(|tx| {
            let mut stmt = tx.prepare(&plan.sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(plan.params.iter()), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, data) = row?;
                let doc = store::parse(doctype, &name, &data)?;
                out.push(
                    plan.fields
                        .iter()
                        .map(|f| (f.clone(), doc.get(f).cloned().unwrap_or(Value::Null)))
                        .collect(),
                );
            }
            Ok(out)
        })
    }
}

impl Site {
    /// How many documents match `filters` and `search` (Frappe's
    /// `frappe.client.get_count`, with the list's search box).
    pub fn count(
        &self,
        actor: &Actor,
        doctype: &str,
        filters: Option<&Value>,
        search: Option<&str>,
    ) -> Result<i64> {
        let reg = self.doctypes();
        let dt = reg.require(doctype)?;
        actor.require(dt, Action::Read)?;
        let filters = parse_filters(dt, filters)?;
        let (sql, params) = select(dt, "COUNT(*)", "", &filters, search)?;
        self.read(|tx| {
            Ok(tx
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
        })
    }
}

/// A filter as parsed: field, operator, value.
type Filter = (String, String, Value);

/// `SELECT <what> FROM documents[<indexed>]` of one doctype, narrowed by
/// `filters` (parsed against the doctype) and the search box's words, with
/// its bound parameters.
fn select(
    dt: &DocType,
    what: &str,
    indexed: &str,
    filters: &[Filter],
    search: Option<&str>,
) -> Result<(String, Vec<Sql>)> {
    let mut params = Vec::new();
    let mut sql = format!(
        "SELECT {what} FROM documents{indexed} WHERE {}",
        of_doctype(dt)
    );
    for (field, op, value) in filters {
        sql.push_str(" AND ");
        sql.push_str(&condition(dt, field, op, value, &mut params)?);
    }
    push_search(dt, search, &mut sql, &mut params)?;
    Ok((sql, params))
}

/// [`select`] with `filters` as a caller wrote them, no search.
fn select_where(
    reg: &Registry,
    what: &str,
    doctype: &str,
    filters: Option<&Value>,
) -> Result<(String, Vec<Sql>)> {
    let dt = reg.require(doctype)?;
    select(dt, what, "", &parse_filters(dt, filters)?, None)
}

/// How many documents of `doctype` match `filters`, on any connection.
pub fn count_in(
    conn: &rusqlite::Connection,
    reg: &Registry,
    doctype: &str,
    filters: Option<&Value>,
) -> Result<i64> {
    let (sql, params) = select_where(reg, "COUNT(*)", doctype, filters)?;
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
}

/// Names of the first `limit` documents of `doctype` matching `filters`,
/// oldest first, on any connection.
pub fn names_in(
    conn: &rusqlite::Connection,
    reg: &Registry,
    doctype: &str,
    filters: Option<&Value>,
    limit: u32,
) -> Result<Vec<String>> {
    let (mut sql, params) = select_where(reg, "name", doctype, filters)?;
    sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

struct Plan {
    sql: String,
    params: Vec<Sql>,
    fields: Vec<String>,
}

impl Plan {
    fn new(dt: &DocType, q: &ListQuery) -> Result<Plan> {
        let filters = parse_filters(dt, q.filters.as_ref())?;
        let (order, first) = order_by(dt, q.order_by.as_deref())?;
        // Sorted first by an indexed field, nothing else asked: read that
        // index in order (the planner, not knowing how many documents a
        // doctype has, would rather sort them all). With filters or a
        // search the planner chooses (an index of a filter, a scan).
        let searched = q.search.as_deref().is_some_and(|t| !t.trim().is_empty());
        let by_index = dt
            .field(&first)
            .filter(|f| filters.is_empty() && !searched && f.search_index)
            .map(|f| format!(" INDEXED BY {}", index_name(dt, &f.fieldname)))
            .unwrap_or_default();
        let (mut sql, params) = select(dt, "name, data", &by_index, &filters, q.search.as_deref())?;
        sql.push_str(" ORDER BY ");
        sql.push_str(&order);
        let limit = q.limit_page_length.unwrap_or(DEFAULT_PAGE_LENGTH);
        if !(1..=MAX_PAGE_LENGTH).contains(&limit) {
            return Err(Error::invalid(
                "limit_page_length",
                format!("limit_page_length must be between 1 and {MAX_PAGE_LENGTH}, got {limit}"),
            ));
        }
        let start = q.limit_start.unwrap_or(0);
        if start > i64::MAX as u64 {
            return Err(Error::invalid("limit_start", "limit_start is too large"));
        }
        sql.push_str(&format!(" LIMIT {limit} OFFSET {start}"));
        Ok(Plan {
            sql,
            params,
            fields: select_fields(dt, q.fields.as_deref())?,
        })
    }
}

/// Narrows `sql` to documents where every word of `search` appears, in any
/// case, in the name or one of the doctype's text, Link or Select fields.
/// `%`, `_` and `\\` in the words are matched as themselves.
fn push_search(
    dt: &DocType,
    search: Option<&str>,
    sql: &mut String,
    params: &mut Vec<Sql>,
) -> Result<()> {
    let Some(text) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(Error::invalid(
            "search",
            format!("Search for at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    let columns: Vec<String> = std::iter::once("name".to_owned())
        .chain(
            dt.fields
                .iter()
                .filter(|f| {
                    f.fieldtype.is_text()
                        || matches!(
                            f.fieldtype,
                            FieldType::Link | FieldType::DynamicLink | FieldType::Select
                        )
                })
                .map(|f| column(&f.fieldname)),
        )
        .collect();
    if text.split_whitespace().count() > MAX_SEARCH_WORDS {
        return Err(Error::invalid(
            "search",
            format!("Search for at most {MAX_SEARCH_WORDS} words"),
        ));
    }
    for word in text.split_whitespace() {
        params.push(Sql::Text(format!("%{}%", like_escaped(word))));
        let mark = params.len();
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE ?{mark} ESCAPE '\\'"))
            .collect();
        // The word appears in the document's JSON as typed unless JSON
        // escapes it: test that first, parse only the rows that pass.
        let prefilter = if json_plain(word) {
            format!("data LIKE ?{mark} ESCAPE '\\' AND ")
        } else {
            String::new()
        };
        sql.push_str(&format!(" AND {prefilter}({})", any.join(" OR ")));
    }
    Ok(())
}

/// `text` for LIKE, its `%`, `_` and `\\` matching themselves (ESCAPE '\\').
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Whether JSON writes `text` as it is (no quote, backslash or control character).
fn json_plain(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
}

/// `doctype = '<name>'`, the name written into the SQL rather than bound:
/// SQLite only uses a doctype's own (partial) indexes when it can see the
/// doctype while planning. Names are validated identifiers; quotes doubled
/// all the same.
fn of_doctype(dt: &DocType) -> String {
    format!("doctype = '{}'", dt.name.replace('\'', "''"))
}

/// The index of each field declared `search_index`, over that doctype's
/// documents only, by value then name (so a sort by the field, either way,
/// reads the index in order). Made once; cheap when they exist.
pub fn ensure_indexes(tx: &rusqlite::Transaction, reg: &Registry) -> Result<()> {
    for dt in reg.all() {
        for f in dt
            .fields
            .iter()
            .filter(|f| f.search_index && f.fieldtype != FieldType::Table)
        {
            tx.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS {index} ON documents ({col}, name) WHERE {this}",
                index = index_name(dt, &f.fieldname),
                col = column(&f.fieldname),
                this = of_doctype(dt),
            ))?;
        }
    }
    Ok(())
}

/// A stable name per (doctype, field): the doctype's bytes in hex, the field.
fn index_name(dt: &DocType, field: &str) -> String {
    let hex: String = dt.name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("list_{hex}_{field}")
}

fn field_type(dt: &DocType, field: &str, purpose: &str) -> Result<Option<FieldType>> {
    if STANDARD_FIELDS.contains(&field) && field != "doctype" {
        return Ok(match field {
            "docstatus" | "idx" => Some(FieldType::Int),
            _ => None,
        });
    }
    match dt.field(field) {
        Some(f) if f.fieldtype != FieldType::Table => Ok(Some(f.fieldtype)),
        Some(_) => Err(Error::invalid(
            field,
            format!("Cannot {purpose} child table field {field}"),
        )),
        None => Err(Error::invalid(
            field,
            format!("Cannot {purpose} unknown field {field:?} of {}", dt.name),
        )),
    }
}

fn column(field: &str) -> String {
    // Only called with names matched against the declaration, which are
    // `[a-z0-9_]` by construction.
    match field {
        "name" => "name".to_owned(),
        "modified" => "modified".to_owned(),
        f => format!("json_extract(data, '$.{f}')"),
    }
}

fn parse_filters(dt: &DocType, filters: Option<&Value>) -> Result<Vec<Filter>> {
    let bad = |m: &str| Error::invalid("filters", m.to_owned());
    let count = match filters {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    if count > MAX_FILTERS {
        return Err(bad(&format!(
            "At most {MAX_FILTERS} filters in one query, got {count}"
        )));
    }
    let mut out = Vec::new();
    match filters {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (field, v) in map {
                match v {
                    Value::Array(pair) if pair.len() == 2 => {
                        let op = pair[0]
                            .as_str()
                            .ok_or_else(|| bad("a filter operator must be text"))?;
                        out.push((field.clone(), op.to_owned(), pair[1].clone()));
                    }
                    v => out.push((field.clone(), "=".to_owned(), v.clone())),
                }
            }
        }
        Some(Value::Array(list)) => {
            for item in list {
                let parts = item
                    .as_array()
                    .ok_or_else(|| bad("each filter must be a list [field, operator, value]"))?;
                let parts = match parts.len() {
                    3 => &parts[..],
                    4 if parts[0].as_str() == Some(dt.name.as_str()) => &parts[1..],
                    4 => {
                        return Err(bad(&format!(
                            "a 4-part filter must start with {:?}",
                            dt.name
                        )))
                    }
                    _ => return Err(bad("each filter must be [field, operator, value]")),
                };
                let field = parts[0]
                    .as_str()
                    .ok_or_else(|| bad("a filter's field must be text"))?;
                let op = parts[1]
                    .as_str()
                    .ok_or_else(|| bad("a filter operator must be text"))?;
                out.push((field.to_owned(), op.to_owned(), parts[2].clone()));
            }
        }
        Some(_) => {
            return Err(bad(
                "filters must be a JSON object or a list of [field, operator, value]",
            ))
        }
    }
    Ok(out)
}

fn sql_value(field: &str, ft: Option<FieldType>, v: &Value) -> Result<Sql> {
    let numeric = ft.is_some_and(FieldType::is_number);
    Ok(match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) if numeric => match (s.parse::<i64>(), s.parse::<f64>()) {
            (Ok(i), _) => Sql::Integer(i),
            (_, Ok(x)) => Sql::Real(x),
            _ => {
                return Err(Error::invalid(
                    field,
                    format!("Filter on {field} expects a number, got {s:?}"),
                ))
            }
        },
        Value::String(s) => Sql::Text(s.clone()),
        _ => {
            return Err(Error::invalid(
                field,
                format!("Filter value for {field} must be text or a number"),
            ))
        }
    })
}

fn condition(
    dt: &DocType,
    field: &str,
    op: &str,
    value: &Value,
    params: &mut Vec<Sql>,
) -> Result<String> {
    let ft = field_type(dt, field, "filter on")?;
    let col = column(field);
    let mut bind = |v: Sql| {
        params.push(v);
        format!("?{}", params.len())
    };
    let op_norm = op.trim().to_ascii_lowercase();
    Ok(match op_norm.as_str() {
        "=" | "<" | ">" | "<=" | ">=" => format!("{col} {op_norm} {}", bind(sql_value(field, ft, value)?)),
        "!=" => format!("({col} IS NULL OR {col} != {})", bind(sql_value(field, ft, value)?)),
        "like" | "not like" => {
            let s = value.as_str().ok_or_else(|| Error::invalid(field, format!("{op} on {field} needs a text pattern")))?;
            format!("{col} {} {}", op_norm.to_uppercase(), bind(Sql::Text(s.to_owned())))
        }
        "in" | "not in" => {
            let items: Vec<Value> = match value {
                Value::Array(a) => a.clone(),
                Value::String(s) => s.split(',').map(|p| Value::from(p.trim())).filter(|v| v != "").collect(),
                _ => return Err(Error::invalid(field, format!("{op} on {field} needs a list of values"))),
            };
            if items.is_empty() {
                return Ok(if op_norm == "in" { "0".into() } else { "1".into() });
            }
            if items.len() > MAX_IN_VALUES {
                return Err(Error::invalid(
                    field,
                    format!("{op} on {field} takes at most {MAX_IN_VALUES} values, got {}", items.len()),
                ));
            }
            let marks: Result<Vec<String>> = items.iter().map(|v| Ok(bind(sql_value(field, ft, v)?))).collect();
            let list = marks?.join(", ");
            if op_norm == "in" {
                format!("{col} IN ({list})")
            } else {
                format!("({col} IS NULL OR {col} NOT IN ({list}))")
            }
        }
        "is" => match value.as_str() {
            Some("set") => format!("({col} IS NOT NULL AND {col} != '')"),
            Some("not set") => format!("({col} IS NULL OR {col} = '')"),
            _ => return Err(Error::invalid(field, format!("is on {field} takes \"set\" or \"not set\""))),
        },
        _ => {
            return Err(Error::invalid(
                field,
                format!("Unknown filter operator {op:?}: use = != < > <= >= like \"not like\" in \"not in\" is"),
            ))
        }
    })
}

/// The ORDER BY clause of `spec` (checked against the doctype), and the
/// field it sorts by first.
fn order_by(dt: &DocType, spec: Option<&str>) -> Result<(String, String)> {
    let spec = spec
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("modified desc");
    let terms = spec.split(',').count();
    if terms > MAX_ORDER_TERMS {
        return Err(Error::invalid(
            "order_by",
            format!("Sort by at most {MAX_ORDER_TERMS} fields, got {terms}"),
        ));
    }
    let mut parts = Vec::new();
    let mut last = "ASC";
    let mut first = None;
    for item in spec.split(',') {
        let mut words = item.split_whitespace();
        let field = words.next().unwrap_or_default();
        let dir = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => "ASC",
            Some("desc") => "DESC",
            Some(other) => {
                return Err(Error::invalid(
                    "order_by",
                    format!("Sort direction must be asc or desc, got {other:?}"),
                ))
            }
        };
        if words.next().is_some() {
            return Err(Error::invalid(
                "order_by",
                format!("Cannot sort by {item:?}: use \"field asc\" or \"field desc\""),
            ));
        }
        field_type(dt, field, "sort by")?;
        parts.push(format!("{} {dir}", column(field)));
        first.get_or_insert_with(|| field.to_owned());
        last = dir;
    }
    // Ties by name, the way the last term goes: an index on (field, name)
    // then serves either direction without sorting.
    parts.push(format!("name {last}"));
    Ok((parts.join(", "), first.unwrap_or_default()))
}

fn select_fields(dt: &DocType, fields: Option<&[String]>) -> Result<Vec<String>> {
    match fields {
        None | Some([]) => Ok(vec!["name".into()]),
        Some([star]) if star == "*" => Ok(STANDARD_FIELDS
            .iter()
            .filter(|s| **s != crate::document::version::FIELD)
            .map(|s| s.to_string())
            .chain(
                dt.fields
                    .iter()
                    .filter(|f| f.fieldtype != FieldType::Table)
                    .map(|f| f.fieldname.clone()),
            )
            .collect()),
        Some(list) if list.len() > MAX_FIELDS => Err(Error::invalid(
            "fields",
            format!("Ask for at most {MAX_FIELDS} fields, got {}", list.len()),
        )),
        Some(list) => {
            for f in list {
                if f != "doctype" {
                    field_type(dt, f, "select")?;
                }
            }
            Ok(list.to_vec())
        }
    }
}

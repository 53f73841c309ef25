//! Document types: their JSON declaration (Frappe's shape), the naming
//! rule, permissions, and the checks a declaration must pass before a site
//! accepts it.

mod builtin;
mod naming_rule;
mod registry;

pub use builtin::{builtin_doctypes, BUILTIN_ROLES};
pub use naming_rule::NamingRule;
pub use registry::{DocTypeSummary, Registry};

use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};

/// The standard fields every document carries besides its declared ones.
pub const STANDARD_FIELDS: &[&str] = &[
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "docstatus",
    "idx",
    "doctype",
    crate::document::version::FIELD,
];
/// The standard fields every child-table row carries in addition.
pub const CHILD_FIELDS: &[&str] = &["parent", "parenttype", "parentfield"];

/// The role that may do everything.
pub const SYSTEM_MANAGER: &str = "System Manager";
/// The role of the producer-side user a consumer signs in as (SPEC F8):
/// it may register, pull and fetch what its approved rows reach — nothing else.
pub const EVENT_SUBSCRIBER: &str = "Event Subscriber";

/// Doctypes no other site may ever write here, subscribed or not: the
/// streaming set-up itself and the scripts it runs.
pub const NEVER_SYNCED: &[&str] = &[
    "Event Producer",
    "Event Producer Document Type",
    "Event Consumer",
    "Event Consumer Document Type",
    "Condition Script",
    "Document Type Mapping",
    "Document Type Field Mapping",
];

/// A doctype name that Link fields may point at to name a doctype itself.
pub const DOCTYPE_LINK: &str = "DocType";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum FieldType {
    Data,
    #[serde(rename = "Small Text")]
    SmallText,
    Text,
    #[serde(rename = "Long Text")]
    LongText,
    #[serde(rename = "Text Editor")]
    TextEditor,
    Int,
    Float,
    Currency,
    Percent,
    Check,
    Date,
    Datetime,
    Select,
    Link,
    #[serde(rename = "Dynamic Link")]
    DynamicLink,
    Table,
    #[serde(rename = "JSON")]
    Json,
    Code,
}

impl FieldType {
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::Data
                | FieldType::SmallText
                | FieldType::Text
                | FieldType::LongText
                | FieldType::TextEditor
                | FieldType::Code
        )
    }

    pub fn is_number(self) -> bool {
        matches!(
            self,
            FieldType::Int
                | FieldType::Float
                | FieldType::Currency
                | FieldType::Percent
                | FieldType::Check
        )
    }
}

/// Frappe writes flags as 0/1; people write true/false. Accept both.
fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Int(0) => Ok(false),
        Flag::Int(1) => Ok(true),
        Flag::Int(n) => Err(serde::de::Error::custom(format!(
            "expected 0 or 1, got {n}"
        ))),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct DocField {
    pub fieldname: String,
    pub fieldtype: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub label: Option<String>,
    /// Link: target doctype; Dynamic Link: the field holding the doctype;
    /// Table: the child doctype; Select: newline-separated choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub options: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub reqd: bool,
    #[serde(default, deserialize_with = "flag")]
    pub unique: bool,
    #[serde(default, deserialize_with = "flag")]
    pub read_only: bool,
    #[serde(default, deserialize_with = "flag")]
    pub in_list_view: bool,
    /// Kept in an index, as in Frappe: lists filter and sort by it without
    /// reading every document (costs a little on each write).
    #[serde(default, deserialize_with = "flag")]
    pub search_index: bool,
    /// Default for new documents, as Frappe writes it (a string; "Today"
    /// for dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub default: Option<String>,
    /// Help shown under the field in forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    /// `link_field.field`: taken from the linked document on every save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fetch_from: Option<String>,
    /// `a * b` or `sum(table.field)`: computed on every save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub compute: Option<String>,
}

impl DocField {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.fieldname)
    }

    pub fn options(&self) -> &str {
        self.options.as_deref().unwrap_or("")
    }

    pub fn select_options(&self) -> impl Iterator<Item = &str> {
        self.options()
            .split('\n')
            .map(str::trim)
            .filter(|o| !o.is_empty())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct DocPerm {
    pub role: String,
    #[serde(default, deserialize_with = "flag")]
    pub read: bool,
    #[serde(default, deserialize_with = "flag")]
    pub write: bool,
    #[serde(default, deserialize_with = "flag")]
    pub create: bool,
    #[serde(default, deserialize_with = "flag")]
    pub delete: bool,
    #[serde(default, deserialize_with = "flag")]
    pub submit: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Create,
    Delete,
    Submit,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Create => "create",
            Action::Delete => "delete",
            Action::Submit => "submit",
        }
    }
}

impl DocPerm {
    fn allows(&self, action: Action) -> bool {
        match action {
            Action::Read => self.read,
            Action::Write => self.write,
            Action::Create => self.create,
            Action::Delete => self.delete,
            Action::Submit => self.submit,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct DocType {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub module: Option<String>,
    /// The naming rule: `field:<fieldname>`, `hash`, `autoincrement`,
    /// `prompt`, or a series such as `SINV-.YYYY.-.#####`.
    #[serde(default = "default_autoname")]
    pub autoname: String,
    #[serde(default, deserialize_with = "flag")]
    pub is_submittable: bool,
    #[serde(default, deserialize_with = "flag")]
    pub istable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title_field: Option<String>,
    pub fields: Vec<DocField>,
    #[serde(default)]
    pub permissions: Vec<DocPerm>,
    /// Declared at run time rather than shipped with Outpost.
    #[serde(default, deserialize_with = "flag")]
    pub custom: bool,
    /// Holds who may do what (users, roles, keys, streaming set-up): never
    /// written by sync unless the consumer subscribed to it explicitly.
    #[serde(default, deserialize_with = "flag")]
    pub security: bool,
    /// The `status` field's values for docstatus 0, 1 and 2 (`A|B`: either,
    /// A by default), set on every save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub status_by_docstatus: Option<Vec<String>>,
    /// Where each field is in `fields` (every save looks fields up by
    /// name, for every key of the document and of each row).
    #[serde(skip)]
    #[ts(skip)]
    index: FieldIndex,
}

/// Field positions by name, made on first use; a copy starts without.
#[derive(Default)]
struct FieldIndex(std::sync::OnceLock<crate::hashed::HashMap<String, usize>>);

impl Clone for FieldIndex {
    fn clone(&self) -> Self {
        FieldIndex::default()
    }
}

impl std::fmt::Debug for FieldIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldIndex")
    }
}

fn default_autoname() -> String {
    "hash".to_owned()
}

impl DocType {
    /// Parses a declaration, naming the offending part when it is wrong.
    pub fn from_json(value: serde_json::Value) -> Result<DocType> {
        serde_json::from_value(value)
            .map_err(|e| Error::bad_input(format!("Invalid DocType declaration: {e}")))
    }

    pub fn field(&self, fieldname: &str) -> Option<&DocField> {
        self.position(fieldname).and_then(|i| self.fields.get(i))
    }

    /// Where a field is in `fields`.
    pub fn position(&self, fieldname: &str) -> Option<usize> {
        let index = self.index.0.get_or_init(|| {
            self.fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.fieldname.clone(), i))
                .collect()
        });
        // `fields` is public: a field added after the index was made is
        // found by looking through them, as is one the index misplaces.
        match index.get(fieldname) {
            Some(&i) if self.fields.get(i).is_some_and(|f| f.fieldname == fieldname) => Some(i),
            _ => self.fields.iter().position(|f| f.fieldname == fieldname),
        }
    }

    pub fn naming(&self) -> Result<NamingRule> {
        NamingRule::parse(&self.autoname)
    }

    pub fn table_fields(&self) -> impl Iterator<Item = &DocField> {
        self.fields
            .iter()
            .filter(|f| f.fieldtype == FieldType::Table)
    }

    /// Whether holders of `roles` may perform `action` on this doctype.
    pub fn permits<'a>(&self, mut roles: impl Iterator<Item = &'a str>, action: Action) -> bool {
        roles.any(|r| {
            r == SYSTEM_MANAGER
                || self
                    .permissions
                    .iter()
                    .any(|p| p.role == r && p.allows(action))
        })
    }

    /// Checks a declaration against itself and the doctypes already known.
    pub fn validate(&self, known: &Registry) -> Result<()> {
        validate_doctype_name(&self.name)?;
        if self.istable && self.is_submittable {
            return Err(Error::invalid(
                "is_submittable",
                "A child table (istable) cannot be submittable",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.fields {
            validate_fieldname(&f.fieldname)?;
            if !seen.insert(f.fieldname.as_str()) {
                return Err(Error::invalid(
                    &f.fieldname,
                    format!("Field {} is declared twice", f.fieldname),
                ));
            }
        }
        for f in &self.fields {
            self.validate_field(f, known)?;
            crate::document::compute::validate_field(self, f, known)?;
        }
        if let Some(states) = &self.status_by_docstatus {
            let status = self
                .field("status")
                .filter(|f| f.fieldtype == FieldType::Select);
            let Some(status) = status else {
                return Err(Error::invalid(
                    "status_by_docstatus",
                    format!(
                        "status_by_docstatus needs a Select field status in {}",
                        self.name
                    ),
                ));
            };
            let choices: Vec<&str> = status.select_options().collect();
            if states.len() != 3 {
                return Err(Error::invalid(
                    "status_by_docstatus",
                    "status_by_docstatus lists the status for docstatus 0, 1 and 2",
                ));
            }
            for s in states.iter().flat_map(|s| s.split('|')) {
                if !choices.contains(&s.trim()) {
                    return Err(Error::invalid(
                        "status_by_docstatus",
                        format!(
                            "status_by_docstatus: {s:?} is not an option of {}'s status",
                            self.name
                        ),
                    ));
                }
            }
        }
        self.naming()?.validate_against(self)?;
        Ok(())
    }

    fn validate_field(&self, f: &DocField, known: &Registry) -> Result<()> {
        let opts = f.options().trim();
        let fail = |msg: String| Err(Error::invalid(&f.fieldname, msg));
        match f.fieldtype {
            FieldType::Link if opts.is_empty() => fail(format!("Link field {} needs options (the target DocType)", f.fieldname)),
            FieldType::Link if opts != DOCTYPE_LINK && opts != self.name && known.get(opts).is_none() => {
                fail(format!("Link field {} points at unknown DocType {opts}", f.fieldname))
            }
            FieldType::DynamicLink => match self.field(opts) {
                Some(src) if matches!(src.fieldtype, FieldType::Link | FieldType::Select | FieldType::Data) => Ok(()),
                _ => fail(format!(
                    "Dynamic Link field {} needs options naming a Link, Select or Data field of {} that holds the DocType",
                    f.fieldname, self.name
                )),
            },
            FieldType::Table if self.istable => {
                fail(format!("Child table {} cannot hold a Table field ({})", self.name, f.fieldname))
            }
            FieldType::Table => match known.get(opts) {
                Some(child) if child.istable => Ok(()),
                Some(_) => fail(format!("Table field {} points at {opts}, which is not a child table (istable)", f.fieldname)),
                None => fail(format!("Table field {} points at unknown DocType {opts:?}", f.fieldname)),
            },
            FieldType::Select if f.select_options().next().is_none() => {
                fail(format!("Select field {} needs options (one choice per line)", f.fieldname))
            }
            _ => Ok(()),
        }
    }
}

fn validate_doctype_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 61
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!("Invalid DocType name {name:?}: use 1-61 letters, digits, spaces, '_' or '-', starting with a letter"),
        ))
    }
}

pub fn validate_fieldname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(Error::invalid(
            "fieldname",
            format!("Invalid fieldname {name:?}: use lowercase letters, digits and '_', starting with a letter"),
        ));
    }
    if STANDARD_FIELDS.contains(&name) || CHILD_FIELDS.contains(&name) {
        return Err(Error::invalid(
            "fieldname",
            format!("Fieldname {name:?} is reserved for a standard field"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are found by name through an index made on first use; one
    /// added to the declaration afterwards is found all the same.
    #[test]
    fn a_field_added_after_lookups_is_found() {
        let mut dt = DocType::from_json(serde_json::json!({"name": "T", "fields": [
            {"fieldname": "title", "fieldtype": "Data"}]}))
        .unwrap();
        assert!(dt.field("title").is_some());
        assert!(dt.field("shelf").is_none());
        dt.fields.push(DocField {
            fieldname: "shelf".into(),
            ..dt.fields[0].clone()
        });
        assert_eq!(
            dt.field("shelf").map(|f| f.fieldname.as_str()),
            Some("shelf")
        );
        assert_eq!(
            dt.clone().field("title").map(|f| f.fieldname.as_str()),
            Some("title")
        );
    }
}

//! The doctypes every site ships with (SPEC F4), declared as JSON files in
//! `crates/engine/doctypes/`, in dependency order (a child table may link
//! to the parent declared after it).

use super::DocType;
use crate::error::{Error, Result};

const SOURCES: &[(&str, &str)] = &[
    ("role.json", include_str!("../../doctypes/role.json")),
    (
        "has_role.json",
        include_str!("../../doctypes/has_role.json"),
    ),
    ("user.json", include_str!("../../doctypes/user.json")),
    (
        "note_seen_by.json",
        include_str!("../../doctypes/note_seen_by.json"),
    ),
    ("note.json", include_str!("../../doctypes/note.json")),
    ("todo.json", include_str!("../../doctypes/todo.json")),
    ("item.json", include_str!("../../doctypes/item.json")),
    (
        "customer.json",
        include_str!("../../doctypes/customer.json"),
    ),
    (
        "supplier.json",
        include_str!("../../doctypes/supplier.json"),
    ),
    (
        "sales_invoice_item.json",
        include_str!("../../doctypes/sales_invoice_item.json"),
    ),
    (
        "sales_invoice.json",
        include_str!("../../doctypes/sales_invoice.json"),
    ),
    ("lead.json", include_str!("../../doctypes/lead.json")),
    (
        "opportunity.json",
        include_str!("../../doctypes/opportunity.json"),
    ),
    (
        "global_defaults.json",
        include_str!("../../doctypes/global_defaults.json"),
    ),
    (
        "document_type_field_mapping.json",
        include_str!("../../doctypes/document_type_field_mapping.json"),
    ),
    (
        "document_type_mapping.json",
        include_str!("../../doctypes/document_type_mapping.json"),
    ),
    (
        "event_consumer_document_type.json",
        include_str!("../../doctypes/event_consumer_document_type.json"),
    ),
    (
        "event_consumer.json",
        include_str!("../../doctypes/event_consumer.json"),
    ),
    (
        "event_producer_document_type.json",
        include_str!("../../doctypes/event_producer_document_type.json"),
    ),
    (
        "event_push_document_type.json",
        include_str!("../../doctypes/event_push_document_type.json"),
    ),
    (
        "event_producer.json",
        include_str!("../../doctypes/event_producer.json"),
    ),
    (
        "condition_script.json",
        include_str!("../../doctypes/condition_script.json"),
    ),
];

/// Roles every site has, created on first open.
pub const BUILTIN_ROLES: &[&str] = &[
    "System Manager",
    "All",
    "Sales User",
    "Stock User",
    "Purchase User",
    "Accounts User",
    "Event Subscriber",
];

pub fn builtin_doctypes() -> Result<Vec<DocType>> {
    SOURCES
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text)
                .map_err(|e| Error::Corrupt(format!("built-in doctype {file}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctype::Registry;

    #[test]
    fn every_builtin_declaration_is_valid_in_order() {
        // Declared together: a child table may link to its own parent
        // (Document Type Field Mapping → Document Type Mapping).
        let mut reg = Registry::default();
        for dt in builtin_doctypes().unwrap() {
            reg.insert(dt);
        }
        for dt in builtin_doctypes().unwrap() {
            dt.validate(&reg)
                .unwrap_or_else(|e| panic!("{}: {e}", dt.name));
        }
        assert!(reg.get("Sales Invoice").unwrap().is_submittable);
    }
}

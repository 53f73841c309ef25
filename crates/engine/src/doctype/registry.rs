//! The doctypes a site knows, with custom fields merged in.

use std::sync::Arc;

use super::DocType;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Hashed: asked several times for every document saved (a tree of
    /// names compared them string by string); listed in order by sorting.
    by_name: crate::hashed::HashMap<String, Arc<DocType>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&Arc<DocType>> {
        self.by_name.get(name)
    }

    pub fn require(&self, name: &str) -> Result<&Arc<DocType>> {
        self.get(name)
            .ok_or_else(|| Error::UnknownDocType(name.to_owned()))
    }

    pub fn insert(&mut self, dt: DocType) {
        self.by_name.insert(dt.name.clone(), Arc::new(dt));
    }

    /// Every doctype, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<DocType>> {
        let mut all: Vec<&Arc<DocType>> = self.by_name.values().collect();
        all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        all.into_iter()
    }
}

/// A line of the doctype list.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DocTypeSummary {
    pub name: String,
    #[ts(optional)]
    pub module: Option<String>,
    pub istable: bool,
    pub is_submittable: bool,
    pub custom: bool,
    /// Users, roles: never synced.
    pub security: bool,
}

impl Registry {
    pub fn summaries(&self) -> Vec<DocTypeSummary> {
        self.all()
            .map(|d| DocTypeSummary {
                name: d.name.clone(),
                module: d.module.clone(),
                istable: d.istable,
                is_submittable: d.is_submittable,
                custom: d.custom,
                security: d.security,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by name, listed in name order whatever the order they came in.
    #[test]
    fn doctypes_are_found_by_name_and_listed_in_order() {
        let mut reg = Registry::default();
        for name in ["Zone", "Address", "Memo"] {
            let dt = DocType::from_json(serde_json::json!({"name": name, "fields": []})).unwrap();
            reg.insert(dt);
        }
        let listed: Vec<&str> = reg.all().map(|d| d.name.as_str()).collect();
        assert_eq!(listed, ["Address", "Memo", "Zone"]);
        assert_eq!(reg.get("Memo").map(|d| d.name.as_str()), Some("Memo"));
        assert!(reg.get("memo").is_none());
        assert!(reg.require("Nothing").is_err());
    }
}

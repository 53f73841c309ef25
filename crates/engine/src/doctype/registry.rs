//! The doctypes a site knows, with custom fields merged in.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::DocType;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// In name order, for listing.
    by_name: BTreeMap<String, Arc<DocType>>,
    /// The same, for lookups (asked several times for every document saved:
    /// hashing a name is quicker than comparing it along a tree).
    lookup: crate::hashed::HashMap<String, Arc<DocType>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&Arc<DocType>> {
        self.lookup.get(name)
    }

    pub fn require(&self, name: &str) -> Result<&Arc<DocType>> {
        self.get(name)
            .ok_or_else(|| Error::UnknownDocType(name.to_owned()))
    }

    pub fn insert(&mut self, dt: DocType) {
        let dt = Arc::new(dt);
        self.lookup.insert(dt.name.clone(), dt.clone());
        self.by_name.insert(dt.name.clone(), dt);
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<DocType>> {
        self.by_name.values()
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

//! What a consumer may fetch besides its pages (SPEC F14, F16, F8's least
//! privilege): documents of its approved doctypes whose row condition
//! holds, and documents linked, directly or through other documents, from
//! such a document. Nothing else of the producer is readable with a
//! subscriber key.

use crate::hashed::{HashMap, HashSet};

use rusqlite::Transaction;
use serde_json::Value;

use super::approved_conditions;
use crate::actor::Actor;
use crate::condition::{Condition, ScriptEnv};
use crate::document::{store, Doc};
use crate::error::{Error, Result};
use crate::site::Site;
use crate::stream::log::LogEntry;
use crate::stream::wire::FindRequest;

/// How many links back a fetch is followed to a document the consumer receives.
const REACH_DEPTH: usize = 6;
/// The most documents looked through at one depth of that walk.
const REACH_FRONTIER: usize = 10_000;

struct Scope<'a> {
    tx: &'a Transaction<'a>,
    env: ScriptEnv,
    consumer: Doc,
    allowed: HashMap<String, Option<Condition>>,
}

impl Scope<'_> {
    /// Whether the consumer may receive this very document now.
    fn receives(&self, doctype: &str, name: &str) -> Result<bool> {
        let Some(cond) = self.allowed.get(doctype) else {
            return Ok(false);
        };
        let Some(cond) = cond else {
            return Ok(true);
        };
        let Some(doc) = store::load(self.tx, doctype, name)? else {
            return Ok(false);
        };
        let probe = LogEntry::probe(doctype, name, 0);
        // A condition that cannot be evaluated does not open anything.
        Ok(cond
            .passes(self.tx, &self.env, &self.consumer, &doc, &probe)
            .unwrap_or(false))
    }

    /// Whether (doctype, name) is received, or linked from something
    /// received, following links backwards (bounded, cycle-safe).
    fn reachable(&self, doctype: &str, name: &str) -> Result<bool> {
        let mut seen = HashSet::default();
        let mut frontier = vec![(doctype.to_owned(), name.to_owned())];
        for _depth in 0..REACH_DEPTH {
            let mut next = Vec::new();
            for (dt, n) in frontier {
                if !seen.insert((dt.clone(), n.clone())) {
                    continue;
                }
                if self.receives(&dt, &n)? {
                    return Ok(true);
                }
                let mut stmt = self.tx.prepare_cached(store::LINKERS)?;
                let rows = stmt.query_map((&dt, &n), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                // Decide on each linker as it comes: a document linked from
                // 100,000 invoices is reached by the first one received,
                // not after all of them are read.
                for r in rows {
                    let (ldt, ln) = r?;
                    if seen.contains(&(ldt.clone(), ln.clone())) {
                        continue;
                    }
                    if self.receives(&ldt, &ln)? {
                        return Ok(true);
                    }
                    if next.len() < REACH_FRONTIER {
                        next.push((ldt, ln));
                    }
                }
            }
            if next.is_empty() {
                return Ok(false);
            }
            frontier = next;
        }
        Ok(false)
    }
}

impl Site {
    fn scope<'a>(
        &self,
        tx: &'a Transaction<'a>,
        actor: &Actor,
        site_id: &str,
    ) -> Result<Scope<'a>> {
        let consumer = self.consumer_for(tx, actor, site_id)?;
        Ok(Scope {
            tx,
            env: self.script_env(),
            allowed: approved_conditions(&consumer)?,
            consumer,
        })
    }

    /// A document a consumer needs as a dependency, or to heal a document
    /// it lacks (SPEC F14 and the delivery guarantee).
    pub fn fetch_dependency(
        &self,
        actor: &Actor,
        site_id: &str,
        doctype: &str,
        name: &str,
    ) -> Result<Doc> {
        self.read(|tx| {
            let scope = self.scope(tx, actor, site_id)?;
            let Some(doc) = store::load(tx, doctype, name)? else {
                // Say "gone" only about what the consumer could have had.
                return Err(if scope.allowed.contains_key(doctype) {
                    Error::NotFound {
                        doctype: doctype.into(),
                        name: name.into(),
                    }
                } else {
                    not_reachable(doctype, name, site_id)
                });
            };
            if !scope.reachable(doctype, name)? {
                return Err(not_reachable(doctype, name, site_id));
            }
            Ok(doc)
        })
    }

    /// The document a consumer's mapping depends on, found by filters
    /// (SPEC F16): the oldest match this consumer may see.
    pub fn find_dependency(&self, actor: &Actor, req: &FindRequest) -> Result<Doc> {
        let reg = self.doctypes();
        let filters = Value::Object(req.filters.clone());
        self.read(|tx| {
            let scope = self.scope(tx, actor, &req.site_id)?;
            let names = crate::query::names_in(tx, &reg, &req.doctype, Some(&filters), 50)?;
            if names.is_empty() {
                let wanted: Vec<String> = req
                    .filters
                    .iter()
                    .map(|(k, v)| match v {
                        Value::Null => format!("{k} empty"),
                        v => format!("{k} = {v}"),
                    })
                    .collect();
                return Err(Error::NotFound {
                    doctype: req.doctype.clone(),
                    name: format!("with {}", wanted.join(" and ")),
                });
            }
            for n in &names {
                if scope.reachable(&req.doctype, n)? {
                    if let Some(doc) = store::load(tx, &req.doctype, n)? {
                        return Ok(doc);
                    }
                }
            }
            Err(Error::Permission(format!(
                "No {} matching {filters} is linked from anything consumer {} may receive",
                req.doctype, req.site_id
            )))
        })
    }
}

fn not_reachable(doctype: &str, name: &str, site_id: &str) -> Error {
    Error::Permission(format!(
        "{doctype} {name} is not linked from anything consumer {site_id} may receive"
    ))
}

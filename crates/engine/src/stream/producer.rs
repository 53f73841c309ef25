//! The producer side: registering consumers (Event Consumer documents),
//! serving pages of the update log filtered by approval, and answering
//! dependency fetches scoped to what the consumer may receive.

use std::collections::{HashMap, HashSet};

use rusqlite::{params_from_iter, Transaction};
use serde_json::{json, Value};

use super::log::{self, LogEntry};
use super::wire::{Approval, FindRequest, PullReply, PullRequest, Registration, RegistrationReply};
use super::EVENT_CONSUMER;
use crate::actor::Actor;
use crate::condition::{Condition, ScriptEnv};
use crate::document::values::{self, flag, text};
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::site::Site;

/// The most entries one pull may ask for.
pub const MAX_PAGE: u32 = 5000;

fn approvals_of(doc: &Doc) -> Vec<Approval> {
    rows(doc)
        .map(|r| Approval {
            ref_doctype: text(r, "ref_doctype"),
            status: if flag(r, "unsubscribed") {
                "Unsubscribed".to_owned()
            } else {
                text(r, "status")
            },
        })
        .collect()
}

fn rows(doc: &Doc) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    doc.get("consumer_doctypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// A row this consumer receives now: approved and still subscribed.
fn receives(r: &serde_json::Map<String, Value>) -> bool {
    text(r, "status") == "Approved" && !flag(r, "unsubscribed")
}

/// A line of the Event Update Log list: the entry and the consumers that
/// have pulled past it.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct UpdateLogLine {
    #[serde(flatten)]
    #[ts(flatten)]
    pub entry: LogEntry,
    pub received_by: Vec<String>,
}

/// A consumer's health, for the producer's dashboard.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ConsumerStatus {
    pub consumer: String,
    pub consumer_name: String,
    /// Pulled within the last minute.
    pub online: bool,
    #[ts(optional)]
    pub last_seen: Option<String>,
    /// Update-log entries not yet pulled (of any doctype).
    #[ts(type = "number")]
    pub behind: i64,
    pub approved: Vec<String>,
    pub pending: Vec<String>,
}

/// Approved doctypes with their compiled conditions.
fn approved_conditions(doc: &Doc) -> Result<HashMap<String, Option<Condition>>> {
    rows(doc)
        .filter(|r| receives(r))
        .map(|r| {
            Ok((
                text(r, "ref_doctype"),
                Condition::compile(r.get("condition").and_then(Value::as_str))?,
            ))
        })
        .collect()
}

/// Checks every row's condition of an Event Consumer (run before it is stored).
pub(crate) fn validate_conditions(tx: &Transaction, doc: &Doc) -> Result<()> {
    for r in rows(doc) {
        if let Some(c) = Condition::compile(r.get("condition").and_then(Value::as_str))? {
            c.check_target(tx)?;
        }
    }
    Ok(())
}

/// Doctypes this consumer may receive now: approved and subscribed.
fn approved(doc: &Doc) -> Vec<String> {
    rows(doc)
        .filter(|r| receives(r))
        .map(|r| text(r, "ref_doctype"))
        .collect()
}

impl Site {
    /// A consumer registers or updates its subscription (SPEC F8/F9).
    /// Rows that already existed keep their approval status.
    pub fn register_consumer(&self, actor: &Actor, reg: Registration) -> Result<RegistrationReply> {
        actor.require_system_manager("subscribe to this site's events")?;
        let doctypes = self.doctypes();
        if reg.site_id.trim().is_empty() {
            return Err(Error::invalid(
                "site_id",
                "The consumer's site_id is missing",
            ));
        }
        if reg.site_id == self.info()?.site_id {
            return Err(Error::invalid(
                "site_id",
                "A site cannot subscribe to itself",
            ));
        }
        if reg.doctypes.is_empty() {
            return Err(Error::invalid(
                "doctypes",
                "Subscribe to at least one DocType",
            ));
        }
        for s in &reg.doctypes {
            if let Some(c) = Condition::compile(s.condition.as_deref())? {
                self.read(|tx| c.check_target(tx))?;
            }
            let dt = doctypes.get(&s.ref_doctype).ok_or_else(|| {
                Error::invalid(
                    "ref_doctype",
                    format!("DocType {} does not exist on this producer", s.ref_doctype),
                )
            })?;
            if dt.istable {
                return Err(Error::invalid(
                    "ref_doctype",
                    format!("{} is a child table and cannot be subscribed to", dt.name),
                ));
            }
        }
        let info = self.info()?;
        let mut is_new = false;
        let mut had: Vec<String> = Vec::new();
        let doc = self.write(|tx| {
            let existing = store::load(tx, EVENT_CONSUMER, &reg.site_id)?;
            is_new = existing.is_none();
            had = existing.as_ref().map(|d| rows(d).map(|r| text(r, "ref_doctype")).collect()).unwrap_or_default();
            let old_rows: Vec<_> = existing.as_ref().map(|d| rows(d).cloned().collect()).unwrap_or_default();
            let new_rows: Vec<Value> = reg
                .doctypes
                .iter()
                .map(|s| {
                    let kept = old_rows.iter().find(|r| text(r, "ref_doctype") == s.ref_doctype);
                    json!({
                        "name": kept.and_then(|r| r.get("name").cloned()),
                        "ref_doctype": s.ref_doctype,
                        "status": kept.map(|r| text(r, "status")).unwrap_or_else(|| "Pending".into()),
                        "unsubscribed": i64::from(s.unsubscribed),
                        "condition": s.condition,
                    })
                })
                .collect();
            let body = json!({
                "consumer_site_id": reg.site_id,
                "consumer_name": reg.site_name,
                "callback_url": reg.url,
                "user": actor.user,
                "consumer_doctypes": new_rows,
            });
            let system = Actor::system();
            match existing {
                Some(_) => document::update_in(tx, &doctypes, &system, EVENT_CONSUMER, &reg.site_id, body, &WriteOptions::default()),
                None => document::insert_in(tx, &doctypes, &system, EVENT_CONSUMER, body, WriteOptions::default()),
            }
        })?;
        let pending: Vec<String> = rows(&doc)
            .filter(|r| text(r, "status") == "Pending" && !flag(r, "unsubscribed"))
            .map(|r| text(r, "ref_doctype"))
            .collect();
        if !pending.is_empty() && (is_new || pending.iter().any(|d| !had.contains(d))) {
            self.announce(
                crate::notice::NoticeKind::SubscriptionRequest,
                format!(
                    "{} asks to subscribe to {}",
                    reg.site_name,
                    pending.join(", ")
                ),
                "Approve or reject it under Event Consumers".to_owned(),
            );
        }
        let last_seq = self.read(log::last_seq)?;
        Ok(RegistrationReply {
            producer_site_id: info.site_id,
            producer_name: info.site_name,
            last_seq,
            approvals: approvals_of(&doc),
        })
    }

    fn consumer_for(&self, tx: &Transaction, actor: &Actor, site_id: &str) -> Result<Doc> {
        let doc = store::load(tx, EVENT_CONSUMER, site_id)?.ok_or_else(|| {
            Error::Permission(format!(
                "Site {site_id} is not registered as a consumer here"
            ))
        })?;
        if doc.get("user").and_then(Value::as_str) != Some(actor.user.as_str()) {
            return Err(Error::Permission(format!(
                "{} is not the user consumer {site_id} registered with",
                actor.user
            )));
        }
        Ok(doc)
    }

    /// Checks that `actor` speaks for registered consumer `site_id`.
    pub fn check_consumer(&self, actor: &Actor, site_id: &str) -> Result<()> {
        self.read(|tx| self.consumer_for(tx, actor, site_id).map(|_| ()))
    }

    /// The newest update-log sequence number.
    pub fn last_update_seq(&self) -> Result<i64> {
        self.read(log::last_seq)
    }

    /// A page of the update log for one consumer (SPEC F11): only approved,
    /// subscribed doctypes, never changes that came from that consumer.
    pub fn pull_updates(&self, actor: &Actor, req: &PullRequest) -> Result<PullReply> {
        if req.limit == 0 || req.limit > MAX_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let env = self.script_env();
        self.write(|tx| {
            let consumer = self.consumer_for(tx, actor, &req.site_id)?;
            let allowed = approved_conditions(&consumer)?;
            let last = log::last_seq(tx)?;
            let mut candidates = Vec::new();
            if !allowed.is_empty() {
                let marks = (0..allowed.len()).map(|i| format!("?{}", i + 4)).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "SELECT {} FROM update_log WHERE seq > ?1 AND origin_site <> ?2 AND ref_doctype IN ({marks}) ORDER BY seq LIMIT ?3",
                    log::ENTRY_COLUMNS
                );
                let mut params: Vec<rusqlite::types::Value> =
                    vec![req.after.into(), req.site_id.clone().into(), (i64::from(req.limit) + 1).into()];
                params.extend(allowed.keys().map(|d| rusqlite::types::Value::from(d.clone())));
                let mut stmt = tx.prepare_cached(&sql)?;
                let rows = stmt.query_map(params_from_iter(params.iter()), log::row_to_entry)?;
                for r in rows {
                    candidates.push(log::entry_from(r?)?);
                }
            }
            let has_more = candidates.len() > req.limit as usize;
            candidates.truncate(req.limit as usize);
            let cursor = match (has_more, candidates.last()) {
                (true, Some(e)) => e.seq,
                _ => last.max(req.after),
            };
            let mut entries = Vec::with_capacity(candidates.len());
            for e in candidates {
                match allowed.get(&e.ref_doctype) {
                    Some(Some(cond)) => {
                        let check = Check { tx, env: &env, consumer: &consumer, consumer_id: &req.site_id, cond };
                        deliver_conditional(&check, e, &mut entries)?
                    }
                    _ => entries.push(e),
                }
            }
            tx.prepare_cached(
                "INSERT INTO consumer_progress (consumer, seq, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, last_seen = excluded.last_seen",
            )?
            .execute((&req.site_id, cursor, values::now_string()))?;
            Ok(PullReply { entries, cursor, has_more, approvals: approvals_of(&consumer), last_seq: last })
        })
    }

    /// A document a consumer needs as a dependency (SPEC F14). Answered only
    /// when it is of an approved doctype or linked, directly or through other
    /// documents, from a document of an approved doctype.
    pub fn fetch_dependency(
        &self,
        actor: &Actor,
        site_id: &str,
        doctype: &str,
        name: &str,
    ) -> Result<Doc> {
        self.read(|tx| {
            let consumer = self.consumer_for(tx, actor, site_id)?;
            let allowed: HashSet<String> = approved(&consumer).into_iter().collect();
            if !reachable(tx, &allowed, doctype, name)? {
                return Err(Error::Permission(format!(
                    "{doctype} {name} is not linked from anything consumer {site_id} may receive"
                )));
            }
            store::load(tx, doctype, name)?.ok_or_else(|| Error::NotFound {
                doctype: doctype.into(),
                name: name.into(),
            })
        })
    }

    /// The document a consumer's mapping depends on, found by filters
    /// (SPEC F16): the oldest match this consumer may see (scoped as
    /// [`Site::fetch_dependency`]).
    pub fn find_dependency(&self, actor: &Actor, req: &FindRequest) -> Result<Doc> {
        let reg = self.doctypes();
        let filters = Value::Object(req.filters.clone());
        self.read(|tx| {
            let consumer = self.consumer_for(tx, actor, &req.site_id)?;
            let allowed: HashSet<String> = approved(&consumer).into_iter().collect();
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
                if reachable(tx, &allowed, &req.doctype, n)? {
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

    /// Every registered consumer: when it last pulled, how far behind it is,
    /// what is approved and what awaits approval.
    pub fn consumer_statuses(&self, actor: &Actor) -> Result<Vec<ConsumerStatus>> {
        actor.require_system_manager("see consumers")?;
        let now = chrono::Local::now().naive_local();
        self.read(|tx| {
            let last = log::last_seq(tx)?;
            let mut stmt = tx.prepare(
                "SELECT d.name, d.data, p.seq, p.last_seen FROM documents d
                 LEFT JOIN consumer_progress p ON p.consumer = d.name
                 WHERE d.doctype = ?1 ORDER BY d.name",
            )?;
            let found = stmt.query_map([EVENT_CONSUMER], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in found {
                let (name, data, seq, last_seen) = row?;
                let doc = store::parse(EVENT_CONSUMER, &name, &data)?;
                let with = |status: &str| -> Vec<String> {
                    rows(&doc)
                        .filter(|r| text(r, "status") == status)
                        .map(|r| text(r, "ref_doctype"))
                        .collect()
                };
                let online = last_seen
                    .as_deref()
                    .and_then(|t| {
                        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok()
                    })
                    .is_some_and(|t| (now - t).num_seconds() < 60);
                out.push(ConsumerStatus {
                    consumer_name: text(&doc, "consumer_name"),
                    consumer: name,
                    online,
                    last_seen,
                    behind: (last - seq.unwrap_or(0)).max(0),
                    approved: with("Approved"),
                    pending: with("Pending"),
                });
            }
            Ok(out)
        })
    }

    /// The update log, newest first (the UI's Event Update Log list).
    pub fn update_log(
        &self,
        actor: &Actor,
        doctype: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<UpdateLogLine>> {
        actor.require_system_manager("read the update log")?;
        let limit = limit.clamp(1, 1000);
        self.read(|tx| {
            // How far each consumer has pulled: read once for the whole page.
            let mut progress = tx.prepare("SELECT consumer, seq FROM consumer_progress ORDER BY consumer")?;
            let pulled = progress
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let sql = format!(
                "SELECT {} FROM update_log WHERE (?1 IS NULL OR ref_doctype = ?1) AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                log::ENTRY_COLUMNS
            );
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map((doctype, before.unwrap_or(i64::MAX), limit), log::row_to_entry)?;
            rows.map(|r| {
                let entry = log::entry_from(r?)?;
                let received_by = pulled.iter().filter(|(_, seq)| *seq >= entry.seq).map(|(c, _)| c.clone()).collect();
                Ok(UpdateLogLine { entry, received_by })
            })
            .collect()
        })
    }
}

/// Delivers an entry of a conditional subscription (SPEC F17): only while the
/// document satisfies the condition; the first time it does, every earlier
/// entry of the document comes first, in order; a Delete only to a consumer
/// that received the document.
struct Check<'a> {
    tx: &'a Transaction<'a>,
    env: &'a ScriptEnv,
    consumer: &'a Doc,
    consumer_id: &'a str,
    cond: &'a Condition,
}

fn deliver_conditional(check: &Check, e: LogEntry, out: &mut Vec<LogEntry>) -> Result<()> {
    let (tx, consumer) = (check.tx, check.consumer_id);
    let received = tx
        .prepare_cached(
            "SELECT 1 FROM consumer_docs WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3",
        )?
        .exists((consumer, &e.ref_doctype, &e.docname))?;
    if e.update_type == log::UpdateType::Delete {
        if received {
            tx.prepare_cached("DELETE FROM consumer_docs WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3")?
                .execute((consumer, &e.ref_doctype, &e.docname))?;
            out.push(e);
        }
        return Ok(());
    }
    let matches = match store::load(tx, &e.ref_doctype, &e.docname)? {
        Some(current) => check
            .cond
            .passes(tx, check.env, check.consumer, &current, &e)
            .map_err(|err| {
                Error::invalid(
                    "condition",
                    format!(
                        "Condition on {} stopped at {} {}: {err}",
                        e.ref_doctype, e.ref_doctype, e.docname
                    ),
                )
            })?,
        None => false,
    };
    if !matches {
        return Ok(());
    }
    if !received {
        let sql = format!(
            "SELECT {} FROM update_log WHERE ref_doctype = ?1 AND docname = ?2 AND seq < ?3 ORDER BY seq",
            log::ENTRY_COLUMNS
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let earlier = stmt.query_map((&e.ref_doctype, &e.docname, e.seq), log::row_to_entry)?;
        for r in earlier {
            out.push(log::entry_from(r?)?);
        }
        tx.prepare_cached("INSERT OR IGNORE INTO consumer_docs (consumer, ref_doctype, docname) VALUES (?1, ?2, ?3)")?
            .execute((consumer, &e.ref_doctype, &e.docname))?;
    }
    out.push(e);
    Ok(())
}

/// Whether (doctype, name) is of an allowed doctype or linked from one,
/// following links backwards (bounded, cycle-safe).
fn reachable(
    tx: &Transaction,
    allowed: &HashSet<String>,
    doctype: &str,
    name: &str,
) -> Result<bool> {
    let mut seen = HashSet::new();
    let mut frontier = vec![(doctype.to_owned(), name.to_owned())];
    for _depth in 0..6 {
        let mut next = Vec::new();
        for (dt, n) in frontier {
            if allowed.contains(&dt) {
                return Ok(true);
            }
            if !seen.insert((dt.clone(), n.clone())) {
                continue;
            }
            let mut stmt = tx.prepare_cached(
                "SELECT doctype, name FROM doc_links WHERE link_doctype = ?1 AND link_name = ?2",
            )?;
            let rows = stmt.query_map((&dt, &n), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            for r in rows {
                next.push(r?);
            }
        }
        if next.is_empty() {
            return Ok(false);
        }
        frontier = next;
    }
    Ok(false)
}

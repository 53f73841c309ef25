//! The producer side: registering consumers (Event Consumer documents),
//! their statuses and the Event Update Log; `pull` serves pages with
//! acknowledged delivery, `scope` answers dependency fetches scoped to
//! what the consumer may receive.

mod pull;
mod scope;

use crate::hashed::HashMap;

use rusqlite::Transaction;
use serde_json::{json, Value};

pub(crate) use pull::refresh_consumer_rows;
pub use pull::MAX_PAGE;

use super::invite;
use super::log::{self, LogEntry};
use super::wire::{Approval, HeldDoc, Registration, RegistrationReply};
use super::EVENT_CONSUMER;
use crate::actor::Actor;
use crate::condition::Condition;
use crate::document::values::{flag, text};
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::site::Site;

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
    /// Documents held back because the row's condition cannot be evaluated.
    pub held: Vec<HeldDoc>,
}

/// `outpost.event.subscription`: a consumer's own Event Consumer status.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SubscriptionStatus {
    pub approvals: Vec<Approval>,
    pub held: Vec<HeldDoc>,
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

impl Site {
    /// A consumer registers or updates its subscription (SPEC F8/F9).
    /// Rows that already existed keep their approval status.
    pub fn register_consumer(&self, actor: &Actor, reg: Registration) -> Result<RegistrationReply> {
        actor.require_subscriber()?;
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
            if let Some(e) = &existing {
                if text(e, "user") != actor.user {
                    return Err(Error::Permission(format!(
                        "Site {} is registered here with another user; a System Manager of this site must remove its Event Consumer first",
                        reg.site_id
                    )));
                }
            }
            is_new = existing.is_none();
            had = existing.as_ref().map(|d| rows(d).map(|r| text(r, "ref_doctype")).collect()).unwrap_or_default();
            let old_rows: Vec<_> = existing.as_ref().map(|d| rows(d).cloned().collect()).unwrap_or_default();
            let mut new_rows: Vec<Value> = Vec::new();
            for s in &reg.doctypes {
                let kept = old_rows.iter().find(|r| text(r, "ref_doctype") == s.ref_doctype);
                // A new row waits for this site's decision, unless the
                // invitation the consumer joined with decided it already.
                let status = match kept {
                    Some(r) => text(r, "status"),
                    None if invite::pre_approved(tx, &actor.user, &s.ref_doctype, true)? => "Approved".into(),
                    None => "Pending".into(),
                };
                new_rows.push(json!({
                    "name": kept.and_then(|r| r.get("name").cloned()),
                    "ref_doctype": s.ref_doctype,
                    "status": status,
                    "unsubscribed": i64::from(s.unsubscribed),
                    "condition": s.condition,
                    "sync_existing": i64::from(s.sync_existing),
                }));
            }
            // A row the consumer dropped stays, unsubscribed: the producer's
            // decision on it (a rejection, say) outlives any re-registration.
            for r in &old_rows {
                if !reg.doctypes.iter().any(|s| s.ref_doctype == text(r, "ref_doctype")) {
                    let mut kept = r.clone();
                    kept.insert("unsubscribed".into(), Value::from(1));
                    new_rows.push(Value::Object(kept));
                }
            }
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

    /// A consumer's own view of its subscription: what the producer decided
    /// per doctype, and the documents it holds back with the reason.
    pub fn subscription_status(&self, actor: &Actor, site_id: &str) -> Result<SubscriptionStatus> {
        self.read(|tx| {
            let doc = self.consumer_for(tx, actor, site_id)?;
            Ok(SubscriptionStatus {
                approvals: approvals_of(&doc),
                held: pull::held_docs(tx, site_id)?,
            })
        })
    }

    /// A consumer asks for every existing document of an approved doctype
    /// again (SPEC F18): the snapshot starts over before the log goes on.
    pub fn request_snapshot(&self, actor: &Actor, site_id: &str, ref_doctype: &str) -> Result<()> {
        self.write(|tx| {
            self.consumer_for(tx, actor, site_id)?;
            pull::restart_snapshot(tx, site_id, ref_doctype)
        })
    }

    /// Checks that `actor` speaks for registered consumer `site_id`.
    pub fn check_consumer(&self, actor: &Actor, site_id: &str) -> Result<()> {
        self.read(|tx| self.consumer_for(tx, actor, site_id).map(|_| ()))
    }

    /// The newest update-log sequence number.
    pub fn last_update_seq(&self) -> Result<i64> {
        self.read(log::last_seq)
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
                let held = pull::held_docs(tx, &name)?;
                out.push(ConsumerStatus {
                    consumer_name: text(&doc, "consumer_name"),
                    consumer: name,
                    online,
                    last_seen,
                    behind: (last - seq.unwrap_or(0)).max(0),
                    approved: with("Approved"),
                    pending: with("Pending"),
                    held,
                });
            }
            Ok(out)
        })
    }

    /// How many update-log entries there are (of one doctype).
    pub fn update_log_count(&self, actor: &Actor, doctype: Option<&str>) -> Result<i64> {
        actor.require_system_manager("read the update log")?;
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT COUNT(*) FROM update_log WHERE (?1 IS NULL OR ref_doctype = ?1)",
                [doctype],
                |r| r.get(0),
            )?)
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
            // What each consumer has acknowledged, read once for the whole page:
            // its position, and per approved doctype whether a condition decides.
            let mut progress = tx.prepare(
                "SELECT p.consumer, p.seq, d.data FROM consumer_progress p
                 JOIN documents d ON d.doctype = ?1 AND d.name = p.consumer ORDER BY p.consumer",
            )?;
            let pulled = progress
                .query_map([EVENT_CONSUMER], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut consumers = Vec::new();
            for (c, seq, data) in pulled {
                let doc = store::parse(EVENT_CONSUMER, &c, &data)?;
                let rows: HashMap<String, bool> = rows(&doc)
                    .filter(|r| receives(r))
                    .map(|r| (text(r, "ref_doctype"), !text(r, "condition").trim().is_empty()))
                    .collect();
                consumers.push((c, seq, rows));
            }
            let mut delivered = tx.prepare("SELECT 1 FROM consumer_deliveries WHERE consumer = ?1 AND seq = ?2")?;
            let sql = format!(
                "SELECT {} FROM update_log WHERE (?1 IS NULL OR ref_doctype = ?1) AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                log::ENTRY_COLUMNS
            );
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map((doctype, before.unwrap_or(i64::MAX), limit), log::row_to_entry)?;
            rows.map(|r| {
                let entry = log::entry_from(r?)?;
                let mut received_by = Vec::new();
                for (c, seq, rows) in &consumers {
                    let got = match rows.get(&entry.ref_doctype) {
                        _ if *seq < entry.seq || entry.origin_site == *c => false,
                        None => false,
                        Some(false) => true,
                        Some(true) => delivered.exists((c, entry.seq))?,
                    };
                    if got {
                        received_by.push(c.clone());
                    }
                }
                Ok(UpdateLogLine { entry, received_by })
            })
            .collect()
        })
    }
}

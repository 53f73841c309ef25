//! The consumer side of event streaming, one concern a file:
//! - `setup`: Event Producer set-up, registration, approvals received;
//! - `sync`: the pull loop (the transport) and progress — it only moves
//!   pages and commits each one through `apply`;
//! - `deps`: readying a page outside its transaction (dependencies, mapping);
//! - `apply`: the one apply path for a page of entries (savepoints, naming,
//!   mapping, the sync log), whatever transport brought it;
//! - `conflict`: a document changed on both sides while apart — the rule,
//!   both versions kept, re-apply;
//! - `synclog`: the Event Sync Log, resync and automatic retries.

mod ahead;
mod apply;
mod check;
mod conflict;
mod deps;
mod push;
mod receive;
pub(crate) use receive::{first_system_manager, Arrivals};
mod setup;
mod sync;
mod synclog;

use crate::hashed::HashMap;

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::{Map, Value};
use ts_rs::TS;

use super::wire::Approval;
use super::EVENT_PRODUCER;
use crate::actor::Actor;
use crate::document::values::{flag, text};
use crate::document::{store, Doc};
use crate::error::{Error, Result};
use crate::mapping::Mappings;
use crate::site::Site;

/// Entries asked for per pull.
pub const PAGE_SIZE: u32 = 500;

pub const REGISTERED: &str = "Registered";
pub const REGISTRATION_PENDING: &str = "Registration Pending";

pub use conflict::{Conflict, ConflictSide, Reapplied};
pub use receive::pushed_producer_name;

#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    pub producer: String,
    pub online: bool,
    pub pulled: u32,
    pub synced: u32,
    pub failed: u32,
    /// Entries with nothing to do here (a Delete of a document never received).
    pub skipped: u32,
    /// Entries that met a change made here while apart (counted in synced
    /// too): settled by the rule, both versions in the sync log.
    pub conflicts: u32,
    #[ts(type = "number")]
    pub cursor: i64,
    /// Where this sync started, and the producer's newest update: the
    /// progress bar runs from one to the other.
    #[ts(type = "number")]
    pub start: i64,
    #[ts(type = "number")]
    pub target: i64,
    #[ts(optional)]
    pub error: Option<String>,
    /// Entries this site pushed to the other one (SPEC F20), counted once
    /// it answered for them, and how many of them it could not apply.
    #[serde(default)]
    pub pushed: u32,
    #[serde(default)]
    pub push_failed: u32,
    /// The producer asked for new keys in one of its answers.
    #[serde(skip)]
    #[ts(skip)]
    pub renew_keys: bool,
}

/// One producer's sync in progress: who comes meanwhile waits for its result.
#[derive(Default)]
pub struct SyncRun {
    result: std::sync::Mutex<Option<std::result::Result<SyncSummary, String>>>,
    done: std::sync::Condvar,
}

impl SyncRun {
    fn wait(&self) -> Result<SyncSummary> {
        let mut r = self.result.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(out) = r.as_ref() {
                return out.clone().map_err(Error::Unreachable);
            }
            r = self.done.wait(r).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn finish(&self, outcome: &Result<SyncSummary>) {
        let shared = match outcome {
            Ok(s) => Ok(s.clone()),
            Err(e) => Err(e.to_string()),
        };
        *self.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(shared);
        self.done.notify_all();
    }
}

/// What "Sync now" is doing: the producer being synced and those done.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    pub running: bool,
    #[ts(optional)]
    pub current: Option<SyncSummary>,
    pub done: Vec<SyncSummary>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncLogEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub event_producer: String,
    #[ts(type = "number")]
    pub seq: i64,
    pub update_type: String,
    pub status: String,
    pub ref_doctype: String,
    #[ts(optional)]
    pub docname: Option<String>,
    pub remote_docname: String,
    pub use_same_name: bool,
    #[ts(type = "unknown")]
    pub data: Value,
    #[ts(optional)]
    pub error: Option<String>,
    pub creation: String,
    pub modified: String,
    #[ts(type = "number")]
    pub attempts: i64,
    /// The Document Type Mapping the entry went through.
    #[ts(optional)]
    pub mapping: Option<String>,
    /// The site where the change was made (another than the producer's
    /// when it came through a hub).
    pub origin_site: String,
    /// The version of the document the change was made on, and the one it made.
    #[ts(optional)]
    pub base: Option<String>,
    #[ts(optional)]
    pub version: Option<String>,
    /// Status Conflict: both versions of the document.
    #[ts(optional)]
    pub conflict: Option<Conflict>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ProducerStatus {
    pub producer: String,
    /// The other site's name, as it gave it at registration.
    #[ts(optional)]
    pub producer_name: Option<String>,
    /// The other site's id.
    #[ts(optional)]
    pub producer_site_id: Option<String>,
    pub registration_status: String,
    pub online: bool,
    #[ts(optional)]
    pub last_sync: Option<String>,
    #[ts(optional)]
    pub last_error: Option<String>,
    #[ts(type = "number")]
    pub cursor: i64,
    #[ts(type = "number")]
    pub failed: i64,
    /// Documents the producer holds back because the row's condition
    /// cannot be evaluated for them, with the reason (as of the last pull).
    pub held: Vec<super::wire::HeldDoc>,
    /// With push rows (SPEC F20): changes logged here and not yet taken by
    /// the other site (awaiting its approval included), and when it last
    /// took a page.
    #[ts(optional, type = "number")]
    pub push_waiting: Option<i64>,
    #[ts(optional)]
    pub last_push: Option<String>,
}

pub(super) fn secret_key(producer: &str) -> String {
    format!("event-producer:{producer}")
}

/// The doctype a producer row subscribes to on the producer: the mapping's
/// remote doctype when the row has one, else its own (SPEC F16).
pub(super) fn subscribed(row: &Map<String, Value>) -> String {
    match text(row, "remote_doctype") {
        remote if flag(row, "has_mapping") && !remote.is_empty() => remote,
        _ => text(row, "ref_doctype"),
    }
}

pub(super) fn producer_rows(doc: &Doc) -> Vec<Map<String, Value>> {
    doc.get("producer_doctypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

/// How one producer row's documents are stored here.
struct RowCfg {
    use_same_name: bool,
    /// The Document Type Mapping they go through, if any.
    mapping: Option<String>,
    /// A condition decides what flows (so older entries may come late).
    conditional: bool,
}

/// How one producer's documents are applied here.
struct Context {
    producer: String,
    producer_site_id: String,
    local_site_id: String,
    actor: Actor,
    /// subscribed (remote) doctype → its row
    rows: HashMap<String, RowCfg>,
    mappings: Mappings,
    /// The producer pushes its pages here (SPEC F20): the rows' approvals
    /// are this site's own, never taken from a page.
    pushed: bool,
}

impl Context {
    /// Whether documents of `dt` may be written here by this producer:
    /// never the streaming set-up; users and roles only when subscribed to.
    fn may_receive(&self, dt: &crate::doctype::DocType) -> bool {
        if crate::doctype::NEVER_SYNCED.contains(&dt.name.as_str()) {
            return false;
        }
        !dt.security || self.rows.keys().any(|r| self.local_doctype(r) == dt.name)
    }

    /// The local doctype an entry of `remote_doctype` is stored as.
    fn local_doctype<'a>(&'a self, remote_doctype: &'a str) -> &'a str {
        self.rows
            .get(remote_doctype)
            .and_then(|r| r.mapping.as_deref())
            .and_then(|m| self.mappings.get(m).ok())
            .map_or(remote_doctype, |m| m.local_doctype.as_str())
    }
}

impl Site {
    /// One Event Producer document, or DoesNotExistError.
    pub(super) fn event_producer(&self, name: &str) -> Result<Doc> {
        self.read(|tx| store::load(tx, EVENT_PRODUCER, name))?
            .ok_or_else(|| Error::NotFound {
                doctype: EVENT_PRODUCER.into(),
                name: name.into(),
            })
    }

    /// Names of every Event Producer this site syncs with (not those that
    /// push here: there is nothing to reach).
    pub fn event_producers(&self) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT name FROM documents WHERE doctype = ?1
                 AND coalesce(json_extract(data, '$.pushes_here'), 0) = 0 ORDER BY name",
            )?;
            let rows = stmt.query_map([EVENT_PRODUCER], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }
}

/// A row's "Sync Existing Documents": on unless it says otherwise (a row
/// as typed, before its defaults, may not carry it).
pub(super) fn sync_existing(row: &Map<String, Value>) -> bool {
    row.get("sync_existing")
        .is_none_or(|v| v.is_null() || flag(row, "sync_existing"))
}

/// Shows the other site's decisions on the rows of `table`
/// (`producer_doctypes`, or the `push_doctypes` it decides for a push).
pub(super) fn set_row_statuses(doc: &mut Map<String, Value>, table: &str, approvals: &[Approval]) {
    if let Some(Value::Array(rows)) = doc.get_mut(table) {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            let dt = subscribed(row);
            if let Some(a) = approvals.iter().find(|a| a.ref_doctype == dt) {
                let status = if a.status == "Unsubscribed" {
                    text(row, "status")
                } else {
                    a.status.clone()
                };
                row.insert("status".into(), Value::from(status));
            }
        }
    }
}

pub(super) fn cursor_of(tx: &Transaction, producer: &str) -> Result<i64> {
    Ok(tx
        .query_row(
            "SELECT cursor FROM producer_state WHERE producer = ?1",
            [producer],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Where this site stands with a producer: its cursor and the newest page
/// it has committed (the acknowledgement it owes the producer).
pub(super) fn position_of(tx: &Transaction, producer: &str) -> Result<(i64, i64)> {
    Ok(tx
        .query_row(
            "SELECT cursor, acked_page FROM producer_state WHERE producer = ?1",
            [producer],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, 0)))
}

/// Records a registration: `cursor` is set on the first one (the producer's
/// newest update), which also starts the page count afresh.
pub(super) fn set_state(tx: &Transaction, producer: &str, cursor: Option<i64>) -> Result<()> {
    tx.execute(
        "INSERT INTO producer_state (producer, cursor, online) VALUES (?1, COALESCE(?2, 0), 1)
         ON CONFLICT (producer) DO UPDATE SET cursor = COALESCE(?2, cursor),
             acked_page = CASE WHEN ?2 IS NULL THEN acked_page ELSE 0 END, online = 1, last_error = NULL",
        (producer, cursor),
    )?;
    Ok(())
}

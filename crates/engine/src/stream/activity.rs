//! What the dashboard draws (SPEC F23): entries moved per minute and the
//! backlog left, per other site and direction, kept for 24 hours; and the
//! last syncs run from here. Small by construction: one row per site,
//! direction and minute, older rows dropped as new ones come.

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;
use ts_rs::TS;

use crate::actor::Actor;
use crate::error::Result;
use crate::site::Site;

/// How long activity is kept.
const KEEP_HOURS: i64 = 24;
/// How many syncs the history keeps.
const KEEP_RUNS: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Entries this site applied, from the other site (pulled or pushed here).
    In,
    /// Entries this site handed to the other site (pulled from here or pushed).
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One minute of one site's traffic in one direction.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ActivityPoint {
    /// The Event Producer (direction "in") or the consumer's site id ("out").
    pub peer: String,
    /// "in" or "out".
    pub direction: String,
    /// UTC, `YYYY-MM-DDTHH:MM`.
    pub minute: String,
    #[ts(type = "number")]
    pub entries: i64,
    /// Entries still waiting at the end of that minute.
    #[ts(type = "number")]
    pub backlog: i64,
}

/// One Sync now (or scheduled sync) of one producer, as it ended.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncRunRecord {
    #[ts(type = "number")]
    pub id: i64,
    pub producer: String,
    /// UTC times, RFC 3339.
    pub started: String,
    pub finished: String,
    pub pulled: u32,
    pub pushed: u32,
    pub failed: u32,
    pub conflicts: u32,
    #[ts(optional)]
    pub error: Option<String>,
}

/// Now, UTC, RFC 3339 to the millisecond (`…T12:34:56.789Z`).
pub fn utc_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn minute_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M").to_string()
}

fn cutoff() -> String {
    (chrono::Utc::now() - chrono::Duration::hours(KEEP_HOURS))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Adds `entries` to this minute's count for `peer`, notes the backlog left,
/// and drops what is older than a day.
pub fn record(
    tx: &Transaction,
    peer: &str,
    direction: Direction,
    entries: usize,
    backlog: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO sync_activity (peer, direction, minute, entries, backlog) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (peer, direction, minute) DO UPDATE
         SET entries = entries + excluded.entries, backlog = excluded.backlog",
    )?
    .execute((
        peer,
        direction.as_str(),
        minute_now(),
        entries as i64,
        backlog.max(0),
    ))?;
    tx.prepare_cached("DELETE FROM sync_activity WHERE minute < ?1")?
        .execute([cutoff()])?;
    Ok(())
}

/// Takes back `entries` counted going `direction` with `peer` (a page
/// decided and then never sent), from the newest minute counted.
pub fn take_back(tx: &Transaction, peer: &str, direction: Direction, entries: usize) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sync_activity SET entries = max(entries - ?3, 0)
         WHERE peer = ?1 AND direction = ?2
         AND minute = (SELECT max(minute) FROM sync_activity WHERE peer = ?1 AND direction = ?2)",
    )?
    .execute((peer, direction.as_str(), entries as i64))?;
    Ok(())
}

/// Keeps a sync's outcome in the history (the newest `KEEP_RUNS`): one that
/// moved something, or failed otherwise than the last one of that producer
/// (a producer down for an hour is one line, not one per scheduled try).
pub fn record_run(
    tx: &Transaction,
    started: &str,
    summary: &crate::stream::consumer::SyncSummary,
) -> Result<()> {
    let moved = summary.synced
        + summary.pushed
        + summary.failed
        + summary.push_failed
        + summary.conflicts
        + summary.skipped;
    if moved == 0 {
        let Some(error) = &summary.error else {
            return Ok(());
        };
        let last: Option<Option<String>> = tx
            .prepare_cached(
                "SELECT error FROM sync_history WHERE producer = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([&summary.producer], |r| r.get(0))
            .optional()?;
        if last.flatten().as_deref() == Some(error.as_str()) {
            return Ok(());
        }
    }
    tx.prepare_cached(
        "INSERT INTO sync_history (producer, started, finished, pulled, pushed, failed, conflicts, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        &summary.producer,
        started,
        utc_now(),
        summary.synced,
        summary.pushed,
        summary.failed + summary.push_failed,
        summary.conflicts,
        &summary.error,
    ))?;
    tx.prepare_cached(
        "DELETE FROM sync_history WHERE id <= (SELECT MAX(id) FROM sync_history) - ?1",
    )?
    .execute([KEEP_RUNS])?;
    Ok(())
}

impl Site {
    /// The last 24 hours of traffic, oldest first. Managers see both
    /// directions; anyone else what this site received.
    pub fn sync_activity(&self, actor: &Actor) -> Result<Vec<ActivityPoint>> {
        actor.require_desk_user("see sync activity")?;
        let only_in = !actor.is_system_manager();
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT peer, direction, minute, entries, backlog FROM sync_activity
                 WHERE minute >= ?1 AND (?2 = 0 OR direction = 'in') ORDER BY minute, peer, direction",
            )?;
            let rows = stmt.query_map((cutoff(), only_in), |r| {
                Ok(ActivityPoint {
                    peer: r.get(0)?,
                    direction: r.get(1)?,
                    minute: r.get(2)?,
                    entries: r.get(3)?,
                    backlog: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The last `limit` syncs run from here, newest first.
    pub fn sync_history(&self, actor: &Actor, limit: u32) -> Result<Vec<SyncRunRecord>> {
        actor.require_desk_user("see the sync history")?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT id, producer, started, finished, pulled, pushed, failed, conflicts, error
                 FROM sync_history ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit.clamp(1, KEEP_RUNS as u32)], |r| {
                Ok(SyncRunRecord {
                    id: r.get(0)?,
                    producer: r.get(1)?,
                    started: r.get(2)?,
                    finished: r.get(3)?,
                    pulled: r.get(4)?,
                    pushed: r.get(5)?,
                    failed: r.get(6)?,
                    conflicts: r.get(7)?,
                    error: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

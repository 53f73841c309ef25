//! The Event Sync Log (SPEC F13): one line per received entry, Resync of
//! a Failed one (and those of the same document waiting behind it), and
//! automatic retries with back-off.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::apply::{apply_in_savepoint, Line, Status};
use super::receive::pushes_here;
use super::SyncLogEntry;
use crate::actor::Actor;
use crate::document::values;
use crate::error::{Error, Result};
use crate::site::Site;
use crate::stream::log::{LogEntry, UpdateType};
use crate::stream::source::{Bundle, Source};

impl Site {
    /// The sync log, newest first, optionally only one status; `before`
    /// (an id) pages back through it.
    pub fn sync_log(
        &self,
        actor: &Actor,
        status: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SyncLogEntry>> {
        actor.require_system_manager("read the sync log")?;
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {SYNC_LOG_COLUMNS} FROM sync_log WHERE (?1 IS NULL OR status = ?1) AND id < ?2
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(
                (status, before.unwrap_or(i64::MAX), limit.clamp(1, 1000)),
                sync_log_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// How many sync-log lines there are (of `status`, when given).
    pub fn sync_log_count(&self, actor: &Actor, status: Option<&str>) -> Result<i64> {
        actor.require_system_manager("read the sync log")?;
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT COUNT(*) FROM sync_log WHERE (?1 IS NULL OR status = ?1)",
                [status],
                |r| r.get(0),
            )?)
        })
    }

    /// Applies a Failed sync-log entry again (SPEC F13), then any entries of
    /// the same document that were waiting behind it. Returns the entry.
    pub fn resync(&self, actor: &Actor, id: i64) -> Result<SyncLogEntry> {
        actor.require_system_manager("resync")?;
        let first = self.sync_log_entry(id)?;
        if first.status != "Failed" {
            return Ok(first);
        }
        let doc = self.event_producer(&first.event_producer)?;
        let ctx = self.context(&doc)?;
        // A producer that pushes here cannot be reached: the entry is
        // applied again from what this site kept, with what it holds.
        let client: Box<dyn Source> = if pushes_here(&doc) {
            Box::new(Bundle::new(Vec::new()))
        } else {
            Box::new(self.producer_client(&doc)?)
        };
        let queue: Vec<SyncLogEntry> = self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {SYNC_LOG_COLUMNS} FROM sync_log WHERE event_producer = ?1 AND ref_doctype = ?2
                 AND remote_docname = ?3 AND status = 'Failed' AND id >= ?4 ORDER BY id"
            ))?;
            let rows = stmt.query_map((&first.event_producer, &first.ref_doctype, &first.remote_docname, id), sync_log_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        for item in queue {
            // A mapped entry is kept with its remote data: map it again.
            let ref_doctype = match &item.mapping {
                None => item.ref_doctype.clone(),
                Some(m) => ctx
                    .rows
                    .iter()
                    .find(|(_, r)| r.mapping.as_deref() == Some(m.as_str()))
                    .map(|(dt, _)| dt.clone())
                    .ok_or_else(|| {
                        Error::invalid(
                            "mapping",
                            format!(
                                "Event Producer {} no longer uses mapping {m}",
                                item.event_producer
                            ),
                        )
                    })?,
            };
            let mut entry = LogEntry {
                seq: item.seq,
                update_type: match item.update_type.as_str() {
                    "Create" => UpdateType::Create,
                    "Update" => UpdateType::Update,
                    _ => UpdateType::Delete,
                },
                ref_doctype,
                docname: item.remote_docname.clone(),
                data: item.data.clone(),
                creation: item.creation.clone(),
                origin_site: ctx.producer_site_id.clone(),
                base: item.base.clone(),
                version: item.version.clone(),
            };
            let reg = self.doctypes();
            let ready = self
                .prepare(client.as_ref(), &reg, &ctx, &[&entry], None)?
                .pop()
                .unwrap_or_default();
            let ok = self.write(|tx| {
                let line = Line::of(apply_in_savepoint(tx, &reg, &ctx, &mut entry, &ready))?;
                if line.status == Status::Failed {
                    tx.execute(
                        "UPDATE sync_log SET error = ?2, modified = ?3, attempts = attempts + 1 WHERE id = ?1",
                        (item.id, line.note, values::now_string()),
                    )?;
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE sync_log SET status = ?4, docname = ?2, error = ?5, conflict = ?6, modified = ?3, attempts = attempts + 1 WHERE id = ?1",
                    (item.id, line.docname, values::now_string(), line.status.as_str(), line.note, line.conflict),
                )?;
                Ok(true)
            })?;
            if !ok {
                break;
            }
        }
        self.sync_log_entry(id)
    }

    /// Retries Failed entries whose back-off has passed (2^attempts seconds, at most an hour).
    pub fn retry_failed(&self) -> Result<u32> {
        let due: Vec<i64> = self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT MIN(id) FROM sync_log INDEXED BY sync_log_status WHERE status = 'Failed'
                 AND (julianday('now', 'localtime') - julianday(modified)) * 86400 >= MIN(3600, 1 << MIN(attempts, 12))
                 GROUP BY event_producer, ref_doctype, remote_docname LIMIT 50",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })?;
        let mut fixed = 0;
        for id in due {
            if self
                .resync(&Actor::system(), id)
                .is_ok_and(|e| e.status == "Synced")
            {
                fixed += 1;
            }
        }
        Ok(fixed)
    }

    pub(super) fn sync_log_entry(&self, id: i64) -> Result<SyncLogEntry> {
        self.read(|tx| {
            tx.query_row(
                &format!("SELECT {SYNC_LOG_COLUMNS} FROM sync_log WHERE id = ?1"),
                [id],
                sync_log_row,
            )
            .optional()?
            .ok_or_else(|| Error::NotFound {
                doctype: "Event Sync Log".into(),
                name: id.to_string(),
            })
        })
    }
}

pub(super) const SYNC_LOG_COLUMNS: &str = "id, event_producer, seq, update_type, status, ref_doctype, docname, remote_docname, use_same_name, data, error, creation, modified, attempts, mapping, origin_site, base, version, conflict";

pub(super) fn sync_log_row(r: &rusqlite::Row) -> rusqlite::Result<SyncLogEntry> {
    let data: Option<String> = r.get(9)?;
    Ok(SyncLogEntry {
        id: r.get(0)?,
        event_producer: r.get(1)?,
        seq: r.get(2)?,
        update_type: r.get(3)?,
        status: r.get(4)?,
        ref_doctype: r.get(5)?,
        docname: r.get(6)?,
        remote_docname: r.get(7)?,
        use_same_name: r.get(8)?,
        data: data
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(Value::Null),
        error: r.get(10)?,
        creation: r.get(11)?,
        modified: r.get(12)?,
        attempts: r.get(13)?,
        mapping: r.get(14)?,
        origin_site: r.get(15)?,
        base: r.get(16)?,
        version: r.get(17)?,
        conflict: super::conflict::read_conflict(r.get(18)?),
    })
}

//! Conflicts (SPEC §2): a document changed here and on another site while
//! they were apart. The rule, the same on every site, keeps the later
//! version (`document::version`); a concurrent edit beats a delete. The
//! losing version is never dropped: the sync-log line of status Conflict
//! keeps both, and a person can re-apply the one that lost — as a new
//! change made here, which then travels to every site like any other.

use rusqlite::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use super::apply::{disarm, strip_meta, Applied};
use super::{Context, SyncLogEntry};
use crate::actor::Actor;
use crate::doctype::Registry;
use crate::document::version::{self, Verdict};
use crate::document::{self, store, values, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::site::Site;

/// Both versions of a document that changed on two sites while apart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct Conflict {
    /// Which version the rule kept: "here" or "incoming".
    pub kept: String,
    pub here: ConflictSide,
    pub incoming: ConflictSide,
    /// Set once a person has re-applied the version that lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reapplied: Option<Reapplied>,
}

/// One side of a conflict: its version and its document (null: deleted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct ConflictSide {
    #[ts(optional)]
    pub version: Option<String>,
    #[ts(type = "Record<string, unknown> | null")]
    pub doc: Option<Doc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct Reapplied {
    pub by: String,
    pub at: String,
}

pub(super) const HERE: &str = "here";
pub(super) const INCOMING: &str = "incoming";

impl Conflict {
    pub(super) fn new(kept: &str, here: Option<&Doc>, incoming: Option<&Doc>) -> Conflict {
        let side = |d: Option<&Doc>| ConflictSide {
            version: d.and_then(version::current),
            doc: d.cloned(),
        };
        Conflict {
            kept: kept.to_owned(),
            here: side(here),
            incoming: side(incoming),
            reapplied: None,
        }
    }

    /// The sync-log line's sentence: what happened and what to do.
    pub(super) fn sentence(&self) -> String {
        let (kept, lost) = if self.kept == HERE {
            ("the version here", "the incoming one")
        } else {
            ("the incoming version", "the one here")
        };
        let why = if self.here.doc.is_none() || self.incoming.doc.is_none() {
            "an edit beats a delete"
        } else {
            "the later version wins"
        };
        format!(
            "Conflict: changed here and on the other site while apart; {kept} was kept ({why}). \
             {lost} is kept in this line: Re-apply it to use it instead",
            lost = capitalise(lost)
        )
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The local copy an incoming document meets: its doctype, name and state.
pub(super) struct LocalCopy<'a> {
    pub(super) doctype: &'a str,
    pub(super) name: &'a str,
    pub(super) current: &'a Doc,
}

/// A whole incoming document (a Create, a snapshot document, the current
/// state fetched for a change made on an older version) against the local
/// copy. `fill` holds mapped link values.
pub(super) fn settle_whole(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    here: &LocalCopy,
    incoming: &Doc,
    opts: &WriteOptions,
    fill: Map<String, Value>,
) -> Result<Applied> {
    let LocalCopy {
        doctype,
        name: local,
        current,
    } = *here;
    let theirs = version::history(incoming);
    let verdict = version::judge_whole(&version::history(current), &theirs);
    let take = |tx: &Transaction| -> Result<()> {
        let mut patch = disarm(doctype, strip_meta(incoming));
        patch.remove("name");
        patch.extend(fill.clone());
        let opts = WriteOptions {
            versions: Some(if theirs.is_empty() {
                version::history(current)
            } else {
                theirs.clone()
            }),
            ..opts.clone()
        };
        document::update_in(
            tx,
            reg,
            &ctx.actor,
            doctype,
            local,
            Value::Object(patch),
            &opts,
        )?;
        Ok(())
    };
    match verdict {
        Verdict::Have => Ok(Applied::Done(Some(local.to_owned()))),
        Verdict::Take => {
            take(tx)?;
            Ok(Applied::Done(Some(local.to_owned())))
        }
        Verdict::ConflictTake => {
            take(tx)?;
            Ok(Applied::Conflict(
                Some(local.to_owned()),
                Box::new(Conflict::new(INCOMING, Some(current), Some(incoming))),
            ))
        }
        Verdict::ConflictKeep => Ok(Applied::Conflict(
            Some(local.to_owned()),
            Box::new(Conflict::new(HERE, Some(current), Some(incoming))),
        )),
    }
}

impl Site {
    /// Re-applies the version a Conflict line kept aside, as a change made
    /// here by `actor` (a later version: every site takes it). Returns the
    /// line, marked re-applied.
    pub fn reapply_conflict(&self, actor: &Actor, id: i64) -> Result<SyncLogEntry> {
        actor.require_system_manager("re-apply a conflict")?;
        let line = self.sync_log_entry(id)?;
        let Some(mut conflict) = line.conflict.clone() else {
            return Err(Error::invalid(
                "id",
                format!(
                    "Sync log {id} is not a Conflict (its status is {})",
                    line.status
                ),
            ));
        };
        if let Some(r) = &conflict.reapplied {
            return Err(Error::invalid(
                "id",
                format!(
                    "Sync log {id} was re-applied already, by {} at {}",
                    r.by, r.at
                ),
            ));
        }
        let lost = if conflict.kept == HERE {
            &conflict.incoming
        } else {
            &conflict.here
        };
        let doctype = line.ref_doctype.clone();
        let name = line.docname.clone().unwrap_or(line.remote_docname.clone());
        let reg = self.doctypes();
        let lost_doc = lost.doc.clone();
        conflict.reapplied = Some(Reapplied {
            by: actor.user.clone(),
            at: values::now_string(),
        });
        let stored = serde_json::to_string(&conflict).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.write(|tx| {
            let present = store::exists(tx, &doctype, &name)?;
            match (lost_doc, present) {
                (None, true) => {
                    document::delete_in(tx, &reg, actor, &doctype, &name, &WriteOptions::default())?
                }
                (None, false) => {}
                (Some(doc), true) => {
                    let mut patch = strip_meta(&doc);
                    patch.remove("name");
                    patch.remove("docstatus");
                    document::update_in(
                        tx,
                        &reg,
                        actor,
                        &doctype,
                        &name,
                        Value::Object(patch),
                        &WriteOptions::default(),
                    )?;
                }
                (Some(doc), false) => {
                    let mut body = strip_meta(&doc);
                    body.insert("name".into(), Value::from(name.clone()));
                    let opts = WriteOptions {
                        keep_name: true,
                        ..WriteOptions::default()
                    };
                    document::insert_in(tx, &reg, actor, &doctype, Value::Object(body), opts)?;
                }
            }
            let changed = tx
                .prepare_cached(
                    "UPDATE sync_log SET conflict = ?2, modified = ?3 WHERE id = ?1 AND status = 'Conflict'",
                )?
                .execute((id, &stored, values::now_string()))?;
            if changed == 0 {
                return Err(Error::invalid("id", format!("Sync log {id} is not a Conflict")));
            }
            Ok(())
        })?;
        self.sync_log_entry(id)
    }
}

/// The conflict a sync-log line keeps, if any.
pub(super) fn read_conflict(raw: Option<String>) -> Option<Conflict> {
    raw.and_then(|c| serde_json::from_str(&c).ok())
}

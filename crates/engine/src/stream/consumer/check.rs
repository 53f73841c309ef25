//! What a producer sends is checked before anything of it is applied: the
//! cursor only moves forward, sequence numbers rise within a page, every
//! entry is of a subscribed doctype and has the shape its update type says.
//! A page that breaks the protocol is refused whole, with the producer and
//! the breach named; the cursor stays where it was.

use std::collections::HashSet;

use super::apply::SNAPSHOT_SEQ;
use super::Context;
use crate::stream::log::{LogEntry, UpdateType};
use crate::stream::wire::PullReply;

/// The longest document name a producer may send.
const MAX_NAME: usize = 256;

/// Ok, or what the producer got wrong.
pub(super) fn page(
    ctx: &Context,
    after: i64,
    limit: u32,
    reply: &PullReply,
) -> std::result::Result<(), String> {
    if reply.cursor < after {
        return Err(format!(
            "its cursor went back from {after} to {}",
            reply.cursor
        ));
    }
    // (A page may stand still and carry entries: held documents released
    // with their histories can fill it before the log's next entry.)
    if reply.has_more
        && reply.cursor == after
        && reply.snapshot.is_empty()
        && reply.entries.is_empty()
    {
        return Err("it says there is more without moving on".into());
    }
    if reply.entries.len() + reply.snapshot.len() > limit as usize {
        return Err(format!(
            "it sent {} entries when {limit} were asked for",
            reply.entries.len() + reply.snapshot.len()
        ));
    }
    for e in &reply.snapshot {
        if e.seq != SNAPSHOT_SEQ || e.update_type != UpdateType::Create {
            return Err(format!(
                "snapshot document {} {} is not a Create without sequence",
                e.ref_doctype, e.docname
            ));
        }
        entry(ctx, e)?;
    }
    let mut last = after;
    let mut seen = HashSet::new();
    for e in &reply.entries {
        entry(ctx, e)?;
        if !seen.insert(e.seq) {
            return Err(format!("it sent entry {} twice", e.seq));
        }
        if e.seq > after {
            if e.seq <= last {
                return Err(format!("entry {} came after entry {last}", e.seq));
            }
            if e.seq > reply.cursor {
                return Err(format!(
                    "entry {} lies past its cursor {}",
                    e.seq, reply.cursor
                ));
            }
            last = e.seq;
        } else {
            // Only a condition met late brings a document's older entries.
            let late = e.seq > 0 && ctx.rows.get(&e.ref_doctype).is_some_and(|r| r.conditional);
            if !late {
                return Err(format!("entry {} is not after the cursor {after}", e.seq));
            }
        }
    }
    Ok(())
}

fn entry(ctx: &Context, e: &LogEntry) -> std::result::Result<(), String> {
    if !ctx.rows.contains_key(&e.ref_doctype) {
        return Err(format!(
            "entry {} is of {}, which this site does not subscribe to",
            e.seq, e.ref_doctype
        ));
    }
    if e.docname.trim().is_empty() || e.docname.len() > MAX_NAME {
        return Err(format!("entry {} names no valid document", e.seq));
    }
    let shaped = match e.update_type {
        UpdateType::Create => e.data.is_object(),
        UpdateType::Delete => e.data.is_null(),
        UpdateType::Update => e.data.as_object().is_some_and(|d| {
            !d.is_empty()
                && d.iter().all(|(k, v)| {
                    matches!(k.as_str(), "changed" | "added" | "removed" | "row_changed")
                        && v.is_object()
                })
        }),
    };
    for (what, v) in [("base", &e.base), ("version", &e.version)] {
        if v.as_deref()
            .is_some_and(|v| !crate::document::version::valid(v))
        {
            return Err(format!(
                "entry {} ({} {}) has no valid {what} version",
                e.seq, e.ref_doctype, e.docname
            ));
        }
    }
    if !shaped {
        let wants = match e.update_type {
            UpdateType::Create => "a document",
            UpdateType::Delete => "no data",
            UpdateType::Update => "a diff of changed / added / removed / row_changed",
        };
        return Err(format!(
            "entry {} ({} {} {}) does not carry {wants}",
            e.seq,
            e.update_type.as_str(),
            e.ref_doctype,
            e.docname
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        let row = super::super::RowCfg {
            use_same_name: true,
            mapping: None,
            conditional: true,
        };
        Context {
            producer: "p".into(),
            producer_site_id: "producer".into(),
            local_site_id: "here".into(),
            actor: crate::actor::Actor::system(),
            rows: [("Note".to_owned(), row)].into_iter().collect(),
            mappings: Default::default(),
            pushed: false,
        }
    }

    fn reply(entries: serde_json::Value, cursor: i64, has_more: bool) -> PullReply {
        serde_json::from_value(
            json!({"entries": entries, "cursor": cursor, "has_more": has_more,
                                      "approvals": []}),
        )
        .unwrap()
    }

    /// "More" with the cursor where it was is a producer going round in
    /// circles, unless the page carries entries: the histories of held
    /// documents released at once can fill a page before the log's next
    /// entry, and the page after it moves on.
    #[test]
    fn a_page_that_stands_still_must_carry_something() {
        let empty = reply(json!([]), 10, true);
        assert_eq!(
            page(&ctx(), 10, 500, &empty),
            Err("it says there is more without moving on".to_owned())
        );
        let history = reply(
            json!([{"seq": 3, "update_type": "Create", "ref_doctype": "Note", "docname": "N1",
                    "data": {"title": "late"}, "creation": "2026-01-01 00:00:00", "origin_site": "producer"}]),
            10,
            true,
        );
        assert_eq!(page(&ctx(), 10, 500, &history), Ok(()));
    }
}

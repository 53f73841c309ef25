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
    if reply.has_more && reply.cursor == after && reply.snapshot.is_empty() {
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

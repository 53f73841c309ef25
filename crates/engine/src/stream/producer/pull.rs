//! Serving pages of the update log with acknowledged delivery (SPEC F11,
//! F17 and §2's delivery guarantee).
//!
//! A pull is answered from the log; what the page means for the
//! producer's record of the consumer — the documents of a conditional row
//! it now holds (which decides later history and Delete delivery), the
//! entries it received (`received_by`), held documents released, snapshot
//! progress — is stored with the page and recorded only when the consumer
//! acknowledges the page: the `ack` of a later pull, which the consumer
//! sends after its own commit. Until then a pull from the same `after`
//! gets the same page back, entry for entry. The consumer may fetch one
//! page ahead, so several pages can await acknowledgement; each is decided
//! on top of the ones before it.
//!
//! A condition that cannot be evaluated holds back that one document (it
//! is listed as held, with the error, on both sides), never the stream.
//! A row approved after documents were made gets those documents first, as
//! a snapshot of their current state, then the log goes on: with "sync
//! existing documents" (SPEC F18) every document of the doctype, else those
//! changed since the row was subscribed. Never one that came from the
//! consumer itself, and each keeps its origin site (SPEC F19).

use crate::hashed::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{params_from_iter, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{approvals_of, approved_conditions};
use crate::actor::Actor;
use crate::condition::{Condition, ScriptEnv};
use crate::document::values;
use crate::document::{store, Doc};
use crate::error::{Error, Result};
use crate::site::{to_json, Site};
use crate::stream::activity::{self, Direction};
use crate::stream::invite;
use crate::stream::log::{self, LogEntry, Stored, UpdateType};
use crate::stream::wire::{AckRequest, HeldDoc, PullReply, PullRequest};

/// The most entries one pull may ask for.
pub const MAX_PAGE: u32 = 5000;
/// Held documents looked at again per pull.
const HELD_PER_PULL: usize = 100;
/// The most bytes of documents a page carries (SPEC §4: pages are
/// size-limited): an entry that would take it past this waits for the next
/// page, unless it is the page's first. A consumer takes answers of up to
/// 16 MB and a hub pushed requests of up to 8 MB, so large documents come
/// a few to a page instead of 500 to an answer no one accepts.
pub const PAGE_BYTES: usize = 4 << 20;

/// What a page holds so far, against what it may hold: the one rule for
/// log pages and snapshot pages alike.
#[derive(Debug, Clone, Copy)]
struct Room {
    entries: usize,
    bytes: usize,
    /// The most entries the consumer asked for.
    limit: usize,
}

impl Room {
    fn new(limit: u32) -> Self {
        Room {
            entries: 0,
            bytes: 0,
            limit: limit as usize,
        }
    }

    /// Whether `n` more entries of `bytes` go in, by count and by bytes:
    /// the page's first always do, whatever their size.
    fn takes(&self, n: usize, bytes: usize) -> bool {
        self.entries == 0 || (self.entries + n <= self.limit && self.bytes + bytes <= PAGE_BYTES)
    }

    fn add(&mut self, bytes: usize) {
        self.entries += 1;
        self.bytes += bytes;
    }
}

type DocKey = (String, String);

/// Where a row's snapshot stands (SPEC F18): documents of `ref_doctype`
/// changed in `(from, to]` of the log — or, with `all`, every document of
/// it — sent in name order after `after`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Snapshot {
    ref_doctype: String,
    from: i64,
    to: i64,
    after: String,
    done: bool,
    #[serde(default)]
    all: bool,
    /// Which request this snapshot answers: a re-snapshot asked while
    /// pages of an earlier one await acknowledgement is not undone by them.
    #[serde(default)]
    gen: i64,
}

/// What a page changes in the producer's record once acknowledged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Effects {
    /// Documents of conditional rows the consumer now holds.
    #[serde(default)]
    received: Vec<DocKey>,
    /// Documents of conditional rows deleted on the consumer.
    #[serde(default)]
    forgotten: Vec<DocKey>,
    /// Entries of conditional rows delivered (for `received_by`).
    #[serde(default)]
    delivered: Vec<i64>,
    #[serde(default)]
    snapshots: Vec<Snapshot>,
}

/// A page answered and not yet acknowledged.
struct Page {
    page: i64,
    after: i64,
    cursor: i64,
    has_more: bool,
    seqs: Vec<i64>,
    /// The entries themselves when the page was just decided (a page read
    /// back from storage has only their sequence numbers).
    entries: Vec<LogEntry<Stored>>,
    snapshot: Vec<LogEntry<Stored>>,
    effects: Effects,
}

/// The consumer's state as the next page sees it: what was acknowledged,
/// plus what the pages awaiting acknowledgement will change.
#[derive(Default)]
struct Overlay {
    received: HashSet<DocKey>,
    forgotten: HashSet<DocKey>,
    snapshot: HashMap<String, Snapshot>,
}

impl Overlay {
    fn of(pages: &[Page]) -> Overlay {
        let mut o = Overlay::default();
        for p in pages {
            o.absorb(&p.effects);
        }
        o
    }

    fn absorb(&mut self, e: &Effects) {
        for k in &e.received {
            self.forgotten.remove(k);
            self.received.insert(k.clone());
        }
        for k in &e.forgotten {
            self.received.remove(k);
            self.forgotten.insert(k.clone());
        }
        for s in &e.snapshots {
            self.snapshot.insert(s.ref_doctype.clone(), s.clone());
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt(format!("stored page: {e}")))
}

impl Site {
    /// A page of the update log for one consumer (SPEC F11): only approved,
    /// subscribed doctypes whose row condition holds, never changes that
    /// came from that consumer. `ack` records the pages the consumer has
    /// committed; a page asked for again is answered again, unchanged.
    pub fn pull_updates(&self, actor: &Actor, req: &PullRequest) -> Result<PullReply<Stored>> {
        if req.limit == 0 || req.limit > MAX_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        if req.after < 0 {
            return Err(Error::invalid("after", "after cannot be negative"));
        }
        let env = self.script_env();
        let reply = self.write(|tx| {
            let consumer = self.consumer_for(tx, actor, &req.site_id)?;
            let id = req.site_id.as_str();
            if let Some(ack) = req.ack {
                acknowledge(tx, id, ack)?;
            }
            tx.prepare_cached(
                "INSERT INTO consumer_progress (consumer, seq, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (consumer) DO UPDATE SET last_seen = excluded.last_seen",
            )?
            .execute((id, req.after, values::now_string()))?;
            let mut pending = pending_pages(tx, id)?;
            let (page, fresh) = match pending.iter().position(|p| p.after == req.after) {
                // The answer was lost, or the consumer died before its commit.
                Some(i) => (pending.swap_remove(i), false),
                None => {
                    if pending.last().is_some_and(|p| p.cursor != req.after) {
                        // The consumer starts elsewhere (registered anew, restored):
                        // what it never acknowledged is forgotten.
                        tx.prepare_cached("DELETE FROM consumer_pages WHERE consumer = ?1")?
                            .execute([id])?;
                        pending.clear();
                    }
                    let number = next_page_number(tx, id, &pending)?;
                    let mut decide = Decide {
                        tx,
                        env: &env,
                        consumer: &consumer,
                        id,
                        allowed: approved_conditions(&consumer)?
                            .into_iter()
                            .map(|(dt, c)| (dt, c.map(Arc::new)))
                            .collect(),
                        overlay: Overlay::of(&pending),
                        effects: Effects::default(),
                        entries: Vec::new(),
                        room: Room::new(req.limit),
                    };
                    let page = decide.page(number, req)?;
                    store_page(tx, id, &page)?;
                    (page, true)
                }
            };
            let reply = answer(tx, id, &consumer, page)?;
            if fresh {
                activity::record(
                    tx,
                    id,
                    Direction::Out,
                    reply.entries.len() + reply.snapshot.len(),
                    reply.last_seq - reply.cursor,
                )?;
            }
            Ok(reply)
        })?;
        crate::failpoint::hit("pull-answered");
        Ok(reply)
    }
}

impl Site {
    /// Forgets `page` decided for `consumer` and never sent (a push found
    /// it too large to send), and the traffic counted for it: the next pull
    /// from where it started decides that stretch of the log anew.
    pub(crate) fn forget_unsent_page(
        &self,
        consumer: &str,
        page: &PullReply<Stored>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM consumer_pages WHERE consumer = ?1 AND page = ?2")?
                .execute((consumer, page.page))?;
            let entries = page.entries.len() + page.snapshot.len();
            activity::take_back(tx, consumer, Direction::Out, entries)
        })
    }

    /// `outpost.event.ack`: the consumer has committed pages up to `page`.
    pub fn acknowledge_pages(&self, actor: &Actor, req: &AckRequest) -> Result<()> {
        self.write(|tx| {
            self.consumer_for(tx, actor, &req.site_id)?;
            acknowledge(tx, &req.site_id, req.page)
        })
    }
}

/// Records the effects of every page up to `ack`, in order.
fn acknowledge(tx: &Transaction, consumer: &str, ack: i64) -> Result<()> {
    for p in pending_pages(tx, consumer)?
        .into_iter()
        .filter(|p| p.page <= ack)
    {
        crate::failpoint::hit("ack-received");
        let e = &p.effects;
        for (dt, name) in &e.received {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO consumer_docs (consumer, ref_doctype, docname) VALUES (?1, ?2, ?3)",
            )?
            .execute((consumer, dt, name))?;
            tx.prepare_cached(
                "DELETE FROM consumer_held WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3",
            )?
            .execute((consumer, dt, name))?;
        }
        for (dt, name) in &e.forgotten {
            tx.prepare_cached(
                "DELETE FROM consumer_docs WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3",
            )?
            .execute((consumer, dt, name))?;
        }
        for seq in &e.delivered {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO consumer_deliveries (consumer, seq) VALUES (?1, ?2)",
            )?
            .execute((consumer, seq))?;
        }
        for s in &e.snapshots {
            let state = (!s.done).then(|| to_json(s)).transpose()?;
            tx.prepare_cached(
                "UPDATE consumer_rows SET snapshot = ?3 WHERE consumer = ?1 AND ref_doctype = ?2
                 AND coalesce(json_extract(snapshot, '$.gen'), 0) = ?4",
            )?
            .execute((consumer, &s.ref_doctype, state, s.gen))?;
        }
        tx.prepare_cached("UPDATE consumer_progress SET seq = ?2, page = ?3 WHERE consumer = ?1")?
            .execute((consumer, p.cursor, p.page))?;
        tx.prepare_cached("DELETE FROM consumer_pages WHERE consumer = ?1 AND page = ?2")?
            .execute((consumer, p.page))?;
    }
    Ok(())
}

fn pending_pages(tx: &Transaction, consumer: &str) -> Result<Vec<Page>> {
    let mut stmt = tx.prepare_cached(
        "SELECT page, after, cursor, has_more, seqs, snapshot, effects FROM consumer_pages
         WHERE consumer = ?1 ORDER BY page",
    )?;
    let rows = stmt.query_map([consumer], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (page, after, cursor, has_more, seqs, snapshot, effects) = row?;
        out.push(Page {
            page,
            after,
            cursor,
            has_more,
            seqs: from_json(&seqs)?,
            entries: Vec::new(),
            snapshot: from_json(&snapshot)?,
            effects: from_json(&effects)?,
        });
    }
    Ok(out)
}

fn next_page_number(tx: &Transaction, consumer: &str, pending: &[Page]) -> Result<i64> {
    let acked: i64 = tx
        .prepare_cached("SELECT page FROM consumer_progress WHERE consumer = ?1")?
        .query_row([consumer], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    Ok(pending.last().map_or(acked, |p| p.page.max(acked)) + 1)
}

fn store_page(tx: &Transaction, consumer: &str, p: &Page) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO consumer_pages (consumer, page, after, cursor, has_more, seqs, snapshot, effects)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        consumer,
        p.page,
        p.after,
        p.cursor,
        p.has_more,
        to_json(&p.seqs)?,
        to_json(&p.snapshot)?,
        to_json(&p.effects)?,
    ])?;
    Ok(())
}

/// The reply for a page: its entries read back from the log by sequence.
fn answer(tx: &Transaction, consumer: &str, doc: &Doc, p: Page) -> Result<PullReply<Stored>> {
    let sql = format!(
        "SELECT {} FROM update_log WHERE seq = ?1",
        log::ENTRY_COLUMNS
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut entries = p.entries;
    for seq in p.seqs.iter().skip(entries.len()) {
        let row = stmt
            .query_row([seq], log::row_to_entry)
            .optional()?
            .ok_or_else(|| Error::Corrupt(format!("update log entry {seq} is gone")))?;
        entries.push(log::stored_entry_from(row)?);
    }
    Ok(PullReply {
        entries,
        snapshot: p.snapshot,
        cursor: p.cursor,
        has_more: p.has_more,
        approvals: approvals_of(doc),
        last_seq: log::last_seq(tx)?,
        page: p.page,
        held: held_docs(tx, consumer)?,
        renew_keys: invite::renewal_asked(tx, &values::text(doc, "user"))?,
    })
}

/// Documents held back from `consumer` because their condition failed.
pub(super) fn held_docs(tx: &Transaction, consumer: &str) -> Result<Vec<HeldDoc>> {
    let mut stmt = tx.prepare_cached(
        "SELECT ref_doctype, docname, error, since FROM consumer_held WHERE consumer = ?1
         ORDER BY since, ref_doctype, docname LIMIT 50",
    )?;
    let rows = stmt.query_map([consumer], |r| {
        Ok(HeldDoc {
            ref_doctype: r.get(0)?,
            docname: r.get(1)?,
            error: r.get(2)?,
            since: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Deciding one new page for one consumer.
struct Decide<'a> {
    tx: &'a Transaction<'a>,
    env: &'a ScriptEnv,
    consumer: &'a Doc,
    id: &'a str,
    /// Approved doctypes and their conditions (shared, not copied, per entry).
    allowed: HashMap<String, Option<Arc<Condition>>>,
    overlay: Overlay,
    effects: Effects,
    entries: Vec<LogEntry<Stored>>,
    /// What `entries` take of the page.
    room: Room,
}

impl Decide<'_> {
    fn page(&mut self, number: i64, req: &PullRequest) -> Result<Page> {
        // Snapshots first; a stretch of them with nothing to send (every
        // document gone or held back) moves on to the next.
        while let Some(snapshot) = self.next_snapshot(req.after)? {
            if let Some(page) = self.snapshot_page(number, req, snapshot)? {
                return Ok(page);
            }
        }
        self.release_held(req.after)?;
        let candidates = self.log_after(req)?;
        let mut has_more = candidates.len() > req.limit as usize;
        // The last entry looked at, when the page stops before the log's end.
        let mut looked = req.after;
        for e in candidates.into_iter().take(req.limit as usize) {
            let seq = e.seq;
            if !self.deliver(e)? {
                has_more = true;
                break;
            }
            looked = seq;
        }
        // At the log's end the cursor moves past entries filtered out too.
        let cursor = if has_more {
            looked
        } else {
            log::last_seq(self.tx)?.max(req.after)
        };
        Ok(Page {
            page: number,
            after: req.after,
            cursor,
            has_more,
            seqs: self.entries.iter().map(|e| e.seq).collect(),
            entries: std::mem::take(&mut self.entries),
            snapshot: Vec::new(),
            effects: std::mem::take(&mut self.effects),
        })
    }

    fn log_after(&self, req: &PullRequest) -> Result<Vec<LogEntry<Stored>>> {
        if self.allowed.is_empty() {
            return Ok(Vec::new());
        }
        let marks = (0..self.allowed.len())
            .map(|i| format!("?{}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        // `+ref_doctype`: walk the log in sequence order from the cursor (a
        // range of the primary key) instead of every entry of the doctypes
        // and a sort — a page then costs the same at any cursor.
        let sql = format!(
            "SELECT {} FROM update_log WHERE seq > ?1 AND origin_site <> ?2 AND +ref_doctype IN ({marks}) ORDER BY seq LIMIT ?3",
            log::ENTRY_COLUMNS
        );
        let mut params: Vec<rusqlite::types::Value> = vec![
            req.after.into(),
            self.id.to_owned().into(),
            (i64::from(req.limit) + 1).into(),
        ];
        params.extend(
            self.allowed
                .keys()
                .map(|d| rusqlite::types::Value::from(d.clone())),
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), log::row_to_entry)?;
        rows.map(|r| log::stored_entry_from(r?)).collect()
    }

    fn push(&mut self, e: LogEntry<Stored>, conditional: bool) {
        if conditional {
            self.effects.delivered.push(e.seq);
        }
        self.room.add(e.data.get().len());
        self.entries.push(e);
    }

    /// Whether `more` entries still go in this page ([`Room::takes`]).
    fn fits<'e>(&self, more: impl IntoIterator<Item = &'e LogEntry<Stored>>) -> bool {
        let (n, bytes) = more
            .into_iter()
            .fold((0, 0), |(n, b), e| (n + 1, b + e.data.get().len()));
        self.room.takes(n, bytes)
    }

    fn received(&self, key: &DocKey) -> Result<bool> {
        if self.overlay.received.contains(key) {
            return Ok(true);
        }
        if self.overlay.forgotten.contains(key) {
            return Ok(false);
        }
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM consumer_docs WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3",
            )?
            .exists((self.id, &key.0, &key.1))?)
    }

    fn mark(&mut self, key: DocKey, received: bool) {
        let effects = Effects {
            received: if received {
                vec![key.clone()]
            } else {
                Vec::new()
            },
            forgotten: if received {
                Vec::new()
            } else {
                vec![key.clone()]
            },
            ..Default::default()
        };
        self.overlay.absorb(&effects);
        if received {
            self.effects.forgotten.retain(|k| *k != key);
            self.effects.received.push(key);
        } else {
            self.effects.received.retain(|k| *k != key);
            self.effects.forgotten.push(key);
        }
    }

    /// Whether the document passes the row's condition now; an error holds
    /// it back (recorded, visible on both sides) and counts as not passing.
    fn passes(&self, cond: &Condition, doc: &Doc, entry: &LogEntry) -> Result<bool> {
        match self.verdict(cond, doc, entry)? {
            Some(p) => {
                self.unhold(&entry.ref_doctype, &entry.docname)?;
                Ok(p)
            }
            None => Ok(false),
        }
    }

    /// The condition's answer for `doc`; None when it cannot be evaluated:
    /// the document is then held back, with the error, shown on both sides.
    fn verdict(&self, cond: &Condition, doc: &Doc, entry: &LogEntry) -> Result<Option<bool>> {
        match cond.passes(self.tx, self.env, self.consumer, doc, entry) {
            Ok(p) => Ok(Some(p)),
            Err(err) => {
                let reason = format!(
                    "Condition on {} cannot be evaluated for {}: {err}",
                    entry.ref_doctype, entry.docname
                );
                self.tx
                    .prepare_cached(
                        "INSERT INTO consumer_held (consumer, ref_doctype, docname, seq, error, since)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (consumer, ref_doctype, docname) DO UPDATE SET seq = excluded.seq, error = excluded.error",
                    )?
                    .execute((
                        self.id,
                        &entry.ref_doctype,
                        &entry.docname,
                        entry.seq,
                        reason,
                        values::now_string(),
                    ))?;
                Ok(None)
            }
        }
    }

    fn unhold(&self, doctype: &str, name: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "DELETE FROM consumer_held WHERE consumer = ?1 AND ref_doctype = ?2 AND docname = ?3",
            )?
            .execute((self.id, doctype, name))?;
        Ok(())
    }

    /// One log entry (SPEC F17 for conditional rows): delivered while the
    /// document satisfies the condition; the first time it does, every
    /// earlier entry of the document comes first, in order; a Delete only
    /// to a consumer that received the document. False when what it brings
    /// does not fit in this page: nothing of it is decided, the next page
    /// starts with it.
    fn deliver(&mut self, e: LogEntry<Stored>) -> Result<bool> {
        let Some(Some(cond)) = self.allowed.get(&e.ref_doctype).cloned() else {
            if !self.fits([&e]) {
                return Ok(false);
            }
            self.push(e, false);
            return Ok(true);
        };
        let key = (e.ref_doctype.clone(), e.docname.clone());
        let received = self.received(&key)?;
        if e.update_type == UpdateType::Delete {
            if received && !self.fits([&e]) {
                return Ok(false);
            }
            self.unhold(&e.ref_doctype, &e.docname)?;
            if received {
                self.push(e, true);
                self.mark(key, false);
            }
            return Ok(true);
        }
        // (Passing may release a held document: if the entry then waits
        // for the next page, that page decides it again.)
        let passes = match store::load(self.tx, &e.ref_doctype, &e.docname)? {
            Some(current) => self.passes(&cond, &current, &e.parsed()?)?,
            None => false,
        };
        if !passes {
            return Ok(true);
        }
        let earlier = if received {
            Vec::new()
        } else {
            self.history(&e.ref_doctype, &e.docname, e.seq - 1)?
        };
        if !self.fits(earlier.iter().chain([&e])) {
            return Ok(false);
        }
        if !received {
            for x in earlier {
                self.push(x, true);
            }
            self.mark(key, true);
        }
        self.push(e, true);
        Ok(true)
    }

    /// Every entry of a document up to `through`, in order.
    fn history(&self, doctype: &str, name: &str, through: i64) -> Result<Vec<LogEntry<Stored>>> {
        let sql = format!(
            "SELECT {} FROM update_log WHERE ref_doctype = ?1 AND docname = ?2 AND seq <= ?3 ORDER BY seq",
            log::ENTRY_COLUMNS
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map((doctype, name, through), log::row_to_entry)?;
        rows.map(|r| log::stored_entry_from(r?)).collect()
    }

    /// Documents held back by a condition error are looked at again: one
    /// that passes now gets its history; one that no longer exists, or
    /// simply does not match, is no longer held.
    fn release_held(&mut self, after: i64) -> Result<()> {
        let held: Vec<(String, String, i64)> = {
            let mut stmt = self.tx.prepare_cached(
                "SELECT ref_doctype, docname, seq FROM consumer_held WHERE consumer = ?1 ORDER BY since LIMIT ?2",
            )?;
            let rows = stmt.query_map((self.id, HELD_PER_PULL as i64), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (doctype, name, seq) in held {
            let key = (doctype.clone(), name.clone());
            if self.received(&key)? {
                continue;
            }
            let cond = match self.allowed.get(&doctype) {
                None => continue, // not approved now: decided when it is
                Some(c) => c.clone(),
            };
            let Some(current) = store::load(self.tx, &doctype, &name)? else {
                self.unhold(&doctype, &name)?;
                continue;
            };
            let probe = LogEntry::probe(&doctype, &name, seq);
            let verdict = match &cond {
                None => Some(true),
                Some(c) => self.verdict(c, &current, &probe)?,
            };
            match verdict {
                // Still cannot be evaluated: still held (its history is not read).
                None => {}
                // No longer held, and not delivered.
                Some(false) => self.unhold(&doctype, &name)?,
                Some(true) => {
                    // What it brings must fit before it is released: one
                    // released and then left out would be lost. The rest
                    // stay held for the next pull.
                    let earlier = self.history(&doctype, &name, after)?;
                    if !self.fits(&earlier) {
                        break;
                    }
                    self.unhold(&doctype, &name)?;
                    for e in earlier {
                        self.push(e, true);
                    }
                    self.mark(key, true);
                }
            }
        }
        Ok(())
    }

    /// The snapshot to send before the log, if an approved row has one.
    fn next_snapshot(&mut self, after: i64) -> Result<Option<Snapshot>> {
        let stored: Vec<(String, Option<String>, i64)> = {
            let mut stmt = self.tx.prepare_cached(
                "SELECT ref_doctype, snapshot, subscribed_seq FROM consumer_rows
                 WHERE consumer = ?1 AND approved = 1 ORDER BY ref_doctype",
            )?;
            let rows = stmt.query_map([self.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (doctype, state, from) in stored {
            if !self.allowed.contains_key(&doctype) {
                continue;
            }
            let stored: Option<Value> = state.as_deref().map(from_json).transpose()?;
            let gen = stored
                .as_ref()
                .and_then(|v| v.get("gen"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            // What pages in flight did to this snapshot counts unless a new
            // one was asked for since.
            let in_flight = self
                .overlay
                .snapshot
                .get(&doctype)
                .filter(|s| stored.is_none() || s.gen == gen);
            let s = match (in_flight, stored) {
                (Some(s), _) if s.done => continue,
                (Some(s), _) => s.clone(),
                (None, None) => continue,
                (None, Some(started)) => {
                    match serde_json::from_value::<Snapshot>(started.clone()) {
                        Ok(s) => s,
                        // Approved, not started: the documents changed between
                        // subscribing and the consumer's position now.
                        Err(_) => Snapshot {
                            ref_doctype: doctype.clone(),
                            from: started.get("from").and_then(Value::as_i64).unwrap_or(from),
                            to: after,
                            after: String::new(),
                            done: false,
                            all: started.get("all").and_then(Value::as_bool).unwrap_or(false),
                            gen,
                        },
                    }
                }
            };
            if !s.all && s.from >= s.to {
                // Nothing was made between subscribing and now: done at once.
                let done = Snapshot { done: true, ..s };
                self.overlay.snapshot.insert(doctype, done.clone());
                self.effects.snapshots.push(done);
                continue;
            }
            return Ok(Some(s));
        }
        Ok(None)
    }

    /// The next stretch of a snapshot; None when it has nothing to send
    /// (its position is recorded all the same).
    fn snapshot_page(
        &mut self,
        number: i64,
        req: &PullRequest,
        mut s: Snapshot,
    ) -> Result<Option<Page>> {
        let names: Vec<String> = {
            // Every document, or those changed in (from, to]; never one the
            // consumer itself sent (it has it, and it must not echo), nor
            // one changed after `to`: the log brings that one next.
            let name = |r: &rusqlite::Row| r.get::<_, String>(0);
            if s.all {
                self.tx
                    .prepare_cached(
                        "SELECT d.name FROM documents d WHERE d.doctype = ?1 AND d.name > ?2
                         AND NOT EXISTS (SELECT 1 FROM update_log u WHERE u.ref_doctype = ?1 AND u.docname = d.name
                                         AND (u.origin_site = ?4 OR u.seq > ?3))
                         ORDER BY d.name LIMIT ?5",
                    )?
                    .query_map(
                        rusqlite::params![s.ref_doctype, s.after, s.to, self.id, req.limit],
                        name,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            } else {
                self.tx
                    .prepare_cached(
                        "SELECT d.name FROM documents d WHERE d.doctype = ?1 AND d.name > ?2
                         AND EXISTS (SELECT 1 FROM update_log u WHERE u.ref_doctype = ?1 AND u.docname = d.name
                                     AND u.seq > ?3 AND u.seq <= ?4 AND u.origin_site <> ?5)
                         ORDER BY d.name LIMIT ?6",
                    )?
                    .query_map(
                        rusqlite::params![s.ref_doctype, s.after, s.from, s.to, self.id, req.limit],
                        name,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        let cond = self.allowed.get(&s.ref_doctype).cloned().flatten();
        let local = log::local_site_id(self.tx)?;
        let mut docs: Vec<LogEntry<Stored>> = Vec::new();
        let mut room = Room::new(req.limit);
        // The names this page has dealt with (sent, gone or held back).
        let mut looked = 0;
        for name in &names {
            let Some(doc) = store::load(self.tx, &s.ref_doctype, name)? else {
                looked += 1;
                continue;
            };
            // A document that came from a third site keeps that origin, so
            // a chain never brings it back there (SPEC F19).
            let origin = self
                .tx
                .prepare_cached(
                    "SELECT origin_site FROM update_log WHERE ref_doctype = ?1 AND docname = ?2
                     ORDER BY seq DESC LIMIT 1",
                )?
                .query_row((&s.ref_doctype, name), |r| r.get::<_, String>(0))
                .optional()?
                .unwrap_or_else(|| local.clone());
            let entry = LogEntry {
                seq: 0,
                update_type: UpdateType::Create,
                ref_doctype: s.ref_doctype.clone(),
                docname: name.clone(),
                data: serde_json::value::to_raw_value(&doc)
                    .map_err(|e| Error::Corrupt(e.to_string()))?,
                creation: values::text(&doc, "modified"),
                origin_site: origin,
                base: None,
                version: crate::document::version::current(&doc),
            };
            let size = entry.data.get().len();
            if !room.takes(1, size) {
                // The next page starts with this one.
                break;
            }
            looked += 1;
            if let Some(c) = &cond {
                if !self.passes(c, &doc, &entry.with_data(Value::Object(doc.clone())))? {
                    continue;
                }
                self.mark((s.ref_doctype.clone(), name.clone()), true);
            }
            room.add(size);
            docs.push(entry);
        }
        s.done = looked == names.len() && names.len() < req.limit as usize;
        if let Some(last) = names[..looked].last() {
            s.after = last.clone();
        }
        self.overlay
            .snapshot
            .insert(s.ref_doctype.clone(), s.clone());
        self.effects.snapshots.push(s);
        if docs.is_empty() {
            return Ok(None);
        }
        Ok(Some(Page {
            page: number,
            after: req.after,
            cursor: req.after,
            has_more: true,
            seqs: Vec::new(),
            entries: Vec::new(),
            snapshot: docs,
            effects: std::mem::take(&mut self.effects),
        }))
    }
}

/// Keeps `consumer_rows` true after an Event Consumer is written: a row
/// seen for the first time remembers where the log stood (its documents
/// from then on are what a late approval delivers); a row that becomes
/// Approved gets a snapshot to send before the log goes on.
pub(crate) fn refresh_consumer_rows(tx: &Transaction, consumer: &str, doc: &Doc) -> Result<()> {
    let last = log::last_seq(tx)?;
    let mut kept = Vec::new();
    for r in super::rows(doc) {
        let dt = values::text(r, "ref_doctype");
        let approved = super::receives(r);
        let existing = values::flag(r, "sync_existing");
        let before: Option<(bool, i64)> = tx
            .prepare_cached(
                "SELECT approved, subscribed_seq FROM consumer_rows WHERE consumer = ?1 AND ref_doctype = ?2",
            )?
            .query_row((consumer, &dt), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match before {
            None => {
                // Approved as it is first seen (pre-approved): the existing
                // documents, if asked for, come first all the same.
                let snapshot = (approved && existing)
                    .then(|| json!({ "from": last, "all": true }).to_string());
                tx.prepare_cached(
                    "INSERT INTO consumer_rows (consumer, ref_doctype, subscribed_seq, approved, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute((consumer, &dt, last, approved, snapshot))?;
            }
            Some((false, from)) if approved => {
                tx.prepare_cached(
                    "UPDATE consumer_rows SET approved = 1, snapshot = ?3 WHERE consumer = ?1 AND ref_doctype = ?2",
                )?
                .execute((consumer, &dt, json!({ "from": from, "all": existing }).to_string()))?;
            }
            Some((true, _)) if !approved => {
                tx.prepare_cached(
                    "UPDATE consumer_rows SET approved = 0, snapshot = NULL WHERE consumer = ?1 AND ref_doctype = ?2",
                )?
                .execute((consumer, &dt))?;
            }
            Some(_) => {}
        }
        kept.push(dt);
    }
    let mut stmt =
        tx.prepare_cached("SELECT ref_doctype FROM consumer_rows WHERE consumer = ?1")?;
    let known: Vec<String> = stmt
        .query_map([consumer], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for dt in known.iter().filter(|d| !kept.contains(d)) {
        tx.prepare_cached("DELETE FROM consumer_rows WHERE consumer = ?1 AND ref_doctype = ?2")?
            .execute((consumer, dt))?;
    }
    Ok(())
}

/// Starts the snapshot of an approved row again from the first document
/// (a consumer asking for every existing document once more, SPEC F18).
pub(crate) fn restart_snapshot(tx: &Transaction, consumer: &str, ref_doctype: &str) -> Result<()> {
    let gen = chrono::Utc::now().timestamp_micros();
    let last = log::last_seq(tx)?;
    let changed = tx
        .prepare_cached(
            "UPDATE consumer_rows SET snapshot = ?3 WHERE consumer = ?1 AND ref_doctype = ?2 AND approved = 1",
        )?
        .execute((
            consumer,
            ref_doctype,
            json!({ "from": last, "all": true, "gen": gen }).to_string(),
        ))?;
    if changed == 0 {
        return Err(Error::invalid(
            "ref_doctype",
            format!(
                "{ref_doctype} is not approved for this consumer: there is nothing to send again"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Room, PAGE_BYTES};

    #[test]
    fn a_page_takes_its_first_entry_whatever_its_size_then_stops_at_the_count_or_the_bytes() {
        let mut room = Room::new(500);
        assert!(room.takes(1, 10 * PAGE_BYTES), "the first goes");
        for _ in 0..499 {
            room.add(PAGE_BYTES / 998);
        }
        let left = PAGE_BYTES - room.bytes;
        assert!(room.takes(1, left), "exactly full");
        assert!(!room.takes(2, 10), "one past the count");
        assert!(!room.takes(1, left + 1), "one byte past");
    }
}

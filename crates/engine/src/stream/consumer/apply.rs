//! The one apply path: a page of entries from any transport is applied in
//! the page's transaction, each entry inside its own savepoint, with its
//! dependencies, naming (SPEC F15), mapping (F16) and its sync-log line.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::conflict::{self, Conflict};
use super::deps::{Heal, Prepared};

/// Snapshot documents (SPEC F18) carry no log sequence.
pub(super) const SNAPSHOT_SEQ: i64 = 0;
use super::Context;
use crate::doctype::{FieldType, Registry, STANDARD_FIELDS};
use crate::document::values::{self, text};
use crate::document::version::{self, Verdict};
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::mapping::MappedDoc;
use crate::stream::log::{LogEntry, UpdateType};

/// What a page did, entry by entry.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counts {
    pub(super) synced: u32,
    pub(super) failed: u32,
    pub(super) skipped: u32,
    /// Entries that met a change made here meanwhile (also counted synced).
    pub(super) conflicts: u32,
}

/// The outcome of one entry.
pub(super) enum Applied {
    /// Applied; the local document's name.
    Done(Option<String>),
    /// Nothing to do here, and why.
    Skipped(String),
    /// The document changed here too while apart: settled by the rule,
    /// both versions kept (the local document's name).
    Conflict(Option<String>, Box<Conflict>),
}

/// What a sync-log line records of an entry's outcome.
pub(super) struct Line {
    pub(super) status: Status,
    pub(super) docname: Option<String>,
    /// The error, or a note on what was done.
    pub(super) note: Option<String>,
    /// Both versions, as stored (status Conflict).
    pub(super) conflict: Option<String>,
}

impl Line {
    /// The line for an entry's outcome: applied, skipped, settled or failed.
    pub(super) fn of(outcome: Result<Applied>) -> Result<Line> {
        let line = |status, docname, note| Line {
            status,
            docname,
            note,
            conflict: None,
        };
        Ok(match outcome {
            Ok(Applied::Done(local)) => line(Status::Synced, local, None),
            Ok(Applied::Skipped(why)) => line(Status::Skipped, None, Some(why)),
            Ok(Applied::Conflict(local, c)) => Line {
                conflict: Some(
                    serde_json::to_string(&c).map_err(|e| Error::Corrupt(e.to_string()))?,
                ),
                ..line(Status::Conflict, local, Some(c.sentence()))
            },
            Err(e) => line(Status::Failed, None, Some(e.to_string())),
        })
    }
}

thread_local! {
    /// The documents written by the page under way on this thread, to be
    /// freed by whoever takes them ([`take_written`]): the fetching thread
    /// has the time, the applier has not. None outside a page (a Resync
    /// frees what it wrote at once).
    static WRITTEN: std::cell::RefCell<Option<Vec<Doc>>> = const { std::cell::RefCell::new(None) };
}

/// The documents the last page applied on this thread wrote.
pub(super) fn take_written() -> Vec<Doc> {
    WRITTEN.take().unwrap_or_default()
}

/// Applies a page's entries (snapshot documents first, then the log) in
/// the caller's transaction, with `prepared[i]` readied for `entries[i]`.
/// Each entry comes with its data as the JSON text it arrived as: a
/// document created takes its data out of the entry instead of a copy, and
/// a sync-log line that keeps the data keeps that text.
///
/// The page is first applied whole, in one savepoint; only if an entry
/// fails is that undone and the page applied again entry by entry, each
/// in a savepoint of its own so that a failure takes nothing else with it.
/// (A savepoint per entry copies every database page the entry touches
/// before changing it: most of a page of sync's time, for entries that
/// almost never fail.)
pub(super) fn apply_page(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entries: &mut [(&mut LogEntry, &RawValue)],
    prepared: &[Prepared],
) -> Result<Counts> {
    WRITTEN.set(Some(Vec::new()));
    tx.prepare_cached("SAVEPOINT page")?.execute([])?;
    if let Some(counts) = apply_each(tx, reg, ctx, entries, prepared, Mode::Whole)? {
        tx.prepare_cached("RELEASE page")?.execute([])?;
        return Ok(counts);
    }
    crate::document::forget_cached();
    tx.prepare_cached("ROLLBACK TO page")?.execute([])?;
    tx.prepare_cached("RELEASE page")?.execute([])?;
    // Documents taken out of their entries are read again from their text.
    for (entry, text) in entries.iter_mut() {
        if entry.data.is_null() {
            entry.data = serde_json::from_str(text.get())
                .map_err(|e| Error::Corrupt(format!("entry {}: {e}", entry.seq)))?;
        }
    }
    apply_each(tx, reg, ctx, entries, prepared, Mode::EntryByEntry)?
        .ok_or_else(|| Error::Corrupt("an entry applied on its own stopped the page".into()))
}

/// How [`apply_each`] applies entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Straight into the transaction; the first entry that fails stops
    /// the page (None), to be undone by the caller.
    Whole,
    /// Each in its own savepoint; a failure is a Failed line.
    EntryByEntry,
}

fn apply_each(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entries: &mut [(&mut LogEntry, &RawValue)],
    prepared: &[Prepared],
    mode: Mode,
) -> Result<Option<Counts>> {
    let nothing = Prepared::default();
    let mut counts = Counts::default();
    // Whether an entry may wait behind an earlier failure: asked once, not
    // per entry, while this producer has no failed line.
    let mut failures = tx
        .prepare_cached(
            // The failed lines, by status (not every line of the producer).
            "SELECT 1 FROM sync_log INDEXED BY sync_log_status WHERE status = 'Failed' AND event_producer = ?1 LIMIT 1",
        )?
        .exists([&ctx.producer])?;
    // The page's sync-log lines are written together, a few statements
    // instead of one an entry: at its end, or before a Failed line, which
    // is written at once (a later entry of the same document looks for it).
    let mut lines: Vec<(usize, Line)> = Vec::new();
    let written =
        |tx: &Transaction, done: &[(&mut LogEntry, &RawValue)], lines: &mut Vec<(usize, Line)>| {
            let rows = lines.iter().filter_map(|(i, line)| {
                let (entry, text) = done.get(*i)?;
                Some((&**entry, &**text, line))
            });
            write_lines(tx, ctx, rows)?;
            lines.clear();
            Ok::<(), Error>(())
        };
    for i in 0..entries.len() {
        let ready = prepared.get(i).unwrap_or(&nothing);
        let (done, rest) = entries.split_at_mut(i);
        let Some((entry, text)) = rest.first_mut() else {
            break;
        };
        let status = match apply_logged(tx, reg, ctx, entry, ready, failures, mode)? {
            None => return Ok(None),
            Some(Logged::Quiet) => Status::Skipped,
            Some(Logged::Line(line)) => {
                let status = line.status;
                if mode == Mode::EntryByEntry || status == Status::Failed {
                    written(tx, done, &mut lines)?;
                    write_lines(tx, ctx, [(&**entry, &**text, &line)])?;
                } else {
                    lines.push((i, line));
                }
                status
            }
        };
        match status {
            Status::Synced => counts.synced += 1,
            Status::Failed => {
                counts.failed += 1;
                failures = true;
            }
            Status::Skipped => counts.skipped += 1,
            Status::Conflict => {
                counts.synced += 1;
                counts.conflicts += 1;
            }
        }
    }
    written(tx, entries, &mut lines)?;
    Ok(Some(counts))
}

/// `INSERT` of up to 32 sync-log lines.
static ADD_LINES: crate::db::MultiRow = crate::db::MultiRow::new(
    "INSERT INTO sync_log (event_producer, seq, update_type, status, ref_doctype, docname, remote_docname,
                           use_same_name, data, error, origin_site, creation, modified, mapping,
                           base, version, conflict)",
    17,
    32,
);

/// Writes the sync-log lines of entries (each with the text its data came as).
fn write_lines<'a>(
    tx: &Transaction,
    ctx: &Context,
    lines: impl IntoIterator<Item = (&'a LogEntry, &'a RawValue, &'a Line)>,
) -> Result<()> {
    let now = values::now_string();
    let lines: Vec<_> = lines.into_iter().collect();
    for chunk in lines.chunks(ADD_LINES.most()) {
        let mut stmt = tx.prepare_cached(ADD_LINES.sql(chunk.len()))?;
        let mut at = 0;
        let mut bind = |stmt: &mut rusqlite::CachedStatement, v: &dyn rusqlite::ToSql| {
            at += 1;
            stmt.raw_bind_parameter(at, v)
        };
        for (entry, text, line) in chunk {
            let row = ctx.rows.get(&entry.ref_doctype);
            // A document created as it came is the document here: the line
            // points at it instead of keeping a second copy. Diffs, and
            // whatever did not go through as it came, are kept whole
            // (Resync and the detail need them).
            let data = (text.get() != "null"
                && !(line.status == Status::Synced && entry.update_type == UpdateType::Create))
                .then(|| text.get());
            bind(&mut stmt, &ctx.producer)?;
            bind(&mut stmt, &entry.seq)?;
            bind(&mut stmt, &entry.update_type.as_str())?;
            bind(&mut stmt, &line.status.as_str())?;
            bind(&mut stmt, &ctx.local_doctype(&entry.ref_doctype))?;
            bind(&mut stmt, &line.docname)?;
            bind(&mut stmt, &entry.docname)?;
            bind(&mut stmt, &row.is_none_or(|r| r.use_same_name))?;
            bind(&mut stmt, &data)?;
            bind(&mut stmt, &line.note)?;
            bind(&mut stmt, &entry.origin_site)?;
            bind(&mut stmt, &now)?;
            bind(&mut stmt, &now)?;
            bind(&mut stmt, &row.and_then(|r| r.mapping.as_deref()))?;
            bind(&mut stmt, &entry.base)?;
            bind(&mut stmt, &entry.version)?;
            bind(&mut stmt, &line.conflict)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// A sync-log line's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Synced,
    Failed,
    Skipped,
    Conflict,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Synced => "Synced",
            Status::Failed => "Failed",
            Status::Skipped => "Skipped",
            Status::Conflict => "Conflict",
        }
    }
}

/// Applies one entry; its sync-log line, written by the caller.
/// `failures`: whether this producer may have a failed line the entry has
/// to wait behind. None: the entry failed while the page is applied whole.
fn apply_logged(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &mut LogEntry,
    ready: &Prepared,
    failures: bool,
    mode: Mode,
) -> Result<Option<Logged>> {
    // Skipped without a line: an entry of a doctype not subscribed to
    // (refused before, by the protocol check), or this site's own change
    // coming back (SPEC F19).
    if !ctx.rows.contains_key(&entry.ref_doctype) || entry.origin_site == ctx.local_site_id {
        return Ok(Some(Logged::Quiet));
    }
    let doctype = ctx.local_doctype(&entry.ref_doctype);
    let blocked: Option<i64> = if failures {
        tx.prepare_cached(
            "SELECT id FROM sync_log WHERE event_producer = ?1 AND ref_doctype = ?2 AND remote_docname = ?3 AND status = 'Failed' LIMIT 1",
        )?
        .query_row((&ctx.producer, doctype, &entry.docname), |r| r.get(0))
        .optional()?
    } else {
        None
    };
    let outcome = match blocked {
        Some(id) => Err(Error::Docstatus(format!(
            "Waiting for an earlier failed update of {doctype} {} (sync log {id}); resync that one first",
            entry.docname
        ))),
        None if mode == Mode::Whole => match apply_entry(tx, reg, ctx, entry, ready) {
            Err(_) => return Ok(None),
            applied => applied,
        },
        None => apply_in_savepoint(tx, reg, ctx, entry, ready),
    };
    let loose = matches!(outcome, Ok(Applied::Done(_))) && !ready.loose_links.is_empty();
    let mut line = Line::of(outcome)?;
    if loose {
        let kept: Vec<String> = ready
            .loose_links
            .iter()
            .map(|(dt, n)| format!("{dt} {n}"))
            .collect();
        line.note = Some(format!(
            "Applied; links kept with the producer's names, without their documents ({}): users, roles and streaming set-up are never taken from a producer unless subscribed to",
            kept.join(", ")
        ));
    }
    Ok(Some(Logged::Line(line)))
}

/// What [`apply_logged`] made of an entry.
enum Logged {
    /// Skipped, with no sync-log line.
    Quiet,
    /// Its sync-log line, to be written.
    Line(Line),
}

/// Applies dependencies and the entry inside a savepoint: all or nothing.
pub(super) fn apply_in_savepoint(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &mut LogEntry,
    ready: &Prepared,
) -> Result<Applied> {
    tx.prepare_cached("SAVEPOINT entry")?.execute([])?;
    let result = apply_entry(tx, reg, ctx, entry, ready);
    match &result {
        Ok(_) => tx.prepare_cached("RELEASE entry")?.execute([])?,
        Err(_) => {
            crate::document::forget_cached();
            tx.prepare_cached("ROLLBACK TO entry")?.execute([])?;
            tx.prepare_cached("RELEASE entry")?.execute([])?
        }
    };
    result
}

/// What no producer may set here: a synced User gets no roles (its local
/// roles, if any, are kept).
pub(super) fn disarm(doctype: &str, mut body: Map<String, Value>) -> Map<String, Value> {
    if doctype == "User" {
        body.remove("roles");
    }
    body
}

pub(super) fn strip_meta(doc: &Map<String, Value>) -> Map<String, Value> {
    doc.iter()
        .filter(|(k, _)| {
            !STANDARD_FIELDS.contains(&k.as_str())
                || k.as_str() == "name"
                || k.as_str() == "docstatus"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(super) fn local_name(
    tx: &Transaction,
    ctx: &Context,
    doctype: &str,
    remote: &str,
    use_same_name: bool,
) -> Result<Option<String>> {
    if use_same_name {
        return Ok(store::exists(tx, doctype, remote)?.then(|| remote.to_owned()));
    }
    Ok(tx
        .prepare_cached(
            "SELECT name FROM documents WHERE doctype = ?1 AND remote_name = ?2 AND remote_name IS NOT NULL
             AND json_extract(data, '$.remote_site_name') = ?3 LIMIT 1",
        )?
        .query_row((doctype, remote, &ctx.producer_site_id), |r| r.get(0))
        .optional()?)
}

pub(super) fn apply_entry(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &mut LogEntry,
    ready: &Prepared,
) -> Result<Applied> {
    // A document this site lacks: its current state, or nothing to do.
    let (kind, healed) = match &ready.heal {
        Some(Heal::Gone(why)) => return Ok(Applied::Skipped(why.clone())),
        Some(Heal::Current(doc)) => (UpdateType::Create, Some(Value::Object(doc.clone()))),
        None => (entry.update_type, None),
    };
    if let Some(why) = &ready.failed {
        return Err(Error::Remote(why.clone()));
    }
    let local_dt = reg.require(ctx.local_doctype(&entry.ref_doctype))?;
    if !ctx.may_receive(local_dt) {
        return Err(Error::Permission(format!(
            "{} documents are never taken from another site",
            local_dt.name
        )));
    }
    // A snapshot document, or a healed one, brings a present one up to date.
    let upsert = healed.is_some() || entry.seq == SNAPSHOT_SEQ;
    let use_same_name = ctx
        .rows
        .get(&entry.ref_doctype)
        .is_none_or(|r| r.use_same_name);
    let origin = Some(entry.origin_site.clone());
    let opts = WriteOptions {
        keep_name: use_same_name,
        origin: origin.clone(),
        ignore_links: !ready.loose_links.is_empty(),
        versions: None,
    };
    for (doctype, doc) in &ready.deps {
        if !store::exists(tx, doctype, &text(doc, "name"))? {
            let dep_opts = WriteOptions {
                keep_name: true,
                origin: origin.clone(),
                ignore_links: true,
                versions: Some(version::history(doc)),
            };
            document::insert_in(
                tx,
                reg,
                &ctx.actor,
                doctype,
                Value::Object(disarm(doctype, strip_meta(doc))),
                dep_opts,
            )?;
        }
    }
    // Through a mapping: the local doctype and data, and the local names of
    // the mapped documents it depends on (created first when missing). A
    // mapped document is another document: it keeps versions of its own,
    // and changes to it apply in the order they arrive.
    let mut fill = Map::new();
    let (doctype, data) = match &ready.mapped {
        None => (
            ctx.local_doctype(&entry.ref_doctype),
            healed.as_ref().unwrap_or(&entry.data),
        ),
        Some(Err(msg)) => return Err(Error::invalid("mapping", msg.clone())),
        Some(Ok(m)) => {
            for (field, dep) in &m.deps {
                fill.insert(
                    field.clone(),
                    Value::from(materialize(tx, reg, ctx, dep, &origin)?),
                );
            }
            (ctx.local_doctype(&entry.ref_doctype), &m.data)
        }
    };
    let mapped = ctx
        .rows
        .get(&entry.ref_doctype)
        .is_some_and(|r| r.mapping.is_some());
    let local = local_name(tx, ctx, doctype, &entry.docname, use_same_name)?;
    let load = |local: &str| {
        store::load(tx, doctype, local)?.ok_or_else(|| Error::NotFound {
            doctype: doctype.to_owned(),
            name: local.to_owned(),
        })
    };
    match kind {
        UpdateType::Create => {
            let Value::Object(data) = data else {
                return Err(Error::Remote(
                    "A Create arrived without its document".into(),
                ));
            };
            if let Some(local) = local {
                let current = load(&local)?;
                let versioned = !mapped
                    && !version::history(&current).is_empty()
                    && !version::history(data).is_empty();
                if versioned || upsert {
                    let here = conflict::LocalCopy {
                        doctype,
                        name: &local,
                        current: &current,
                    };
                    return conflict::settle_whole(tx, reg, ctx, &here, data, &opts, fill);
                }
                return Ok(Applied::Done(Some(local)));
            }
            let versions = (!mapped).then(|| version::history(data));
            // The entry's own document is taken, not copied (its text
            // stays for the sync log); standard fields in it are ignored
            // by the insert as strip_meta would drop them.
            let mut body = match (&ready.mapped, &healed) {
                (None, None) => match std::mem::take(&mut entry.data) {
                    Value::Object(data) => disarm(doctype, data),
                    _ => Map::new(),
                },
                _ => disarm(doctype, strip_meta(data)),
            };
            body.extend(fill);
            if use_same_name {
                body.insert("name".into(), Value::from(entry.docname.clone()));
            } else {
                body.remove("name");
                body.insert("remote_docname".into(), Value::from(entry.docname.clone()));
                body.insert(
                    "remote_site_name".into(),
                    Value::from(ctx.producer_site_id.clone()),
                );
            }
            let opts = WriteOptions { versions, ..opts };
            let doc = document::insert_in(tx, reg, &ctx.actor, doctype, Value::Object(body), opts)?;
            let name = text(&doc, "name");
            WRITTEN.with_borrow_mut(|written| {
                if let Some(written) = written {
                    written.push(doc);
                }
            });
            Ok(Applied::Done(Some(name)))
        }
        UpdateType::Update => {
            let Some(local) = local else {
                return Err(Error::NotFound {
                    doctype: doctype.to_owned(),
                    name: entry.docname.clone(),
                });
            };
            let current = load(&local)?;
            let mine = version::history(&current);
            let verdict = if mapped {
                Verdict::Take
            } else {
                version::judge_change(&mine, entry.base.as_deref(), entry.version.as_deref())
            };
            match verdict {
                Verdict::Have => Ok(Applied::Done(Some(local))),
                Verdict::Take => {
                    let mut patch = disarm(doctype, patch_from_diff(&current, data));
                    patch.extend(fill);
                    let versions = match (&entry.version, mapped) {
                        (Some(v), false) => version::extended(mine, v.clone()),
                        _ => mine,
                    };
                    let opts = WriteOptions {
                        versions: Some(versions),
                        ..opts
                    };
                    document::update_in(tx, reg, &ctx.actor, doctype, &local, Value::Object(patch), &opts)?;
                    Ok(Applied::Done(Some(local)))
                }
                // Made on a version this site has moved on from: the
                // producer's whole document settles it.
                Verdict::ConflictTake | Verdict::ConflictKeep => match &ready.incoming {
                    // The producer has taken this site's version since.
                    Some(theirs)
                        if version::judge_whole(&mine, &version::history(theirs))
                            == Verdict::Have =>
                    {
                        Ok(Applied::Skipped(format!(
                            "{doctype} {local} was changed here too while apart; the later version, made here, has reached the producer since and replaced this change there (see its sync log)"
                        )))
                    }
                    Some(theirs) => {
                        let here = conflict::LocalCopy {
                            doctype,
                            name: &local,
                            current: &current,
                        };
                        conflict::settle_whole(tx, reg, ctx, &here, theirs, &opts, fill)
                    }
                    None => Err(Error::Remote(format!(
                        "{doctype} {local} changed here and on the producer while apart, and the producer's version did not come with the page; resync this entry"
                    ))),
                },
            }
        }
        UpdateType::Delete => match local {
            Some(local) => {
                let current = load(&local)?;
                let verdict = if mapped {
                    Verdict::Take
                } else {
                    version::judge_change(
                        &version::history(&current),
                        entry.base.as_deref(),
                        entry.version.as_deref(),
                    )
                };
                if matches!(verdict, Verdict::ConflictTake | Verdict::ConflictKeep) {
                    // Changed here while the producer deleted it: the edit
                    // wins, the delete is kept in the sync log.
                    return Ok(Applied::Conflict(
                        Some(local),
                        Box::new(Conflict::new(conflict::HERE, Some(&current), None)),
                    ));
                }
                let opts = WriteOptions {
                    versions: entry.version.clone().map(|v| vec![v]),
                    ..opts
                };
                document::delete_in(tx, reg, &ctx.actor, doctype, &local, &opts)?;
                Ok(Applied::Done(Some(local)))
            }
            None => Ok(Applied::Skipped(format!(
                "{doctype} {} is not here: nothing to delete",
                entry.docname
            ))),
        },
    }
}

/// Stores a mapped dependency unless it is here already; its local name.
pub(super) fn materialize(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    doc: &MappedDoc,
    origin: &Option<String>,
) -> Result<String> {
    // No deeper than resolve_requests went (it stops at MAX_DEPTH).
    let mut body = doc.body.clone();
    for (field, dep) in &doc.deps {
        body.insert(
            field.clone(),
            Value::from(materialize(tx, reg, ctx, dep, origin)?),
        );
    }
    if let Some(name) = same_local(tx, reg, &doc.doctype, &body)? {
        return Ok(name);
    }
    let opts = WriteOptions {
        keep_name: false,
        origin: origin.clone(),
        ignore_links: false,
        versions: None,
    };
    let stored = document::insert_in(tx, reg, &ctx.actor, &doc.doctype, Value::Object(body), opts)?;
    Ok(text(&stored, "name"))
}

/// The local document a mapped dependency already is: by name when its
/// doctype is named after a field (a Role after its role_name), else the
/// first one holding the same value in every mapped field. A mapped
/// dependency has no producer name of its own doctype to go by.
pub(super) fn same_local(
    tx: &Transaction,
    reg: &Registry,
    doctype: &str,
    body: &Doc,
) -> Result<Option<String>> {
    let dt = reg.require(doctype)?;
    if let Some(field) = dt.autoname.strip_prefix("field:") {
        if let Some(v) = body.get(field).and_then(Value::as_str) {
            return Ok(store::exists(tx, doctype, v)?.then(|| v.to_owned()));
        }
    }
    let filters: Map<String, Value> = body
        .iter()
        .filter(|(k, v)| {
            matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
                && dt.field(k).is_some_and(|f| f.fieldtype != FieldType::Table)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if filters.is_empty() {
        return Ok(None);
    }
    let found = crate::query::names_in(tx, reg, doctype, Some(&Value::Object(filters)), 1)?;
    Ok(found.into_iter().next())
}

/// Turns an Update diff into a PUT-style patch over the local document:
/// `changed`, then `removed`, `row_changed` and `added` rows.
pub(super) fn patch_from_diff(current: &Doc, diff: &Value) -> Map<String, Value> {
    let mut patch: Map<String, Value> = diff
        .get("changed")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut tables: HashSet<String> = HashSet::new();
    for part in ["added", "removed", "row_changed"] {
        if let Some(m) = diff.get(part).and_then(Value::as_object) {
            tables.extend(m.keys().cloned());
        }
    }
    for table in tables {
        let mut rows: Vec<Map<String, Value>> = current
            .get(&table)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_object().cloned())
            .collect();
        let removed: HashSet<String> = diff["removed"]
            .get(&table)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        rows.retain(|r| !removed.contains(&text(r, "name")));
        for change in diff["row_changed"]
            .get(&table)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            if let Some(row) = rows
                .iter_mut()
                .find(|r| text(r, "name") == text(change, "name"))
            {
                row.extend(change.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        for added in diff["added"]
            .get(&table)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            rows.push(added.clone());
        }
        rows.sort_by_key(|r| r.get("idx").and_then(Value::as_i64).unwrap_or(i64::MAX));
        patch.insert(
            table,
            Value::Array(rows.into_iter().map(Value::Object).collect()),
        );
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_becomes_a_patch_over_the_local_rows() {
        let current = json!({"title": "a", "rows": [{"name": "r1", "x": 1, "idx": 1}, {"name": "r2", "x": 2, "idx": 2}]});
        let diff = json!({"changed": {"title": "b"}, "added": {"rows": [{"name": "r3", "x": 3, "idx": 2}]},
                          "removed": {"rows": ["r2"]}, "row_changed": {"rows": [{"name": "r1", "x": 9}]}});
        let patch = patch_from_diff(current.as_object().unwrap(), &diff);
        assert_eq!(patch["title"], "b");
        let rows = patch["rows"].as_array().unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r["name"].as_str().unwrap(), r["x"].as_i64().unwrap()))
                .collect::<Vec<_>>(),
            [("r1", 9), ("r3", 3)]
        );
    }
}

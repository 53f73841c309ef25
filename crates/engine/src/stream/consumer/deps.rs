//! Readying a page outside its transaction: the documents each entry
//! depends on, fetched from the producer in dependency order (SPEC F14),
//! and entries through a Document Type Mapping in their local form (F16).

use crate::hashed::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::Context;
use crate::doctype::{DocType, FieldType, Registry, DOCTYPE_LINK};
use crate::document::version::{self, Verdict};
use crate::document::{store, values, Doc};
use crate::error::{Error, Result};
use crate::mapping::{DocRequest, Evaluator, MappedDoc, MAX_DEPTH};
use crate::site::Site;
use crate::stream::log::{LogEntry, UpdateType};
use crate::stream::source::Source;
use crate::stream::wire::{FetchRequest, FindRequest};

/// Dependencies fetched for one page at most.
const MAX_DEPENDENCIES: usize = 10_000;
/// Dependencies fetched for one entry at most.
const MAX_DEPENDENCIES_PER_ENTRY: usize = 1_000;
/// How deep a chain of missing documents may go for one entry.
const MAX_DEPTH_OF_DEPENDENCIES: usize = 64;

/// State of one page's dependency walk.
pub(super) struct Walk<'a> {
    fetched: &'a mut HashMap<(String, String), Doc>,
    /// Already here: checked once per page, not once per link.
    present: &'a mut HashSet<(String, String)>,
    visiting: &'a mut HashSet<(String, String)>,
    order: &'a mut Vec<(String, Doc)>,
    /// Links to documents this site will not take from a producer.
    loose: &'a mut Vec<(String, String)>,
}

/// An entry made ready outside the transaction: the documents it depends
/// on (fetched from the producer) and, through a mapping, its local form.
#[derive(Default)]
pub(super) struct Prepared {
    pub(super) deps: Vec<(String, Doc)>,
    pub(super) mapped: Option<std::result::Result<MappedEntry, String>>,
    pub(super) heal: Option<Heal>,
    /// The producer's whole document, for an Update made on a version this
    /// site has moved on from (a conflict, settled in the transaction).
    pub(super) incoming: Option<Doc>,
    /// Why the entry cannot be applied (a dependency over budget, refused…).
    pub(super) failed: Option<String>,
    /// Links to documents this site does not take from a producer (a User,
    /// say): they are stored with the producer's names, and the sync log
    /// says so.
    pub(super) loose_links: Vec<(String, String)>,
}

/// An entry about a document this site does not hold.
pub(super) enum Heal {
    /// Its current state, from the producer: applied as a Create.
    Current(Doc),
    /// Nothing to apply (a Delete of a document never received, a document
    /// gone from the producer since): the entry is recorded as Skipped.
    Gone(String),
}

/// Which documents a page creates and deletes before it is applied.
#[derive(Default)]
struct PagePresence {
    created: HashSet<(String, String)>,
    deleted: HashSet<(String, String)>,
}

impl PagePresence {
    fn created(&mut self, key: (String, String)) {
        self.deleted.remove(&key);
        self.created.insert(key);
    }

    fn deleted(&mut self, key: (String, String)) {
        self.created.remove(&key);
        self.deleted.insert(key);
    }

    /// Whether the document will be here when the entry is applied.
    fn holds(&self, key: &(String, String), stored: impl FnOnce() -> Result<bool>) -> Result<bool> {
        if self.created.contains(key) {
            return Ok(true);
        }
        if self.deleted.contains(key) {
            return Ok(false);
        }
        stored()
    }
}

/// An entry through a Document Type Mapping: its local data, and the
/// mapped documents whose names go into its fields first.
pub(super) struct MappedEntry {
    pub(super) data: Value,
    pub(super) deps: Vec<(String, MappedDoc)>,
}

impl Site {
    /// Readies a page's entries outside the transaction, one `Prepared`
    /// per entry: entries through a mapping get their local form and mapped
    /// dependencies (SPEC F16); the others, the documents they link to that
    /// are missing here, fetched from the producer in dependency order
    /// (SPEC F14). An Update for a document this site lacks gets the
    /// document's current state instead (it is created, never a permanent
    /// failure); a Delete of one it never had is marked to skip.
    pub(super) fn prepare(
        &self,
        client: &dyn Source,
        reg: &Registry,
        ctx: &Context,
        entries: &[&LogEntry],
        mut links: Option<&mut PageLinks>,
    ) -> Result<Vec<Prepared>> {
        let mut out = Vec::with_capacity(entries.len());
        let mut fetched: HashMap<(String, String), Doc> = HashMap::default();
        let mut present: HashSet<(String, String)> = HashSet::default();
        // What this page itself creates and deletes, before it is applied.
        let mut page = PagePresence::default();
        for (i, &entry) in entries.iter().enumerate() {
            let mut ready = Prepared::default();
            let mut healed_here = false;
            let Some(row) = ctx.rows.get(&entry.ref_doctype) else {
                out.push(ready);
                continue;
            };
            if entry.origin_site == ctx.local_site_id {
                out.push(ready);
                continue;
            }
            let key = (entry.ref_doctype.clone(), entry.docname.clone());
            let healed;
            // The local copy's versions, when the store was asked whether it
            // holds the document (one read serves both).
            let mut stored: Option<Vec<String>> = None;
            let entry = match entry.update_type {
                UpdateType::Create => {
                    page.created(key);
                    entry
                }
                UpdateType::Delete => {
                    if !page.holds(&key, || Ok(self.stored_versions(ctx, entry)?.is_some()))? {
                        ready.heal = Some(Heal::Gone(format!(
                            "{} {} was never received here: nothing to delete",
                            entry.ref_doctype, entry.docname
                        )));
                    }
                    page.deleted(key);
                    out.push(ready);
                    continue;
                }
                UpdateType::Update
                    if page.holds(&key, || {
                        stored = self.stored_versions(ctx, entry)?;
                        Ok(stored.is_some())
                    })? =>
                {
                    if let (None, Some(mine)) = (&row.mapping, &stored) {
                        ready.incoming = self.incoming_if_apart(client, ctx, entry, mine)?;
                    }
                    entry
                }
                UpdateType::Update => match self.heal(client, ctx, entry)? {
                    Ok(current) => {
                        page.created(key);
                        healed_here = true;
                        ready.heal = Some(Heal::Current(current.clone()));
                        healed = LogEntry {
                            update_type: UpdateType::Create,
                            data: Value::Object(current),
                            ..entry.clone()
                        };
                        &healed
                    }
                    Err(why) => {
                        ready.heal = Some(Heal::Gone(why));
                        out.push(ready);
                        continue;
                    }
                },
            };
            if let Some(mapping) = &row.mapping {
                ready.mapped = Some(match self.map_entry(client, reg, ctx, mapping, entry) {
                    Ok(m) => Ok(m),
                    Err(e @ Error::Unreachable(_)) => return Err(e),
                    Err(e) => Err(format!("Mapping {mapping}: {e}")),
                });
                out.push(ready);
                continue;
            }
            // Found when the page was read, unless the entry became another
            // (healed) since.
            let wanted = match links.as_deref_mut().and_then(|l| l.take(reg, i)) {
                Some(wanted) if !healed_here => wanted,
                _ => wanted_links(reg, entry),
            };
            let mut visiting = HashSet::default();
            let mut walk = Walk {
                fetched: &mut fetched,
                present: &mut present,
                visiting: &mut visiting,
                order: &mut ready.deps,
                loose: &mut ready.loose_links,
            };
            if let Err(why) = self.collect_dependencies(client, reg, ctx, wanted, &mut walk)? {
                ready.failed = Some(why);
            }
            out.push(ready);
        }
        Ok(out)
    }

    /// The versions of the document an entry names, if it is stored here
    /// (empty for one written before versions existed).
    fn stored_versions(&self, ctx: &Context, entry: &LogEntry) -> Result<Option<Vec<String>>> {
        let doctype = ctx.local_doctype(&entry.ref_doctype);
        let same = ctx
            .rows
            .get(&entry.ref_doctype)
            .is_none_or(|r| r.use_same_name);
        self.read(|tx| {
            let Some(local) = super::apply::local_name(tx, ctx, doctype, &entry.docname, same)?
            else {
                return Ok(None);
            };
            Ok(store::load(tx, doctype, &local)?.map(|d| version::history(&d)))
        })
    }

    /// For an Update made on a version the local copy (versions `mine`) has
    /// moved on from, the producer's whole document (it settles the
    /// conflict); None when the change follows on from the local copy, or
    /// the producer no longer gives the document (the entry then says so).
    fn incoming_if_apart(
        &self,
        client: &dyn Source,
        ctx: &Context,
        entry: &LogEntry,
        mine: &[String],
    ) -> Result<Option<Doc>> {
        let verdict = version::judge_change(mine, entry.base.as_deref(), entry.version.as_deref());
        if !matches!(verdict, Verdict::ConflictTake | Verdict::ConflictKeep) {
            return Ok(None);
        }
        Ok(self.heal(client, ctx, entry)?.ok())
    }

    /// The current state of a document this site lacks, fetched from the
    /// producer (scoped as a dependency); Err(reason) when there is none to
    /// have. Only an unreachable producer fails the page.
    fn heal(
        &self,
        client: &dyn Source,
        ctx: &Context,
        entry: &LogEntry,
    ) -> Result<std::result::Result<Doc, String>> {
        let req = FetchRequest {
            site_id: ctx.local_site_id.clone(),
            doctype: entry.ref_doctype.clone(),
            name: entry.docname.clone(),
        };
        match client.fetch(&req) {
            Ok(doc) => Ok(Ok(doc)),
            Err(e @ Error::Unreachable(_)) => Err(e),
            Err(e) => Ok(Err(format!(
                "{} {} is not here and the producer does not give it: {e}",
                entry.ref_doctype, entry.docname
            ))),
        }
    }

    /// An entry through its mapping: the local data, and the documents its
    /// "Document" rows ask for, found on the producer and mapped in turn.
    pub(super) fn map_entry(
        &self,
        client: &dyn Source,
        reg: &Registry,
        ctx: &Context,
        mapping: &str,
        entry: &LogEntry,
    ) -> Result<MappedEntry> {
        let m = ctx.mappings.get(mapping)?;
        let env = self.script_env();
        let eval = |expr: &str, doc: &Doc| crate::condition::eval_value(&env, expr, doc);
        let (data, requests) = match entry.update_type {
            UpdateType::Create => {
                let Value::Object(d) = &entry.data else {
                    return Err(Error::Remote(
                        "A Create arrived without its document".into(),
                    ));
                };
                let (body, requests) = m.map_doc(&ctx.mappings, reg, d, true, &eval)?;
                (Value::Object(body), requests)
            }
            UpdateType::Update => m.map_diff(&ctx.mappings, reg, &entry.data, &eval)?,
            UpdateType::Delete => (Value::Null, Vec::new()),
        };
        Ok(MappedEntry {
            data,
            deps: self.resolve_requests(client, reg, ctx, requests, &eval, 0)?,
        })
    }

    pub(super) fn resolve_requests(
        &self,
        client: &dyn Source,
        reg: &Registry,
        ctx: &Context,
        requests: Vec<DocRequest>,
        eval: &Evaluator,
        depth: usize,
    ) -> Result<Vec<(String, MappedDoc)>> {
        if !requests.is_empty() && depth >= MAX_DEPTH {
            return Err(Error::invalid(
                "mapping",
                format!("Document rows nest more than {MAX_DEPTH} deep: do the mappings name each other in a cycle?"),
            ));
        }
        requests
            .into_iter()
            .map(|req| {
                let inner = ctx.mappings.get(&req.mapping)?;
                let remote = client.find(&FindRequest {
                    site_id: ctx.local_site_id.clone(),
                    doctype: inner.remote_doctype.clone(),
                    filters: req.filters,
                })?;
                let (body, more) = inner.map_doc(&ctx.mappings, reg, &remote, true, eval)?;
                let deps = self.resolve_requests(client, reg, ctx, more, eval, depth + 1)?;
                let doc = MappedDoc {
                    doctype: inner.local_doctype.clone(),
                    body,
                    deps,
                };
                Ok((req.local_field, doc))
            })
            .collect()
    }

    /// Fetches the documents an entry needs, depth first with an explicit
    /// stack (no recursion: a producer decides how deep links go), in
    /// dependency order. Over a budget, or refused by the producer, the
    /// entry fails with the reason (Ok(Err)); only an unreachable producer
    /// fails the page.
    pub(super) fn collect_dependencies(
        &self,
        client: &dyn Source,
        reg: &Registry,
        ctx: &Context,
        roots: Vec<(String, String)>,
        walk: &mut Walk,
    ) -> Result<std::result::Result<(), String>> {
        struct Frame {
            key: (String, String),
            doc: Doc,
            links: Vec<(String, String)>,
            next: usize,
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut pending: Vec<(String, String)> = roots.into_iter().rev().collect();
        let mut fetched_here = 0usize;
        loop {
            // The next link to look at: the top frame's, else a root's.
            let next = match stack.last_mut() {
                Some(top) if top.next < top.links.len() => {
                    top.next += 1;
                    Some(top.links[top.next - 1].clone())
                }
                Some(_) => {
                    if let Some(done) = stack.pop() {
                        walk.order.push((done.key.0, done.doc));
                    }
                    continue;
                }
                None => pending.pop(),
            };
            let Some(key) = next else {
                return Ok(Ok(()));
            };
            let Some(dt) = reg.get(&key.0) else {
                continue;
            };
            if walk.present.contains(&key) || !walk.visiting.insert(key.clone()) {
                continue;
            }
            if self.read(|tx| store::exists(tx, &key.0, &key.1))? {
                walk.present.insert(key);
                continue;
            }
            if !ctx.may_receive(dt) {
                // Users, roles, streaming set-up: never taken from a producer
                // unless subscribed. The link keeps the producer's name.
                walk.loose.push(key);
                continue;
            }
            if stack.len() >= MAX_DEPTH_OF_DEPENDENCIES {
                return Ok(Err(format!(
                    "Its dependencies nest deeper than {MAX_DEPTH_OF_DEPENDENCIES} documents ({} {} and on): not applied",
                    key.0, key.1
                )));
            }
            let doc = match walk.fetched.get(&key) {
                Some(d) => d.clone(),
                None => {
                    fetched_here += 1;
                    if fetched_here > MAX_DEPENDENCIES_PER_ENTRY
                        || walk.fetched.len() >= MAX_DEPENDENCIES
                    {
                        return Ok(Err(format!(
                            "It needs more than {MAX_DEPENDENCIES_PER_ENTRY} missing documents (at most {MAX_DEPENDENCIES} a page): not applied"
                        )));
                    }
                    let req = FetchRequest {
                        site_id: ctx.local_site_id.clone(),
                        doctype: key.0.clone(),
                        name: key.1.clone(),
                    };
                    let d = match client.fetch(&req) {
                        Ok(d) => d,
                        Err(e @ Error::Unreachable(_)) => return Err(e),
                        Err(e) => {
                            return Ok(Err(format!(
                                "Its dependency {} {} could not be fetched: {e}",
                                key.0, key.1
                            )))
                        }
                    };
                    if values::text(&d, "name") != key.1 {
                        return Ok(Err(format!(
                            "The producer answered {} {} with another document",
                            key.0, key.1
                        )));
                    }
                    walk.fetched.insert(key.clone(), d.clone());
                    d
                }
            };
            let links = links_in(reg, dt, &doc);
            stack.push(Frame {
                key,
                doc,
                links,
                next: 0,
            });
        }
    }
}

/// The (doctype, name) pairs one entry links to.
pub(super) type Links = Vec<(String, String)>;

/// The documents an entry links to: a Create's document's links, an
/// Update's changed ones.
pub(super) fn wanted_links(reg: &Registry, entry: &LogEntry) -> Vec<(String, String)> {
    let Some(dt) = reg.get(&entry.ref_doctype) else {
        return Vec::new();
    };
    match entry.update_type {
        UpdateType::Create => entry
            .data
            .as_object()
            .map(|d| links_in(reg, dt, d))
            .unwrap_or_default(),
        UpdateType::Update => links_in_diff(reg, dt, &entry.data),
        UpdateType::Delete => Vec::new(),
    }
}

/// What each entry of a page links to, found by the thread that read the
/// page while the page before it is applied (walking every document is a
/// good part of readying a page, and the writer waits for that).
pub(super) struct PageLinks {
    /// The doctypes they were found with: a page applied after a doctype
    /// changed finds its links again.
    reg: Arc<Registry>,
    each: Vec<Vec<(String, String)>>,
}

impl PageLinks {
    /// `each` entry's links found with `reg`, in the order the page is
    /// applied: its snapshot, then its entries.
    pub(super) fn new(reg: Arc<Registry>, each: Vec<Links>) -> PageLinks {
        PageLinks { reg, each }
    }

    /// The links of the page's `i`th entry, if found with `reg`.
    fn take(&mut self, reg: &Registry, i: usize) -> Option<Vec<(String, String)>> {
        if !std::ptr::eq(Arc::as_ptr(&self.reg), reg) {
            return None;
        }
        self.each.get_mut(i).map(std::mem::take)
    }
}

/// Link targets named in `doc` (Link, Dynamic Link, Links in child rows).
pub(super) fn links_in(
    reg: &Registry,
    dt: &DocType,
    doc: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in &dt.fields {
        match f.fieldtype {
            FieldType::Link | FieldType::DynamicLink => {
                let Some(v) = doc
                    .get(&f.fieldname)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                else {
                    continue;
                };
                let target = if f.fieldtype == FieldType::Link {
                    f.options().to_owned()
                } else {
                    doc.get(f.options())
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                if !target.is_empty() && target != DOCTYPE_LINK {
                    out.push((target, v.to_owned()));
                }
            }
            FieldType::Table => {
                let Some(child) = reg.get(f.options()) else {
                    continue;
                };
                for row in doc
                    .get(&f.fieldname)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    out.extend(links_in(reg, child, row));
                }
            }
            _ => {}
        }
    }
    out
}

pub(super) fn links_in_diff(reg: &Registry, dt: &DocType, diff: &Value) -> Vec<(String, String)> {
    let mut out = diff
        .get("changed")
        .and_then(Value::as_object)
        .map(|c| links_in(reg, dt, c))
        .unwrap_or_default();
    for part in ["added", "row_changed"] {
        for (table, rows) in diff
            .get(part)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(child) = dt.field(table).and_then(|f| reg.get(f.options())) else {
                continue;
            };
            for row in rows
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                out.extend(links_in(reg, child, row));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builtin() -> Registry {
        let mut reg = Registry::default();
        for dt in crate::doctype::builtin_doctypes().unwrap() {
            reg.insert(dt);
        }
        reg
    }

    /// Links found while the page was read are used only if the doctypes
    /// are still the ones they were found with: a field added meanwhile may
    /// link to more, so the applier finds them again.
    #[test]
    fn links_found_with_other_doctypes_are_found_again() {
        let reg = Arc::new(builtin());
        let entry: LogEntry = serde_json::from_value(json!({
            "seq": 1, "update_type": "Create", "ref_doctype": "Sales Invoice", "docname": "S1",
            "data": {"customer": "Acme", "items": [{"item_code": "PEN"}, {"item_code": "INK"}]},
            "creation": "2026-01-01 00:00:00", "origin_site": "s"}))
        .unwrap();
        let found = wanted_links(&reg, &entry);
        let pairs = |p: &[(&str, &str)]| -> Links {
            p.iter()
                .map(|(d, n)| ((*d).to_owned(), (*n).to_owned()))
                .collect()
        };
        assert_eq!(
            found,
            pairs(&[("Customer", "Acme"), ("Item", "PEN"), ("Item", "INK")])
        );
        let mut links = PageLinks::new(reg.clone(), vec![found.clone()]);
        // The same doctypes as another registry (one was saved meanwhile).
        let since = builtin();
        assert_eq!(links.take(&since, 0), None, "found again");
        assert_eq!(links.take(&reg, 0), Some(found));
        assert_eq!(links.take(&reg, 1), None, "no entry 1");
    }
}

//! Pushing (SPEC F20): a site that can reach another (a shop behind NAT
//! that reaches its hub) sends it the pages of its own update log, rows
//! "Push Document Types" of the Event Producer it keeps for that site. The
//! other site decides: its approvals and conditions come back with every
//! answer and are kept here as an Event Consumer for it, so each page is
//! decided exactly as a pull from it would be (conditions, held documents,
//! existing documents first, origin sites), stored until the other site's
//! answer acknowledges it. The documents a page depends on travel with it.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{set_row_statuses, sync_existing, SyncSummary, PAGE_SIZE};
use crate::actor::Actor;
use crate::document::values::text;
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::Result;
use crate::site::Site;
use crate::stream::log::{self, Stored, UpdateType};
use crate::stream::wire::{
    AckRequest, Approval, PullReply, PullRequest, PushReply, PushRequest, Subscription,
};
use crate::stream::{EVENT_CONSUMER, EVENT_PRODUCER};

use super::ahead;
use super::receive::MAX_BUNDLE;

/// The most pages one push round sends.
const MAX_PUSH_PAGES: usize = 2000;
/// The most bytes of documents (the page's and those it depends on) one
/// push carries: a site takes requests of up to [`crate::MAX_BODY_BYTES`]
/// (8 MB), and the rest of the request needs room too.
const PUSH_BYTES: usize = crate::MAX_BODY_BYTES - (2 << 20);

/// A page to push, the documents it depends on that go with it, and those
/// that go ahead of it (in requests of their own: [`ahead`]).
struct Outgoing {
    page: PullReply<Stored>,
    deps: Vec<Doc>,
    ahead: Vec<Vec<Doc>>,
}

/// What the other site decided: its subscriptions and approvals.
type Decisions = (Vec<Subscription>, Vec<Approval>);

fn decisions(reply: &PushReply) -> Decisions {
    (reply.subscriptions.clone(), reply.approvals.clone())
}

/// A page sent and not answered yet.
struct Flight<'s> {
    /// Where the other site stands once it has taken the page.
    cursor: i64,
    /// Whether the page after it may be read before its answer.
    more: bool,
    /// The decisions it was read with.
    decided: Decisions,
    /// Its entries: counted as pushed once the other site has answered.
    entries: u32,
    answer: std::thread::ScopedJoinHandle<'s, Result<PushReply>>,
}

/// A push's answer, once it is in.
fn joined(answer: std::thread::ScopedJoinHandle<'_, Result<PushReply>>) -> Result<PushReply> {
    answer.join().unwrap_or_else(|_| {
        Err(crate::error::Error::Unreachable(
            "The push to the other site stopped unexpectedly".into(),
        ))
    })
}

/// The rows of an Event Producer's "Push Document Types".
pub(super) fn push_rows(doc: &Doc) -> Vec<serde_json::Map<String, Value>> {
    doc.get("push_doctypes")
        .and_then(Value::as_array)
        .map(|rows| rows.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default()
}

impl Site {
    /// Sends the other site what it approved and has not acknowledged yet;
    /// counts what it applied into `summary`.
    pub(super) fn push_to(&self, doc: &Doc, summary: &mut SyncSummary) -> Result<()> {
        let rows = push_rows(doc);
        if rows.is_empty() {
            return Ok(());
        }
        let name = text(doc, "name");
        let client = self.producer_client(doc)?;
        let info = self.info()?;
        let req = PushRequest {
            site_id: info.site_id.clone(),
            site_name: info.site_name.clone(),
            doctypes: rows
                .iter()
                .map(|r| Subscription {
                    ref_doctype: text(r, "ref_doctype"),
                    unsubscribed: false,
                    condition: None,
                    sync_existing: sync_existing(r),
                })
                .collect(),
            page: None,
            after: 0,
            last_seq: self.read(log::last_seq)?,
            deps: Vec::new(),
            ahead: false,
        };
        let mut reply = client.push(&req)?;
        summary.online = true;
        summary.renew_keys |= reply.renew_keys;
        // Reached: the dashboard shows it online (a push-only set-up never
        // pulls, which is what marks a producer online otherwise).
        self.write(|tx| {
            tx.execute(
                "INSERT INTO producer_state (producer, online, last_error) VALUES (?1, 1, NULL)
                 ON CONFLICT (producer) DO UPDATE SET online = 1, last_error = NULL",
                [&name],
            )?;
            Ok(())
        })?;
        // The other site's Event Consumer here belongs to this producer
        // row's user (a local System Manager), who decides its pages.
        let owner = self.actor_for(&text(doc, "user"))?;
        // Two pages on their way: the next one is read and sent while the
        // other site applies this one (it reads the next meanwhile and
        // applies it in its turn). Settled: the round ended with nothing
        // left to send (else on its page budget).
        let settled = std::thread::scope(|scope| {
            let send = |after: i64, out: Outgoing, decided: Decisions| {
                let Outgoing { page, deps, ahead } = out;
                let entries = (page.entries.len() + page.snapshot.len()) as u32;
                let sent = PushRequest {
                    page: Some(page),
                    after,
                    deps,
                    ..req.clone()
                };
                let ahead: Vec<PushRequest<Stored>> = ahead
                    .into_iter()
                    .map(|deps| PushRequest {
                        after,
                        deps,
                        ahead: true,
                        ..req.clone()
                    })
                    .collect();
                let (cursor, more) = {
                    let page = sent.page.as_ref();
                    // A page that leaves the cursor where it was (a snapshot
                    // page, or one filled by held documents released with
                    // their histories): the next one is read only once the
                    // other site has taken it. Read before, from the same
                    // place, it would be this page again.
                    (
                        page.map_or(after, |p| p.cursor),
                        page.is_some_and(|p| {
                            p.has_more && p.snapshot.is_empty() && p.cursor != after
                        }),
                    )
                };
                let client = &client;
                Flight {
                    cursor,
                    more,
                    decided,
                    entries,
                    answer: scope.spawn(move || {
                        for r in &ahead {
                            client.push(r)?;
                        }
                        client.push(&sent)
                    }),
                }
            };
            let mut flight: Option<Flight> = None;
            // The page after the newest one sent, read while the older one
            // is answered (it goes the moment that answer is in): where it
            // starts, and the decisions it was read with.
            let mut ready: Option<(i64, Decisions, Outgoing)> = None;
            let mut pages = 0;
            // The answer last kept here (who the other site is, what it
            // decided): an answer that says the same is not written again.
            let mut kept: Option<(String, String, Decisions)> = None;
            loop {
                let deciding = (
                    reply.consumer_site_id.clone(),
                    reply.consumer_name.clone(),
                    decisions(&reply),
                );
                if kept.as_ref() != Some(&deciding) {
                    self.mirror_decisions(&name, doc, &reply)?;
                    kept = Some(deciding);
                }
                let hub = reply.consumer_site_id.clone();
                let Some(sent) = flight.take() else {
                    if pages >= MAX_PUSH_PAGES {
                        break;
                    }
                    let out = self.next_push_page(&owner, &hub, reply.cursor, reply.page)?;
                    let page = &out.page;
                    if page.entries.is_empty()
                        && page.snapshot.is_empty()
                        && page.cursor == reply.cursor
                    {
                        // Nothing to send: the page is settled here (were it
                        // kept unacknowledged, the next round would get it
                        // back as is).
                        self.acknowledge_pages(
                            &owner,
                            &AckRequest {
                                site_id: hub,
                                page: page.page,
                            },
                        )?;
                        // (This reply's decisions were kept above.)
                        return Ok(true);
                    }
                    pages += 1;
                    flight = Some(send(reply.cursor, out, decisions(&reply)));
                    continue;
                };
                // The page after the one on its way, decided as the other
                // site decided at its last answer.
                let decided = decisions(&reply);
                let mut next = None;
                if sent.more && pages < MAX_PUSH_PAGES {
                    let out = match ready.take() {
                        Some((after, read_with, out))
                            if after == sent.cursor && read_with == decided =>
                        {
                            out
                        }
                        _ => self.next_push_page(&owner, &hub, sent.cursor, reply.page)?,
                    };
                    if !(out.page.entries.is_empty() && out.page.snapshot.is_empty()) {
                        pages += 1;
                        next = Some(send(sent.cursor, out, decided.clone()));
                    }
                }
                // Read ahead while `sent` is answered: the other site then
                // never waits for this site's reading between two pages.
                if let Some(n) = next.as_ref().filter(|n| n.more && pages < MAX_PUSH_PAGES) {
                    let out = self.next_push_page(&owner, &hub, n.cursor, reply.page)?;
                    ready = Some((n.cursor, decided, out));
                }
                let answer = joined(sent.answer)?;
                crate::failpoint::hit("push-answered");
                summary.pushed += sent.entries;
                summary.renew_keys |= answer.renew_keys;
                summary.push_failed += answer.failed;
                let in_order = answer.cursor == sent.cursor;
                reply = answer;
                match next {
                    // Taken as sent and decided as before: the next page goes on.
                    Some(n) if in_order && n.decided == decisions(&reply) => flight = Some(n),
                    // Not taken as sent (the other site stands elsewhere), or
                    // decided otherwise meanwhile: the page sent after it
                    // is waited for (it went as decided before, like a page
                    // on its way when the other site decides), and the round
                    // goes on from where the other site stands (a page it
                    // refused is read again).
                    Some(n) => {
                        if let Ok(later) = joined(n.answer) {
                            if later.cursor >= reply.cursor {
                                summary.pushed += n.entries;
                                summary.renew_keys |= later.renew_keys;
                                summary.push_failed += later.failed;
                                reply = later;
                            }
                        }
                    }
                    None => {}
                }
            }
            Ok::<bool, crate::error::Error>(false)
        })?;
        if settled {
            return Ok(());
        }
        self.acknowledge_pages(
            &owner,
            &AckRequest {
                site_id: reply.consumer_site_id.clone(),
                page: reply.page,
            },
        )?;
        self.mirror_decisions(&name, doc, &reply)?;
        Ok(())
    }

    /// The page of this site's log that follows `after` for the other site
    /// (`acked`: the newest page it has committed), with the documents it
    /// depends on.
    ///
    /// A page whose documents and dependencies together are more than the
    /// other site takes in one request is decided again with half as many
    /// entries (it was never sent), down to one entry; the dependencies of
    /// one entry that still do not fit go ahead of it.
    fn next_push_page(&self, owner: &Actor, hub: &str, after: i64, acked: i64) -> Result<Outgoing> {
        let mut limit = PAGE_SIZE;
        loop {
            let page = self.pull_updates(
                owner,
                &PullRequest {
                    site_id: hub.to_owned(),
                    after,
                    limit,
                    ack: Some(acked),
                },
            )?;
            let deps = self.bundle_for(owner, hub, &page)?;
            let entries = page.entries.len() + page.snapshot.len();
            if ahead::entries_len(&page) + ahead::json_len(&deps)? <= PUSH_BYTES {
                return Ok(Outgoing {
                    page,
                    deps,
                    ahead: Vec::new(),
                });
            }
            if entries <= 1 {
                let (deps, ahead) = ahead::split(&page, deps, PUSH_BYTES)?;
                return Ok(Outgoing { page, deps, ahead });
            }
            self.forget_unsent_page(hub, &page)?;
            limit = (entries / 2) as u32;
        }
    }

    /// Keeps the other site's decisions here: the Event Consumer this site
    /// decides pages for, and the statuses shown on the push rows. Writes
    /// only what changed.
    fn mirror_decisions(&self, name: &str, doc: &Doc, reply: &PushReply) -> Result<()> {
        const DECIDED: [&str; 5] = [
            "ref_doctype",
            "status",
            "unsubscribed",
            "condition",
            "sync_existing",
        ];
        let decided = |r: &serde_json::Map<String, Value>| -> Value {
            DECIDED
                .iter()
                .map(|k| ((*k).to_owned(), r.get(*k).cloned().unwrap_or(Value::Null)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let status_of = |dt: &str| {
            reply
                .approvals
                .iter()
                .find(|a| a.ref_doctype == dt)
                .map_or("Pending", |a| a.status.as_str())
        };
        let rows: Vec<Value> = reply
            .subscriptions
            .iter()
            .map(|s| {
                json!({
                    "ref_doctype": s.ref_doctype,
                    "status": status_of(&s.ref_doctype),
                    "unsubscribed": i64::from(s.unsubscribed),
                    "condition": s.condition,
                    "sync_existing": i64::from(s.sync_existing),
                })
            })
            .collect();
        let reg = self.doctypes();
        self.write(|tx| {
            let system = Actor::system();
            let existing = store::load(tx, EVENT_CONSUMER, &reply.consumer_site_id)?;
            let had: Option<Vec<Value>> = existing.as_ref().map(|e| {
                e.get("consumer_doctypes")
                    .and_then(Value::as_array)
                    .map(|rows| {
                        rows.iter()
                            .filter_map(Value::as_object)
                            .map(decided)
                            .collect()
                    })
                    .unwrap_or_default()
            });
            if had.as_ref() != Some(&rows) {
                let body = json!({
                    "consumer_site_id": reply.consumer_site_id,
                    "consumer_name": reply.consumer_name,
                    "user": text(doc, "user"),
                    "consumer_doctypes": rows,
                });
                match existing {
                    Some(_) => document::update_in(
                        tx,
                        &reg,
                        &system,
                        EVENT_CONSUMER,
                        &reply.consumer_site_id,
                        body,
                        &WriteOptions::default(),
                    )?,
                    None => document::insert_in(
                        tx,
                        &reg,
                        &system,
                        EVENT_CONSUMER,
                        body,
                        WriteOptions::default(),
                    )?,
                };
            }
            // The statuses on this site's push rows, and whom they go to,
            // against the Event Producer as it is now (not as this sync began).
            let current = store::load(tx, EVENT_PRODUCER, name)?.unwrap_or_else(|| doc.clone());
            let mut patched = current.clone();
            set_row_statuses(&mut patched, "push_doctypes", &reply.approvals);
            if patched.get("push_doctypes") == current.get("push_doctypes")
                && text(&current, "producer_site_id") == reply.consumer_site_id
            {
                return Ok(());
            }
            document::update_in(
                tx,
                &reg,
                &system,
                EVENT_PRODUCER,
                name,
                json!({
                    "push_doctypes": patched.get("push_doctypes"),
                    "producer_site_id": reply.consumer_site_id,
                    "producer_name": reply.consumer_name,
                }),
                &WriteOptions::default(),
            )?;
            Ok(())
        })
    }

    /// The documents a pushed page depends on, scoped like a fetch by the
    /// other site would be: what the entries link to, transitively, and the
    /// current state of each document an Update changes (the other site may
    /// lack it).
    fn bundle_for<D>(&self, owner: &Actor, hub: &str, page: &PullReply<D>) -> Result<Vec<Doc>> {
        let links_of =
            |tx: &rusqlite::Transaction, key: &(String, String)| -> Result<Vec<(String, String)>> {
                let mut targets: Vec<(String, String)> = store::links_of(tx, &key.0, &key.1)?
                    .into_iter()
                    .map(|l| (l.doctype, l.name))
                    .collect();
                targets.sort();
                targets.dedup();
                Ok(targets)
            };
        let mut stack: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        // What the page's own documents link to, in one read.
        self.read(|tx| {
            for e in page.snapshot.iter().chain(&page.entries) {
                let key = (e.ref_doctype.clone(), e.docname.clone());
                match e.update_type {
                    UpdateType::Update => stack.push(key),
                    UpdateType::Delete => {}
                    // The entry carries the document: only what it links to.
                    _ => {
                        if seen.insert(key.clone()) {
                            stack.extend(links_of(tx, &key)?);
                        }
                    }
                }
            }
            Ok(())
        })?;
        let mut out = Vec::new();
        while let Some(key) = stack.pop() {
            if out.len() >= MAX_BUNDLE || !seen.insert(key.clone()) {
                continue;
            }
            let Ok(doc) = self.fetch_dependency(owner, hub, &key.0, &key.1) else {
                continue;
            };
            stack.extend(self.read(|tx| links_of(tx, &key))?);
            out.push(doc);
        }
        Ok(out)
    }
}

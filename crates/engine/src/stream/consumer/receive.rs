//! Receiving pushed pages (SPEC F20): a producer this site cannot reach (a
//! shop behind NAT) opens the connection and sends its pages. It appears
//! here as an Event Producer named `push:<its site id>` whose rows a System
//! Manager approves, as for any producer; each page goes through the same
//! protocol checks and apply path as a pulled one, its dependencies taken
//! from the bundle sent with it. Exactly once: a page applies only at this
//! site's cursor; a page sent again (its answer was lost) is recognised by
//! its number and answered with where this site stands.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use rusqlite::OptionalExtension;
use serde_json::{json, Map, Value};

use super::deps::wanted_links;
use super::sync::ReadPage;
use super::{
    ahead, position_of, producer_rows, set_state, subscribed, sync_existing, SyncSummary,
    REGISTERED,
};
use crate::actor::Actor;
use crate::document::values::{flag, text};
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::site::Site;
use crate::stream::invite;
use crate::stream::log::Stored;
use crate::stream::source::Bundle;
use crate::stream::wire::{Approval, PushReply, PushRequest, Subscription};
use crate::stream::EVENT_PRODUCER;

/// The name of the Event Producer of a site that pushes here.
pub fn pushed_producer_name(site_id: &str) -> String {
    format!("push:{site_id}")
}

/// The most documents bundled with one pushed page.
pub const MAX_BUNDLE: usize = 10_000;

impl Site {
    /// `outpost.event.push`: a producer sends a page (or, first, only what
    /// it offers); answers this site's decisions and position.
    pub fn receive_push(&self, actor: &Actor, mut req: PushRequest<Stored>) -> Result<PushReply> {
        actor.require_subscriber()?;
        let info = self.info()?;
        if req.site_id.trim().is_empty() {
            return Err(Error::invalid(
                "site_id",
                "The pushing site's site_id is missing",
            ));
        }
        if req.site_id == info.site_id {
            return Err(Error::invalid("site_id", "A site cannot push to itself"));
        }
        if req.deps.len() > MAX_BUNDLE {
            return Err(Error::invalid(
                "deps",
                format!("A pushed page may bring at most {MAX_BUNDLE} documents it depends on"),
            ));
        }
        let reg = self.doctypes();
        for s in &req.doctypes {
            match reg.get(&s.ref_doctype) {
                Some(dt) if !dt.istable => {}
                Some(_) => {
                    return Err(Error::invalid(
                        "doctypes",
                        format!("{} is a child table and cannot be pushed", s.ref_doctype),
                    ))
                }
                None => {
                    return Err(Error::invalid(
                        "doctypes",
                        format!("DocType {} does not exist on this site", s.ref_doctype),
                    ))
                }
            }
        }
        if req.ahead && req.page.is_some() {
            return Err(Error::invalid(
                "page",
                "Documents sent ahead of a page come without the page",
            ));
        }
        let name = pushed_producer_name(&req.site_id);
        // Each entry's data arrived as JSON text: parsed once, the text kept
        // for the sync log (before anything else: the page before this one
        // may be applying meanwhile).
        let page = match req.page.take() {
            Some(page) => Some(ReadPage::new(
                reg.clone(),
                page.parsed_with(|e| wanted_links(&reg, e)).map_err(|e| {
                    Error::invalid("page", format!("A pushed entry cannot be read: {e}"))
                })?,
            )),
            None => None,
        };
        // Known as it is: nothing to write (the writer may be applying the
        // page before this one).
        let known = self
            .read(|tx| store::load(tx, EVENT_PRODUCER, &name))?
            .filter(|e| unchanged(e, &req, actor));
        let doc = match known {
            Some(doc) => doc,
            None => self.register_pusher(actor, &req, &name)?,
        };
        let mut summary = SyncSummary {
            producer: name.clone(),
            ..Default::default()
        };
        if req.ahead {
            if !producer_rows(&doc)
                .iter()
                .any(|r| text(r, "status") == "Approved")
            {
                return Err(Error::invalid(
                    "deps",
                    "Documents are taken ahead of a page only once this site has approved a DocType you push",
                ));
            }
            self.write(|tx| {
                let (cursor, _) = position_of(tx, &name)?;
                ahead::keep(tx, &name, req.after, cursor, &req.deps)
            })?;
        }
        if let Some(mut page) = page {
            // The page sent before this one may still be on its way. Where
            // this site stands, as last looked at (no wait follows a look).
            let mut position = (0, 0);
            let stands = || {
                position = self.read(|tx| position_of(tx, &name))?;
                Ok(position.0 >= req.after)
            };
            let mut turn = self.arrivals.wait_turn(&name, stands)?;
            let (cursor, acked) = position;
            if req.after == cursor {
                let ctx = self.context(&doc)?;
                // What came ahead of the page, then what came with it.
                let sent_ahead = self.read(|tx| ahead::taken(tx, &name, req.after))?;
                let kept_ahead = !sent_ahead.is_empty();
                let bundle = Bundle::new(sent_ahead.into_iter().chain(req.deps).collect());
                self.apply_page(&name, &doc, &bundle, &ctx, cursor, &mut page, &mut summary)?;
                if kept_ahead {
                    self.write(|tx| ahead::settle(tx, &name, req.after))?;
                }
                turn.taken = true;
                // The next page goes on; this one is freed meanwhile, by the
                // thread that read it (thousands of values, the page's and
                // the documents it wrote).
                drop(turn);
                drop((page, super::apply::take_written()));
            } else if page.reply.page > acked {
                return Err(Error::invalid(
                    "after",
                    format!("The page starts at {}, this site stands at {cursor} in your log: push from there", req.after),
                ));
            } else {
                // A page already applied, sent again because its answer was lost.
                turn.taken = req.after < cursor;
            }
        }
        let ((cursor, page), renew_keys) = self.read(|tx| {
            Ok((
                position_of(tx, &name)?,
                invite::renewal_asked(tx, &actor.user)?,
            ))
        })?;
        let rows = producer_rows(&doc);
        Ok(PushReply {
            consumer_site_id: info.site_id,
            consumer_name: info.site_name,
            cursor,
            page,
            subscriptions: rows.iter().map(subscription_of).collect(),
            approvals: rows
                .iter()
                .map(|r| Approval {
                    ref_doctype: subscribed(r),
                    status: text(r, "status"),
                })
                .collect(),
            synced: summary.synced,
            failed: summary.failed,
            renew_keys,
        })
    }

    /// The Event Producer of a site that pushes here, made or brought up to
    /// date: the doctypes it offers anew (approved when an invitation said
    /// so), its name.
    fn register_pusher(&self, actor: &Actor, req: &PushRequest<Stored>, name: &str) -> Result<Doc> {
        let reg = self.doctypes();
        self.write(|tx| {
            let existing = store::load(tx, EVENT_PRODUCER, name)?;
            if let Some(e) = &existing {
                if text(e, "push_user") != actor.user {
                    return Err(Error::Permission(format!(
                        "Site {} pushes here with another user; a System Manager of this site must remove its Event Producer first",
                        req.site_id
                    )));
                }
            }
            let mut rows: Vec<Value> = existing
                .as_ref()
                .and_then(|e| e.get("producer_doctypes"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let known: Vec<String> = rows
                .iter()
                .filter_map(Value::as_object)
                .map(subscribed)
                .collect();
            let offered: Vec<&Subscription> = req
                .doctypes
                .iter()
                .filter(|s| !known.contains(&s.ref_doctype))
                .collect();
            let user = match &existing {
                Some(e) if offered.is_empty() && text(e, "producer_name") == req.site_name => {
                    return Ok(e.clone());
                }
                Some(e) if !text(e, "user").is_empty() => text(e, "user"),
                _ => first_system_manager(tx)?,
            };
            for s in offered {
                let status = if invite::pre_approved(tx, &actor.user, &s.ref_doctype, false)? {
                    "Approved"
                } else {
                    "Pending"
                };
                rows.push(json!({
                    "ref_doctype": s.ref_doctype,
                    "use_same_name": 1,
                    "sync_existing": i64::from(s.sync_existing),
                    "status": status,
                }));
            }
            let body = json!({
                "name": name,
                "producer_url": name,
                "producer_site_id": req.site_id,
                "producer_name": req.site_name,
                "user": user,
                "api_key": "(this producer pushes here)",
                "registration_status": REGISTERED,
                "pushes_here": 1,
                "push_user": actor.user,
                "producer_doctypes": rows,
            });
            let system = Actor::system();
            if existing.is_some() {
                return document::update_in(tx, &reg, &system, EVENT_PRODUCER, name, body, &WriteOptions::default());
            }
            let doc = document::insert_in(tx, &reg, &system, EVENT_PRODUCER, body, WriteOptions::default())?;
            // The log from the producer's newest entry on; what exists
            // already comes as a snapshot (SPEC F18).
            set_state(tx, name, Some(req.last_seq.max(0)))?;
            Ok(doc)
        })
    }
}

/// How long a pushed page waits for the page before it, sent alongside.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Pushed pages waiting for their turn: a site sends the next page while
/// this one applies the page before, and the next may arrive first (each
/// comes on a connection of its own). It waits here until this site stands
/// where it starts, unless a page of the same producer is refused
/// meanwhile (the one it follows will not come) or [`TURN_WAIT`] passes.
/// One page per producer waits at a time (a site has two on their way):
/// another is answered at once, as before pipelining, so that a pushing
/// site cannot hold the hub's threads with pages from ahead of its cursor.
#[derive(Default)]
pub(crate) struct Arrivals {
    turns: Mutex<Turns>,
    done: Condvar,
}

#[derive(Default)]
struct Turns {
    /// Pages taken or refused so far, any producer.
    settled: u64,
    /// Pages refused so far, per producer.
    refused: HashMap<String, u64>,
    /// Producers with a page waiting for its turn.
    waiting: std::collections::HashSet<String>,
}

/// A page at its turn: reported taken, or else refused when dropped.
struct Turn<'a> {
    arrivals: &'a Arrivals,
    producer: &'a str,
    taken: bool,
}

impl Arrivals {
    fn turns(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once `ready` (this site stands where the page starts), or
    /// when the page cannot become ready (see [`Arrivals`]); the page's
    /// turn, to be reported.
    fn wait_turn<'a>(
        &'a self,
        producer: &'a str,
        mut ready: impl FnMut() -> Result<bool>,
    ) -> Result<Turn<'a>> {
        let start = std::time::Instant::now();
        let refused = self.turns().refused.get(producer).copied();
        let mut waits = false;
        let outcome = (|| -> Result<()> {
            loop {
                let settled = self.turns().settled;
                if ready()? {
                    return Ok(());
                }
                let mut turns = self.turns();
                let left = TURN_WAIT.saturating_sub(start.elapsed());
                if turns.refused.get(producer).copied() != refused || left.is_zero() {
                    return Ok(());
                }
                if !waits {
                    if !turns.waiting.insert(producer.to_owned()) {
                        return Ok(());
                    }
                    waits = true;
                }
                // Woken as any page is settled; one settled since `ready`
                // was asked is not missed (the count is read under the lock).
                drop(
                    self.done
                        .wait_timeout_while(turns, left, |t| t.settled == settled)
                        .unwrap_or_else(|p| p.into_inner()),
                );
            }
        })();
        if waits {
            self.turns().waiting.remove(producer);
        }
        outcome?;
        Ok(Turn {
            arrivals: self,
            producer,
            taken: false,
        })
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut turns = self.arrivals.turns();
        turns.settled += 1;
        if !self.taken {
            *turns.refused.entry(self.producer.to_owned()).or_default() += 1;
        }
        drop(turns);
        self.arrivals.done.notify_all();
    }
}

/// Whether a pushing site's Event Producer here already is what its
/// request says: same user, same name, nothing new offered.
fn unchanged(existing: &Doc, req: &PushRequest<Stored>, actor: &Actor) -> bool {
    let known: Vec<String> = existing
        .get("producer_doctypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(subscribed)
        .collect();
    text(existing, "push_user") == actor.user
        && text(existing, "producer_name") == req.site_name
        && req.doctypes.iter().all(|s| known.contains(&s.ref_doctype))
}

/// Who owns what a pushing producer sends, until a System Manager chooses
/// otherwise: the first System Manager of this site.
pub(crate) fn first_system_manager(tx: &rusqlite::Transaction) -> Result<String> {
    tx.query_row(
        "SELECT d.name FROM documents d WHERE d.doctype = 'User'
         AND coalesce(json_extract(d.data, '$.enabled'), 1) = 1
         AND EXISTS (SELECT 1 FROM json_each(json_extract(d.data, '$.roles')) r
                     WHERE json_extract(r.value, '$.role') = ?1)
         ORDER BY d.name LIMIT 1",
        [crate::doctype::SYSTEM_MANAGER],
        |r| r.get::<_, String>(0),
    )
    .optional()?
    .ok_or_else(|| {
        Error::invalid(
            "user",
            "This site has no System Manager to own pushed documents: add one under Users & keys",
        )
    })
}

/// What a row of a pushing producer asks of it.
fn subscription_of(r: &Map<String, Value>) -> Subscription {
    Subscription {
        ref_doctype: subscribed(r),
        unsubscribed: flag(r, "unsubscribe"),
        condition: Some(text(r, "condition")).filter(|c| !c.trim().is_empty()),
        sync_existing: sync_existing(r),
    }
}

/// Whether this Event Producer pushes here (it cannot be reached).
pub(super) fn pushes_here(doc: &Doc) -> bool {
    flag(doc, "pushes_here")
}

//! The pull transport (SPEC F11): pages of the producer's log come in,
//! the next one fetched while this one is applied; each page is committed
//! with its cursor through the apply path. Also "Sync now" and its progress.

use rusqlite::OptionalExtension;
use serde_json::value::RawValue;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::deps::{wanted_links, Links, PageLinks};
use super::{
    apply, check, cursor_of, position_of, Context, ProducerStatus, SyncProgress, SyncRun,
    SyncSummary, PAGE_SIZE,
};
use crate::actor::Actor;
use crate::doctype::Registry;
use crate::document::values::{self, text};
use crate::document::{store, Doc};
use crate::error::{Error, Result};
use crate::notice::NoticeKind;
use crate::site::Site;
use crate::stream::activity::{self, Direction};
use crate::stream::log::{LogEntry, Stored};
use crate::stream::source::Source;
use crate::stream::wire::{AckRequest, PullReply, PullRequest};
use crate::stream::EVENT_PRODUCER;

/// A page as read (pulled, or pushed here): parsed, each entry's data as
/// the text it came as (for the sync log), and what each entry links to.
pub(super) struct ReadPage {
    pub(super) reply: PullReply,
    pub(super) texts: Vec<Stored>,
    pub(super) links: PageLinks,
}

impl ReadPage {
    /// A page read with each entry's links found as it was read
    /// ([`super::deps::wanted_links`] with `reg`).
    pub(super) fn new(
        reg: Arc<Registry>,
        (reply, texts, links): (PullReply, Vec<Stored>, Vec<Links>),
    ) -> ReadPage {
        ReadPage {
            reply,
            texts,
            links: PageLinks::new(reg, links),
        }
    }
}

/// Pages one sync round takes at most from a producer (the next round goes
/// on): a producer that always has more cannot hold a sync for ever.
const MAX_PAGES_PER_ROUND: usize = 2_000;
const MAX_ROUND_TIME: std::time::Duration = std::time::Duration::from_secs(120);

/// A sync this long or this big is announced when it ends.
const LONG_SYNC: std::time::Duration = std::time::Duration::from_secs(10);
const BIG_SYNC: u32 = 1000;

impl Site {
    /// "Sync now" (SPEC F11 c): pulls from one producer, or from all (each
    /// on its own thread: a slow or stuck producer never holds up another),
    /// and answers a summary per producer; `progress` sees each applied page.
    pub fn sync_now(
        &self,
        actor: &Actor,
        producer: Option<&str>,
        progress: &(dyn Fn(&SyncSummary) + Sync),
    ) -> Result<Vec<SyncSummary>> {
        actor.require_desk_user("sync")?;
        let names = match producer {
            Some(p) => {
                self.event_producer(p)?;
                vec![p.to_owned()]
            }
            None => self.event_producers()?,
        };
        self.set_progress(|p| {
            *p = SyncProgress {
                running: true,
                ..Default::default()
            }
        });
        let track = |s: &SyncSummary| {
            self.set_progress(|p| p.current = Some(s.clone()));
            progress(s);
        };
        let results = self.sync_producers(&names, &track, &|s| {
            // Each producer's result shows as soon as it is in.
            self.set_progress(|p| p.done.push(s.clone()));
        });
        self.set_progress(|p| {
            p.running = false;
            p.current = None;
        });
        results.into_iter().collect()
    }

    /// Syncs these producers side by side; one result each, in order.
    /// `finished` sees each summary as its producer is done.
    pub fn sync_producers(
        &self,
        names: &[String],
        progress: &(dyn Fn(&SyncSummary) + Sync),
        finished: &(dyn Fn(&SyncSummary) + Sync),
    ) -> Vec<Result<SyncSummary>> {
        std::thread::scope(|scope| {
            let runs: Vec<_> = names
                .iter()
                .map(|n| {
                    scope.spawn(move || {
                        let outcome = self.sync_producer(n, progress);
                        if let Ok(s) = &outcome {
                            finished(s);
                        }
                        outcome
                    })
                })
                .collect();
            runs.into_iter()
                .zip(names)
                .map(|(run, n)| {
                    run.join().unwrap_or_else(|_| {
                        Err(Error::Corrupt(format!(
                            "The sync of {n} stopped on an internal error (see the log)"
                        )))
                    })
                })
                .collect()
        })
    }

    /// What "Sync now" is doing (or last did).
    pub fn sync_progress(&self, actor: &Actor) -> Result<SyncProgress> {
        actor.require_desk_user("see sync progress")?;
        Ok(self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    pub(super) fn set_progress(&self, f: impl FnOnce(&mut SyncProgress)) {
        f(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Every Event Producer's health, for the dashboard.
    pub fn producer_statuses(&self, actor: &Actor) -> Result<Vec<ProducerStatus>> {
        actor.require_desk_user("see sync status")?;
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT d.name, json_extract(d.data, '$.registration_status'), COALESCE(s.online, 0), s.last_sync,
                        COALESCE(s.last_error, json_extract(d.data, '$.last_error')), COALESCE(s.cursor, 0),
                        (SELECT COUNT(*) FROM sync_log l INDEXED BY sync_log_status WHERE l.status = 'Failed' AND l.event_producer = d.name), s.held,
                        CASE WHEN coalesce(json_array_length(d.data, '$.push_doctypes'), 0) > 0 THEN
                          (SELECT COUNT(*) FROM update_log u
                           JOIN consumer_rows c ON c.consumer = json_extract(d.data, '$.producer_site_id') AND c.ref_doctype = u.ref_doctype
                           WHERE u.seq > coalesce((SELECT p.seq FROM consumer_progress p WHERE p.consumer = c.consumer), 0)
                             AND u.origin_site <> c.consumer) END,
                        CASE WHEN coalesce(json_array_length(d.data, '$.push_doctypes'), 0) > 0 THEN
                          (SELECT p.last_seen FROM consumer_progress p WHERE p.consumer = json_extract(d.data, '$.producer_site_id')) END,
                        json_extract(d.data, '$.producer_name'), json_extract(d.data, '$.producer_site_id')
                 FROM documents d LEFT JOIN producer_state s ON s.producer = d.name
                 WHERE d.doctype = ?1 ORDER BY d.name",
            )?;
            let rows = stmt.query_map([EVENT_PRODUCER], |r| {
                Ok(ProducerStatus {
                    producer: r.get(0)?,
                    producer_name: r.get::<_, Option<String>>(10)?.filter(|n| !n.is_empty()),
                    producer_site_id: r.get(11)?,
                    registration_status: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    online: r.get(2)?,
                    last_sync: r.get(3)?,
                    last_error: r.get(4)?,
                    cursor: r.get(5)?,
                    failed: r.get(6)?,
                    held: r
                        .get::<_, Option<String>>(7)?
                        .and_then(|h| serde_json::from_str(&h).ok())
                        .unwrap_or_default(),
                    push_waiting: r.get(8)?,
                    last_push: r.get(9)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Pulls and applies everything one producer has for us (SPEC F11/F12).
    /// One sync per producer at a time: a caller who comes while one runs
    /// waits for it and gets its summary. A panic ends the sync, not the site.
    pub fn sync_producer(
        &self,
        name: &str,
        progress: &(dyn Fn(&SyncSummary) + Sync),
    ) -> Result<SyncSummary> {
        let (run, leader) = {
            let mut runs = self.sync_runs.lock().unwrap_or_else(|p| p.into_inner());
            match runs.get(name) {
                Some(r) => (r.clone(), false),
                None => {
                    let r = std::sync::Arc::new(SyncRun::default());
                    runs.insert(name.to_owned(), r.clone());
                    (r, true)
                }
            }
        };
        if !leader {
            return run.wait();
        }
        let started = activity::utc_now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.sync_producer_alone(name, &mut |s| progress(s))
        }))
        .unwrap_or_else(|_| {
            tracing::error!(producer = name, "a sync panicked");
            Err(Error::Corrupt(format!(
                "The sync of {name} stopped on an internal error (see the log)"
            )))
        });
        // The producer asked for new keys: taken now, so the next round
        // already uses them (the old ones worked until this answer).
        if let Ok(summary) = &outcome {
            if summary.renew_keys {
                match self.renew_keys_now(&Actor::system(), name) {
                    Ok(_) => tracing::info!(producer = name, "keys renewed, as the producer asked"),
                    Err(e) => tracing::warn!(
                        producer = name,
                        "the producer asked for new keys; renewing failed: {e}"
                    ),
                }
            }
        }
        let ran = match &outcome {
            Ok(summary) => summary.clone(),
            Err(e) => SyncSummary {
                producer: name.to_owned(),
                error: Some(e.to_string()),
                ..SyncSummary::default()
            },
        };
        if let Err(e) = self.write(|tx| activity::record_run(tx, &started, &ran)) {
            tracing::warn!(producer = name, "the sync history could not be kept: {e}");
        }
        self.sync_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        run.finish(&outcome);
        outcome
    }

    fn sync_producer_alone(
        &self,
        name: &str,
        progress: &mut dyn FnMut(&SyncSummary),
    ) -> Result<SyncSummary> {
        let doc = self.event_producer(name)?;
        let mut summary = SyncSummary {
            producer: name.to_owned(),
            ..Default::default()
        };
        let began = std::time::Instant::now();
        let outcome = self.sync_inner(&doc, &mut summary, progress);
        if let Err(e) = &outcome {
            summary.online = !matches!(e, Error::Unreachable(_));
            summary.error = Some(e.to_string());
            let before = self.read(|tx| {
                Ok(tx
                    .query_row(
                        "SELECT last_error FROM producer_state WHERE producer = ?1",
                        [name],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()?
                    .flatten())
            })?;
            self.record_producer_error(name, e)?;
            // Offline is normal; a refusal is news, once per new message.
            if summary.online && before.as_deref() != summary.error.as_deref() {
                self.announce(
                    NoticeKind::SyncFailed,
                    format!("Sync from {name} failed"),
                    e.to_string(),
                );
            }
        }
        if summary.failed > 0 {
            // The newest failure of this producer (not of another one).
            let first: String = self.read(|tx| {
                Ok(tx
                    .query_row(
                        "SELECT error FROM sync_log INDEXED BY sync_log_status WHERE status = 'Failed' AND event_producer = ?1 ORDER BY id DESC LIMIT 1",
                        [name],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()?
                    .flatten()
                    .unwrap_or_default())
            })?;
            self.announce(
                NoticeKind::SyncFailed,
                format!("Sync from {name} failed"),
                format!("{} update(s) could not be applied: {first}", summary.failed),
            );
        } else if outcome.is_ok() && (began.elapsed() >= LONG_SYNC || summary.pulled >= BIG_SYNC) {
            self.announce(
                NoticeKind::SyncFinished,
                format!("Sync from {name} finished"),
                format!("{} update(s) received", summary.synced),
            );
        }
        Ok(summary)
    }

    pub(super) fn sync_inner(
        &self,
        doc: &Doc,
        summary: &mut SyncSummary,
        progress: &mut dyn FnMut(&SyncSummary),
    ) -> Result<()> {
        let name = text(doc, "name");
        if super::receive::pushes_here(doc) {
            // Nothing to reach: it sends its pages itself.
            return Ok(());
        }
        // Push first (SPEC F20: what this site made goes out), then pull.
        self.push_to(doc, summary)?;
        if super::producer_rows(doc).is_empty() {
            return Ok(());
        }
        self.retry_registration(doc)?;
        let doc = self
            .read(|tx| store::load(tx, EVENT_PRODUCER, &name))?
            .unwrap_or_else(|| doc.clone());
        let client = self.producer_client(&doc)?;
        let ctx = self.context(&doc)?;
        // Pull and read the next page while this one is applied: the
        // producer's work, the reading and the applying overlap. At most one page waits in the channel (bounded memory).
        // Each pull acknowledges the newest page committed here, never more.
        let (first, acked) = self.read(|tx| position_of(tx, &name))?;
        let committed = AtomicI64::new(acked);
        let applier_gone = std::sync::atomic::AtomicBool::new(false);
        summary.start = first;
        summary.cursor = first;
        // Handed over, not queued: the fetcher holds the next page until the
        // applier takes it, then reads the one after (its reading is faster
        // than applying), so no more than two pages are ever in memory.
        let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel::<Result<(i64, ReadPage)>>(0);
        // An applied page goes back to the fetching thread, which made it,
        // to be freed there: freeing its thousands of values took the
        // applier a good part of a page's time. (Unbounded: the fetcher
        // frees what came back before each pull, so one or two wait.)
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<(ReadPage, Vec<Doc>)>();
        std::thread::scope(|scope| {
            let spent = spent_tx;
            let (client, site_id, committed, gone) = (
                &client,
                ctx.local_site_id.clone(),
                &committed,
                &applier_gone,
            );
            // Named apart from the applier (profiles, stack dumps).
            let fetcher = std::thread::Builder::new().name("outpost-fetch".into());
            let spawned = fetcher.spawn_scoped(scope, move || {
                crate::db::yield_to_writer();
                let mut after = first;
                let began = std::time::Instant::now();
                for _ in 0..MAX_PAGES_PER_ROUND {
                    if began.elapsed() > MAX_ROUND_TIME {
                        break;
                    }
                    spent_rx.try_iter().for_each(drop);
                    let reg = self.doctypes();
                    let page = client.pull(
                        &PullRequest {
                            site_id: site_id.clone(),
                            after,
                            limit: PAGE_SIZE,
                            ack: Some(committed.load(Ordering::Acquire)),
                        },
                        |e| wanted_links(&reg, e),
                    );
                    let page = page.map(|p| ReadPage::new(reg.clone(), p));
                    let next = page.as_ref().ok().filter(|p| p.reply.has_more).map(|p| p.reply.cursor);
                    // A page that leaves the cursor where it was (a snapshot
                    // page, or one filled by held documents released with
                    // their histories): the next one is asked for only once
                    // this one is committed, its acknowledgement telling the
                    // two apart. Asked for before, from the same place, the
                    // producer would take it for this page's answer lost and
                    // send it again.
                    let wait_for = page
                        .as_ref()
                        .ok()
                        .filter(|p| p.reply.has_more)
                        .filter(|p| !p.reply.snapshot.is_empty() || p.reply.cursor == after)
                        .map(|p| p.reply.page);
                    if pages_tx.send(page.map(|p| (after, p))).is_err() {
                        return;
                    }
                    if let Some(number) = wait_for {
                        while committed.load(Ordering::Acquire) < number {
                            if gone.load(Ordering::Acquire) {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                    }
                    match next {
                        Some(c) => after = c,
                        None => return,
                    }
                }
                // Still more after the round's budget: cut off, reported, resumed next round.
                let _ = pages_tx.send(Err(Error::Remote(format!(
                    "The producer still had more after {MAX_PAGES_PER_ROUND} pages or {} seconds: the rest comes in the next round",
                    MAX_ROUND_TIME.as_secs()
                ))));
            });
            if let Err(e) = spawned {
                return Err(Error::Unreachable(format!(
                    "Cannot start fetching pages: {e}"
                )));
            }
            // However the applier leaves, the fetcher stops waiting for it.
            struct Gone<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Gone<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Release);
                }
            }
            let _gone = Gone(&applier_gone);
            for page in pages_rx {
                let (cursor, mut pulled) = page?;
                let (more, number) = (pulled.reply.has_more, pulled.reply.page);
                self.apply_page(&name, &doc, client, &ctx, cursor, &mut pulled, summary)?;
                // Freed there, with the documents the page wrote.
                let _ = spent.send((pulled, apply::take_written()));
                committed.store(number, Ordering::Release);
                progress(summary);
                if !more {
                    break;
                }
            }
            Ok::<(), Error>(())
        })?;
        // Acknowledge the last page at once, so the producer's record (and
        // its received_by) does not wait for the next sync.
        let (_, acked) = self.read(|tx| position_of(tx, &name))?;
        client
            .ack(&AckRequest {
                site_id: ctx.local_site_id.clone(),
                page: acked,
            })
            .or_else(|e| match e {
                Error::Unreachable(_) => Ok(()),
                e => Err(e),
            })
    }

    /// Applies one pulled page: dependencies, entries, cursor — one transaction.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_page(
        &self,
        name: &str,
        doc: &Doc,
        client: &dyn Source,
        ctx: &Context,
        cursor: i64,
        page: &mut ReadPage,
        summary: &mut SyncSummary,
    ) -> Result<()> {
        let ReadPage {
            reply,
            texts,
            links,
        } = page;
        summary.online = true;
        summary.renew_keys |= reply.renew_keys;
        check::page(ctx, cursor, PAGE_SIZE, reply).map_err(|why| {
            Error::Remote(format!(
                "Producer {name} broke the protocol: {why}. Nothing of that page was applied"
            ))
        })?;
        summary.pulled += (reply.entries.len() + reply.snapshot.len()) as u32;
        summary.target = reply.last_seq.max(reply.cursor);
        if !ctx.pushed {
            self.update_approvals(name, doc, &reply.approvals)?;
        }
        let reg = self.doctypes();
        let entries: Vec<&LogEntry> = reply.snapshot.iter().chain(&reply.entries).collect();
        let prepared = self.prepare(client, &reg, ctx, &entries, Some(links))?;
        if texts.len() != entries.len() {
            return Err(Error::Corrupt(format!(
                "a page of {} entries came with {} texts",
                entries.len(),
                texts.len()
            )));
        }
        let mut entries: Vec<(&mut LogEntry, &RawValue)> = reply
            .snapshot
            .iter_mut()
            .chain(reply.entries.iter_mut())
            .zip(texts.iter().map(AsRef::as_ref))
            .collect();
        crate::failpoint::hit("dependencies-fetched");
        let held = serde_json::to_string(&reply.held).map_err(|e| Error::Corrupt(e.to_string()))?;
        let counts = self.write(|tx| {
            if cursor_of(tx, name)? != cursor {
                return Err(Error::Unreachable("Another process synced this producer meanwhile; pulling again".into()));
            }
            let counts = apply::apply_page(tx, &reg, ctx, &mut entries, &prepared)?;
            crate::failpoint::hit("page-applied-before-commit");
            tx.prepare_cached(
                "INSERT INTO producer_state (producer, cursor, acked_page, held, last_sync, online, last_error) VALUES (?1, ?2, ?3, ?4, ?5, 1, NULL)
                 ON CONFLICT (producer) DO UPDATE SET cursor = excluded.cursor, acked_page = excluded.acked_page, held = excluded.held,
                 last_sync = excluded.last_sync, online = 1, last_error = NULL",
            )?
            .execute((name, reply.cursor, reply.page, held, values::now_string()))?;
            activity::record(
                tx,
                name,
                Direction::In,
                entries.len(),
                reply.last_seq - reply.cursor,
            )?;
            Ok(counts)
        })?;
        crate::failpoint::hit("page-committed");
        summary.synced += counts.synced;
        summary.failed += counts.failed;
        summary.skipped += counts.skipped;
        summary.conflicts += counts.conflicts;
        summary.cursor = reply.cursor;
        Ok(())
    }
}

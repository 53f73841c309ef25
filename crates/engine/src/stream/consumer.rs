//! The consumer side: Event Producer set-up and registration, pulling pages,
//! applying them atomically (one savepoint per entry, cursor in the same
//! transaction), dependencies, naming, the sync log and resync.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::{json, Map, Value};
use ts_rs::TS;

use super::client::ProducerClient;
use super::log::{LogEntry, UpdateType};
use super::wire::{
    Approval, FetchRequest, FindRequest, PullReply, PullRequest, Registration, Subscription,
};
use super::EVENT_PRODUCER;
use crate::actor::Actor;
use crate::doctype::{DocType, FieldType, Registry, DOCTYPE_LINK, STANDARD_FIELDS};
use crate::document::values::{self, flag, text};
use crate::document::{self, store, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::mapping::{DocRequest, Evaluator, MappedDoc, Mappings, MAX_DEPTH};
use crate::notice::NoticeKind;
use crate::secret::Secret;
use crate::site::{normalize_url, Site};

/// Entries asked for per pull.
pub const PAGE_SIZE: u32 = 500;
/// Dependencies fetched for one page at most.
const MAX_DEPENDENCIES: usize = 10_000;

pub const REGISTERED: &str = "Registered";
pub const REGISTRATION_PENDING: &str = "Registration Pending";

#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    pub producer: String,
    pub online: bool,
    pub pulled: u32,
    pub synced: u32,
    pub failed: u32,
    #[ts(type = "number")]
    pub cursor: i64,
    /// Where this sync started, and the producer's newest update: the
    /// progress bar runs from one to the other.
    #[ts(type = "number")]
    pub start: i64,
    #[ts(type = "number")]
    pub target: i64,
    #[ts(optional)]
    pub error: Option<String>,
}

/// What "Sync now" is doing: the producer being synced and those done.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    pub running: bool,
    #[ts(optional)]
    pub current: Option<SyncSummary>,
    pub done: Vec<SyncSummary>,
}

/// A sync this long or this big is announced when it ends.
const LONG_SYNC: std::time::Duration = std::time::Duration::from_secs(10);
const BIG_SYNC: u32 = 1000;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncLogEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub event_producer: String,
    #[ts(type = "number")]
    pub seq: i64,
    pub update_type: String,
    pub status: String,
    pub ref_doctype: String,
    #[ts(optional)]
    pub docname: Option<String>,
    pub remote_docname: String,
    pub use_same_name: bool,
    #[ts(type = "unknown")]
    pub data: Value,
    #[ts(optional)]
    pub error: Option<String>,
    pub creation: String,
    pub modified: String,
    #[ts(type = "number")]
    pub attempts: i64,
    /// The Document Type Mapping the entry went through.
    #[ts(optional)]
    pub mapping: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ProducerStatus {
    pub producer: String,
    pub registration_status: String,
    pub online: bool,
    #[ts(optional)]
    pub last_sync: Option<String>,
    #[ts(optional)]
    pub last_error: Option<String>,
    #[ts(type = "number")]
    pub cursor: i64,
    #[ts(type = "number")]
    pub failed: i64,
}

fn secret_key(producer: &str) -> String {
    format!("event-producer:{producer}")
}

/// The doctype a producer row subscribes to on the producer: the mapping's
/// remote doctype when the row has one, else its own (SPEC F16).
fn subscribed(row: &Map<String, Value>) -> String {
    match text(row, "remote_doctype") {
        remote if flag(row, "has_mapping") && !remote.is_empty() => remote,
        _ => text(row, "ref_doctype"),
    }
}

fn producer_rows(doc: &Doc) -> Vec<Map<String, Value>> {
    doc.get("producer_doctypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

/// State of one page's dependency walk.
struct Walk<'a> {
    fetched: &'a mut HashMap<(String, String), Doc>,
    /// Already here: checked once per page, not once per link.
    present: &'a mut HashSet<(String, String)>,
    visiting: &'a mut HashSet<(String, String)>,
    order: &'a mut Vec<(String, Doc)>,
}

/// How one producer row's documents are stored here.
struct RowCfg {
    use_same_name: bool,
    /// The Document Type Mapping they go through, if any.
    mapping: Option<String>,
}

/// How one producer's documents are applied here.
struct Context {
    producer: String,
    producer_site_id: String,
    local_site_id: String,
    actor: Actor,
    /// subscribed (remote) doctype → its row
    rows: HashMap<String, RowCfg>,
    mappings: Mappings,
}

impl Context {
    /// The local doctype an entry of `remote_doctype` is stored as.
    fn local_doctype<'a>(&'a self, remote_doctype: &'a str) -> &'a str {
        self.rows
            .get(remote_doctype)
            .and_then(|r| r.mapping.as_deref())
            .and_then(|m| self.mappings.get(m).ok())
            .map_or(remote_doctype, |m| m.local_doctype.as_str())
    }
}

/// An entry made ready outside the transaction: the documents it depends
/// on (fetched from the producer) and, through a mapping, its local form.
#[derive(Default)]
struct Prepared {
    deps: Vec<(String, Doc)>,
    mapped: Option<std::result::Result<MappedEntry, String>>,
}

/// An entry through a Document Type Mapping: its local data, and the
/// mapped documents whose names go into its fields first.
struct MappedEntry {
    data: Value,
    deps: Vec<(String, MappedDoc)>,
}

impl Site {
    /// Creates or edits an Event Producer (SPEC F8). Saving registers this
    /// site on the producer; if the producer cannot be reached the document
    /// is kept as "Registration Pending" and registration is retried.
    pub fn save_event_producer(
        &self,
        actor: &Actor,
        name: Option<&str>,
        input: Value,
    ) -> Result<Doc> {
        actor.require_system_manager("set up an Event Producer")?;
        let Value::Object(mut input) = input else {
            return Err(Error::bad_input("An Event Producer must be a JSON object"));
        };
        let secret = match input.remove("api_secret") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(Secret::new(s.trim())),
            None | Some(Value::Null) => None,
            Some(Value::String(_)) => None,
            Some(_) => return Err(Error::invalid("api_secret", "api_secret must be text")),
        };
        for ro in [
            "producer_site_id",
            "producer_name",
            "registration_status",
            "last_error",
        ] {
            input.remove(ro);
        }
        let existing = match name {
            Some(n) => Some(self.event_producer(n)?),
            None => None,
        };
        let mut merged = existing.clone().unwrap_or_default();
        merged.extend(input);
        let url = normalize_url(&text(&merged, "producer_url"))
            .map_err(|_| {
                Error::invalid(
                    "producer_url",
                    "Producer URL must start with http:// or https://",
                )
            })?
            .ok_or_else(|| Error::invalid("producer_url", "Producer URL is required"))?;
        // The document keeps the name of its first URL; a new URL only changes the field.
        merged.insert("producer_url".into(), Value::from(url.clone()));
        let user = text(&merged, "user");
        if user.is_empty() {
            return Err(Error::invalid(
                "user",
                "Choose the local user who will own synced documents",
            ));
        }
        match self.actor_for(&user) {
            Ok(a) if a.is_system_manager() => {}
            Ok(_) => {
                return Err(Error::invalid(
                    "user",
                    format!("{user} must be a System Manager to receive events"),
                ))
            }
            Err(_) => {
                return Err(Error::Link {
                    field: "user".into(),
                    target_doctype: "User".into(),
                    value: user,
                })
            }
        }
        let doc_name = name.map(str::to_owned).unwrap_or_else(|| url.clone());
        let secret = match (secret, name) {
            (Some(s), _) => s,
            (None, Some(n)) => self.secrets().get(&secret_key(n))?.ok_or_else(|| {
                Error::invalid(
                    "api_secret",
                    "The producer's API secret is not in the secret store: paste it again",
                )
            })?,
            (None, None) => {
                return Err(Error::invalid(
                    "api_secret",
                    "Paste the API secret generated on the producer",
                ))
            }
        };
        self.resolve_row_mappings(&mut merged)?;
        let rows = producer_rows(&merged);
        let reg_dt = self.doctypes();
        for r in &rows {
            crate::condition::Condition::compile(r.get("condition").and_then(Value::as_str))?;
            let dt = text(r, "ref_doctype");
            if reg_dt.get(&dt).is_none() {
                return Err(Error::invalid(
                    "ref_doctype",
                    format!("DocType {dt} does not exist on this site"),
                ));
            }
            if r.get("use_same_name").and_then(Value::as_i64) == Some(0)
                || r.get("use_same_name") == Some(&Value::Bool(false))
            {
                self.ensure_remote_name_fields(&dt)?;
            }
        }
        let client = ProducerClient::new(&url, &text(&merged, "api_key"), secret.clone())?;
        let reg = self.registration(&rows)?;
        let outcome = client.register(&reg);
        let reply = match outcome {
            Ok(r) => Some(r),
            Err(Error::Unreachable(msg)) => {
                merged.insert("last_error".into(), Value::from(msg));
                None
            }
            Err(e) => return Err(e),
        };
        let reg_dt = self.doctypes();
        let doc = self.write(|tx| {
            if let Some(reply) = &reply {
                merged.insert(
                    "producer_site_id".into(),
                    Value::from(reply.producer_site_id.clone()),
                );
                merged.insert(
                    "producer_name".into(),
                    Value::from(reply.producer_name.clone()),
                );
                merged.insert("registration_status".into(), Value::from(REGISTERED));
                merged.insert("last_error".into(), Value::Null);
                set_row_statuses(&mut merged, &reply.approvals);
            } else {
                merged.insert(
                    "registration_status".into(),
                    Value::from(REGISTRATION_PENDING),
                );
            }
            let system = Actor::system();
            let doc = match name {
                Some(n) => document::update_in(
                    tx,
                    &reg_dt,
                    &system,
                    EVENT_PRODUCER,
                    n,
                    Value::Object(merged.clone()),
                    &WriteOptions::default(),
                )?,
                None => {
                    merged.insert("name".into(), Value::from(doc_name.clone()));
                    document::insert_in(
                        tx,
                        &reg_dt,
                        &system,
                        EVENT_PRODUCER,
                        Value::Object(merged.clone()),
                        WriteOptions::default(),
                    )?
                }
            };
            if let Some(reply) = &reply {
                let first = existing
                    .as_ref()
                    .is_none_or(|e| text(e, "registration_status") != REGISTERED);
                set_state(tx, &doc_name, first.then_some(reply.last_seq))?;
            }
            Ok(doc)
        })?;
        self.secrets().set(&secret_key(&doc_name), &secret)?;
        Ok(doc)
    }

    /// Checks each row's mapping and notes the remote doctype it subscribes
    /// to; refuses two rows receiving the same remote doctype.
    fn resolve_row_mappings(&self, doc: &mut Map<String, Value>) -> Result<()> {
        let mappings = self.read(Mappings::load)?;
        let mut seen = HashSet::new();
        if let Some(Value::Array(rows)) = doc.get_mut("producer_doctypes") {
            for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                let dt = text(row, "ref_doctype");
                let remote = if flag(row, "has_mapping") {
                    let name = text(row, "mapping");
                    if name.is_empty() {
                        return Err(Error::invalid(
                            "mapping",
                            format!("The {dt} row has a mapping: choose its Document Type Mapping"),
                        ));
                    }
                    let m = mappings.get(&name).map_err(|_| Error::Link {
                        field: "mapping".into(),
                        target_doctype: crate::mapping::DOCUMENT_TYPE_MAPPING.into(),
                        value: name.clone(),
                    })?;
                    if m.local_doctype != dt {
                        return Err(Error::invalid(
                            "mapping",
                            format!(
                                "Mapping {name} stores {} documents, not {dt}",
                                m.local_doctype
                            ),
                        ));
                    }
                    Value::from(m.remote_doctype.clone())
                } else {
                    Value::Null
                };
                row.insert("remote_doctype".into(), remote);
                let sub = subscribed(row);
                if !seen.insert(sub.clone()) {
                    return Err(Error::invalid(
                        "ref_doctype",
                        format!("Two rows receive {sub} from this producer: keep one"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn registration(&self, rows: &[Map<String, Value>]) -> Result<Registration> {
        let info = self.info()?;
        Ok(Registration {
            site_id: info.site_id,
            site_name: info.site_name,
            url: info.url,
            doctypes: rows
                .iter()
                .map(|r| Subscription {
                    ref_doctype: subscribed(r),
                    unsubscribed: flag(r, "unsubscribe"),
                    condition: r
                        .get("condition")
                        .and_then(Value::as_str)
                        .filter(|c| !c.trim().is_empty())
                        .map(str::to_owned),
                })
                .collect(),
        })
    }

    /// Adds `remote_docname` and `remote_site_name` to a doctype (SPEC F15).
    fn ensure_remote_name_fields(&self, doctype: &str) -> Result<()> {
        for (f, label) in [
            ("remote_docname", "Remote Document Name"),
            ("remote_site_name", "Remote Site"),
        ] {
            if self.doctypes().require(doctype)?.field(f).is_none() {
                self.add_custom_field(
                    &Actor::system(),
                    doctype,
                    json!({"fieldname": f, "fieldtype": "Data", "label": label, "read_only": 1}),
                )?;
            }
        }
        Ok(())
    }

    fn producer_client(&self, doc: &Doc) -> Result<ProducerClient> {
        let name = text(doc, "name");
        let secret = self.secrets().get(&secret_key(&name))?.ok_or_else(|| {
            Error::invalid(
                "api_secret",
                format!("No API secret stored for Event Producer {name}: paste it again"),
            )
        })?;
        ProducerClient::new(&text(doc, "producer_url"), &text(doc, "api_key"), secret)
    }

    /// Registers a producer saved while offline; true once registered.
    fn retry_registration(&self, doc: &Doc) -> Result<bool> {
        if text(doc, "registration_status") == REGISTERED {
            return Ok(true);
        }
        let name = text(doc, "name");
        let client = self.producer_client(doc)?;
        let reply = match client.register(&self.registration(&producer_rows(doc))?) {
            Ok(r) => r,
            Err(e) => {
                self.record_producer_error(&name, &e)?;
                return Err(e);
            }
        };
        let reg = self.doctypes();
        self.write(|tx| {
            let mut patch = json!({
                "producer_site_id": reply.producer_site_id,
                "producer_name": reply.producer_name,
                "registration_status": REGISTERED,
                "last_error": null,
                "producer_doctypes": doc.get("producer_doctypes").cloned().unwrap_or(Value::Null),
            });
            if let Value::Object(p) = &mut patch {
                set_row_statuses(p, &reply.approvals);
            }
            document::update_in(
                tx,
                &reg,
                &Actor::system(),
                EVENT_PRODUCER,
                &name,
                patch,
                &WriteOptions::default(),
            )?;
            set_state(tx, &name, Some(reply.last_seq))
        })?;
        Ok(true)
    }

    fn record_producer_error(&self, name: &str, e: &Error) -> Result<()> {
        let offline = matches!(e, Error::Unreachable(_));
        self.write(|tx| {
            tx.execute(
                "INSERT INTO producer_state (producer, online, last_error) VALUES (?1, ?2, ?3)
                 ON CONFLICT (producer) DO UPDATE SET online = excluded.online, last_error = excluded.last_error",
                (name, !offline, e.to_string()),
            )?;
            Ok(())
        })
    }

    /// "Sync now" (SPEC F11 c): pulls from one producer, or from all, and
    /// answers a summary per producer; `progress` sees each applied page.
    pub fn sync_now(
        &self,
        actor: &Actor,
        producer: Option<&str>,
        progress: &mut dyn FnMut(&SyncSummary),
    ) -> Result<Vec<SyncSummary>> {
        actor.require_system_manager("sync")?;
        let names = match producer {
            Some(p) => vec![p.to_owned()],
            None => self.event_producers()?,
        };
        self.set_progress(|p| {
            *p = SyncProgress {
                running: true,
                ..Default::default()
            }
        });
        let mut out = Vec::new();
        for n in &names {
            let mut track = |s: &SyncSummary| {
                self.set_progress(|p| p.current = Some(s.clone()));
                progress(s);
            };
            match self.sync_producer(n, &mut track) {
                Ok(s) => {
                    self.set_progress(|p| {
                        p.current = None;
                        p.done.push(s.clone());
                    });
                    out.push(s);
                }
                Err(e) => {
                    self.set_progress(|p| p.running = false);
                    return Err(e);
                }
            }
        }
        self.set_progress(|p| p.running = false);
        Ok(out)
    }

    /// What "Sync now" is doing (or last did).
    pub fn sync_progress(&self, actor: &Actor) -> Result<SyncProgress> {
        actor.require_system_manager("see sync progress")?;
        Ok(self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    fn set_progress(&self, f: impl FnOnce(&mut SyncProgress)) {
        f(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Every Event Producer's health, for the dashboard.
    pub fn producer_statuses(&self, actor: &Actor) -> Result<Vec<ProducerStatus>> {
        actor.require_system_manager("see sync status")?;
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT d.name, json_extract(d.data, '$.registration_status'), COALESCE(s.online, 0), s.last_sync,
                        COALESCE(s.last_error, json_extract(d.data, '$.last_error')), COALESCE(s.cursor, 0),
                        (SELECT COUNT(*) FROM sync_log l WHERE l.event_producer = d.name AND l.status = 'Failed')
                 FROM documents d LEFT JOIN producer_state s ON s.producer = d.name
                 WHERE d.doctype = ?1 ORDER BY d.name",
            )?;
            let rows = stmt.query_map([EVENT_PRODUCER], |r| {
                Ok(ProducerStatus {
                    producer: r.get(0)?,
                    registration_status: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    online: r.get(2)?,
                    last_sync: r.get(3)?,
                    last_error: r.get(4)?,
                    cursor: r.get(5)?,
                    failed: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Pulls and applies everything one producer has for us (SPEC F11/F12).
    pub fn sync_producer(
        &self,
        name: &str,
        progress: &mut dyn FnMut(&SyncSummary),
    ) -> Result<SyncSummary> {
        let doc = self.event_producer(name)?;
        let mut summary = SyncSummary {
            producer: name.to_owned(),
            ..Default::default()
        };
        let _one_at_a_time = self.sync_gate.lock().unwrap_or_else(|p| p.into_inner());
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
                        "SELECT error FROM sync_log WHERE event_producer = ?1 AND status = 'Failed' ORDER BY id DESC LIMIT 1",
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

    fn sync_inner(
        &self,
        doc: &Doc,
        summary: &mut SyncSummary,
        progress: &mut dyn FnMut(&SyncSummary),
    ) -> Result<()> {
        let name = text(doc, "name");
        self.retry_registration(doc)?;
        let doc = self
            .read(|tx| store::load(tx, EVENT_PRODUCER, &name))?
            .unwrap_or_else(|| doc.clone());
        let client = self.producer_client(&doc)?;
        let ctx = self.context(&doc)?;
        // Pull the next page while this one is applied: the producer's work and
        // ours overlap. At most one page waits in the channel (bounded memory).
        let first = self.read(|tx| cursor_of(tx, &name))?;
        summary.start = first;
        summary.cursor = first;
        let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel::<Result<(i64, PullReply)>>(1);
        std::thread::scope(|scope| {
            let (client, site_id) = (&client, ctx.local_site_id.clone());
            scope.spawn(move || {
                let mut after = first;
                loop {
                    let page = client.pull(&PullRequest {
                        site_id: site_id.clone(),
                        after,
                        limit: PAGE_SIZE,
                    });
                    let next = page.as_ref().ok().filter(|p| p.has_more).map(|p| p.cursor);
                    if pages_tx.send(page.map(|p| (after, p))).is_err() {
                        return;
                    }
                    match next {
                        Some(c) => after = c,
                        None => return,
                    }
                }
            });
            for page in pages_rx {
                let (cursor, reply) = page?;
                let more = reply.has_more;
                self.apply_page(&name, &doc, client, &ctx, cursor, reply, summary)?;
                progress(summary);
                if !more {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Applies one pulled page: dependencies, entries, cursor — one transaction.
    #[allow(clippy::too_many_arguments)]
    fn apply_page(
        &self,
        name: &str,
        doc: &Doc,
        client: &ProducerClient,
        ctx: &Context,
        cursor: i64,
        reply: PullReply,
        summary: &mut SyncSummary,
    ) -> Result<()> {
        summary.online = true;
        summary.pulled += reply.entries.len() as u32;
        summary.target = reply.last_seq.max(reply.cursor);
        self.update_approvals(name, doc, &reply.approvals)?;
        let reg = self.doctypes();
        let prepared = self.prepare(client, &reg, ctx, &reply.entries)?;
        let nothing = Prepared::default();
        let (synced, failed) = self.write(|tx| {
            if cursor_of(tx, name)? != cursor {
                return Err(Error::Unreachable("Another process synced this producer meanwhile; pulling again".into()));
            }
            let mut counts = (0, 0);
            for entry in &reply.entries {
                let ready = prepared.get(&entry.seq).unwrap_or(&nothing);
                match apply_logged(tx, &reg, ctx, entry, ready)? {
                    true => counts.0 += 1,
                    false => counts.1 += 1,
                }
            }
            tx.prepare_cached(
                "INSERT INTO producer_state (producer, cursor, last_sync, online, last_error) VALUES (?1, ?2, ?3, 1, NULL)
                 ON CONFLICT (producer) DO UPDATE SET cursor = excluded.cursor, last_sync = excluded.last_sync, online = 1, last_error = NULL",
            )?
            .execute((name, reply.cursor, values::now_string()))?;
            Ok(counts)
        })?;
        summary.synced += synced;
        summary.failed += failed;
        summary.cursor = reply.cursor;
        Ok(())
    }

    fn context(&self, doc: &Doc) -> Result<Context> {
        let user = text(doc, "user");
        Ok(Context {
            producer: text(doc, "name"),
            producer_site_id: text(doc, "producer_site_id"),
            local_site_id: self.info()?.site_id,
            actor: self.actor_for(&user)?,
            rows: producer_rows(doc)
                .iter()
                .filter(|r| !flag(r, "unsubscribe"))
                .map(|r| {
                    let cfg = RowCfg {
                        use_same_name: r.get("use_same_name").and_then(Value::as_i64) != Some(0),
                        mapping: flag(r, "has_mapping").then(|| text(r, "mapping")),
                    };
                    (subscribed(r), cfg)
                })
                .collect(),
            mappings: self.read(Mappings::load)?,
        })
    }

    /// Shows the producer's decisions on our rows (SPEC F9).
    fn update_approvals(&self, name: &str, doc: &Doc, approvals: &[Approval]) -> Result<()> {
        let mut patched = doc.clone();
        set_row_statuses(&mut patched, approvals);
        if patched.get("producer_doctypes") == doc.get("producer_doctypes") {
            return Ok(());
        }
        let (old, new) = (producer_rows(doc), producer_rows(&patched));
        for (before, after) in old.iter().zip(&new) {
            let status = text(after, "status");
            if text(before, "status") != status && status != "Pending" {
                let word = if status == "Approved" {
                    "approved"
                } else {
                    "rejected"
                };
                self.announce(
                    NoticeKind::ApprovalReceived,
                    format!("{name} {word} {}", text(after, "ref_doctype")),
                    format!(
                        "The producer {word} your subscription to {}",
                        subscribed(after)
                    ),
                );
            }
        }
        let reg = self.doctypes();
        let rows = patched
            .get("producer_doctypes")
            .cloned()
            .unwrap_or(Value::Null);
        self.write(|tx| {
            document::update_in(
                tx,
                &reg,
                &Actor::system(),
                EVENT_PRODUCER,
                name,
                json!({ "producer_doctypes": rows }),
                &WriteOptions::default(),
            )
            .map(|_| ())
        })
    }

    /// Readies a page's entries outside the transaction: entries through a
    /// mapping get their local form and mapped dependencies (SPEC F16);
    /// the others, the documents they link to that are missing here,
    /// fetched from the producer in dependency order (SPEC F14).
    fn prepare(
        &self,
        client: &ProducerClient,
        reg: &Registry,
        ctx: &Context,
        entries: &[LogEntry],
    ) -> Result<HashMap<i64, Prepared>> {
        let mut out = HashMap::new();
        let mut fetched: HashMap<(String, String), Doc> = HashMap::new();
        let mut present: HashSet<(String, String)> = HashSet::new();
        for entry in entries {
            let Some(row) = ctx.rows.get(&entry.ref_doctype) else {
                continue;
            };
            if entry.origin_site == ctx.local_site_id {
                continue;
            }
            if let Some(mapping) = &row.mapping {
                let mapped = match self.map_entry(client, reg, ctx, mapping, entry) {
                    Ok(m) => Ok(m),
                    Err(e @ Error::Unreachable(_)) => return Err(e),
                    Err(e) => Err(format!("Mapping {mapping}: {e}")),
                };
                out.insert(
                    entry.seq,
                    Prepared {
                        deps: Vec::new(),
                        mapped: Some(mapped),
                    },
                );
                continue;
            }
            let Some(dt) = reg.get(&entry.ref_doctype) else {
                continue;
            };
            let wanted = match entry.update_type {
                UpdateType::Create => entry
                    .data
                    .as_object()
                    .map(|d| links_in(reg, dt, d))
                    .unwrap_or_default(),
                UpdateType::Update => links_in_diff(reg, dt, &entry.data),
                UpdateType::Delete => Vec::new(),
            };
            let mut order = Vec::new();
            let mut visiting = HashSet::new();
            for (t, n) in wanted {
                let mut walk = Walk {
                    fetched: &mut fetched,
                    present: &mut present,
                    visiting: &mut visiting,
                    order: &mut order,
                };
                self.collect_dependency(client, reg, ctx, &t, &n, &mut walk)?;
            }
            if !order.is_empty() {
                out.insert(
                    entry.seq,
                    Prepared {
                        deps: order,
                        mapped: None,
                    },
                );
            }
        }
        Ok(out)
    }

    /// An entry through its mapping: the local data, and the documents its
    /// "Document" rows ask for, found on the producer and mapped in turn.
    fn map_entry(
        &self,
        client: &ProducerClient,
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

    fn resolve_requests(
        &self,
        client: &ProducerClient,
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

    fn collect_dependency(
        &self,
        client: &ProducerClient,
        reg: &Registry,
        ctx: &Context,
        doctype: &str,
        name: &str,
        walk: &mut Walk,
    ) -> Result<()> {
        let key = (doctype.to_owned(), name.to_owned());
        if walk.present.contains(&key)
            || !walk.visiting.insert(key.clone())
            || reg.get(doctype).is_none()
        {
            return Ok(());
        }
        if self.read(|tx| store::exists(tx, doctype, name))? {
            walk.present.insert(key);
            return Ok(());
        }
        let fetched = &mut *walk.fetched;
        if fetched.len() >= MAX_DEPENDENCIES {
            return Err(Error::Remote(format!(
                "More than {MAX_DEPENDENCIES} missing dependencies in one page"
            )));
        }
        let doc = match fetched.get(&key) {
            Some(d) => d.clone(),
            None => {
                let req = FetchRequest {
                    site_id: ctx.local_site_id.clone(),
                    doctype: doctype.into(),
                    name: name.into(),
                };
                let d = client.fetch(&req)?;
                fetched.insert(key.clone(), d.clone());
                d
            }
        };
        if let Some(dt) = reg.get(doctype) {
            for (t, n) in links_in(reg, dt, &doc) {
                self.collect_dependency(client, reg, ctx, &t, &n, walk)?;
            }
        }
        walk.order.push((doctype.to_owned(), doc));
        Ok(())
    }

    /// The sync log, newest first, optionally only one status.
    pub fn sync_log(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SyncLogEntry>> {
        actor.require_system_manager("read the sync log")?;
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {SYNC_LOG_COLUMNS} FROM sync_log WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map((status, limit.clamp(1, 1000)), sync_log_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
        let client = self.producer_client(&doc)?;
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
            let entry = LogEntry {
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
            };
            let reg = self.doctypes();
            let ready = self
                .prepare(&client, &reg, &ctx, std::slice::from_ref(&entry))?
                .remove(&entry.seq)
                .unwrap_or_default();
            let ok = self.write(|tx| {
                match apply_in_savepoint(tx, &reg, &ctx, &entry, &ready) {
                    Ok(local) => {
                        tx.execute(
                            "UPDATE sync_log SET status = 'Synced', docname = ?2, error = NULL, modified = ?3, attempts = attempts + 1 WHERE id = ?1",
                            (item.id, local, values::now_string()),
                        )?;
                        Ok(true)
                    }
                    Err(e) => {
                        tx.execute(
                            "UPDATE sync_log SET error = ?2, modified = ?3, attempts = attempts + 1 WHERE id = ?1",
                            (item.id, e.to_string(), values::now_string()),
                        )?;
                        Ok(false)
                    }
                }
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
                "SELECT MIN(id) FROM sync_log WHERE status = 'Failed'
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

    fn sync_log_entry(&self, id: i64) -> Result<SyncLogEntry> {
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

    /// Opens the live channel to a registered producer and calls `on_update`
    /// for each announcement; returns when the channel closes.
    pub fn listen_to_producer(&self, name: &str, on_update: &mut dyn FnMut()) -> Result<()> {
        let doc = self.event_producer(name)?;
        if text(&doc, "registration_status") != REGISTERED {
            return Err(Error::Unreachable(format!("{name} is not registered yet")));
        }
        let client = self.producer_client(&doc)?;
        client.listen(&self.info()?.site_id, on_update)
    }

    /// One Event Producer document, or DoesNotExistError.
    fn event_producer(&self, name: &str) -> Result<Doc> {
        self.read(|tx| store::load(tx, EVENT_PRODUCER, name))?
            .ok_or_else(|| Error::NotFound {
                doctype: EVENT_PRODUCER.into(),
                name: name.into(),
            })
    }

    /// Names of every Event Producer here.
    pub fn event_producers(&self) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare("SELECT name FROM documents WHERE doctype = ?1 ORDER BY name")?;
            let rows = stmt.query_map([EVENT_PRODUCER], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }
}

const SYNC_LOG_COLUMNS: &str = "id, event_producer, seq, update_type, status, ref_doctype, docname, remote_docname, use_same_name, data, error, creation, modified, attempts, mapping";

fn sync_log_row(r: &rusqlite::Row) -> rusqlite::Result<SyncLogEntry> {
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
    })
}

fn set_row_statuses(doc: &mut Map<String, Value>, approvals: &[Approval]) {
    if let Some(Value::Array(rows)) = doc.get_mut("producer_doctypes") {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            let dt = subscribed(row);
            if let Some(a) = approvals.iter().find(|a| a.ref_doctype == dt) {
                let status = if a.status == "Unsubscribed" {
                    text(row, "status")
                } else {
                    a.status.clone()
                };
                row.insert("status".into(), Value::from(status));
            }
        }
    }
}

fn cursor_of(tx: &Transaction, producer: &str) -> Result<i64> {
    Ok(tx
        .query_row(
            "SELECT cursor FROM producer_state WHERE producer = ?1",
            [producer],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

fn set_state(tx: &Transaction, producer: &str, cursor: Option<i64>) -> Result<()> {
    tx.execute(
        "INSERT INTO producer_state (producer, cursor, online) VALUES (?1, COALESCE(?2, 0), 1)
         ON CONFLICT (producer) DO UPDATE SET cursor = COALESCE(?2, cursor), online = 1, last_error = NULL",
        (producer, cursor),
    )?;
    Ok(())
}

/// Link targets named in `doc` (Link, Dynamic Link, Links in child rows).
fn links_in(reg: &Registry, dt: &DocType, doc: &Map<String, Value>) -> Vec<(String, String)> {
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

fn links_in_diff(reg: &Registry, dt: &DocType, diff: &Value) -> Vec<(String, String)> {
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

/// Applies one entry and writes its sync-log line. Ok(true) when Synced.
fn apply_logged(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &LogEntry,
    ready: &Prepared,
) -> Result<bool> {
    let Some(row) = ctx.rows.get(&entry.ref_doctype) else {
        return Ok(true);
    };
    if entry.origin_site == ctx.local_site_id {
        return Ok(true); // our own change coming back (SPEC F19)
    }
    let doctype = ctx.local_doctype(&entry.ref_doctype);
    let blocked: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM sync_log WHERE event_producer = ?1 AND ref_doctype = ?2 AND remote_docname = ?3 AND status = 'Failed' LIMIT 1",
        )?
        .query_row((&ctx.producer, doctype, &entry.docname), |r| r.get(0))
        .optional()?;
    let outcome = match blocked {
        Some(id) => Err(Error::Docstatus(format!(
            "Waiting for an earlier failed update of {doctype} {} (sync log {id}); resync that one first",
            entry.docname
        ))),
        None => apply_in_savepoint(tx, reg, ctx, entry, ready),
    };
    let (status, docname, error) = match &outcome {
        Ok(local) => ("Synced", local.clone(), None),
        Err(e) => ("Failed", None, Some(e.to_string())),
    };
    let data = if entry.data.is_null() {
        None
    } else {
        Some(entry.data.to_string())
    };
    let now = values::now_string();
    tx.prepare_cached(
        "INSERT INTO sync_log (event_producer, seq, update_type, status, ref_doctype, docname, remote_docname,
                               use_same_name, data, error, origin_site, creation, modified, mapping)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
    )?
    .execute(rusqlite::params![
        ctx.producer,
        entry.seq,
        entry.update_type.as_str(),
        status,
        doctype,
        docname,
        entry.docname,
        row.use_same_name,
        data,
        error,
        entry.origin_site,
        now,
        row.mapping,
    ])?;
    Ok(outcome.is_ok())
}

/// Applies dependencies and the entry inside a savepoint: all or nothing.
fn apply_in_savepoint(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &LogEntry,
    ready: &Prepared,
) -> Result<Option<String>> {
    tx.prepare_cached("SAVEPOINT entry")?.execute([])?;
    let result = apply_entry(tx, reg, ctx, entry, ready);
    match &result {
        Ok(_) => tx.prepare_cached("RELEASE entry")?.execute([])?,
        Err(_) => {
            tx.prepare_cached("ROLLBACK TO entry")?.execute([])?;
            tx.prepare_cached("RELEASE entry")?.execute([])?
        }
    };
    result
}

fn strip_meta(doc: &Map<String, Value>) -> Map<String, Value> {
    doc.iter()
        .filter(|(k, _)| {
            !STANDARD_FIELDS.contains(&k.as_str())
                || k.as_str() == "name"
                || k.as_str() == "docstatus"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn local_name(
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
            "SELECT name FROM documents WHERE doctype = ?1 AND json_extract(data, '$.remote_docname') = ?2
             AND json_extract(data, '$.remote_site_name') = ?3 LIMIT 1",
        )?
        .query_row((doctype, remote, &ctx.producer_site_id), |r| r.get(0))
        .optional()?)
}

fn apply_entry(
    tx: &Transaction,
    reg: &Registry,
    ctx: &Context,
    entry: &LogEntry,
    ready: &Prepared,
) -> Result<Option<String>> {
    let use_same_name = ctx
        .rows
        .get(&entry.ref_doctype)
        .is_none_or(|r| r.use_same_name);
    let origin = Some(entry.origin_site.clone());
    let opts = WriteOptions {
        keep_name: use_same_name,
        origin: origin.clone(),
        ignore_links: false,
    };
    for (doctype, doc) in &ready.deps {
        if !store::exists(tx, doctype, &text(doc, "name"))? {
            let dep_opts = WriteOptions {
                keep_name: true,
                origin: origin.clone(),
                ignore_links: true,
            };
            document::insert_in(
                tx,
                reg,
                &ctx.actor,
                doctype,
                Value::Object(strip_meta(doc)),
                dep_opts,
            )?;
        }
    }
    // Through a mapping: the local doctype and data, and the local names of
    // the mapped documents it depends on (created first when missing).
    let mut fill = Map::new();
    let (doctype, data) = match &ready.mapped {
        None => (entry.ref_doctype.as_str(), &entry.data),
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
    let local = local_name(tx, ctx, doctype, &entry.docname, use_same_name)?;
    match entry.update_type {
        UpdateType::Create => {
            if local.is_some() {
                return Ok(local);
            }
            let Value::Object(data) = data else {
                return Err(Error::Remote(
                    "A Create arrived without its document".into(),
                ));
            };
            let mut body = strip_meta(data);
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
            let doc = document::insert_in(tx, reg, &ctx.actor, doctype, Value::Object(body), opts)?;
            Ok(Some(text(&doc, "name")))
        }
        UpdateType::Update => {
            let Some(local) = local else {
                return Err(Error::NotFound {
                    doctype: doctype.to_owned(),
                    name: entry.docname.clone(),
                });
            };
            let current = store::load(tx, doctype, &local)?.ok_or_else(|| Error::NotFound {
                doctype: doctype.to_owned(),
                name: local.clone(),
            })?;
            let mut patch = patch_from_diff(&current, data);
            patch.extend(fill);
            document::update_in(
                tx,
                reg,
                &ctx.actor,
                doctype,
                &local,
                Value::Object(patch),
                &opts,
            )?;
            Ok(Some(local))
        }
        UpdateType::Delete => {
            if let Some(local) = &local {
                document::delete_in(tx, reg, &ctx.actor, doctype, local, &opts)?;
            }
            Ok(local)
        }
    }
}

/// Stores a mapped dependency unless it is here already; its local name.
fn materialize(
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
    };
    let stored = document::insert_in(tx, reg, &ctx.actor, &doc.doctype, Value::Object(body), opts)?;
    Ok(text(&stored, "name"))
}

/// The local document a mapped dependency already is: by name when its
/// doctype is named after a field (a Role after its role_name), else the
/// first one holding the same value in every mapped field. A mapped
/// dependency has no producer name of its own doctype to go by.
fn same_local(
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
fn patch_from_diff(current: &Doc, diff: &Value) -> Map<String, Value> {
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

//! Event Producer set-up (SPEC F8): saving registers this site on the
//! producer (or keeps it "Registration Pending" and retries), and the
//! producer's decisions are shown on our rows (SPEC F9).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::{
    producer_rows, secret_key, set_row_statuses, set_state, subscribed, sync_existing, Context,
    RowCfg, REGISTERED, REGISTRATION_PENDING,
};
use crate::actor::Actor;
use crate::document::values::{flag, text};
use crate::document::{self, Doc, WriteOptions};
use crate::error::{Error, Result};
use crate::mapping::Mappings;
use crate::notice::NoticeKind;
use crate::secret::Secret;
use crate::site::{normalize_url, Site};
use crate::stream::client::ProducerClient;
use crate::stream::wire::{Approval, Registration, Subscription};
use crate::stream::EVENT_PRODUCER;

use super::receive::pushes_here;

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
        if let (Some(e), Some(n)) = (existing.as_ref().filter(|e| pushes_here(e)), name) {
            return self.decide_pushed_rows(e, n, input);
        }
        let mut merged = existing.clone().unwrap_or_default();
        merged.extend(input);
        if producer_rows(&merged).is_empty() && super::push::push_rows(&merged).is_empty() {
            return Err(Error::invalid(
                "producer_doctypes",
                "Add a row to Event Producer Document Types (what this site receives) or to Push Document Types (what it sends)",
            ));
        }
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
        // Push only: nothing to register for; the first push introduces this site.
        let push_only = rows.is_empty();
        let outcome = if push_only {
            Ok(None)
        } else {
            client.register(&reg).map(Some)
        };
        let reply = match outcome {
            Ok(r) => r,
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
                set_row_statuses(&mut merged, "producer_doctypes", &reply.approvals);
            } else {
                merged.insert(
                    "registration_status".into(),
                    Value::from(if push_only {
                        REGISTERED
                    } else {
                        REGISTRATION_PENDING
                    }),
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
    pub(super) fn resolve_row_mappings(&self, doc: &mut Map<String, Value>) -> Result<()> {
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

    pub(super) fn registration(&self, rows: &[Map<String, Value>]) -> Result<Registration> {
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
                    sync_existing: sync_existing(r),
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
    pub(super) fn ensure_remote_name_fields(&self, doctype: &str) -> Result<()> {
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

    /// The client of the Event Producer `name`, with its stored keys.
    pub fn client_of(&self, name: &str) -> Result<ProducerClient> {
        let doc = self.event_producer(name)?;
        self.producer_client(&doc)
    }

    pub(super) fn producer_client(&self, doc: &Doc) -> Result<ProducerClient> {
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
    pub(super) fn retry_registration(&self, doc: &Doc) -> Result<bool> {
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
                set_row_statuses(p, "producer_doctypes", &reply.approvals);
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

    pub(super) fn record_producer_error(&self, name: &str, e: &Error) -> Result<()> {
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

    pub(super) fn context(&self, doc: &Doc) -> Result<Context> {
        let user = text(doc, "user");
        Ok(Context {
            producer: text(doc, "name"),
            producer_site_id: text(doc, "producer_site_id"),
            local_site_id: self.info()?.site_id,
            actor: self.actor_for(&user)?,
            rows: producer_rows(doc)
                .iter()
                .filter(|r| !flag(r, "unsubscribe"))
                // A pushing producer sends only what this site approved.
                .filter(|r| !pushes_here(doc) || text(r, "status") == "Approved")
                .map(|r| {
                    let cfg = RowCfg {
                        use_same_name: r.get("use_same_name").and_then(Value::as_i64) != Some(0),
                        mapping: flag(r, "has_mapping").then(|| text(r, "mapping")),
                        conditional: !text(r, "condition").trim().is_empty(),
                    };
                    (subscribed(r), cfg)
                })
                .collect(),
            mappings: self.read(Mappings::load)?,
            pushed: pushes_here(doc),
        })
    }

    /// Shows the producer's decisions on our rows (SPEC F9).
    pub(super) fn update_approvals(
        &self,
        name: &str,
        doc: &Doc,
        approvals: &[Approval],
    ) -> Result<()> {
        let mut patched = doc.clone();
        set_row_statuses(&mut patched, "producer_doctypes", approvals);
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
        self.write_producer_rows(name, patched.get("producer_doctypes"))
            .map(|_| ())
    }

    /// Stores an Event Producer's rows (what this site receives), as the site.
    fn write_producer_rows(&self, name: &str, rows: Option<&Value>) -> Result<Doc> {
        let reg = self.doctypes();
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
        })
    }

    /// Opens the live channel to a registered producer and calls `on_update`
    /// for each announcement; returns when the channel closes.
    pub fn listen_to_producer(&self, name: &str, on_update: &mut dyn FnMut()) -> Result<()> {
        let doc = self.event_producer(name)?;
        if producer_rows(&doc).is_empty() {
            // Push only: nothing to hear from that site (the caller looks
            // again later: rows to pull may be added).
            return Err(Error::Unreachable(format!(
                "{name} only receives pushes from here: no live channel to hold"
            )));
        }
        if text(&doc, "registration_status") != REGISTERED {
            return Err(Error::Unreachable(format!("{name} is not registered yet")));
        }
        let client = self.producer_client(&doc)?;
        client.listen(&self.info()?.site_id, on_update)
    }
}

impl Site {
    /// Asks producer `producer` to send every existing document of the
    /// local doctype `ref_doctype` again (SPEC F18), e.g. after documents
    /// were deleted here by mistake. They arrive with the next syncs.
    pub fn resnapshot(&self, actor: &Actor, producer: &str, ref_doctype: &str) -> Result<()> {
        actor.require_system_manager("ask a producer for its documents again")?;
        let doc = self.event_producer(producer)?;
        let row = producer_rows(&doc)
            .into_iter()
            .find(|r| text(r, "ref_doctype") == ref_doctype)
            .ok_or_else(|| {
                Error::invalid(
                    "ref_doctype",
                    format!("Event Producer {producer} has no row for {ref_doctype}"),
                )
            })?;
        let client = self.producer_client(&doc)?;
        client.resnapshot(&self.info()?.site_id, &subscribed(&row))
    }
}

impl Site {
    /// A System Manager decides the rows of a producer that pushes here
    /// (SPEC F20): status, naming, mapping, condition, unsubscribe — the
    /// rest of the document is the pushing site's.
    fn decide_pushed_rows(
        &self,
        existing: &Doc,
        name: &str,
        input: Map<String, Value>,
    ) -> Result<Doc> {
        let Some(rows) = input.get("producer_doctypes") else {
            return Ok(existing.clone());
        };
        let mut merged = existing.clone();
        merged.insert("producer_doctypes".into(), rows.clone());
        self.resolve_row_mappings(&mut merged)?;
        for r in producer_rows(&merged) {
            crate::condition::Condition::compile(r.get("condition").and_then(Value::as_str))?;
        }
        self.write_producer_rows(name, merged.get("producer_doctypes"))
    }
}

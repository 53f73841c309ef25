//! Event streaming (SPEC F8–F15, F21): the producer side answers
//! registrations, pulls and dependency fetches; the consumer side registers,
//! pulls pages, applies them atomically and keeps the sync log.

pub mod activity;
pub mod client;
pub mod consumer;
pub mod invite;
pub mod log;
pub mod presized;
pub mod producer;
pub mod source;
pub mod wire;

use rusqlite::Transaction;
use serde_json::Value;

use crate::document::store;
use crate::error::Result;

pub const EVENT_CONSUMER: &str = "Event Consumer";
pub const EVENT_PRODUCER: &str = "Event Producer";

/// Keeps derived tables true after a document write, and checks what can
/// only be checked against other documents (refusing the write otherwise).
pub(crate) fn after_write(
    tx: &Transaction,
    reg: &crate::doctype::Registry,
    doctype: &str,
    doc: Option<&crate::document::Doc>,
) -> Result<()> {
    if let (crate::mapping::DOCUMENT_TYPE_MAPPING, Some(doc)) = (doctype, doc) {
        crate::mapping::validate(tx, reg, doc)?;
    }
    if doctype == EVENT_CONSUMER {
        refresh_stream_doctypes(tx)?;
    }
    if doctype == crate::condition::CONDITION_SCRIPT {
        check_condition_scripts(tx)?;
    }
    Ok(())
}

/// Every Condition Script must compile (checked before a save is committed).
fn check_condition_scripts(tx: &Transaction) -> Result<()> {
    let mut stmt = tx.prepare("SELECT name, data FROM documents WHERE doctype = ?1")?;
    let rows = stmt.query_map([crate::condition::CONDITION_SCRIPT], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (name, data) = row?;
        let doc = store::parse(crate::condition::CONDITION_SCRIPT, &name, &data)?;
        crate::condition::check_script(
            doc.get("script")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;
    }
    Ok(())
}

/// The doctypes some consumer subscribes to, whatever the approval status,
/// and each consumer row's delivery state (see `producer::pull`).
fn refresh_stream_doctypes(tx: &Transaction) -> Result<()> {
    tx.execute("DELETE FROM stream_doctypes", [])?;
    for table in [
        "consumer_rows",
        "consumer_pages",
        "consumer_held",
        "consumer_deliveries",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE consumer NOT IN (SELECT name FROM documents WHERE doctype = ?1)"),
            [EVENT_CONSUMER],
        )?;
    }
    let mut stmt = tx.prepare("SELECT name, data FROM documents WHERE doctype = ?1")?;
    let rows = stmt.query_map([EVENT_CONSUMER], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (name, data) = row?;
        let doc = store::parse(EVENT_CONSUMER, &name, &data)?;
        producer::validate_conditions(tx, &doc)?;
        producer::refresh_consumer_rows(tx, &name, &doc)?;
        for r in doc
            .get("consumer_doctypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.as_object()
                .is_some_and(|r| crate::document::values::flag(r, "unsubscribed"))
            {
                continue;
            }
            if let Some(dt) = r.get("ref_doctype").and_then(Value::as_str) {
                tx.execute(
                    "INSERT OR IGNORE INTO stream_doctypes (doctype) VALUES (?1)",
                    [dt],
                )?;
            }
        }
    }
    Ok(())
}

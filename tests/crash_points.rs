//! Crashes at chosen points (SPEC §4 reliability, the delivery guarantee):
//! the process aborts exactly there — like a SIGKILL at that moment — and,
//! restarted, the sync ends exactly: the consumer's `remote_docname`s are
//! the producer's names, each once; its cursor is the producer's last
//! sequence; one Synced sync-log line per entry. Sales Invoices (with their
//! Customer and Items as dependencies), use_same_name off, three pages.

use outpost_tests::TestSite;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const QUIET: &[&str] = &["--background-sync", "false"];
const INVOICES: u32 = 1_200;

enum Side {
    Consumer,
    Producer,
}

fn crash_at(point: &str, side: Side) {
    let mut producer = TestSite::start_with(QUIET);
    let mut consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Sales Invoice", "use_same_name": 0}]),
    );
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);
    producer.seed("Sales Invoice", INVOICES.into());

    // The second time the point is reached: one page is through, the next is not.
    let spec = format!("{point}@2");
    match side {
        Side::Consumer => consumer.crash_during_sync(&spec, None),
        Side::Producer => producer.crash_during_sync(&spec, Some(&consumer)),
    }

    // Sync until the consumer stands at the producer's last entry.
    let last = producer
        .method("outpost.event.update_log", json!({"limit": 1}))
        .body["message"][0]["seq"]
        .as_i64()
        .expect("last seq");
    for _ in 0..5 {
        let s = consumer.sync_now();
        if s[0]["cursor"].as_i64() == Some(last) && s[0]["error"].is_null() {
            break;
        }
    }
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(
        status["cursor"].as_i64(),
        Some(last),
        "{point}: cursor at the producer's last entry: {status}"
    );
    assert_eq!(status["failed"], 0, "{point}: {status}");

    let theirs: BTreeSet<String> = producer
        .column("Sales Invoice", "name")
        .into_iter()
        .collect();
    let mine = consumer.column("Sales Invoice", "remote_docname");
    let distinct: BTreeSet<String> = mine.iter().cloned().collect();
    assert_eq!(theirs.len(), INVOICES as usize);
    assert_eq!(mine.len(), distinct.len(), "{point}: no invoice twice");
    assert_eq!(distinct, theirs, "{point}: exactly the producer's invoices");
    let counted = consumer.method(
        "frappe.client.get_count",
        json!({"doctype": "Sales Invoice", "filters": {"remote_site_name": producer.site_id()}}),
    );
    assert_eq!(counted.body["message"], Value::from(INVOICES));
    let lines = sync_log_statuses(&consumer);
    let synced = lines.iter().filter(|s| *s == "Synced").count();
    assert_eq!(
        (synced, lines.len()),
        (INVOICES as usize, INVOICES as usize),
        "{point}: one Synced line per entry, none other"
    );
}

/// The status of every line of a site's sync log.
fn sync_log_statuses(site: &TestSite) -> Vec<String> {
    site.sync_log_all()
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn crash_with_dependencies_fetched_and_nothing_inserted() {
    crash_at("dependencies-fetched", Side::Consumer);
}

#[test]
fn crash_with_a_page_applied_before_its_commit() {
    crash_at("page-applied-before-commit", Side::Consumer);
}

#[test]
fn crash_after_the_commit_before_the_acknowledgement() {
    crash_at("page-committed", Side::Consumer);
}

#[test]
fn producer_crash_after_deciding_a_page_before_answering() {
    crash_at("pull-answered", Side::Producer);
}

#[test]
fn producer_crash_with_an_acknowledgement_received_and_not_recorded() {
    crash_at("ack-received", Side::Producer);
}

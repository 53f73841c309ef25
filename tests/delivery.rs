//! The delivery guarantee (SPEC §2): what a consumer has received is
//! recorded only when it acknowledges a page after its own commit; a lost
//! or broken answer, or a consumer killed between receiving and committing
//! a page, loses nothing and duplicates nothing. A row approved late gets
//! the documents made meanwhile; a document the consumer lacks is fetched,
//! never a permanent failure. Real `outpostd` processes; a fault-injecting
//! proxy of ours between them. Background sync is off on both sites: each
//! sync happens when the test presses Sync now.

use outpost_tests::proxy::{Fault, Proxy};
use outpost_tests::{assert_same_notes, TestSite};
use serde_json::{json, Value};

const QUIET: &[&str] = &["--background-sync", "false"];

struct Sites {
    producer: TestSite,
    consumer: TestSite,
    proxy: Proxy,
    consumer_id: String,
}

/// A producer and a consumer (Notes where `doc.public == 1`, every ToDo),
/// both approved, talking through a proxy.
fn sites() -> Sites {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    let proxy = Proxy::start(&producer.base);
    consumer.subscribe_through(
        &producer,
        &proxy.base,
        json!([{"ref_doctype": "Note", "condition": "doc.public == 1"}, {"ref_doctype": "ToDo"}]),
    );
    let consumer_id = consumer.site_id();
    producer.decide(&consumer_id, &[("Note", "Approved"), ("ToDo", "Approved")]);
    Sites {
        producer,
        consumer,
        proxy,
        consumer_id,
    }
}

fn name(a: &outpost_tests::Answer) -> String {
    a.data()["name"].as_str().expect("name").to_owned()
}

/// Sync now, which must complete without error; its summary.
fn sync_ok(site: &TestSite) -> Value {
    let s = site.sync_now();
    assert!(s[0]["error"].is_null(), "sync failed: {s}");
    s[0].clone()
}

/// `fields` of every document of `doctype` matching `filters`, by name.
fn rows(site: &TestSite, doctype: &str, filters: Value, fields: &[&str]) -> Vec<Value> {
    let fields = serde_json::to_string(fields).expect("fields");
    let a = site.list(
        doctype,
        &[
            ("filters", &filters.to_string()),
            ("fields", &fields),
            ("order_by", "name asc"),
            ("limit_page_length", "1000"),
        ],
    );
    a.data().as_array().expect("list").clone()
}

/// The consumer holds exactly the producer's public Notes and every ToDo,
/// field for field, each once; no sync-log line Failed.
fn assert_converged(s: &Sites) {
    let note_fields = ["name", "title", "content", "public"];
    assert_eq!(
        rows(&s.consumer, "Note", json!({}), &note_fields),
        rows(&s.producer, "Note", json!({"public": 1}), &note_fields),
        "the consumer's Notes are the producer's public ones"
    );
    let todo_fields = ["name", "description", "status", "priority"];
    assert_eq!(
        rows(&s.consumer, "ToDo", json!({}), &todo_fields),
        rows(&s.producer, "ToDo", json!({}), &todo_fields),
        "the consumer's ToDos are the producer's"
    );
    let log = s
        .consumer
        .method("outpost.event.sync_log", json!({"limit": 1000}))
        .body["message"]
        .clone();
    let failed: Vec<&Value> = log
        .as_array()
        .expect("sync log")
        .iter()
        .filter(|l| l["status"] == "Failed")
        .collect();
    assert!(failed.is_empty(), "no Failed entry: {failed:?}");
}

/// Whether the producer's update log says `consumer` received each entry
/// of `docname`, oldest first.
fn received(s: &Sites, doctype: &str, docname: &str) -> Vec<bool> {
    let log = s.producer.method(
        "outpost.event.update_log",
        json!({"ref_doctype": doctype, "limit": 1000}),
    );
    let mut out: Vec<bool> = log.body["message"]
        .as_array()
        .expect("update log")
        .iter()
        .filter(|l| l["docname"] == docname)
        .map(|l| {
            l["received_by"]
                .as_array()
                .is_some_and(|r| r.iter().any(|c| c == s.consumer_id.as_str()))
        })
        .collect();
    out.reverse();
    out
}

/// Changes of both rows that the faulty sync will carry, on top of a first
/// clean sync; returns (the note made public, the note that stays private).
fn changes_across_a_fault(s: &Sites) -> (String, String) {
    let p = &s.producer;
    let private = name(&p.insert(
        "Note",
        json!({"title": "private", "content": "draft", "public": 0}),
    ));
    let public = name(&p.insert(
        "Note",
        json!({"title": "public", "content": "v1", "public": 1}),
    ));
    let doomed = name(&p.insert("Note", json!({"title": "doomed", "public": 1})));
    let t1 = name(&p.insert("ToDo", json!({"description": "one"})));
    let t2 = name(&p.insert("ToDo", json!({"description": "two"})));
    sync_ok(&s.consumer);
    assert_converged(s);

    // What the faulty sync carries: a private note made public (its Create
    // and first Update must come first), edits, a Delete of a received note,
    // and a create/update/delete mix of ToDos.
    p.update("Note", &private, json!({"public": 1})).data();
    p.update("Note", &private, json!({"content": "final"}))
        .data();
    p.update("Note", &public, json!({"content": "v2"})).data();
    p.delete("Note", &doomed).data();
    let secret = name(&p.insert("Note", json!({"title": "stays private", "public": 0})));
    p.delete("ToDo", &t1).data();
    p.update("ToDo", &t2, json!({"status": "Closed", "priority": "High"}))
        .data();
    p.insert("ToDo", json!({"description": "three"})).data();
    assert!(
        received(s, "Note", &private).iter().all(|r| !r),
        "nothing of the private note was received before"
    );
    (private, secret)
}

/// After the fault and a clean sync: converged, and received_by names the
/// consumer exactly for what it committed.
fn after_the_fault(s: &Sites, private: &str, secret: &str) {
    assert!(
        received(s, "Note", private).iter().all(|r| !r),
        "an unacknowledged page is not recorded as received"
    );
    sync_ok(&s.consumer);
    assert_converged(s);
    assert_eq!(
        received(s, "Note", private),
        vec![true; 3],
        "the made-public note's Create and both Updates were received"
    );
    assert_eq!(
        received(s, "Note", secret),
        vec![false],
        "the note that stayed private was never received"
    );
    // And the stream goes on as usual.
    s.producer
        .update("Note", private, json!({"title": "later"}))
        .data();
    sync_ok(&s.consumer);
    assert_converged(s);
}

#[test]
fn a_pull_answer_lost_on_the_way_is_answered_again_with_the_same_page() {
    let s = sites();
    let (private, secret) = changes_across_a_fault(&s);
    s.proxy.inject("outpost.event.pull", Fault::DropAnswer, 1);
    let failed = s.consumer.sync_now();
    assert!(
        failed[0]["error"].as_str().is_some(),
        "the lost answer is reported: {failed}"
    );
    assert_eq!(s.proxy.applied("outpost.event.pull", &Fault::DropAnswer), 1);
    after_the_fault(&s, &private, &secret);
}

#[test]
fn a_pull_answer_cut_mid_body_is_answered_again_with_the_same_page() {
    let s = sites();
    let (private, secret) = changes_across_a_fault(&s);
    s.proxy.inject("outpost.event.pull", Fault::CutBody, 1);
    let failed = s.consumer.sync_now();
    assert!(failed[0]["error"].as_str().is_some(), "{failed}");
    assert_eq!(s.proxy.applied("outpost.event.pull", &Fault::CutBody), 1);
    after_the_fault(&s, &private, &secret);
}

/// Restarts the consumer with `OUTPOST_CRASH_AT=point`, presses Sync now,
/// sees the process abort there, and starts it again normally.
fn crash_consumer_at(s: &mut Sites, point: &str) {
    s.consumer.set_env("OUTPOST_CRASH_AT", Some(point));
    s.consumer.restart();
    let answer = s.consumer.try_call(
        Some(&s.consumer.admin.header()),
        "POST",
        "/api/method/outpost.event.sync_now",
        Some(json!({})),
    );
    assert!(answer.is_none(), "the consumer died mid-sync: {answer:?}");
    let status = s.consumer.wait_exit(30);
    assert!(!status.success(), "aborted at {point}: {status}");
    s.consumer.set_env("OUTPOST_CRASH_AT", None);
    s.consumer.restart();
}

#[test]
fn a_consumer_killed_after_receiving_a_page_and_before_committing_it_gets_it_again() {
    let mut s = sites();
    let (private, secret) = changes_across_a_fault(&s);
    crash_consumer_at(&mut s, "page-applied-before-commit");
    // Nothing of the page is here: it was never committed.
    assert_eq!(
        s.consumer.get("Note", &private).status,
        404,
        "the uncommitted page left nothing"
    );
    after_the_fault(&s, &private, &secret);
}

#[test]
fn a_consumer_killed_after_its_commit_and_before_acknowledging_is_not_sent_the_page_twice() {
    let mut s = sites();
    let (private, secret) = changes_across_a_fault(&s);
    crash_consumer_at(&mut s, "page-committed");
    // The page is here, and the producer does not know it yet.
    assert_eq!(s.consumer.get("Note", &private).data()["content"], "final");
    assert!(received(&s, "Note", &private).iter().all(|r| !r));
    let before = s
        .consumer
        .method("outpost.event.sync_log", json!({"limit": 1000}))
        .body["message"]
        .as_array()
        .map_or(0, Vec::len);
    after_the_fault(&s, &private, &secret);
    let log = s
        .consumer
        .method("outpost.event.sync_log", json!({"limit": 1000}))
        .body["message"]
        .clone();
    // One line for each of the two entries the last step made (title
    // change), none for the committed page again.
    assert_eq!(
        log.as_array().map_or(0, Vec::len),
        before + 1,
        "the committed page was not applied twice: {log}"
    );
}

#[test]
fn a_doctype_approved_late_brings_what_was_made_while_pending_and_updates_never_fail() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Lead"}, {"ref_doctype": "Note"}]),
    );
    let id = consumer.site_id();
    producer.decide(&id, &[("Note", "Approved")]);
    // Made while Lead is Pending; the consumer syncs Notes meanwhile, so its
    // cursor moves past the Lead's entries.
    let early = name(&producer.insert(
        "Lead",
        json!({"lead_name": "Early Bird", "country": "Brazil"}),
    ));
    producer
        .insert("Note", json!({"title": "meanwhile"}))
        .data();
    sync_ok(&consumer);
    assert_eq!(
        consumer.get("Lead", &early).status,
        404,
        "Pending delivers nothing"
    );

    producer.decide(&id, &[("Lead", "Approved")]);
    let s = sync_ok(&consumer);
    assert_eq!(
        consumer.get("Lead", &early).data()["lead_name"],
        "Early Bird",
        "approved late, the Lead made meanwhile arrives: {s}"
    );
    producer
        .update("Lead", &early, json!({"status": "Replied"}))
        .data();
    sync_ok(&consumer);
    assert_eq!(consumer.get("Lead", &early).data()["status"], "Replied");

    // An Update for a document the consumer lacks: it is fetched and created.
    consumer.delete("Lead", &early).data();
    producer
        .update("Lead", &early, json!({"company_name": "Nest Ltd"}))
        .data();
    sync_ok(&consumer);
    let healed = consumer.get("Lead", &early).data().clone();
    assert_eq!(
        (
            healed["lead_name"].as_str(),
            healed["company_name"].as_str(),
            healed["status"].as_str()
        ),
        (Some("Early Bird"), Some("Nest Ltd"), Some("Replied")),
        "the whole current document, not only the change"
    );
    // A Delete of a document it never had is recorded as Skipped.
    let never = name(&producer.insert("Lead", json!({"lead_name": "Gone Soon"})));
    sync_ok(&consumer);
    consumer.delete("Lead", &never).data();
    producer.delete("Lead", &never).data();
    let s = sync_ok(&consumer);
    assert_eq!(s["skipped"], 1, "{s}");
    let log = consumer
        .method("outpost.event.sync_log", json!({"limit": 1000}))
        .body["message"]
        .clone();
    let lines = log.as_array().expect("sync log");
    assert!(lines.iter().all(|l| l["status"] != "Failed"), "{log}");
    let skipped = lines
        .iter()
        .find(|l| l["status"] == "Skipped")
        .expect("a Skipped line");
    assert_eq!(skipped["update_type"], "Delete");
    assert_eq!(skipped["remote_docname"], never.as_str());
    assert!(
        skipped["error"]
            .as_str()
            .is_some_and(|e| e.contains("nothing to delete")),
        "{skipped}"
    );
}

#[test]
fn a_row_approved_late_gets_every_document_made_meanwhile_in_several_pages_each_once() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "ToDo"}]),
    );
    let id = consumer.site_id();
    producer.decide(&id, &[("ToDo", "Approved")]);
    // 1,200 Notes while Note is Pending (three snapshot pages of 500); the
    // consumer's cursor moves past them with a ToDo.
    producer.seed("Note", 1200);
    producer
        .insert("ToDo", json!({"description": "meanwhile"}))
        .data();
    sync_ok(&consumer);
    assert_eq!(consumer.count("Note", json!({})), 0);

    producer.decide(&id, &[("Note", "Approved")]);
    let s = sync_ok(&consumer);
    assert_eq!(s["synced"], 1200, "{s}");
    assert_eq!(consumer.count("Note", json!({})), 1200);
    let lines = consumer.sync_log_all();
    let notes: Vec<&Value> = lines
        .iter()
        .filter(|l| l["ref_doctype"] == "Note")
        .collect();
    let distinct: std::collections::BTreeSet<&str> = notes
        .iter()
        .filter_map(|l| l["remote_docname"].as_str())
        .collect();
    assert_eq!(
        (notes.len(), distinct.len()),
        (1200, 1200),
        "each note once"
    );
    assert!(notes
        .iter()
        .all(|l| l["status"] == "Synced" && l["update_type"] == "Create"));
    // Then the log goes on as usual.
    let later = name(&producer.insert("Note", json!({"title": "after the snapshot"})));
    sync_ok(&consumer);
    assert_eq!(
        consumer.get("Note", &later).data()["title"],
        "after the snapshot"
    );
}

/// A Note whose content is `kb` kilobytes, told apart by `i`.
fn big_note(i: usize, kb: usize) -> Value {
    json!({"title": format!("big {i:03}"), "public": 1,
           "content": format!("{i:03}:{}", "lorem ipsum ".repeat(kb * 1024 / 12))})
}

/// Pages are bounded by bytes, not only by count (SPEC §4): sixty 300 KB
/// documents (18 MB, past the 16 MB a consumer accepts in one answer) that
/// existed before the subscription, then sixty more made after it, arrive
/// in pages small enough to be taken; a page of 500 would never be.
#[test]
fn documents_too_large_for_one_page_arrive_in_several_existing_and_new() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    for i in 0..60 {
        let a = producer.insert("Note", big_note(i, 300));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    sync_ok(&consumer);
    assert_eq!(consumer.count("Note", json!({})), 60);
    assert_same_notes(&consumer, &producer);

    for i in 60..120 {
        let a = producer.insert("Note", big_note(i, 300));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    sync_ok(&consumer);
    assert_eq!(consumer.count("Note", json!({})), 120);
    assert_same_notes(&consumer, &producer);
}

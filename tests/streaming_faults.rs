//! Sync surviving faults for real: a consumer killed with SIGKILL in the
//! middle of a long catch-up, and a producer that goes away and returns.

use outpost_tests::{wait_for, TestSite};
use serde_json::json;
use std::collections::BTreeSet;

/// Seeds `n` Notes on the producer and waits until some (not all) have
/// reached the consumer; returns how many had.
fn seed_and_wait_for_a_part(producer: &TestSite, consumer: &TestSite, n: i64) -> i64 {
    producer.seed("Note", n);
    wait_for("the catch-up to start", 120, || {
        let got = consumer.count("Note", json!({}));
        (got > 0).then_some(got)
    })
}

#[test]
fn a_consumer_killed_during_a_20000_entry_catch_up_ends_with_exactly_the_producers_documents() {
    const N: i64 = 20_000;
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let mut consumer = TestSite::start_with(&["--sync-interval", "0.2"]);
    // Local names differ from the producer's, so a duplicate would show as a second document.
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "use_same_name": 0}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    // Kill the consumer while it is part-way through.
    let part = seed_and_wait_for_a_part(&producer, &consumer, N);
    assert!(
        part < N,
        "the kill must land mid-catch-up (had {part} of {N})"
    );
    consumer.kill9();
    consumer.restart();
    wait_for("the catch-up to finish", 300, || {
        (consumer.count("Note", json!({})) == N).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(800)); // a few more scheduled pulls
    assert_eq!(
        consumer.count("Note", json!({})),
        N,
        "no duplicates after further pulls"
    );
    // Exactly the producer's notes, each once: the consumer's remote names
    // are the producer's names, no value twice.
    let theirs: BTreeSet<String> = producer.column("Note", "name").into_iter().collect();
    let mine = consumer.column("Note", "remote_docname");
    let distinct: BTreeSet<String> = mine.iter().cloned().collect();
    assert_eq!(mine.len(), distinct.len(), "no note twice");
    assert_eq!(distinct, theirs, "exactly the producer's notes");
    let synced = consumer
        .method("outpost.event.sync_log", json!({"status": "Failed"}))
        .body["message"]
        .clone();
    assert_eq!(synced, json!([]), "nothing failed");
    // Every producer note is there exactly once (spot-check both ends and the middle).
    for i in [0, N / 2, N - 1] {
        assert_eq!(
            consumer.count("Note", json!({"title": format!("Seed note {i}")})),
            1,
            "note {i}"
        );
    }
}

#[test]
fn a_producer_stopped_mid_sync_is_reported_offline_and_sync_resumes_when_it_returns() {
    const N: i64 = 6_000;
    let mut producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let consumer = TestSite::start_with(&["--sync-interval", "0.2"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let part = seed_and_wait_for_a_part(&producer, &consumer, N);
    producer.kill9();
    assert!(part < N, "stopped mid-sync ({part} of {N})");
    let s = consumer.sync_now();
    assert_eq!(s[0]["online"], false, "{s}");
    assert!(
        s[0]["error"].as_str().unwrap().contains("unreachable"),
        "{s}"
    );
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(status["online"], false, "{status}");
    let held = consumer.count("Note", json!({}));
    assert!(held < N);

    producer.restart();
    producer.insert("Note", json!({"title": "after"})).data();
    wait_for("sync to resume by itself", 120, || {
        (consumer.count("Note", json!({})) == N + 1).then_some(())
    });
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(
        (status["online"].as_bool(), status["failed"].as_i64()),
        (Some(true), Some(0)),
        "{status}"
    );
}

#[test]
fn an_event_producer_saved_while_the_producer_is_unreachable_registers_itself_later() {
    let mut producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let consumer = TestSite::start_with(&["--sync-interval", "0.3"]);
    let keys = (
        producer.subscriber.api_key.clone(),
        producer.subscriber.api_secret.clone(),
        producer.base.clone(),
    );
    producer.kill9();
    let ep = consumer
        .insert(
            "Event Producer",
            json!({"producer_url": keys.2, "user": "admin@example.com", "api_key": keys.0, "api_secret": keys.1,
                   "producer_doctypes": [{"ref_doctype": "Note"}]}),
        )
        .data()
        .clone();
    assert_eq!(ep["registration_status"], "Registration Pending");
    assert!(
        ep["last_error"].as_str().unwrap().contains("unreachable"),
        "{ep}"
    );
    producer.restart();
    let name = ep["name"].as_str().unwrap().to_owned();
    wait_for("registration to be retried", 30, || {
        (consumer.get("Event Producer", &name).data()["registration_status"] == "Registered")
            .then_some(())
    });
    assert_eq!(
        producer.get("Event Consumer", &consumer.site_id()).status,
        200
    );
}

#[test]
fn a_change_arrives_through_the_live_channel_without_waiting_for_the_schedule() {
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    // Scheduled pulls are an hour apart: only the live channel can bring the note.
    let consumer = TestSite::start_with(&["--sync-interval", "3600"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    std::thread::sleep(std::time::Duration::from_secs(3)); // the consumer opens its channel
    producer.insert("Note", json!({"title": "live"})).data();
    wait_for("the note over the live channel", 10, || {
        (consumer.count("Note", json!({"title": "live"})) == 1).then_some(())
    });
}

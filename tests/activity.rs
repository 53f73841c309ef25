//! The dashboard's pictures (SPEC F23): traffic per minute and backlog kept
//! by the engine on both sides, and the history of syncs run.

use outpost_tests::TestSite;
use serde_json::{json, Value};

fn activity(site: &TestSite) -> Vec<Value> {
    let a = site.method("outpost.event.sync_activity", json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["message"].as_array().expect("points").clone()
}

fn history(site: &TestSite) -> Vec<Value> {
    let a = site.method("outpost.event.sync_history", json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["message"].as_array().expect("runs").clone()
}

/// Entries counted for `peer` in one direction, over the whole day.
fn moved(points: &[Value], peer: &str, direction: &str) -> i64 {
    points
        .iter()
        .filter(|p| p["peer"] == peer && p["direction"] == direction)
        .map(|p| p["entries"].as_i64().unwrap())
        .sum()
}

#[test]
fn both_sides_count_what_moved_per_minute_and_the_consumer_keeps_a_history_of_syncs_that_did_something(
) {
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--background-sync", "false"]);
    let ep = consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    let ep_name = ep["name"].as_str().unwrap().to_owned();
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    for i in 0..7 {
        producer.insert("Note", json!({"title": format!("N{i}"), "public": 1}));
    }
    assert!(activity(&consumer).is_empty(), "nothing moved yet");
    consumer.sync_now();

    let received = activity(&consumer);
    assert_eq!(moved(&received, &ep_name, "in"), 7, "{received:?}");
    let last = received.last().unwrap();
    assert_eq!(last["backlog"], 0, "nothing left after the sync");
    assert!(
        last["minute"].as_str().unwrap().len() == 16,
        "a minute, YYYY-MM-DDTHH:MM: {last}"
    );
    let sent = activity(&producer);
    assert_eq!(moved(&sent, &consumer.site_id(), "out"), 7, "{sent:?}");

    let runs = history(&consumer);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["producer"], ep_name);
    assert_eq!(runs[0]["pulled"], 7);
    assert_eq!(runs[0]["failed"], 0);

    // A sync that finds nothing is not history; the next change is.
    consumer.sync_now();
    assert_eq!(history(&consumer).len(), 1);
    producer.insert("Note", json!({"title": "N7", "public": 1}));
    consumer.sync_now();
    let runs = history(&consumer);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["pulled"], 1, "newest first");
    assert_eq!(moved(&activity(&consumer), &ep_name, "in"), 8);
}

#[test]
fn a_producer_that_stays_down_is_one_line_of_history_not_one_per_try() {
    let mut producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--background-sync", "false"]);
    let ep = consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    producer.kill9();
    for _ in 0..3 {
        consumer.method("outpost.event.sync_now", json!({}));
    }
    let runs = history(&consumer);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["producer"], ep["name"]);
    assert!(
        runs[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{runs:?}"
    );
}

#[test]
fn a_clerk_sees_what_came_in_and_never_what_went_out() {
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--background-sync", "false"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    producer.insert("Note", json!({"title": "N", "public": 1}));
    consumer.sync_now();
    let clerk = producer.user_with_keys("clerk@example.com", &["Sales User"]);
    let a = producer.call(
        Some(&clerk.header()),
        "POST",
        "/api/method/outpost.event.sync_activity",
        Some(json!({})),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body["message"],
        json!([]),
        "the producer's outgoing traffic is a manager's to see"
    );
    assert_eq!(activity(&producer).len(), 1, "a manager sees it");
}

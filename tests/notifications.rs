//! Desktop notifications (SPEC F25) through a real notification daemon
//! (dunst on a private session bus and display).

use outpost_tests::{wait_for, SessionBus, TestSite};
use serde_json::json;

/// The summaries and bodies the daemon has shown. Closing what is on
/// screen moves it into dunst's history (a failed sync is critical: it stays
/// on screen until closed).
fn shown(bus: &SessionBus) -> String {
    bus.run("dunstctl", &["close-all"]);
    bus.run("dunstctl", &["history"])
}

#[test]
fn a_failed_sync_a_subscription_request_and_an_approval_received_are_shown_by_the_notification_daemon(
) {
    let bus = SessionBus::start().with_notifications();
    let env = bus.env();
    let producer = TestSite::start_in(&["--sync-interval", "3600", "--notify"], &env);
    let consumer = TestSite::start_in(&["--background-sync", "false", "--notify"], &env);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    wait_for("the subscription request notification", 20, || {
        shown(&bus)
            .contains("asks to subscribe to Note")
            .then_some(())
    });
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    // The consumer learns the decision on its next contact, and says so.
    consumer.sync_now();
    wait_for("the approval-received notification", 20, || {
        shown(&bus).contains("approved Note").then_some(())
    });

    // A real failure: the producer's Notes have a field the consumer lacks.
    let a = producer.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Note", "field": {"fieldname": "shelf", "fieldtype": "Data", "label": "Shelf"}}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    producer
        .insert("Note", json!({"title": "Stock", "shelf": "B3"}))
        .data();
    // Background sync is off on the consumer: this Sync now meets the failure.
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 1, "{s}");
    let status = consumer.method("outpost.event.producer_status", json!({}));
    assert_eq!(status.body["message"][0]["failed"], 1, "{status:?}");
    let history = wait_for("the failed-sync notification", 20, || {
        let h = shown(&bus);
        h.contains("failed").then_some(h)
    });
    assert!(history.contains("Sync from"), "{history}");
    assert!(
        history.contains("Unknown field shelf"),
        "the reason is shown: {history}"
    );
}

#[test]
fn no_notification_daemon_never_disturbs_syncing() {
    let env = [(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/outpost-test-bus",
    )];
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let consumer = TestSite::start_in(&["--background-sync", "false", "--notify"], &env);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    for i in 0..40 {
        producer
            .insert("Note", json!({"title": format!("note {i}")}))
            .data();
    }
    let s = consumer.sync_now();
    assert_eq!(
        (s[0]["synced"].as_u64(), s[0]["failed"].as_u64()),
        (Some(40), Some(0)),
        "{s}"
    );
    assert_eq!(consumer.count("Note", json!({})), 40);
}

#[test]
fn the_end_of_a_long_sync_is_shown_by_the_notification_daemon() {
    let bus = SessionBus::start().with_notifications();
    let env = bus.env();
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_in(&["--background-sync", "false", "--notify"], &env);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    producer.seed("Note", 1000);
    let s = consumer.sync_now();
    assert_eq!(s[0]["synced"], 1000, "{s}");
    let history = wait_for("the long-sync notification", 20, || {
        let h = shown(&bus);
        h.contains("finished").then_some(h)
    });
    assert!(
        history.contains("Sync from") && history.contains("1000 update(s) received"),
        "{history}"
    );
}

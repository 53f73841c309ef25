//! The live channel (SPEC F11 b), where only it can deliver: scheduled
//! pulls an hour apart, Sync now never pressed. It reconnects after the
//! link drops, and a change made while it was down arrives on reconnect.

use outpost_tests::proxy::Proxy;
use outpost_tests::{wait_for, TestSite};
use serde_json::json;

#[test]
fn the_live_channel_reconnects_after_a_dropped_link_and_brings_what_was_missed() {
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--sync-interval", "3600"]);
    let proxy = Proxy::start(&producer.base);
    consumer.subscribe_through(&producer, &proxy.base, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    wait_for("the live channel", 20, || {
        (proxy.live_channels() == 1).then_some(())
    });

    let first = producer.insert("Note", json!({"title": "first"})).data()["name"].clone();
    let first = first.as_str().unwrap_or_default().to_owned();
    wait_for("the first note, announced live", 10, || {
        (consumer.get("Note", &first).status == 200).then_some(())
    });

    // The link drops; a note is made while the channel is down.
    assert_eq!(proxy.sever_live(), 1);
    let missed = producer
        .insert("Note", json!({"title": "made while down"}))
        .data()["name"]
        .clone();
    let missed = missed.as_str().unwrap_or_default().to_owned();
    wait_for("the note made while the channel was down", 15, || {
        (consumer.get("Note", &missed).status == 200).then_some(())
    });
    assert_eq!(proxy.live_channels(), 1, "one channel again, not two");

    // And announcements flow again on the new channel.
    let later = producer.insert("Note", json!({"title": "later"})).data()["name"].clone();
    let later = later.as_str().unwrap_or_default().to_owned();
    wait_for("a note announced on the reconnected channel", 10, || {
        (consumer.get("Note", &later).status == 200).then_some(())
    });
    let status = consumer.method("outpost.event.sync_log", json!({"limit": 10}));
    assert_eq!(
        status.body["message"].as_array().map(Vec::len),
        Some(3),
        "{status:?}"
    );
}

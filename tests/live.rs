//! The live channel (SPEC F11 b), where only it can deliver: scheduled
//! pulls an hour apart, Sync now never pressed. It reconnects after the
//! link drops, and a change made while it was down arrives on reconnect.

use outpost_tests::proxy::Proxy;
use outpost_tests::{wait_for, TestSite};
use serde_json::json;

/// A producer that never schedules, a consumer whose scheduled pulls are an
/// hour apart, subscribed to Notes through our proxy, with its live channel
/// open: only the live channel can deliver.
fn live_pair() -> (TestSite, TestSite, Proxy) {
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--sync-interval", "3600"]);
    let proxy = Proxy::start(&producer.base);
    consumer.subscribe_through(&producer, &proxy.base, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    wait_for("the live channel", 20, || {
        (proxy.live_channels() == 1).then_some(())
    });
    (producer, consumer, proxy)
}

#[test]
fn the_live_channel_reconnects_after_a_dropped_link_and_brings_what_was_missed() {
    let (producer, consumer, proxy) = live_pair();

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

/// A link that hangs rather than drops: the connection stays open, nothing
/// gets through (not even the producer's keep-alives). The consumer gives
/// the channel up after 45 s of silence, opens it again, and the note made
/// meanwhile arrives — with no scheduled pull and no Sync now to bring it.
#[test]
fn a_stalled_live_channel_is_given_up_after_its_silence_limit_and_opened_again() {
    let (producer, consumer, proxy) = live_pair();
    // The approval woke the consumer for a pull; that pull, on a busy
    // machine, could still be under way and bring the note below.
    proxy.wait_quiet(
        std::time::Duration::from_secs(4),
        std::time::Duration::from_secs(30),
    );
    let opened = proxy.live_opened();

    assert_eq!(proxy.stall_live(), 1);
    let name = producer
        .insert("Note", json!({"title": "made while the link hung"}))
        .data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Well inside the silence limit the note has not come: only the
    // channel could bring it, and it is stalled.
    std::thread::sleep(std::time::Duration::from_secs(20));
    assert_eq!(
        consumer.get("Note", &name).status,
        404,
        "not before the channel is given up"
    );
    wait_for("the note, after the channel is opened again", 60, || {
        (consumer.get("Note", &name).status == 200).then_some(())
    });
    assert_eq!(
        proxy.live_opened(),
        opened + 1,
        "the channel was opened again, once"
    );
}

/// `outpostd` stops within seconds on SIGTERM (and SIGINT) even while a
/// consumer holds its live channel open — a service manager's stop must not
/// end in a SIGKILL — and what it stored is intact when it starts again.
#[test]
fn a_site_stops_within_seconds_on_sigterm_while_a_consumer_holds_its_live_channel() {
    for signal in ["TERM", "INT"] {
        let (mut producer, _consumer, _proxy) = live_pair();
        let kept = producer.insert("Note", json!({"title": "kept"})).data()["name"].clone();
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), producer.pid().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = producer.wait_exit(10);
        assert!(status.success(), "SIG{signal}: a clean stop, not {status}");
        producer.restart();
        let kept = kept.as_str().unwrap_or_default();
        assert_eq!(
            producer.get("Note", kept).status,
            200,
            "the note is still there"
        );
    }
}

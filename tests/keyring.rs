//! Producer secrets in the OS keyring (SPEC F24): a real Secret Service
//! (gnome-keyring on a private session bus), never the SQLite file.

use std::process::Command;

use outpost_tests::{files_holding, outpostd, SessionBus, TestSite};
use serde_json::json;

#[test]
fn a_producer_secret_lives_in_the_keyring_and_never_in_the_site_files() {
    let bus = SessionBus::start().with_keyring();
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let mut consumer = TestSite::start_in(
        &["--sync-interval", "3600", "--secret-store", "keyring"],
        &bus.env(),
    );
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    let consumer_id = consumer.site_id();
    producer.decide(&consumer_id, &[("Note", "Approved")]);

    // The Secret Service holds it, under this site's own service name.
    let service = format!("outpost:{consumer_id}");
    let found = bus.run(
        "secret-tool",
        &["search", "--all", "--unlock", "service", &service],
    );
    assert!(
        found.contains(&producer.subscriber.api_secret),
        "the secret is in the keyring: {found:?}"
    );

    // After a restart the site reads it back from the keyring to pull.
    consumer.restart();
    let note = producer
        .insert("Note", json!({"title": "From the keyring"}))
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    consumer.get("Note", &note).data();

    // Not in SQLite (nor its WAL), not in any other file, not in answers.
    let hits = files_holding(consumer.data_dir(), &producer.subscriber.api_secret);
    assert!(hits.is_empty(), "the secret is in {hits:?}");
    assert!(!consumer.data_dir().join("secrets.json").exists());
    let ep = consumer.list("Event Producer", &[("fields", r#"["*"]"#)]);
    assert!(!ep
        .body
        .to_string()
        .contains(&producer.subscriber.api_secret));
}

#[test]
fn without_a_keyring_the_site_refuses_to_start_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(outpostd())
        .args([
            "serve",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/outpost-test-bus",
        )
        .env("OUTPOST_LOG", "warn")
        .output()
        .expect("run outpostd");
    assert!(!out.status.success(), "no silent fallback");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OS keyring is not available"), "{err}");
    assert!(err.contains("--secret-store file"), "{err}");
    // Nothing was written in plain text instead.
    assert!(!dir.path().join("secrets.json").exists());
}

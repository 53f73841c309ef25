//! Claims of the README that had no test of their own, each tested by name
//! with real `outpostd` processes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use outpost_tests::{cli, outpostd, wait_for, TestSite};
use serde_json::{json, Value};

const QUIET: &[&str] = &["--background-sync", "false"];

/// The producer's Notes get a field the consumer lacks: their entries fail there.
fn shelf_on(site: &TestSite) {
    let a = site.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Note", "field": {"fieldname": "shelf", "fieldtype": "Data", "label": "Shelf"}}),
    );
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn failed_entries_are_retried_automatically_with_back_off() {
    let producer = TestSite::start_with(QUIET);
    // Background sync on: scheduled pulls every second, and retries.
    let consumer = TestSite::start_with(&["--sync-interval", "1"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    shelf_on(&producer);
    let note = producer
        .insert("Note", json!({"title": "Stock", "shelf": "B3"}))
        .data()["name"]
        .clone();
    let failed = wait_for("the entry to fail", 20, || {
        consumer
            .sync_log_all()
            .into_iter()
            .find(|l| l["status"] == "Failed")
    });
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("shelf")),
        "{failed}"
    );
    // The cause is fixed here; nobody presses Resync.
    shelf_on(&consumer);
    let line = wait_for("the automatic retry", 30, || {
        consumer
            .sync_log_all()
            .into_iter()
            .find(|l| l["id"] == failed["id"] && l["status"] == "Synced")
    });
    assert!(
        line["attempts"].as_i64().is_some_and(|a| a >= 2),
        "retried: {line}"
    );
    assert_eq!(
        consumer
            .get("Note", note.as_str().unwrap_or_default())
            .data()["shelf"],
        "B3"
    );
}

#[test]
fn one_savepoint_per_entry_a_page_with_a_failing_and_a_succeeding_document() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "ToDo"}]),
    );
    producer.decide(
        &consumer.site_id(),
        &[("Note", "Approved"), ("ToDo", "Approved")],
    );
    shelf_on(&producer);
    let todo1 = producer
        .insert("ToDo", json!({"description": "before"}))
        .data()["name"]
        .clone();
    let note = producer
        .insert("Note", json!({"title": "Stock", "shelf": "B3"}))
        .data()["name"]
        .clone();
    let todo2 = producer
        .insert("ToDo", json!({"description": "after"}))
        .data()["name"]
        .clone();
    let s = consumer.sync_now();
    assert_eq!(
        (s[0]["synced"].as_u64(), s[0]["failed"].as_u64()),
        (Some(2), Some(1)),
        "one page: {s}"
    );
    consumer
        .get("ToDo", todo1.as_str().unwrap_or_default())
        .data();
    consumer
        .get("ToDo", todo2.as_str().unwrap_or_default())
        .data();
    consumer
        .get("Note", note.as_str().unwrap_or_default())
        .error(404);
    let statuses: Vec<(String, String)> = consumer
        .sync_log_all()
        .iter()
        .map(|l| {
            (
                l["ref_doctype"].as_str().unwrap_or_default().to_owned(),
                l["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("ToDo".to_owned(), "Synced".to_owned()),
            ("Note".to_owned(), "Failed".to_owned()),
            ("ToDo".to_owned(), "Synced".to_owned())
        ],
        "newest first"
    );
}

#[test]
fn two_sites_subscribed_to_each_other_converge_without_echoes() {
    let a = TestSite::start_with(QUIET);
    let b = TestSite::start_with(QUIET);
    a.subscribe_to(&b, json!([{"ref_doctype": "Note"}]));
    b.subscribe_to(&a, json!([{"ref_doctype": "Note"}]));
    a.decide(&b.site_id(), &[("Note", "Approved")]);
    b.decide(&a.site_id(), &[("Note", "Approved")]);
    let name = a.insert("Note", json!({"title": "from A"})).data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    b.sync_now();
    assert_eq!(b.get("Note", &name).data()["title"], "from A");
    b.update("Note", &name, json!({"content": "edited on B"}))
        .data();
    a.sync_now();
    assert_eq!(a.get("Note", &name).data()["content"], "edited on B");
    // Back and forth a few times: nothing comes back to where it was made.
    for _ in 0..3 {
        let from_b = a.sync_now();
        let from_a = b.sync_now();
        assert_eq!(from_b[0]["pulled"], 0, "{from_b}");
        assert_eq!(from_a[0]["pulled"], 0, "{from_a}");
    }
    assert_eq!(
        (a.sync_log_all().len(), b.sync_log_all().len()),
        (1, 1),
        "one line each: the change that came from the other"
    );
    assert_eq!(a.count("Note", json!({})), 1);
    assert_eq!(b.count("Note", json!({})), 1);
    assert_eq!(
        a.get("Note", &name).data()["content"],
        b.get("Note", &name).data()["content"]
    );
}

#[test]
fn secrets_json_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    let meta = std::fs::metadata(consumer.data_dir().join("secrets.json")).expect("secrets.json");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn the_secret_is_in_no_log_line_at_debug_level_and_in_no_single_document_answer() {
    let producer = TestSite::start_with(QUIET);
    let mut consumer = TestSite::start_with(QUIET);
    let log = consumer.data_dir().with_extension("debug.log");
    consumer.log_to(&log);
    consumer.set_env("OUTPOST_LOG", Some("debug"));
    consumer.restart();
    let ep = consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    producer.insert("Note", json!({"title": "logged"})).data();
    consumer.sync_now();
    let one = consumer.get("Event Producer", ep["name"].as_str().unwrap_or_default());
    let text = one.data().to_string();
    assert!(!text.contains(&producer.subscriber.api_secret), "{text}");
    assert!(one.data().get("api_secret").is_none(), "{text}");
    let list = consumer
        .list("Event Producer", &[("fields", "[\"*\"]")])
        .data()
        .to_string();
    assert!(!list.contains(&producer.subscriber.api_secret));
    consumer.kill9();
    let written = std::fs::read_to_string(&log).expect("the log");
    assert!(
        written.lines().count() > 5 && written.contains("DEBUG"),
        "debug logging was on: {written}"
    );
    assert!(
        !written.contains(&producer.subscriber.api_secret),
        "the secret is in the log"
    );
    let _ = std::fs::remove_file(&log);
}

/// Starts `outpostd serve` on `dir` with `env` and `args`; the address it says it listens on.
fn listening(dir: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut child = Command::new(outpostd())
        .args([
            "serve",
            "--data-dir",
            dir,
            "--secret-store",
            "file",
            "--background-sync",
            "false",
        ])
        .args(args)
        .env("OUTPOST_LOG", "warn")
        .env_remove("OUTPOST_LISTEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("outpostd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    v["listening"].as_str().expect("listening").to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn settings_come_from_outpost_toml_then_the_environment_then_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    cli(&["init", "--data-dir", &data]);
    let (file, env, flag) = (free_port(), free_port(), free_port());
    std::fs::write(
        dir.path().join("outpost.toml"),
        format!("listen = \"127.0.0.1:{file}\"\n"),
    )
    .expect("toml");
    let env_addr = format!("127.0.0.1:{env}");
    let flag_addr = format!("127.0.0.1:{flag}");
    assert_eq!(
        listening(&data, &[], &[]),
        format!("127.0.0.1:{file}"),
        "outpost.toml over the default"
    );
    assert_eq!(
        listening(&data, &[("OUTPOST_LISTEN", &env_addr)], &[]),
        env_addr,
        "the environment over outpost.toml"
    );
    assert_eq!(
        listening(
            &data,
            &[("OUTPOST_LISTEN", &env_addr)],
            &["--listen", &flag_addr]
        ),
        flag_addr,
        "the command line over both"
    );
}

#[test]
fn sync_progress_tells_what_sync_now_did() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    for i in 0..3 {
        producer
            .insert("Note", json!({"title": format!("n{i}")}))
            .data();
    }
    consumer.sync_now();
    let p = consumer
        .method("outpost.event.sync_progress", json!({}))
        .body["message"]
        .clone();
    assert_eq!(p["running"], false, "{p}");
    let done = &p["done"][0];
    assert_eq!(done["producer"], producer.base.as_str(), "{p}");
    assert_eq!(done["synced"], 3, "{p}");
    assert_eq!(
        done["cursor"], done["target"],
        "the bar ran to the end: {p}"
    );
    assert!(done["start"].as_i64() < done["cursor"].as_i64(), "{p}");
}

#[test]
fn a_stopped_producer_is_reported_offline_within_the_time_limit_and_sync_resumes_when_it_continues()
{
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let name = producer.insert("Note", json!({"title": "waiting"})).data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &producer.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let began = std::time::Instant::now();
    let s = consumer.sync_now();
    let took = began.elapsed();
    signal("-CONT");
    assert!(
        took < std::time::Duration::from_secs(40),
        "answered within the time limit: {took:?}"
    );
    assert_eq!(s[0]["online"], false, "{s}");
    assert!(
        s[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable") || e.contains("broke off")),
        "{s}"
    );
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(
        status["online"], false,
        "the dashboard says offline: {status}"
    );
    consumer.get("Note", &name).error(404);
    // Continued, the producer answers again and the note arrives.
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(consumer.get("Note", &name).data()["title"], "waiting");
}

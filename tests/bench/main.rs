//! `outpost-bench`: catch-up of N update-log entries (Sales Invoices of five
//! rows) between two real `outpostd` processes on loopback: pulled by a
//! consumer from a producer, then pushed by a shop to a hub (SPEC F20).
//! Prints one JSON object per figure, one a line. Run on a release build:
//! `cargo build --release -p outpost-server -p outpost-tests && target/release/outpost-bench 100000`.

use std::time::{Duration, Instant};

use outpost_tests::{cli, TestSite};
use serde_json::json;

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let n: i64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 100_000,
        Some(Ok(v)) if v > 0 => v,
        Some(_) => {
            eprintln!("usage: outpost-bench [N > 0]");
            std::process::exit(2);
        }
    };
    println!("{}", pull_catch_up(n));
    println!("{}", push_catch_up(n));
}

/// Seeds `n` Sales Invoices on a stopped site's data directory.
fn seed(site: &TestSite, n: i64) -> f64 {
    let data = site.data_dir().to_str().unwrap_or_default().to_owned();
    let seed_start = Instant::now();
    cli(&[
        "seed",
        "--data-dir",
        &data,
        "--doctype",
        "Sales Invoice",
        "--count",
        &n.to_string(),
        "--batch",
        "5000",
    ]);
    seed_start.elapsed().as_secs_f64()
}

fn last_seq(site: &TestSite) -> i64 {
    site.method("outpost.event.update_log", json!({"limit": 1}))
        .body["message"][0]["seq"]
        .as_i64()
        .unwrap_or(0)
}

/// Waits until `receiver`'s cursor for `producer` reaches `last`, sampling
/// its peak RSS; the wall time and the peak.
fn wait_for_cursor(receiver: &TestSite, producer: &str, last: i64, start: Instant) -> (f64, f64) {
    let pid = receiver.pid();
    let mut peak: f64 = 0.0;
    loop {
        peak = peak.max(peak_rss_mb(pid).unwrap_or(0.0));
        // Cheap to ask (no count over the growing table): the receiver's cursor.
        let status = receiver.method("outpost.event.producer_status", json!({}));
        let cursor = status.body["message"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["producer"] == producer))
            .and_then(|p| p["cursor"].as_i64())
            .unwrap_or(0);
        if cursor >= last {
            break;
        }
        if start.elapsed() > Duration::from_secs(1800) {
            eprintln!("catch-up did not finish in 30 minutes");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = start.elapsed().as_secs_f64();
    (wall, peak.max(peak_rss_mb(pid).unwrap_or(0.0)))
}

fn failed_lines(site: &TestSite) -> usize {
    site.method(
        "outpost.event.sync_log",
        json!({"status": "Failed", "limit": 1}),
    )
    .body["message"]
        .as_array()
        .map_or(0, Vec::len)
}

fn pull_catch_up(n: i64) -> serde_json::Value {
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let mut consumer = TestSite::start_with(&["--sync-interval", "0.05"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Sales Invoice"}]));
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);
    consumer.kill9();
    let seed_s = seed(&producer, n);
    let last = last_seq(&producer);
    let start = Instant::now();
    consumer.restart();
    let (wall, peak) = wait_for_cursor(&consumer, &producer.base, last, start);
    json!({
        "benchmark": "catch-up, Sales Invoice with 5 rows, producer → consumer over loopback HTTP (pull)",
        "entries": n,
        "wall_seconds": (wall * 100.0).round() / 100.0,
        "entries_per_second": (n as f64 / wall).round(),
        "consumer_peak_rss_mb": (peak * 10.0).round() / 10.0,
        "failed_entries": failed_lines(&consumer),
        "documents_arrived": consumer.count("Sales Invoice", json!({})),
        "producer_seed_seconds": (seed_s * 100.0).round() / 100.0,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

fn push_catch_up(n: i64) -> serde_json::Value {
    let hub = TestSite::start_with(&["--background-sync", "false"]);
    let mut shop = TestSite::start_with(&["--sync-interval", "0.05"]);
    shop.push_to(
        &hub,
        &hub.base,
        json!([{"ref_doctype": "Sales Invoice", "sync_existing": 0}]),
        json!([]),
    );
    shop.sync_now();
    let name = format!("push:{}", shop.site_id());
    hub.approve_pushes_of(&shop.site_id());
    shop.sync_now();
    shop.kill9();
    let seed_s = seed(&shop, n);
    let start = Instant::now();
    shop.restart();
    let last = last_seq(&shop);
    let (wall, peak) = wait_for_cursor(&hub, &name, last, start);
    json!({
        "benchmark": "catch-up, Sales Invoice with 5 rows, shop → hub over loopback HTTP (push)",
        "entries": n,
        "wall_seconds": (wall * 100.0).round() / 100.0,
        "entries_per_second": (n as f64 / wall).round(),
        "hub_peak_rss_mb": (peak * 10.0).round() / 10.0,
        "failed_entries": failed_lines(&hub),
        "documents_arrived": hub.count("Sales Invoice", json!({})),
        "shop_seed_seconds": (seed_s * 100.0).round() / 100.0,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

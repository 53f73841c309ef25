//! `outpost-bench`: catch-up of N update-log entries (Sales Invoices of five
//! rows) from a producer to a consumer, two real `outpostd` processes on
//! loopback. Prints one JSON object. Run on a release build:
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
    let producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let mut consumer = TestSite::start_with(&["--sync-interval", "0.05"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Sales Invoice"}]));
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);
    consumer.kill9();

    let data = producer.data_dir().to_str().unwrap_or_default().to_owned();
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
    let seed_s = seed_start.elapsed().as_secs_f64();

    let last = producer
        .method("outpost.event.update_log", json!({"limit": 1}))
        .body["message"][0]["seq"]
        .as_i64()
        .unwrap_or(0);
    let start = Instant::now();
    consumer.restart();
    let pid = consumer.pid();
    let mut peak: f64 = 0.0;
    loop {
        peak = peak.max(peak_rss_mb(pid).unwrap_or(0.0));
        // Cheap to ask (no count over the growing table): the consumer's cursor.
        let status = consumer.method("outpost.event.producer_status", json!({}));
        if status.body["message"][0]["cursor"].as_i64().unwrap_or(0) >= last {
            break;
        }
        if start.elapsed() > Duration::from_secs(1800) {
            eprintln!("catch-up did not finish in 30 minutes");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = start.elapsed().as_secs_f64();
    let arrived = consumer.count("Sales Invoice", json!({}));
    peak = peak.max(peak_rss_mb(pid).unwrap_or(0.0));
    let failed = consumer
        .method(
            "outpost.event.sync_log",
            json!({"status": "Failed", "limit": 1}),
        )
        .body["message"]
        .as_array()
        .map_or(0, Vec::len);
    let out = json!({
        "benchmark": "catch-up, Sales Invoice with 5 rows, producer → consumer over loopback HTTP",
        "entries": n,
        "wall_seconds": (wall * 100.0).round() / 100.0,
        "entries_per_second": (n as f64 / wall).round(),
        "consumer_peak_rss_mb": (peak * 10.0).round() / 10.0,
        "failed_entries": failed,
        "documents_arrived": arrived,
        "producer_seed_seconds": (seed_s * 100.0).round() / 100.0,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    println!("{out}");
}

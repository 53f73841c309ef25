//! Catch-up figures: N Sales Invoices pulled by a consumer and pushed by a
//! shop to a hub, and what a producer's page costs at either end of its log.

use std::time::{Duration, Instant};

use outpost_tests::{cli, TestSite};
use serde_json::{json, Value};

use crate::{build, round};

pub struct Pulled {
    pub figure: Value,
    pub page_cost: Value,
}

/// The consumer's peak resident memory so far, in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ, fixed at 100 on Linux x86_64 and arm64
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces, in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the name.
    (ticks(11) + ticks(12)) / ticks_per_second
}

/// Bytes the site's files whose names `which` accepts take on disk.
fn bytes_of(dir: &std::path::Path, which: impl Fn(&str) -> bool) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| which(&e.file_name().to_string_lossy()))
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    })
}

/// Bytes the site's files take on disk (database, WAL, secrets).
fn disk_bytes(dir: &std::path::Path) -> u64 {
    bytes_of(dir, |_| true)
}

/// Waits (up to 10 s) for a site that has stopped writing to fold its
/// write-ahead log into its database and cut the log file back, so that
/// what is measured is what the site keeps, not a log of the moment.
fn settle(dir: &std::path::Path) {
    let start = Instant::now();
    while bytes_of(dir, |name| name.ends_with("-wal")) > 4 << 20
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
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

pub fn pull(n: i64) -> Pulled {
    let mut producer = TestSite::start_with(&["--sync-interval", "3600"]);
    let mut consumer = TestSite::start_with(&["--sync-interval", "0.05"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Sales Invoice"}]));
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);
    let consumer_id = consumer.site_id();
    consumer.kill9();
    // Seeded while stopped, as the shop in the push figure is: the seeding
    // process folds its log into the database file as it closes, so the
    // producer serves from its file as a hub would, instead of copying
    // 200 MB of fresh log into it during the catch-up.
    producer.kill9();
    let seed_s = seed(&producer, n);
    producer.restart();
    let last = last_seq(&producer);
    let before = disk_bytes(consumer.data_dir());
    let producer_cpu = cpu_seconds(producer.pid());
    let start = Instant::now();
    consumer.restart();
    let (wall, peak) = wait_for_cursor(&consumer, &producer.base, last, start);
    let producer_cpu = cpu_seconds(producer.pid()) - producer_cpu;
    // The consumer was started for the catch-up: all of its CPU time.
    let consumer_cpu = cpu_seconds(consumer.pid());
    let documents = consumer.count("Sales Invoice", json!({}));
    let failed = failed_lines(&consumer);
    settle(consumer.data_dir());
    consumer.kill9();
    let stored = disk_bytes(consumer.data_dir()).saturating_sub(before);
    let (page_cost, json_bytes) = page_cost(&producer, &consumer_id, last);
    let figure = json!({
        "benchmark": "catch-up, Sales Invoice with 5 rows, producer → consumer over loopback HTTP (pull)",
        "entries": n,
        "wall_seconds": round(wall, 2),
        "entries_per_second": (n as f64 / wall).round(),
        "consumer_peak_rss_mb": round(peak, 1),
        "producer_cpu_seconds": round(producer_cpu, 2),
        "consumer_cpu_seconds": round(consumer_cpu, 2),
        "consumer_disk_bytes_per_document": stored / n.max(1) as u64,
        "json_bytes_per_document": json_bytes,
        "failed_entries": failed,
        "documents_arrived": documents,
        "producer_seed_seconds": round(seed_s, 2),
        "build": build(),
    });
    Pulled { figure, page_cost }
}

/// What one page of 500 entries costs the producer, asked for by the
/// consumer's key at the start of the log and 1,000 entries before its end
/// (the median of five of each, fresh pages every time: the two cursors
/// alternate, so no answer is served again from the unacknowledged page);
/// and the average size of an entry's document as JSON.
fn page_cost(producer: &TestSite, consumer_id: &str, last: i64) -> (Value, u64) {
    let late = (last - 1000).max(0);
    let auth = producer.subscriber.header();
    let ask = |after: i64| {
        let start = Instant::now();
        let answer = producer.call(
            Some(&auth),
            "POST",
            "/api/method/outpost.event.pull",
            Some(json!({"site_id": consumer_id, "after": after, "limit": 500})),
        );
        (start.elapsed().as_secs_f64() * 1000.0, answer)
    };
    let (mut first, mut near_end) = (Vec::new(), Vec::new());
    let mut json_bytes = 0;
    for _ in 0..5 {
        let (ms, answer) = ask(0);
        first.push(ms);
        let entries = answer.body["message"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total: usize = entries.iter().map(|e| e["data"].to_string().len()).sum();
        json_bytes = (total / entries.len().max(1)) as u64;
        near_end.push(ask(late).0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (a, b) = (median(&mut first), median(&mut near_end));
    let figure = json!({
        "benchmark": "producer page of 500 entries, at the start of the log and near its end",
        "log_entries": last,
        "page_ms_at_cursor_0": round(a, 1),
        "page_ms_near_end": round(b, 1),
        "near_end_cursor": late,
        "near_end_over_start": if a > 0.0 { round(b / a, 2) } else { 0.0 },
        "build": build(),
    });
    (figure, json_bytes)
}

pub fn push(n: i64) -> Value {
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
        "wall_seconds": round(wall, 2),
        "entries_per_second": (n as f64 / wall).round(),
        "hub_peak_rss_mb": round(peak, 1),
        "failed_entries": failed_lines(&hub),
        "documents_arrived": hub.count("Sales Invoice", json!({})),
        "shop_seed_seconds": round(seed_s, 2),
        "build": build(),
    })
}

//! Live figures: how soon one change reaches a listening consumer, and how
//! many writes a hub accepts while 200 consumers hold its live channel.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use outpost_tests::{wait_for, TestSite};
use serde_json::{json, Value};

use crate::{build, round};

/// A producer that never schedules and a consumer whose scheduled pulls are
/// an hour apart, subscribed to Notes: only the live channel brings a note.
fn live_pair() -> (TestSite, TestSite) {
    let producer = TestSite::start_with(&["--background-sync", "false"]);
    let consumer = TestSite::start_with(&["--sync-interval", "3600"]);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    (producer, consumer)
}

fn note(site: &TestSite, title: &str) -> String {
    site.insert("Note", json!({ "title": title })).data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// From a note's insert on the producer to its arrival on the consumer,
/// for `changes` notes one after the other: p50 and p95.
pub fn latency(changes: usize) -> Value {
    let (producer, consumer) = live_pair();
    let first = note(&producer, "the channel is open");
    wait_for("the first note over the live channel", 60, || {
        (consumer.get("Note", &first).status == 200).then_some(())
    });
    let mut ms = Vec::with_capacity(changes);
    for i in 0..changes {
        let start = Instant::now();
        let name = note(&producer, &format!("change {i}"));
        // Looked for every 2 ms (`wait_for` sleeps 100 ms between looks).
        while consumer.get("Note", &name).status != 200 {
            if start.elapsed() > Duration::from_secs(30) {
                eprintln!("note {name} did not arrive over the live channel in 30 s");
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    json!({
        "benchmark": "single-change latency over the live channel (insert on the producer → document on the consumer)",
        "changes": changes,
        "p50_ms": round(at(0.5), 1),
        "p95_ms": round(at(0.95), 1),
        "max_ms": round(at(1.0), 1),
        "build": build(),
    })
}

/// Notes inserted over HTTP by four clients for five seconds: writes/s.
fn write_rate(hub: &TestSite) -> f64 {
    let done = AtomicU64::new(0);
    let window = Duration::from_secs(5);
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..4 {
            let done = &done;
            s.spawn(move || {
                let mut i = 0;
                while start.elapsed() < window {
                    if hub
                        .insert("Note", json!({"title": format!("write {c}.{i}")}))
                        .status
                        == 200
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Opens one live channel as the registered consumer `site_id`; Some once
/// the hub has answered 200 and the stream is being read.
fn open_channel(hub: &TestSite, site_id: &str) -> Option<TcpStream> {
    let addr = hub.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).ok()?;
    let request = format!(
        "GET /api/stream/updates?site_id={site_id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nAccept: text/event-stream\r\n\r\n",
        hub.subscriber.header()
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    head.ends_with(b"200").then_some(s)
}

/// Writes a hub accepts over HTTP with no live consumer and with
/// `listeners` consumers holding its live channel open.
pub fn fan_out(listeners: usize) -> Value {
    let (hub, mut consumer) = live_pair();
    let site_id = consumer.site_id();
    // Its own channel would count as a listener: the bench holds them all.
    consumer.kill9();
    let alone = write_rate(&hub);
    let stop = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    let (with, open) = std::thread::scope(|s| {
        let channels: Vec<TcpStream> = (0..listeners)
            .filter_map(|_| open_channel(&hub, &site_id))
            .collect();
        let open = channels.len();
        for mut c in channels {
            let (stop, received) = (&stop, &received);
            s.spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    match c.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            received.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => return,
                    }
                }
            });
        }
        let with = write_rate(&hub);
        stop.store(true, Ordering::Relaxed);
        (with, open)
    });
    json!({
        "benchmark": "hub writes accepted over HTTP (4 clients inserting Notes), without and with live consumers",
        "writes_per_second_no_listeners": alone.round(),
        "live_consumers": open,
        "writes_per_second_with_listeners": with.round(),
        "with_over_without": if alone > 0.0 { round(with / alone, 2) } else { 0.0 },
        "announcement_bytes_received": received.load(Ordering::Relaxed),
        "build": build(),
    })
}

//! `outpost-bench`: the speed figures of SPEC §4, each one JSON object on
//! a line of its own, from real `outpostd` processes on loopback — and the
//! peer (PouchDB) measured in the same run on the same machine:
//!
//! - catch-up of N update-log entries (Sales Invoices of five rows), pulled
//!   by a consumer and pushed by a shop to a hub, with the consumer's peak
//!   RSS, the producer's CPU seconds and the bytes stored per document;
//! - the same N documents replicated by PouchDB (one-shot pull, batch 500);
//! - a producer page's cost at the start of the log and near its end;
//! - single-change latency over the live channel (200 changes);
//! - writes a hub accepts over HTTP with no and with 200 live consumers.
//!
//! Run on a release build, the box idle:
//! `cargo build --release -p outpost-server -p outpost-tests --bins && target/release/outpost-bench 100000`.

mod catch_up;
mod live;
mod peer;

use serde_json::{json, Value};

const FIGURES: [&str; 3] = ["all", "pull", "push"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: i64 = match args.first().map(|a| a.parse()) {
        None => 100_000,
        Some(Ok(v)) if v > 0 => v,
        Some(_) => usage(),
    };
    let which = args.get(1).map_or("all", String::as_str);
    if args.len() > 2 || !FIGURES.contains(&which) {
        usage();
    }
    if which == "push" {
        // Only the push figure (A/B timings of the push path).
        println!("{}", catch_up::push(n));
        return;
    }
    let pull = catch_up::pull(n);
    if which == "pull" {
        // Only the pull figure (A/B timings of the apply path).
        println!("{}", pull.figure);
        return;
    }
    println!("{}", pull.figure);
    println!("{}", pull.page_cost);
    println!("{}", catch_up::push(n));
    let pouch = peer::pouchdb(n);
    println!("{pouch}");
    println!("{}", live::latency(200));
    println!("{}", live::fan_out(200));
    println!(
        "{}",
        json!({
            "benchmark": "catch-up, Outpost pull against the peer in this run",
            "outpost_entries_per_second": pull.figure["entries_per_second"],
            "peer_entries_per_second": pouch["entries_per_second"],
            "times_the_peer": ratio(&pull.figure["entries_per_second"], &pouch["entries_per_second"]),
        })
    );
}

fn usage() -> ! {
    eprintln!("usage: outpost-bench [N > 0] [all | pull | push]");
    std::process::exit(2);
}

/// `a / b` to one decimal, or null when either is missing.
fn ratio(a: &Value, b: &Value) -> Value {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!(round(a / b, 1)),
        _ => Value::Null,
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

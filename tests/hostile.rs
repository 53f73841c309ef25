//! A producer can never hurt a consumer (the trust model in the README):
//! a fake producer of ours that speaks the protocol but lies, beside a
//! real good producer, both subscribed to by one real consumer. In every
//! phase the consumer stays up, its memory bounded, its API answering,
//! the good producer's new note arrives, and what was refused is shown
//! with its reason. Background sync is off: each sync is pressed.

use std::time::{Duration, Instant};

use outpost_tests::fake_producer::{page, Answer, FakeProducer};
use outpost_tests::TestSite;
use serde_json::{json, Value};

const QUIET: &[&str] = &["--background-sync", "false"];

struct World {
    good: TestSite,
    fake: FakeProducer,
    consumer: TestSite,
}

fn world() -> World {
    let good = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    let fake = FakeProducer::start();
    consumer.subscribe_to(&good, json!([{"ref_doctype": "Note"}]));
    good.decide(&consumer.site_id(), &[("Note", "Approved")]);
    consumer
        .insert(
            "Event Producer",
            json!({"producer_url": fake.base, "user": "admin@example.com", "api_key": "k", "api_secret": "s",
                   "producer_doctypes": [{"ref_doctype": "Note"}, {"ref_doctype": "ToDo"}]}),
        )
        .data();
    World {
        good,
        fake,
        consumer,
    }
}

/// The consumer's resident memory, in MiB.
fn rss_mib(site: &TestSite) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", site.pid()))
        .expect("the consumer is alive");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb / 1024
}

/// One hostile phase: Sync now; the consumer lives, answers within 5 s,
/// stays under 150 MB and gets the good producer's new note within 10 s.
/// Returns the fake producer's line on the consumer's dashboard.
fn phase(w: &World, label: &str) -> Value {
    let title = format!("good news during {label}");
    w.good.insert("Note", json!({"title": title})).data();
    let began = Instant::now();
    let s = w.consumer.sync_now();
    let arrived = w.consumer.count("Note", json!({"title": title}));
    assert_eq!(arrived, 1, "{label}: the good producer's note arrived: {s}");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{label}: within 10 s"
    );
    let asked = Instant::now();
    let info = w.consumer.method("outpost.site.info", json!({}));
    assert_eq!(info.status, 200);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{label}: the API answers"
    );
    let rss = rss_mib(&w.consumer);
    assert!(rss < 150, "{label}: consumer RSS {rss} MiB");
    let statuses = w
        .consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"]
        .clone();
    statuses
        .as_array()
        .expect("statuses")
        .iter()
        .find(|p| p["producer"] == w.fake.base.as_str())
        .cloned()
        .expect("the fake producer on the dashboard")
}

/// Entries `make(after)` once, then nothing more.
fn once(
    make: impl Fn(i64) -> (Value, i64) + Send + Sync + 'static,
) -> impl Fn(&str, &Value) -> Answer + Send + Sync {
    move |method, body| {
        let after = body["after"].as_i64().unwrap_or(0);
        match method {
            "outpost.event.pull" => {
                let (entries, cursor) = make(after);
                if cursor > after {
                    page(entries, cursor, false)
                } else {
                    page(json!([]), after, false)
                }
            }
            _ => Answer::Message(Value::Null),
        }
    }
}

fn todo(name: &str, seq: i64, data: Value) -> Value {
    json!({"seq": seq, "update_type": "Create", "ref_doctype": "ToDo", "docname": name, "data": data,
           "creation": "2026-01-01 00:00:00", "origin_site": "fake-producer-0000"})
}

#[test]
fn an_endless_dependency_chain_fails_one_entry_and_the_site_lives() {
    let w = world();
    // ToDo chain-k links to chain-(k+1), for ever.
    let chain = |k: u64| {
        json!({"name": format!("chain-{k}"), "description": format!("link {k}"),
                                 "reference_type": "ToDo", "reference_name": format!("chain-{}", k + 1)})
    };
    w.fake.answer_with(move |method, body| match method {
        "outpost.event.pull" if body["after"].as_i64() == Some(0) => {
            page(json!([todo("chain-0", 1, chain(0))]), 1, false)
        }
        "outpost.event.pull" => page(json!([]), body["after"].as_i64().unwrap_or(0), false),
        "outpost.event.fetch" => {
            let k: u64 = body["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("chain-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            Answer::Message(chain(k))
        }
        _ => Answer::Message(Value::Null),
    });
    phase(&w, "the chain");
    let failed: Vec<Value> = w
        .consumer
        .sync_log_all()
        .into_iter()
        .filter(|l| l["status"] == "Failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("nest deeper than 64")),
        "{failed:?}"
    );
    assert_eq!(
        w.consumer.count("ToDo", json!({})),
        0,
        "nothing of the chain was stored"
    );
    // Again and again (as a schedule would): still alive, still the same one failure.
    phase(&w, "the chain again");
    assert_eq!(
        w.consumer
            .sync_log_all()
            .iter()
            .filter(|l| l["status"] == "Failed")
            .count(),
        1
    );
}

#[test]
fn dependencies_never_bring_users_roles_or_streaming_set_up() {
    let w = world();
    let users_before = w.consumer.count("User", json!({}));
    w.fake.answer_with(|method, body| match method {
        "outpost.event.pull" if body["after"].as_i64() == Some(0) => page(
            json!([
                {"seq": 1, "update_type": "Create", "ref_doctype": "Note", "docname": "evil-note",
                 "data": {"name": "evil-note", "title": "Seen", "seen_by": [{"user": "evil@example.com"}]},
                 "creation": "2026-01-01 00:00:00", "origin_site": "fake-producer-0000"},
                todo("evil-todo", 2, json!({"name": "evil-todo", "description": "x", "reference_type": "Event Producer",
                                             "reference_name": "http://evil", "role": "Overlord"}))
            ]),
            2,
            false,
        ),
        "outpost.event.pull" => page(json!([]), body["after"].as_i64().unwrap_or(0), false),
        "outpost.event.fetch" => Answer::Message(match body["doctype"].as_str() {
            Some("User") => json!({"name": "evil@example.com", "email": "evil@example.com", "enabled": 1,
                                   "roles": [{"role": "System Manager"}]}),
            Some("Role") => json!({"name": "Overlord", "role_name": "Overlord"}),
            Some("Event Producer") => json!({"name": "http://evil", "producer_url": "http://evil", "user": "admin@example.com",
                                             "api_key": "x", "registration_status": "Registered",
                                             "producer_doctypes": [{"ref_doctype": "User", "status": "Approved"}]}),
            _ => Value::Null,
        }),
        _ => Answer::Message(Value::Null),
    });
    let status = phase(&w, "the privilege attempt");
    assert!(status["last_error"].is_null(), "{status}");
    assert_eq!(
        w.consumer.count("User", json!({})),
        users_before,
        "no new user"
    );
    w.consumer.get("User", "evil@example.com").error(404);
    w.consumer.get("Role", "Overlord").error(404);
    assert_eq!(
        w.consumer.count("Event Producer", json!({})),
        2,
        "no new Event Producer"
    );
    // The documents themselves arrived, keeping the producer's names in their links.
    assert_eq!(
        w.consumer.get("Note", "evil-note").data()["seen_by"][0]["user"],
        "evil@example.com"
    );
    assert_eq!(
        w.consumer.get("ToDo", "evil-todo").data()["role"],
        "Overlord"
    );
    // And the sync log says which links were kept without their documents.
    let lines = w.consumer.sync_log_all();
    let note = lines
        .iter()
        .find(|l| l["remote_docname"] == "evil-note")
        .expect("the note's line");
    assert_eq!(note["status"], "Synced");
    assert!(
        note["error"]
            .as_str()
            .is_some_and(|e| e.contains("User evil@example.com") && e.contains("never taken")),
        "{note}"
    );
    let todo = lines
        .iter()
        .find(|l| l["remote_docname"] == "evil-todo")
        .expect("the ToDo's line");
    let said = todo["error"].as_str().unwrap_or_default();
    assert!(
        said.contains("Event Producer http://evil") && said.contains("Role Overlord"),
        "{todo}"
    );
}

#[test]
fn oversized_answers_are_refused_as_they_stream_and_memory_stays_bounded() {
    let w = world();
    for declared in [true, false] {
        w.fake.answer_with(move |method, _| match method {
            "outpost.event.pull" => Answer::Huge {
                bytes: 200 << 20,
                declared,
            },
            _ => Answer::Message(Value::Null),
        });
        let status = phase(
            &w,
            if declared {
                "a declared 200 MiB answer"
            } else {
                "an undeclared 200 MiB answer"
            },
        );
        let err = status["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(err.contains("over the limit of 16 MiB"), "{status}");
    }
}

#[test]
fn a_page_that_breaks_the_protocol_is_refused_whole_with_the_reason() {
    let w = world();
    // A first honest page moves the cursor to 5.
    w.fake.answer_with(once(|after| {
        (
            json!([todo(
                "honest",
                5,
                json!({"name": "honest", "description": "fine"})
            )]),
            5.max(after),
        )
    }));
    phase(&w, "an honest page");
    assert_eq!(w.consumer.count("ToDo", json!({})), 1);
    let note = |seq: i64, kind: &str, data: Value| {
        json!({"seq": seq, "update_type": kind, "ref_doctype": "Note", "docname": "lie", "data": data,
               "creation": "2026-01-01 00:00:00", "origin_site": "fake-producer-0000"})
    };
    let lies: Vec<(&str, Value, i64, bool, &str)> = vec![
        (
            "a cursor going back",
            json!([]),
            3,
            false,
            "cursor went back from 5 to 3",
        ),
        (
            "a repeated sequence",
            json!([
                note(6, "Create", json!({"name": "lie", "title": "a"})),
                note(6, "Create", json!({"name": "lie", "title": "b"}))
            ]),
            7,
            false,
            "entry 6 twice",
        ),
        (
            "an Update whose data is text",
            json!([note(6, "Update", json!("changed everything"))]),
            6,
            false,
            "does not carry a diff",
        ),
        (
            "an entry of a doctype not subscribed to",
            json!([{"seq": 6, "update_type": "Create", "ref_doctype": "User", "docname": "evil@example.com",
                    "data": {"email": "evil@example.com", "roles": [{"role": "System Manager"}]},
                    "creation": "2026-01-01 00:00:00", "origin_site": "fake-producer-0000"}]),
            6,
            false,
            "does not subscribe to",
        ),
        (
            "more, for ever, without moving on",
            json!([]),
            5,
            true,
            "without moving on",
        ),
        (
            "an entry older than the cursor",
            json!([note(4, "Create", json!({"name": "lie", "title": "old"}))]),
            6,
            false,
            "not after the cursor 5",
        ),
    ];
    for (what, entries, cursor, has_more, reason) in lies {
        w.fake.answer_with(move |method, _| match method {
            "outpost.event.pull" => page(entries.clone(), cursor, has_more),
            _ => Answer::Message(Value::Null),
        });
        let status = phase(&w, what);
        let err = status["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(
            err.contains("broke the protocol") && err.contains(reason),
            "{what}: {status}"
        );
        assert_eq!(status["cursor"], 5, "{what}: the cursor stays");
        w.consumer.get("Note", "lie").error(404);
        w.consumer.get("User", "evil@example.com").error(404);
    }
    assert!(
        w.consumer
            .sync_log_all()
            .iter()
            .all(|l| l["status"] == "Synced"),
        "nothing was applied"
    );
}

/// The good producer's new note, synced on its own, arrives within 10 s
/// and the API answers within 5 s — whatever the fake one is doing.
fn good_goes_on(w: &World, label: &str) {
    let title = format!("good news during {label}");
    w.good.insert("Note", json!({"title": title})).data();
    let began = Instant::now();
    let s = w
        .consumer
        .method("outpost.event.sync_now", json!({"producer": w.good.base}));
    assert_eq!(s.status, 200, "{label}: {s:?}");
    assert_eq!(
        w.consumer.count("Note", json!({"title": title})),
        1,
        "{label}: {s:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{label}: within 10 s"
    );
    let asked = Instant::now();
    assert_eq!(
        w.consumer.method("outpost.site.info", json!({})).status,
        200
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{label}: the API answers"
    );
    let rss = rss_mib(&w.consumer);
    assert!(rss < 150, "{label}: consumer RSS {rss} MiB");
}

#[test]
fn a_stuck_or_endless_producer_never_holds_up_the_good_one_or_the_api() {
    let w = world();
    let sync_fake = || {
        w.consumer.try_call(
            Some(&w.consumer.admin.header()),
            "POST",
            "/api/method/outpost.event.sync_now",
            Some(json!({"producer": w.fake.base})),
        )
    };
    // A producer that trickles one byte a second, and 21 Sync nows waiting on it.
    w.fake.answer_with(|method, _| match method {
        "outpost.event.pull" => Answer::Trickle { secs: 45 },
        _ => Answer::Message(Value::Null),
    });
    std::thread::scope(|scope| {
        let stuck: Vec<_> = (0..21).map(|_| scope.spawn(sync_fake)).collect();
        std::thread::sleep(Duration::from_secs(1));
        good_goes_on(&w, "a trickling producer and 21 Sync nows waiting on it");
        for s in stuck {
            let a = s
                .join()
                .expect("a Sync now")
                .expect("an answer, not a dead site");
            assert_eq!(a.status, 200, "{a:?}");
            let err = a.body["message"][0]["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                err.contains("unreachable") || err.contains("broke off"),
                "cut off by the time limit: {a:?}"
            );
        }
    });
    // A producer that always has more (moving on each time, so by the protocol).
    w.fake.answer_with(|method, body| match method {
        "outpost.event.pull" => page(json!([]), body["after"].as_i64().unwrap_or(0) + 1, true),
        _ => Answer::Message(Value::Null),
    });
    std::thread::scope(|scope| {
        let endless = scope.spawn(sync_fake);
        std::thread::sleep(Duration::from_millis(500));
        good_goes_on(&w, "an endless producer");
        let a = endless.join().expect("a Sync now").expect("an answer");
        let err = a.body["message"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(err.contains("still had more after 2000 pages"), "{a:?}");
    });
    let statuses = w
        .consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"]
        .clone();
    let fake = statuses
        .as_array()
        .expect("statuses")
        .iter()
        .find(|p| p["producer"] == w.fake.base.as_str())
        .cloned()
        .expect("the fake producer on the dashboard");
    assert!(
        fake["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("still had more")),
        "the dashboard says why: {fake}"
    );
}

#[test]
fn guessing_a_secret_is_limited_per_key_and_memory_does_not_grow() {
    let w = world();
    let site = &w.consumer;
    // The admin's right secret was checked once already (it stays usable).
    assert_eq!(site.method("outpost.site.info", json!({})).status, 200);
    let wrong = format!("token {}:not-the-secret-at-all", site.admin.api_key);
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..32)
            .map(|_| {
                scope.spawn(|| {
                    (0..3)
                        .map(|_| {
                            let a = site.call(
                                Some(&wrong),
                                "GET",
                                "/api/method/frappe.auth.get_logged_user",
                                None,
                            );
                            (a.status, a.body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("a client"))
            .collect()
    });
    let refused = statuses.iter().filter(|(s, _)| *s == 401).count();
    let limited = statuses.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!(refused + limited, 96, "{statuses:?}");
    // Five failures, plus at most one guess already hashing in the second slot.
    assert!(
        (5..=6).contains(&refused),
        "{refused} checked, then the key was limited"
    );
    let (_, body) = statuses.iter().find(|(s, _)| *s == 429).expect("a 429");
    assert_eq!(body["exc_type"], "TooManyRequests");
    let res = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/method/frappe.auth.get_logged_user",
            site.base
        ))
        .header("Authorization", &wrong)
        .send()
        .expect("answer");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!((1..=60).contains(&retry), "{retry}");
    let rss = rss_mib(site);
    assert!(rss < 150, "RSS {rss} MiB after 96 failed attempts");
    // The right secrets still work: the one checked before, and another key.
    assert_eq!(site.method("outpost.site.info", json!({})).status, 200);
    let sub = site.call(
        Some(&site.subscriber.header()),
        "GET",
        "/api/method/frappe.auth.get_logged_user",
        None,
    );
    assert_eq!(sub.status, 200, "{sub:?}");
    good_goes_on(&w, "32 clients guessing a secret");
}

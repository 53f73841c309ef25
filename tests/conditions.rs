//! Conditional events (SPEC F17, expression form) between two real sites.

use outpost_tests::TestSite;
use serde_json::{json, Value};

fn pair() -> (TestSite, TestSite) {
    (
        TestSite::start_with(&["--sync-interval", "3600"]),
        TestSite::start_with(&["--sync-interval", "3600"]),
    )
}

/// A pair where the consumer takes the producer's public Notes, approved.
fn public_notes() -> (TestSite, TestSite) {
    let (producer, consumer) = pair();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "doc.public == 1"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    (producer, consumer)
}

fn kinds(site: &TestSite) -> Vec<(String, String)> {
    let log = site
        .method("outpost.event.sync_log", json!({"limit": 1000}))
        .body["message"]
        .clone();
    let mut v: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["update_type"].as_str().unwrap().to_owned(),
                l["remote_docname"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.reverse();
    v
}

fn name(v: &Value) -> String {
    v["name"].as_str().unwrap().to_owned()
}

#[test]
fn a_private_note_is_held_back_and_arrives_with_its_whole_history_once_public() {
    let (producer, consumer) = public_notes();

    let note = name(
        producer
            .insert(
                "Note",
                json!({"title": "Plans", "content": "draft", "public": 0}),
            )
            .data(),
    );
    producer
        .update("Note", &note, json!({"content": "second draft"}))
        .data();
    let hidden = name(
        producer
            .insert("Note", json!({"title": "Secret", "public": 0}))
            .data(),
    );
    consumer.sync_now();
    consumer.get("Note", &note).error(404);

    producer.update("Note", &note, json!({"public": 1})).data();
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 0, "{s}");
    let got = consumer.get("Note", &note).data().clone();
    assert_eq!(
        (got["content"].as_str(), got["public"].as_i64()),
        (Some("second draft"), Some(1))
    );
    let n = |k: &str| (k.to_owned(), note.clone());
    assert_eq!(
        kinds(&consumer),
        [n("Create"), n("Update"), n("Update")],
        "earlier entries first, in order"
    );

    // A Delete goes only where the document went.
    producer.delete("Note", &hidden).data();
    producer.delete("Note", &note).data();
    consumer.sync_now();
    consumer.get("Note", &note).error(404);
    assert_eq!(kinds(&consumer).last(), Some(&n("Delete")));
    assert!(
        !kinds(&consumer).iter().any(|(_, d)| d == &hidden),
        "nothing of the private note was sent"
    );
}

#[test]
fn invoices_wait_until_submitted() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Sales Invoice", "condition": "doc.docstatus == 1"}]),
    );
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);
    producer.seed_sales();
    let inv = name(
        producer
            .insert(
                "Sales Invoice",
                json!({"customer": "Acme", "items": [{"item_code": "PEN"}]}),
            )
            .data(),
    );
    consumer.sync_now();
    consumer.get("Sales Invoice", &inv).error(404);
    producer
        .update("Sales Invoice", &inv, json!({"docstatus": 1}))
        .data();
    consumer.sync_now();
    assert_eq!(consumer.get("Sales Invoice", &inv).data()["docstatus"], 1);
}

#[test]
fn invalid_conditions_are_refused_when_saved_and_nothing_is_stored() {
    let (producer, consumer) = pair();
    let doc = |cond: &str| {
        json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": producer.subscriber.api_key,
               "api_secret": producer.subscriber.api_secret, "producer_doctypes": [{"ref_doctype": "Note", "condition": cond}]})
    };
    let (_, msg, field) = consumer
        .insert("Event Producer", doc("doc.public =="))
        .error(400);
    assert_eq!(field.as_deref(), Some("condition"));
    assert!(msg.contains("Invalid condition"), "{msg}");
    let (_, msg, _) = consumer
        .insert("Event Producer", doc("cmd: nodot"))
        .error(400);
    assert!(msg.contains("cmd: needs <script>.<function>"), "{msg}");
    assert_eq!(consumer.count("Event Producer", json!({})), 0);

    // On the producer, an admin's edit of a row's condition is checked too.
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    let sid = consumer.site_id();
    let ec = producer.get("Event Consumer", &sid).data().clone();
    let mut rows = ec["consumer_doctypes"].as_array().unwrap().clone();
    rows[0]["condition"] = json!("doc.public = = 1");
    let (_, msg, _) = producer
        .update("Event Consumer", &sid, json!({"consumer_doctypes": rows}))
        .error(400);
    assert!(msg.contains("Invalid condition"), "{msg}");
    assert_eq!(
        producer.get("Event Consumer", &sid).data()["consumer_doctypes"][0]["condition"],
        Value::Null
    );
}

#[test]
fn a_greedy_condition_is_stopped_by_the_limits_and_holds_back_only_that_note() {
    let (producer, consumer) = pair();
    let greedy = r#""x".pad(1000000000, "y").len() > 0"#;
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": greedy}, {"ref_doctype": "ToDo"}]),
    );
    producer.decide(
        &consumer.site_id(),
        &[("Note", "Approved"), ("ToDo", "Approved")],
    );
    let bait = producer.insert("Note", json!({"title": "bait"})).data()["name"].clone();
    producer
        .insert("ToDo", json!({"description": "still flows"}))
        .data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "the stream goes on: {s}");
    assert_eq!(
        consumer.count("ToDo", json!({})),
        1,
        "the other doctype arrived"
    );
    assert_eq!(consumer.count("Note", json!({})), 0);
    let held = held_on_both(&producer, &consumer);
    let bait = bait.as_str().unwrap_or_default();
    assert!(
        held.contains(bait) && held.contains("Length of string too large"),
        "{held}"
    );
    assert_eq!(
        producer.list("Note", &[]).status,
        200,
        "the producer still serves"
    );
}

/// What the consumer's dashboard and the producer's Event Consumer say is
/// held back: the same document and reason on both sides.
fn held_on_both(producer: &TestSite, consumer: &TestSite) -> String {
    let mine = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]["held"]
        .clone();
    let theirs = producer
        .method("outpost.event.consumer_status", json!({}))
        .body["message"][0]["held"]
        .clone();
    assert_eq!(mine, theirs, "both sides show the same held documents");
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    mine.to_string()
}

#[test]
fn a_condition_that_cannot_be_evaluated_holds_back_that_document_not_the_stream() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "'urgent' in doc.content"}, {"ref_doctype": "ToDo"}]),
    );
    producer.decide(
        &consumer.site_id(),
        &[("Note", "Approved"), ("ToDo", "Approved")],
    );
    // A Note with no content: the condition cannot be evaluated for it.
    let empty = producer
        .insert("Note", json!({"title": "no content"}))
        .data()["name"]
        .clone();
    producer
        .insert(
            "Note",
            json!({"title": "first", "content": "urgent: call back"}),
        )
        .data();
    producer
        .insert("ToDo", json!({"description": "a todo"}))
        .data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(
        consumer.count("Note", json!({})),
        1,
        "the urgent note arrived"
    );
    assert_eq!(
        consumer.count("ToDo", json!({})),
        1,
        "another doctype arrived"
    );
    let held = held_on_both(&producer, &consumer);
    assert!(
        held.contains(empty.as_str().unwrap_or_default()) && held.contains("cannot be evaluated"),
        "{held}"
    );

    // Later changes of every doctype go on arriving.
    producer
        .insert("Note", json!({"title": "second", "content": "urgent too"}))
        .data();
    producer
        .insert("ToDo", json!({"description": "another todo"}))
        .data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(consumer.count("Note", json!({})), 2);
    assert_eq!(consumer.count("ToDo", json!({})), 2);

    // Once the held note evaluates and matches, it arrives with its whole history.
    let name = empty.as_str().unwrap_or_default();
    producer
        .update("Note", name, json!({"content": "urgent after all"}))
        .data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    let here = consumer.get("Note", name).data().clone();
    assert_eq!(here["content"], "urgent after all");
    assert_eq!(here["title"], "no content");
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(
        status["held"],
        json!([]),
        "nothing is held any more: {status}"
    );
    assert_eq!(status["failed"], 0);
}

/// Saves a Condition Script on `site`.
fn script(site: &TestSite, name: &str, source: &str) {
    site.insert(
        "Condition Script",
        json!({"script_name": name, "script": source}),
    )
    .data();
}

#[test]
fn the_seeds_only_odd_notes_function_works_as_a_cmd_condition() {
    let (producer, consumer) = pair();
    script(
        &producer,
        "my_custom_app.note",
        r#"
        // The seed's is_odd_note: how many Notes were created up to this one is odd.
        fn is_odd_note(consumer, doc, update_log) {
            count("Note", #{ creation: ["<=", doc.creation] }) % 2 != 0
        }
        "#,
    );
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "cmd: my_custom_app.note.is_odd_note"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let names: Vec<String> = (1..=4)
        .map(|i| {
            name(
                producer
                    .insert("Note", json!({"title": format!("note {i}")}))
                    .data(),
            )
        })
        .collect();
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 0, "{s}");
    let present: Vec<bool> = names
        .iter()
        .map(|n| consumer.get("Note", n).status == 200)
        .collect();
    assert_eq!(present, [true, false, true, false], "only the odd notes");
}

#[test]
fn a_cmd_function_sees_consumer_doc_and_update_log_and_a_late_match_brings_the_history() {
    let (producer, consumer) = pair();
    script(
        &producer,
        "shop.notes",
        r#"
        fn public_for_known_consumers(consumer, doc, update_log) {
            consumer.consumer_site_id != "" && update_log.ref_doctype == "Note" && doc["public"] == 1
        }
        "#,
    );
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "cmd: shop.notes.public_for_known_consumers"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let note = name(
        producer
            .insert(
                "Note",
                json!({"title": "Menu", "content": "soup", "public": 0}),
            )
            .data(),
    );
    producer
        .update("Note", &note, json!({"content": "soup and bread"}))
        .data();
    consumer.sync_now();
    consumer.get("Note", &note).error(404);
    producer.update("Note", &note, json!({"public": 1})).data();
    consumer.sync_now();
    assert_eq!(
        consumer.get("Note", &note).data()["content"],
        "soup and bread"
    );
    assert_eq!(
        kinds(&consumer).len(),
        3,
        "Create and both Updates, in order"
    );
}

#[test]
fn cmd_conditions_and_scripts_are_checked_when_saved() {
    let (producer, consumer) = pair();
    let (_, msg, field) = producer
        .insert(
            "Condition Script",
            json!({"script_name": "broken", "script": "fn nope(a, b, c) { a + }"}),
        )
        .error(400);
    assert_eq!(field.as_deref(), Some("script"));
    assert!(msg.contains("Invalid script"), "{msg}");
    assert_eq!(producer.count("Condition Script", json!({})), 0);

    let doc = json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": producer.subscriber.api_key,
                     "api_secret": producer.subscriber.api_secret,
                     "producer_doctypes": [{"ref_doctype": "Note", "condition": "cmd: nowhere.to_be_found"}]});
    let (_, msg, _) = consumer.insert("Event Producer", doc).error(400);
    assert!(msg.contains("No Condition Script named nowhere"), "{msg}");
    assert_eq!(consumer.count("Event Producer", json!({})), 0);
}

#[test]
fn a_looping_condition_script_is_stopped_and_the_producer_keeps_serving() {
    let (producer, consumer) = pair();
    script(
        &producer,
        "spin",
        "fn forever(consumer, doc, update_log) { let n = 0; loop { n += 1; } }",
    );
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "cmd: spin.forever"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    producer.insert("Note", json!({"title": "bait"})).data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "the stream goes on: {s}");
    let held = held_on_both(&producer, &consumer);
    assert!(
        held.contains("Condition stopped in spin.forever"),
        "a clear error naming the function: {held}"
    );
    assert_eq!(
        producer.list("Note", &[]).status,
        200,
        "the producer still serves"
    );
    assert_eq!(consumer.count("Note", json!({})), 0);
}

/// A note that turns public brings its whole history, which must fit in
/// the page beside the rest: 499 public notes and then the late match would
/// make a page of 501 entries when 500 were asked for, refused by the
/// consumer every time; the late match comes on the next page instead.
#[test]
fn a_late_match_whose_history_would_overfill_a_page_comes_on_the_next() {
    let (producer, consumer) = public_notes();
    let note = name(
        producer
            .insert("Note", json!({"title": "Plans", "public": 0}))
            .data(),
    );
    consumer.sync_now();
    for i in 0..499 {
        producer
            .insert("Note", json!({"title": format!("open {i}"), "public": 1}))
            .data();
    }
    producer.update("Note", &note, json!({"public": 1})).data();

    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "the sync went through: {s}");
    assert_eq!(s[0]["failed"], 0, "{s}");
    assert_eq!(consumer.count("Note", json!({})), 500);
    let n = |k: &str| (k.to_owned(), note.clone());
    let of_note: Vec<_> = kinds(&consumer)
        .into_iter()
        .filter(|(_, d)| d == &note)
        .collect();
    assert_eq!(of_note, [n("Create"), n("Update")], "its history first");
}

/// A hundred documents held by a condition that could not be evaluated,
/// released at once when it can: their histories (five entries each) fill
/// a whole page before the log's next entry, so that page says "more"
/// without moving the cursor. It is taken (it carries entries), and the
/// next page goes on with the log.
#[test]
fn a_hundred_held_documents_released_at_once_fill_a_page_and_the_log_goes_on() {
    let (producer, consumer) = pair();
    script(
        &producer,
        "shop.ready",
        r#"fn ready(consumer, doc, update_log) { if doc["content"] == "wait" { throw "not checked yet"; } true }"#,
    );
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "cmd: shop.ready.ready"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let held: Vec<String> = (0..100)
        .map(|i| {
            let n = name(
                producer
                    .insert(
                        "Note",
                        json!({"title": format!("held {i}"), "content": "wait"}),
                    )
                    .data(),
            );
            for v in 1..=4 {
                producer
                    .update("Note", &n, json!({"title": format!("held {i} v{v}")}))
                    .data();
            }
            n
        })
        .collect();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(consumer.count("Note", json!({})), 0, "all held: {s}");

    // The script now evaluates for every one of them; one more note after.
    producer
        .update(
            "Condition Script",
            "shop.ready",
            json!({"script": "fn ready(consumer, doc, update_log) { true }"}),
        )
        .data();
    let after = name(
        producer
            .insert("Note", json!({"title": "after", "content": "go"}))
            .data(),
    );
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "the sync went through: {s}");
    assert_eq!(s[0]["failed"], 0, "{s}");
    assert_eq!(consumer.count("Note", json!({})), 101, "{s}");
    for (i, n) in held.iter().enumerate() {
        assert_eq!(
            consumer.get("Note", n).data()["title"],
            format!("held {i} v4"),
            "{n} arrived with its whole history"
        );
    }
    consumer.get("Note", &after).data();
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(status["held"], json!([]), "nothing held any more: {status}");
    assert_eq!(
        kinds(&consumer).len(),
        501,
        "every entry of every note, once"
    );
}

/// A held document whose condition can be evaluated again, and does not
/// match, is no longer held and does not arrive; one that still cannot be
/// evaluated stays held, with the new error.
#[test]
fn a_held_document_that_no_longer_matches_is_let_go_and_one_still_failing_stays_held() {
    let (producer, consumer) = pair();
    script(
        &producer,
        "shop.gate",
        r#"fn open(consumer, doc, update_log) { throw "not checked yet"; }"#,
    );
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "cmd: shop.gate.open"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let closed = name(producer.insert("Note", json!({"title": "closed"})).data());
    let pending = name(producer.insert("Note", json!({"title": "pending"})).data());
    consumer.sync_now();
    let held = |site: &TestSite, method: &str| -> Vec<String> {
        site.method(method, json!({})).body["message"][0]["held"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|h| h.to_string())
            .collect()
    };
    assert_eq!(held(&consumer, "outpost.event.producer_status").len(), 2);

    producer
        .update(
            "Condition Script",
            "shop.gate",
            json!({"script": r#"fn open(consumer, doc, update_log) { if doc["title"] == "closed" { false } else { throw "still checking"; } }"#}),
        )
        .data();
    let s = consumer.sync_now();
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(consumer.count("Note", json!({})), 0, "neither arrived");
    for (site, method) in [
        (&consumer, "outpost.event.producer_status"),
        (&producer, "outpost.event.consumer_status"),
    ] {
        let now = held(site, method);
        assert_eq!(now.len(), 1, "only the pending note is held: {now:?}");
        assert!(
            now[0].contains(&pending) && now[0].contains("still checking"),
            "with the new error: {now:?}"
        );
        assert!(!now[0].contains(&closed), "{now:?}");
    }
}

//! Existing documents (SPEC F18) and chains (SPEC F19), with real sites.
//!
//! A row's "Sync Existing Documents" (on by default) brings, once approved,
//! every document of its doctype the producer already had — those made
//! before anyone subscribed, which the update log never saw — as a paged
//! snapshot that survives a crash, then the changes that follow. Across
//! hops a document keeps its origin site: shop 1 → hub → shop 2 delivers
//! shop 1's notes to shop 2 and never back to shop 1.

use outpost_tests::TestSite;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const QUIET: &[&str] = &["--background-sync", "false"];

fn set(v: Vec<String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

fn statuses(site: &TestSite) -> Vec<String> {
    site.sync_log_all()
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn existing_documents_arrive_once_approved_each_once_across_a_crash_and_then_the_changes() {
    const INVOICES: i64 = 1_200;
    let producer = TestSite::start_with(QUIET);
    let mut consumer = TestSite::start_with(QUIET);
    // Made before anyone subscribed: the update log has none of them.
    producer.seed("Sales Invoice", INVOICES);
    for (title, public) in [("old public 1", 1), ("old public 2", 1), ("old private", 0)] {
        producer.insert("Note", json!({"title": title, "public": public}));
    }
    for i in 0..3 {
        producer.insert("ToDo", json!({"description": format!("old todo {i}")}));
    }
    assert_eq!(
        producer
            .method("outpost.event.update_log", json!({"limit": 10}))
            .body["message"],
        json!([]),
        "nothing was logged before the subscription"
    );

    // Invoices and public notes with the default (sync existing on); ToDos
    // with it off: only ToDos made from now on.
    let ep = consumer.subscribe_to(
        &producer,
        json!([
            {"ref_doctype": "Sales Invoice", "use_same_name": 0},
            {"ref_doctype": "Note", "condition": "doc.public == 1"},
            {"ref_doctype": "ToDo", "sync_existing": 0},
        ]),
    );
    let rows = ep["producer_doctypes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let flags: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["ref_doctype"].as_str().unwrap_or_default().to_owned(),
                r["sync_existing"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("Sales Invoice".to_owned(), 1),
            ("Note".to_owned(), 1),
            ("ToDo".to_owned(), 0)
        ],
        "on by default, off when asked"
    );

    // Pending: nothing comes.
    consumer.sync_now();
    assert_eq!(consumer.count("Sales Invoice", json!({})), 0);
    assert_eq!(consumer.count("Note", json!({})), 0);

    producer.decide(
        &consumer.site_id(),
        &[
            ("Sales Invoice", "Approved"),
            ("Note", "Approved"),
            ("ToDo", "Approved"),
        ],
    );
    // The consumer aborts after committing its second snapshot page, before
    // acknowledging it (like a kill -9 there); restarted, it goes on.
    consumer.crash_during_sync("page-committed@2", None);
    let part = consumer.count("Sales Invoice", json!({}));
    assert!(
        part > 0 && part < INVOICES,
        "the crash landed inside the snapshot ({part} of {INVOICES})"
    );
    for _ in 0..4 {
        consumer.sync_now();
    }

    // Every invoice once, by the producer's names, with its customer and items.
    let theirs = set(producer.column("Sales Invoice", "name"));
    let mine = consumer.column("Sales Invoice", "remote_docname");
    assert_eq!(theirs.len(), INVOICES as usize);
    assert_eq!(mine.len(), set(mine.clone()).len(), "no invoice twice");
    assert_eq!(set(mine), theirs, "exactly the producer's invoices");
    assert_eq!(
        set(consumer.column("Customer", "name")),
        set(producer.column("Customer", "name")),
        "their customers came with them"
    );
    // The condition holds for existing documents too.
    assert_eq!(
        set(consumer.column("Note", "title")),
        set(vec!["old public 1".into(), "old public 2".into()])
    );
    assert_eq!(
        consumer.count("ToDo", json!({})),
        0,
        "ToDo did not ask for existing ones"
    );
    let lines = statuses(&consumer);
    assert!(
        lines.iter().all(|s| s == "Synced"),
        "no Failed or Skipped line: {:?}",
        lines.iter().filter(|s| *s != "Synced").collect::<Vec<_>>()
    );
    assert_eq!(lines.len(), INVOICES as usize + 2, "one line per document");

    // Then the changes that follow, through the log.
    producer.insert("ToDo", json!({"description": "new todo"}));
    producer.insert("Note", json!({"title": "new public", "public": 1}));
    let s = consumer.sync_now();
    assert_eq!(s[0]["synced"], 2, "{s}");
    assert_eq!(
        consumer.column("ToDo", "description"),
        vec!["new todo".to_owned()]
    );
}

/// Notes (use_same_name) of a site, by title.
fn titles(site: &TestSite) -> BTreeSet<String> {
    set(site.column("Note", "title"))
}

/// The origin site a site's sync log gives for the note titled `title`.
fn origin_of(site: &TestSite, title: &str) -> Value {
    let names = site.list(
        "Note",
        &[("filters", &json!({ "title": title }).to_string())],
    );
    let Some(name) = names
        .data()
        .as_array()
        .and_then(|a| a.first())
        .map(|n| n["name"].clone())
    else {
        return Value::Null;
    };
    site.sync_log_all()
        .into_iter()
        .find(|e| e["docname"] == name)
        .map(|e| e["origin_site"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn a_chain_shop_to_hub_to_shop_keeps_the_origin_and_never_brings_a_note_back() {
    let shop1 = TestSite::start_with(QUIET);
    let hub = TestSite::start_with(QUIET);
    let shop2 = TestSite::start_with(QUIET);
    for t in ["shop 1 before", "shop 1 also before"] {
        shop1.insert("Note", json!({"title": t}));
    }
    // The hub takes shop 1's notes; shop 1 takes the hub's (both ways).
    hub.subscribe_to(&shop1, json!([{"ref_doctype": "Note"}]));
    shop1.decide(&hub.site_id(), &[("Note", "Approved")]);
    shop1.subscribe_to(&hub, json!([{"ref_doctype": "Note"}]));
    hub.decide(&shop1.site_id(), &[("Note", "Approved")]);
    hub.insert("Note", json!({"title": "hub's own"}));
    hub.sync_now();
    shop1.sync_now();
    let both = set(vec![
        "shop 1 before".into(),
        "shop 1 also before".into(),
        "hub's own".into(),
    ]);
    assert_eq!(titles(&hub), both);
    assert_eq!(
        titles(&shop1),
        both,
        "shop 1 has the hub's note and its own, once each"
    );

    // Shop 2 subscribes late to the hub: the existing notes, shop 1's among them.
    shop2.subscribe_to(&hub, json!([{"ref_doctype": "Note"}]));
    hub.decide(&shop2.site_id(), &[("Note", "Approved")]);
    shop2.sync_now();
    assert_eq!(titles(&shop2), both);
    let shop1_id = shop1.site_id();
    assert_eq!(
        origin_of(&shop2, "shop 1 before"),
        json!(shop1_id),
        "the origin is kept across the hop"
    );
    assert_eq!(origin_of(&shop2, "hub's own"), json!(hub.site_id()));

    // A live note of shop 1 goes to the hub and on to shop 2, never back.
    shop1.insert("Note", json!({"title": "shop 1 later"}));
    hub.sync_now();
    shop2.sync_now();
    let s = shop1.sync_now();
    assert_eq!(s[0]["synced"], 0, "nothing comes back to shop 1: {s}");
    assert!(titles(&shop2).contains("shop 1 later"));
    assert_eq!(origin_of(&shop2, "shop 1 later"), json!(shop1_id));
    assert_eq!(
        shop1.count("Note", json!({})),
        4,
        "no echo, no duplicate on shop 1"
    );
    assert_eq!(
        statuses(&shop1),
        vec!["Synced".to_owned()],
        "shop 1 applied only the hub's own note"
    );
}

#[test]
fn a_consumer_asks_for_the_existing_documents_again_and_gets_back_what_it_deleted() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    for i in 0..5 {
        producer.insert("Note", json!({"title": format!("note {i}")}));
    }
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "ToDo"}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    consumer.sync_now();
    let all = titles(&producer);
    assert_eq!(titles(&consumer), all);

    // Two notes deleted here by mistake; the producer never hears of it.
    for name in consumer.column("Note", "name").into_iter().take(2) {
        assert_eq!(consumer.delete("Note", &name).status, 200);
    }
    assert_eq!(consumer.count("Note", json!({})), 3);

    // A doctype the producer has not approved cannot be asked for.
    let ep = consumer.column("Event Producer", "name")[0].clone();
    let refused = consumer.method(
        "outpost.event.request_existing",
        json!({"producer": ep, "ref_doctype": "ToDo"}),
    );
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ToDo is not approved"),
        "{refused:?}"
    );
    let unknown = consumer.method(
        "outpost.event.request_existing",
        json!({"producer": ep, "ref_doctype": "Sales Invoice"}),
    );
    assert_eq!(unknown.status, 400, "{unknown:?}");
    assert_eq!(unknown.body["field"], "ref_doctype");

    let asked = consumer.method(
        "outpost.event.request_existing",
        json!({"producer": ep, "ref_doctype": "Note"}),
    );
    assert_eq!(asked.status, 200, "{asked:?}");
    let s = consumer.sync_now();
    assert_eq!(
        s[0]["synced"], 5,
        "every existing note again (an upsert each): {s}"
    );
    assert_eq!(titles(&consumer), all, "the deleted notes are back");
    assert_eq!(consumer.count("Note", json!({})), 5, "and none twice");
}

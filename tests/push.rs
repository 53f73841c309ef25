//! Push (SPEC F20): the shop reaches the hub, never the other way round.
//! The shop keeps an Event Producer for the hub with "Push Document Types";
//! the hub sees the shop as an Event Producer `push:<shop site id>` that a
//! System Manager approves, with no URL to reach it. Pushed pages go
//! through the hub's one apply path; their dependencies travel with them.

use outpost_tests::proxy::{Fault, Proxy};
use outpost_tests::tripwire::Tripwire;
use outpost_tests::{assert_same_notes, Answer, TestSite};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const QUIET: &[&str] = &["--background-sync", "false"];

fn set(v: Vec<String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

/// On the shop: push Sales Invoices to the hub (at `url`, the hub or a proxy).
fn push_to(shop: &TestSite, hub: &TestSite, url: &str) -> String {
    shop.push_to(
        hub,
        url,
        json!([{"ref_doctype": "Sales Invoice"}]),
        json!([]),
    )
}

fn approve(hub: &TestSite, shop_id: &str) {
    hub.approve_pushes_of(shop_id);
}

/// A hub and a shop that pushes it documents of `doctype`, approved.
fn pushing(doctype: &str) -> (TestSite, TestSite) {
    let hub = TestSite::start_with(QUIET);
    let shop = TestSite::start_with(QUIET);
    shop.push_to(
        &hub,
        &hub.base,
        json!([{ "ref_doctype": doctype }]),
        json!([]),
    );
    sync(&shop);
    approve(&hub, &shop.site_id());
    (hub, shop)
}

fn sync(site: &TestSite) -> Value {
    let a = site.method("outpost.event.sync_now", json!({}));
    a.body["message"].clone()
}

/// The hub holds exactly the shop's invoices, each once, with their
/// customers and items, and no sync-log line other than Synced.
fn assert_identical(hub: &TestSite, shop: &TestSite) {
    let theirs = set(shop.column("Sales Invoice", "name"));
    let mine = hub.column("Sales Invoice", "name");
    assert_eq!(mine.len(), set(mine.clone()).len());
    assert_eq!(set(mine), theirs, "the hub has exactly the shop's invoices");
    let customers = set(hub.column("Customer", "name"));
    for c in shop.column("Customer", "name") {
        assert!(
            customers.contains(&c),
            "customer {c} came with its invoices"
        );
    }
    let lines = hub.sync_log_all();
    let bad: Vec<&Value> = lines.iter().filter(|l| l["status"] != "Synced").collect();
    assert!(bad.is_empty(), "only Synced lines on the hub: {bad:?}");
    // Each invoice's first line is its one Create (or snapshot upsert).
    let per_doc: BTreeSet<String> = lines
        .iter()
        .map(|l| l["remote_docname"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(per_doc.len() >= theirs.len());
}

#[test]
fn a_shop_pushes_its_invoices_to_a_hub_that_cannot_reach_it_after_approval_only() {
    // Every connection the hub opens lands on the tripwire.
    let wire = Tripwire::start();
    let mut hub = TestSite::start_in(QUIET, &wire.env());
    let shop = TestSite::start_with(QUIET);
    push_to(&shop, &hub, &hub.base);

    // While the hub is down the shop works on: 200 invoices, new customers.
    hub.kill9();
    shop.seed("Sales Invoice", 198);
    // Two of them for customers new to the shop, made while the hub is down.
    for c in ["Padaria Boa Vista", "Mercado Central"] {
        shop.insert("Customer", json!({"customer_name": c}));
        let inv = shop.insert(
            "Sales Invoice",
            json!({"customer": c, "items": [{"item_code": "SEED-ITEM-1", "qty": 2, "rate": 4.0}]}),
        );
        assert_eq!(inv.status, 200, "{inv:?}");
    }
    let down = sync(&shop);
    assert_eq!(
        down[0]["online"], false,
        "the hub is reported offline: {down}"
    );
    assert!(
        down[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("is unreachable"),
        "and why: {down}"
    );
    hub.restart();

    // First contact: the hub learns of the shop; Pending holds everything back.
    sync(&shop);
    let shop_id = shop.site_id();
    let ep = hub
        .get("Event Producer", &format!("push:{shop_id}"))
        .data()
        .clone();
    assert_eq!(ep["pushes_here"], 1);
    assert!(
        !ep["producer_url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("http"),
        "the hub holds no address of the shop: {}",
        ep["producer_url"]
    );
    assert_eq!(ep["producer_doctypes"][0]["status"], "Pending");
    assert_eq!(
        hub.count("Sales Invoice", json!({})),
        0,
        "nothing before approval"
    );
    assert_eq!(
        sync(&hub),
        json!([]),
        "the hub has nothing to pull from: the shop pushes"
    );
    let shop_ep = shop.column("Event Producer", "name")[0].clone();
    let rows = shop.get("Event Producer", &shop_ep).data()["push_doctypes"].clone();
    assert_eq!(
        rows[0]["status"], "Pending",
        "the shop shows the hub's decision"
    );

    approve(&hub, &shop_id);
    let s = sync(&shop);
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(s[0]["pushed"], 200, "every existing invoice, once: {s}");
    assert_identical(&hub, &shop);
    for c in ["Padaria Boa Vista", "Mercado Central"] {
        assert_eq!(
            hub.get("Customer", c).status,
            200,
            "the new customer {c} came along"
        );
    }
    let rows = shop.get("Event Producer", &shop_ep).data()["push_doctypes"].clone();
    assert_eq!(rows[0]["status"], "Approved");

    // Then what follows, through the log; nothing more when nothing changed.
    // The shop's dashboard counts what waits to be sent.
    let waiting = |shop: &TestSite| {
        shop.method("outpost.event.producer_status", json!({})).body["message"][0].clone()
    };
    assert_eq!(waiting(&shop)["push_waiting"], 0, "{}", waiting(&shop));
    shop.seed("Sales Invoice", 3);
    let before = waiting(&shop);
    assert!(
        before["push_waiting"].as_i64().unwrap_or(0) >= 3,
        "{before}"
    );
    let s = sync(&shop);
    let after = waiting(&shop);
    assert_eq!(after["push_waiting"], 0, "{after}");
    assert!(after["last_push"].is_string(), "{after}");
    assert_eq!(s[0]["pushed"], 3, "{s}");
    assert_eq!(hub.count("Sales Invoice", json!({})), 203);
    let s = sync(&shop);
    assert_eq!(s[0]["pushed"], 0, "{s}");
    assert_identical(&hub, &shop);

    // The hub opened no connection at all, through all of the above...
    assert_eq!(wire.seen(), Vec::<String>::new(), "the hub reached out");
    // ...and the tripwire does catch one when the hub is made to reach out.
    let a = hub.insert(
        "Event Producer",
        json!({"producer_url": shop.base, "user": "admin@example.com",
               "api_key": "k", "api_secret": "s",
               "producer_doctypes": [{"ref_doctype": "Item"}]}),
    );
    let seen = wire.seen();
    assert!(
        seen.iter().any(|l| l.contains(&shop.base)),
        "the tripwire sees the hub's attempt to reach the shop: {seen:?} ({a:?})"
    );
}

/// A hub, and a shop that pushes to it through a proxy, approved.
fn pushing_through_a_proxy() -> (TestSite, TestSite, Proxy) {
    let hub = TestSite::start_with(QUIET);
    let shop = TestSite::start_with(QUIET);
    let proxy = Proxy::start(&hub.base);
    push_to(&shop, &hub, &proxy.base);
    sync(&shop);
    approve(&hub, &shop.site_id());
    (hub, shop, proxy)
}

#[test]
fn a_push_whose_answer_is_lost_is_applied_once() {
    let (hub, shop, proxy) = pushing_through_a_proxy();
    shop.seed("Sales Invoice", 30);
    // The hub applies the page (the round's second push, after the one
    // that learns the hub's position); its answer never reaches the shop.
    proxy.inject_after("outpost.event.push", Fault::DropAnswer, 1, 1);
    let lost = sync(&shop);
    assert!(lost[0]["error"].is_string(), "{lost}");
    assert_eq!(
        lost[0]["pushed"], 0,
        "nothing is reported sent that the hub has not answered for: {lost}"
    );
    assert_eq!(proxy.applied("outpost.event.push", &Fault::DropAnswer), 1);
    assert_eq!(
        hub.count("Sales Invoice", json!({})),
        30,
        "the hub applied the page whose answer was lost"
    );
    let s = sync(&shop);
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(
        s[0]["pushed"], 0,
        "the hub stands past the page it applied: nothing is sent again: {s}"
    );
    assert_identical(&hub, &shop);
    assert_eq!(hub.count("Sales Invoice", json!({})), 30);
    assert_eq!(
        hub.sync_log_all().len(),
        30,
        "one line per invoice: none applied twice"
    );
}

/// A shop sends the next page while the hub applies the one before: when
/// the earlier page is slow on the link and the later one arrives first,
/// the later one waits for its turn; nothing is refused, lost or applied
/// twice.
#[test]
fn a_page_that_overtakes_the_one_before_it_waits_its_turn() {
    let (hub, shop, proxy) = pushing_through_a_proxy();
    shop.seed("Sales Invoice", 1_200);
    // The round's first push learns where the hub stands; the second
    // carries the first page, held on the link while the third (the
    // second page) goes straight through.
    proxy.inject_after(
        "outpost.event.push",
        Fault::HoldRequest(std::time::Duration::from_secs(2)),
        1,
        1,
    );
    let s = sync(&shop);
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(
        proxy.applied(
            "outpost.event.push",
            &Fault::HoldRequest(std::time::Duration::from_secs(2))
        ),
        1
    );
    for _ in 0..2 {
        sync(&shop);
    }
    assert_identical(&hub, &shop);
    assert_eq!(hub.count("Sales Invoice", json!({})), 1_200);
    assert_eq!(hub.sync_log_all().len(), 1_200, "one line per invoice");
}

#[test]
fn a_shop_killed_mid_push_and_a_hub_killed_mid_apply_end_identical() {
    let (mut hub, mut shop) = pushing("Sales Invoice");
    shop.seed("Sales Invoice", 1_200);

    // The shop dies after the hub answered its first page, before it
    // recorded the answer (like a kill -9 there), with the second page on
    // its way (the hub may or may not take it) and the third not sent.
    shop.crash_during_sync("push-answered@1", None);
    let part = hub.count("Sales Invoice", json!({}));
    assert!(
        part > 0 && part < 1_200,
        "the crash landed mid-push ({part})"
    );

    // The hub dies with a page applied and not committed.
    hub.crash_during_sync("page-applied-before-commit", Some(&shop));

    for _ in 0..3 {
        sync(&shop);
    }
    assert_identical(&hub, &shop);
    assert_eq!(hub.count("Sales Invoice", json!({})), 1_200);
    assert_eq!(hub.sync_log_all().len(), 1_200, "one line per invoice");
    // The hub stands at the shop's last entry.
    let last = shop
        .method("outpost.event.update_log", json!({"limit": 1}))
        .body["message"][0]["seq"]
        .as_i64();
    let status = hub.method("outpost.event.producer_status", json!({}));
    let mine = status.body["message"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|p| p["producer"] == format!("push:{}", shop.site_id()))
        })
        .and_then(|p| p["cursor"].as_i64());
    assert_eq!(mine, last, "the hub's cursor is the shop's last entry");
}

/// The origin site a site's sync log gives for each document it received.
fn origins(site: &TestSite, doctype: &str) -> BTreeSet<String> {
    site.sync_log_all()
        .iter()
        .filter(|l| l["ref_doctype"] == doctype)
        .map(|l| l["origin_site"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_hub_and_two_shops_push_pull_late_subscription_and_no_way_back() {
    // The shops reach the hub; every connection the hub opens would land
    // on the tripwire.
    let wire = Tripwire::start();
    let hub = TestSite::start_in(QUIET, &wire.env());
    let shop1 = TestSite::start_with(QUIET);
    let mut shop2 = TestSite::start_with(QUIET);
    hub.seed("Item", 5_000);

    // Shop 1 pushes its invoices and also takes the hub's (both ways).
    let shop1_id = shop1.both_ways_with(&hub, "Sales Invoice");
    shop1.seed("Sales Invoice", 50);
    let s = sync(&shop1);
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(hub.count("Sales Invoice", json!({})), 50);

    // Shop 2 subscribes late to the hub's Items and Sales Invoices: every
    // existing one, across a crash in the middle of the snapshot.
    shop2.subscribe_to(
        &hub,
        json!([{"ref_doctype": "Item"}, {"ref_doctype": "Sales Invoice"}]),
    );
    hub.decide(
        &shop2.site_id(),
        &[("Item", "Approved"), ("Sales Invoice", "Approved")],
    );
    shop2.crash_during_sync("page-committed@3", None);
    let part = shop2.count("Item", json!({}));
    assert!(
        part > 0 && part < 5_005,
        "the crash landed mid-snapshot ({part})"
    );
    for _ in 0..3 {
        sync(&shop2);
    }
    assert_eq!(
        set(shop2.column("Item", "name")),
        set(hub.column("Item", "name")),
        "every Item of the hub, once"
    );
    assert_eq!(
        set(shop2.column("Sales Invoice", "name")),
        set(shop1.column("Sales Invoice", "name")),
        "shop 1's invoices reached shop 2 through the hub"
    );
    assert_eq!(
        origins(&shop2, "Sales Invoice"),
        BTreeSet::from([shop1_id.clone()]),
        "made on shop 1, says shop 2"
    );
    assert!(
        shop2.sync_log_all().iter().all(|l| l["status"] == "Synced"),
        "no Failed line on shop 2"
    );

    // Live: a new invoice of shop 1 goes through the hub to shop 2, and
    // nothing of shop 1's ever comes back to it.
    shop1.seed("Sales Invoice", 1);
    sync(&shop1);
    sync(&shop2);
    assert_eq!(shop2.count("Sales Invoice", json!({})), 51);
    let back = sync(&shop1);
    assert_eq!(back[0]["synced"], 0, "nothing comes back to shop 1: {back}");
    assert_eq!(shop1.count("Sales Invoice", json!({})), 51);
    assert_eq!(
        shop1.sync_log_all().len(),
        0,
        "shop 1 never received its own invoices"
    );
    assert_eq!(wire.seen(), Vec::<String>::new(), "the hub reached out");
}

/// The hub's push endpoint, called with any body as a pushing site's user.
fn pusher(hub: &TestSite) -> impl Fn(Value) -> Answer + '_ {
    let key = hub
        .user_with_keys("pusher@example.com", &["Event Subscriber"])
        .header();
    move |body| {
        hub.call(
            Some(&key),
            "POST",
            "/api/method/outpost.event.push",
            Some(body),
        )
    }
}

#[test]
fn a_push_that_is_not_a_push_request_is_refused_with_the_reason_and_changes_nothing() {
    let hub = TestSite::start_with(QUIET);
    let push = pusher(&hub);
    let entry = json!({"seq": 1, "update_type": "Create", "ref_doctype": "Note", "docname": "N1",
                       "data": {"title": "x"}, "creation": "2026-01-01 00:00:00", "origin_site": "s"});
    let page = |entries: Value| {
        json!({"site_id": "shop-1", "site_name": "Shop", "doctypes": [], "after": 0,
               "page": {"entries": entries, "cursor": 1, "has_more": false, "approvals": []}})
    };
    for (body, says) in [
        (json!("a page"), "invalid type"),
        (json!({"site_name": "Shop", "doctypes": []}), "site_id"),
        (
            page(json!([{"seq": "one", "update_type": "Create"}])),
            "invalid type",
        ),
        (
            page(json!([entry.clone(), {"update_type": "Rename"}])),
            "Rename",
        ),
    ] {
        let a = push(body.clone());
        assert_eq!(a.status, 400, "{body}: {a:?}");
        let message = a.body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("Invalid arguments") && message.contains(says),
            "{body}: {message}"
        );
    }
    // A request it can read still goes through the hub's checks: Notes
    // were never offered, let alone approved.
    let a = push(page(json!([entry])));
    assert_eq!(a.status, 400, "{a:?}");
    let message = a.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("does not subscribe to"), "{message}");
    assert_eq!(hub.count("Note", json!({})), 0, "nothing applied");
}

/// Documents sent ahead of a page are another site's input too: before
/// the hub approves the shop, sent with a page, or without a name, they
/// are refused with the reason; a shop may keep at most 32 MB of them
/// waiting on the hub. A refused request keeps nothing.
#[test]
fn documents_sent_ahead_are_checked_and_bounded() {
    let hub = TestSite::start_with(QUIET);
    let push = pusher(&hub);
    let ahead = |deps: Value| {
        json!({"site_id": "shop-1", "site_name": "Shop", "doctypes": [{"ref_doctype": "Sales Invoice"}],
               "after": 0, "ahead": true, "deps": deps})
    };
    let item = |name: &str, bytes: usize| json!({"doctype": "Item", "name": name, "item_code": name, "description": "x".repeat(bytes)});
    let refused = |a: Answer, field: &str, says: &str| {
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.body["field"], field, "{a:?}");
        let message = a.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    };
    // Nothing is taken ahead from a shop before the hub approves it.
    refused(
        push(ahead(json!([item("I-0", 10)]))),
        "deps",
        "only once this site has approved a DocType you push",
    );
    hub.approve_pushes_of("shop-1");
    let mut with_page = ahead(json!([item("I-0", 10)]));
    with_page["page"] = json!({"entries": [], "cursor": 0, "has_more": false, "approvals": []});
    for (body, field, says) in [
        (
            with_page,
            "page",
            "Documents sent ahead of a page come without the page",
        ),
        (
            ahead(json!([item("I-0", 10), {"doctype": "Item", "description": "no name"}])),
            "deps",
            "Document 1 sent ahead has no doctype or no name",
        ),
    ] {
        refused(push(body), field, says);
    }
    assert_eq!(kept_ahead(&hub), 0, "a refused request keeps nothing");
    // Four requests of 7 MB each are kept (28 MB); the fifth would pass
    // 32 MB and is refused whole.
    for i in 0..4 {
        let a = push(ahead(json!([item(&format!("BIG-{i}"), 7 << 20)])));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    assert_eq!(kept_ahead(&hub), 4);
    refused(
        push(ahead(json!([
            item("BIG-4", 3 << 20),
            item("BIG-5", 3 << 20)
        ]))),
        "deps",
        "at most 32 MB of documents waiting here for their page",
    );
    assert_eq!(kept_ahead(&hub), 4, "the refused request kept nothing");
    assert_eq!(
        hub.count("Item", json!({})),
        0,
        "nothing is applied ahead of its page"
    );
}

/// A pushed page is bounded by bytes as a pulled one is: forty 300 KB
/// Notes (12 MB, past the 8 MB a hub takes in one request) all arrive, in
/// several pages; a page of 500 would be refused every time.
#[test]
fn documents_too_large_for_one_pushed_page_arrive_in_several() {
    let (hub, shop) = pushing("Note");
    for i in 0..40 {
        let note = json!({"title": format!("big {i:03}"),
                          "content": format!("{i:03}:{}", "lorem ipsum ".repeat(300 * 1024 / 12))});
        let a = shop.insert("Note", note);
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let pushed = sync(&shop);
    assert!(
        pushed[0]["error"].is_null(),
        "the push went through: {pushed}"
    );
    assert_eq!(pushed[0]["pushed"], 40, "{pushed}");
    assert_same_notes(&hub, &shop);
}

/// On the shop: an Item whose description takes about `bytes`.
fn insert_item_of(shop: &TestSite, code: &str, bytes: usize) {
    let description = format!("{code}: {}", "lorem ipsum ".repeat(bytes / 12));
    shop.insert(
        "Item",
        json!({"item_code": code, "description": description}),
    )
    .data();
}

/// What a pushed page depends on travels with it and counts toward what a
/// hub takes in one request: sixty invoices, each for an item of its own
/// with a 200 KB description (12 MB of dependencies for one page of
/// invoices), go in smaller pages, every one taken.
#[test]
fn a_page_whose_dependencies_are_too_large_for_one_request_goes_in_smaller_ones() {
    let (hub, shop) = pushing("Sales Invoice");
    shop.insert("Customer", json!({"customer_name": "Padaria Boa Vista"}))
        .data();
    for i in 0..60 {
        let code = format!("BIG-{i:02}");
        insert_item_of(&shop, &code, 200 * 1024);
        shop.insert(
            "Sales Invoice",
            json!({"customer": "Padaria Boa Vista",
                   "items": [{"item_code": code, "qty": 1, "rate": 2.0}]}),
        )
        .data();
    }
    let s = sync(&shop);
    assert!(s[0]["error"].is_null(), "the push went through: {s}");
    assert_eq!(s[0]["pushed"], 60, "{s}");
    // The shop's traffic counts each invoice once (not the pages it
    // decided and found too large).
    let traffic = shop.method("outpost.event.sync_activity", json!({}));
    let out: i64 = traffic.body["message"]
        .as_array()
        .expect("points")
        .iter()
        .filter(|p| p["direction"] == "out" && p["peer"] == hub.site_id().as_str())
        .map(|p| p["entries"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(out, 60, "{traffic:?}");
    assert_identical(&hub, &shop);
    assert_eq!(hub.count("Item", json!({})), 60, "every item came along");
    assert_eq!(
        hub.get("Item", "BIG-59").data()["description"],
        shop.get("Item", "BIG-59").data()["description"]
    );
}

/// Rows the hub keeps of documents sent ahead of their pages.
fn kept_ahead(hub: &TestSite) -> i64 {
    let db = rusqlite::Connection::open(hub.data_dir().join("site.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM push_staged", [], |r| r.get(0))
        .unwrap()
}

/// A shop's invoice of four items of 2.5 MB each (more than a hub takes in
/// one request), the items' codes given.
fn invoice_of_huge_items(shop: &TestSite, tag: &str) -> String {
    let mut items = Vec::new();
    for i in 0..4 {
        let code = format!("HUGE-{tag}-{i}");
        insert_item_of(shop, &code, 2_500 * 1024);
        items.push(json!({"item_code": code, "qty": 1, "rate": 2.0}));
    }
    shop.insert(
        "Sales Invoice",
        json!({"customer": "Padaria Boa Vista", "items": items}),
    )
    .data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// An invoice whose items alone are more than a hub takes in one request:
/// they go ahead of it, in requests of their own that the hub keeps for
/// the page, and the invoice arrives with every item — also when the
/// shop's answer is lost and when the hub dies applying the page. Before,
/// the page of one entry was refused on every round and the invoice never
/// arrived.
#[test]
fn an_invoice_whose_items_alone_pass_a_request_arrives_with_them() {
    let (mut hub, mut shop) = pushing("Sales Invoice");
    shop.insert("Customer", json!({"customer_name": "Padaria Boa Vista"}))
        .data();
    let first = invoice_of_huge_items(&shop, "A");
    let s = sync(&shop);
    assert!(s[0]["error"].is_null(), "the push went through: {s}");
    assert_eq!(s[0]["pushed"], 1, "{s}");
    assert_eq!(s[0]["push_failed"], 0, "{s}");
    assert_eq!(hub.get("Sales Invoice", &first).status, 200);
    assert_eq!(kept_ahead(&hub), 0, "let go once the page is applied");

    // The shop dies as the hub answers (the answer is lost): it sends the
    // items and the invoice again, and the hub answers them as applied.
    let second = invoice_of_huge_items(&shop, "B");
    shop.crash_during_sync("push-answered@1", None);
    assert_eq!(hub.get("Sales Invoice", &second).status, 200);
    // The hub dies with the third applied and not committed.
    let third = invoice_of_huge_items(&shop, "C");
    hub.crash_during_sync("page-applied-before-commit", Some(&shop));
    assert_eq!(hub.get("Sales Invoice", &third).status, 404);
    for _ in 0..2 {
        let s = sync(&shop);
        assert!(s[0]["error"].is_null(), "{s}");
    }
    assert_identical(&hub, &shop);
    assert_eq!(hub.sync_log_all().len(), 3, "one line per invoice");
    for tag in ["A", "B", "C"] {
        for i in 0..4 {
            let code = format!("HUGE-{tag}-{i}");
            assert_eq!(
                hub.get("Item", &code).data()["description"],
                shop.get("Item", &code).data()["description"],
                "{code} came along whole"
            );
        }
    }
    assert_eq!(kept_ahead(&hub), 0, "nothing left waiting on the hub");
    let again = sync(&shop);
    assert_eq!(again[0]["pushed"], 0, "nothing more to send: {again}");
}

/// A hundred notes held back by the hub's condition (it cannot be
/// evaluated for them), released at once when the hub changes it: their
/// histories fill a whole page that leaves the shop's cursor where it was.
/// The page after it goes only once the hub has taken it (sent from the
/// same place before, it was the same page again, applied twice).
#[test]
fn a_hundred_held_notes_released_at_once_are_pushed_once() {
    let hub = TestSite::start_with(QUIET);
    let shop = TestSite::start_with(QUIET);
    shop.push_to(&hub, &hub.base, json!([{"ref_doctype": "Note"}]), json!([]));
    sync(&shop);
    hub.approve_pushes_with_condition(&shop.site_id(), Some("'urgent' in doc.content"));
    for i in 0..100 {
        let n = shop
            .insert("Note", json!({"title": format!("held {i}")}))
            .data()["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for v in 1..=4 {
            shop.update("Note", &n, json!({"title": format!("held {i} v{v}")}))
                .data();
        }
    }
    let pushed = sync(&shop);
    assert!(pushed[0]["error"].is_null(), "{pushed}");
    assert_eq!(hub.count("Note", json!({})), 0, "all held: {pushed}");

    hub.approve_pushes_with_condition(&shop.site_id(), Some("doc.title != ''"));
    shop.insert("Note", json!({"title": "after"})).data();
    let pushed = sync(&shop);
    assert!(
        pushed[0]["error"].is_null(),
        "the push went through: {pushed}"
    );
    assert_same_notes(&hub, &shop);
    let lines = hub.sync_log_all();
    assert_eq!(lines.len(), 501, "every entry of every note, once");
}

/// A pushed entry that failed on the hub heals there once its cause is
/// fixed: Resync applies it again from what the hub kept (the hub cannot
/// reach the shop; before, Resync asked for the shop's API secret and the
/// entry stayed Failed for good, automatic retries included), and the
/// change made after it, waiting behind it, follows.
#[test]
fn a_pushed_entry_that_failed_on_the_hub_is_resynced_there() {
    let (hub, shop) = pushing("Note");
    let shelf = json!({"doctype": "Note", "field": {"fieldname": "shelf", "fieldtype": "Data", "label": "Shelf"}});
    let a = shop.method("outpost.doctype.add_custom_field", shelf.clone());
    assert_eq!(a.status, 200, "{a:?}");
    let note = shop
        .insert("Note", json!({"title": "Stock", "shelf": "B3"}))
        .data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    shop.update("Note", &note, json!({"shelf": "C1"})).data();
    let s = sync(&shop);
    assert!(s[0]["error"].is_null(), "{s}");
    assert_eq!(s[0]["push_failed"], 2, "{s}");
    let failed = hub
        .sync_log_all()
        .into_iter()
        .find(|l| l["status"] == "Failed" && l["update_type"] == "Create")
        .unwrap_or_default();
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("shelf")),
        "{failed}"
    );
    // Fixed on the hub; Resync there.
    let a = hub.method("outpost.doctype.add_custom_field", shelf);
    assert_eq!(a.status, 200, "{a:?}");
    let again = hub.method("outpost.event.resync", json!({"id": failed["id"]}));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["message"]["status"], "Synced", "{again:?}");
    assert_eq!(
        hub.get("Note", &note).data()["shelf"],
        "C1",
        "the update followed"
    );
    assert!(
        hub.sync_log_all().iter().all(|l| l["status"] == "Synced"),
        "{:?}",
        hub.sync_log_all()
    );
}

//! Conflicts (SPEC §2): a Customer subscribed both ways between a shop
//! and its hub (the shop pushes its customers and pulls the hub's), edited
//! on both sides while they are apart. Both end with the same content by
//! one rule — the later version wins — and the version that lost is kept
//! in a sync-log line of status Conflict, with both versions, until a
//! person re-applies it.

use outpost_tests::TestSite;
use serde_json::{json, Value};

const QUIET: &[&str] = &["--background-sync", "false"];
const FIELDS: &[&str] = &[
    "customer_name",
    "customer_type",
    "territory",
    "email_id",
    "credit_limit",
];

/// The customer's declared fields as a site holds them.
fn content(site: &TestSite, name: &str) -> Value {
    let doc = site.get("Customer", name);
    assert_eq!(doc.status, 200, "{doc:?}");
    FIELDS
        .iter()
        .map(|f| (f.to_string(), doc.data()[*f].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn conflicts(site: &TestSite) -> Vec<Value> {
    let a = site.method("outpost.event.sync_log", json!({"status": "Conflict"}));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["message"].as_array().cloned().unwrap_or_default()
}

/// A shop and a hub with Customer both ways, approved on both sides.
fn pair() -> (TestSite, TestSite) {
    let hub = TestSite::start_with(QUIET);
    let shop = TestSite::start_with(QUIET);
    shop.both_ways_with(&hub, "Customer");
    (hub, shop)
}

#[test]
fn edits_on_both_sides_while_apart_converge_to_the_later_one_and_the_other_is_kept() {
    let (hub, shop) = pair();
    let made = shop.insert(
        "Customer",
        json!({"customer_name": "Padaria Boa Vista", "territory": "Centro", "credit_limit": 100}),
    );
    assert_eq!(made.status, 200, "{made:?}");
    let s = shop.sync_now();
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    let name = "Padaria Boa Vista";
    assert_eq!(content(&hub, name), content(&shop, name), "in step before");

    // Apart: the shop raises the credit limit, then the hub (later) moves
    // the customer to another territory and sets an email.
    let a = shop.update(
        "Customer",
        name,
        json!({"credit_limit": 250, "territory": "Norte"}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let a = hub.update(
        "Customer",
        name,
        json!({"territory": "Sul", "email_id": "compras@padaria.example"}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let shops_version = content(&shop, name);
    let hubs_version = content(&hub, name);

    // Together again: one Sync now on the shop (push, then pull).
    let s = shop.sync_now();
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(s[0]["failed"], 0, "{s}");
    assert_eq!(
        content(&shop, name),
        hubs_version,
        "the later version (the hub's) on the shop"
    );
    assert_eq!(content(&hub, name), hubs_version, "and on the hub");
    let again = shop.sync_now();
    assert_eq!(again[0]["pushed"], 0, "nothing echoes back: {again}");
    assert_eq!(again[0]["synced"], 0, "{again}");

    // Neither version is lost: each side keeps the conflict, with both.
    let on_hub = conflicts(&hub);
    assert_eq!(on_hub.len(), 1, "{on_hub:?}");
    let c = &on_hub[0]["conflict"];
    assert_eq!(c["kept"], "here", "{c}");
    assert_eq!(c["here"]["doc"]["territory"], "Sul");
    assert_eq!(
        c["incoming"]["doc"]["territory"], "Norte",
        "the shop's version, whole"
    );
    assert_eq!(c["incoming"]["doc"]["credit_limit"], 250);
    assert!(on_hub[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("later version wins"));
    let on_shop = conflicts(&shop);
    assert_eq!(on_shop.len(), 1, "{on_shop:?}");
    let c = &on_shop[0]["conflict"];
    assert_eq!(c["kept"], "incoming", "{c}");
    assert_eq!(
        c["here"]["doc"]["credit_limit"], 250,
        "the shop's own version, kept aside"
    );
    assert_eq!(c["incoming"]["doc"]["territory"], "Sul");
    assert_ne!(c["here"]["version"], c["incoming"]["version"]);

    // A manager re-applies the shop's version on the hub: it becomes the
    // newest change and reaches the shop too.
    let id = on_hub[0]["id"].clone();
    let r = hub.method("outpost.event.reapply_conflict", json!({"id": id}));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["message"]["conflict"]["reapplied"]["by"],
        "admin@example.com"
    );
    assert_eq!(content(&hub, name), shops_version);
    let s = shop.sync_now();
    assert_eq!(s[0]["error"], Value::Null, "{s}");
    assert_eq!(
        content(&shop, name),
        shops_version,
        "the re-applied version everywhere"
    );
    assert_eq!(
        conflicts(&shop).len(),
        1,
        "a re-applied version is no new conflict"
    );
    let twice = hub.method("outpost.event.reapply_conflict", json!({"id": id}));
    let (_, msg, _) = twice.error(400);
    assert!(msg.contains("re-applied already"), "{msg}");
}

#[test]
fn the_shops_later_edit_wins_on_the_hub_and_nothing_is_lost_there() {
    let (hub, shop) = pair();
    let name = "Mercado Central";
    let a = hub.insert(
        "Customer",
        json!({"customer_name": name, "territory": "Centro"}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    shop.sync_now();
    assert_eq!(content(&shop, name), content(&hub, name));

    // Apart: the hub edits first, the shop later.
    hub.update("Customer", name, json!({"email_id": "hub@mercado.example"}));
    shop.update(
        "Customer",
        name,
        json!({"customer_type": "Individual", "territory": "Oeste"}),
    );
    let shops_version = content(&shop, name);

    let s = shop.sync_now();
    assert_eq!(s[0]["failed"], 0, "{s}");
    assert_eq!(
        content(&hub, name),
        shops_version,
        "the later version (the shop's) on the hub"
    );
    assert_eq!(content(&shop, name), shops_version, "and kept on the shop");
    let on_hub = conflicts(&hub);
    assert_eq!(on_hub.len(), 1, "{on_hub:?}");
    assert_eq!(on_hub[0]["conflict"]["kept"], "incoming");
    assert_eq!(
        on_hub[0]["conflict"]["here"]["doc"]["email_id"], "hub@mercado.example",
        "the hub's losing version is kept in its sync log"
    );
    // The shop was told of the hub's change and that its own later one won.
    let skipped: Vec<Value> = shop
        .sync_log_all()
        .into_iter()
        .filter(|l| l["status"] == "Skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("changed here too"));

    // A delete on the hub while the shop edits: the edit wins everywhere.
    hub.update("Customer", name, json!({"email_id": null}));
    shop.sync_now();
    assert_eq!(content(&shop, name), content(&hub, name));
    let a = hub.delete("Customer", name);
    assert_eq!(a.status, 200, "{a:?}");
    shop.update("Customer", name, json!({"credit_limit": 75}));
    shop.sync_now();
    shop.sync_now();
    assert_eq!(
        hub.get("Customer", name).status,
        200,
        "the edited customer is back on the hub"
    );
    assert_eq!(content(&hub, name), content(&shop, name));
    let kept = conflicts(&shop);
    assert!(
        kept.iter()
            .any(|l| l["update_type"] == "Delete" && l["conflict"]["incoming"]["doc"].is_null()),
        "the shop keeps the hub's delete as a conflict: {kept:?}"
    );
}

//! One-paste enrolment: a hub invites, a shop redeems the link, and
//! documents flow both ways — with real sites over HTTP.

use outpost_tests::TestSite;
use serde_json::{json, Value};

fn site(name: &str) -> TestSite {
    let s = TestSite::start_with(&["--background-sync", "false"]);
    let a = s.method(
        "outpost.site.configure",
        json!({"site_name": name, "url": s.base}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    s
}

fn invite(hub: &TestSite, body: Value) -> Value {
    let a = hub.method("outpost.invite.create", body);
    assert_eq!(a.status, 200, "{a:?}");
    a.body["message"].clone()
}

fn redeem(shop: &TestSite, link: &str) -> (u16, Value) {
    let a = shop.method("outpost.invite.redeem", json!({ "link": link }));
    (a.status, a.body)
}

/// Users on the hub made by invitations.
fn invited_users(hub: &TestSite) -> usize {
    hub.list(
        "User",
        &[("filters", r#"[["email", "like", "%@shops.outpost"]]"#)],
    )
    .data()
    .as_array()
    .unwrap()
    .len()
}

#[test]
fn a_shop_joins_with_one_link_and_documents_flow_both_ways_once_the_hub_approves() {
    let hub = site("Hub");
    let shop = site("Shop 1");
    let inv = invite(
        &hub,
        json!({"label": "Shop 1", "push_doctypes": ["Sales Invoice"], "pull_doctypes": [{"ref_doctype": "Item"}]}),
    );
    let link = inv["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/join#", hub.base)), "{link}");
    let token = link.rsplit('.').next().unwrap().to_owned();
    let listed = hub.method("outpost.invite.list", json!({})).body["message"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&token),
        "the token is said once: {listed}"
    );

    let (status, body) = redeem(&shop, &link);
    assert_eq!(status, 200, "{body}");
    let ep = &body["message"];
    assert_eq!(ep["producer_url"], hub.base);
    assert_eq!(ep["registration_status"], "Registered");
    assert!(
        ep.get("api_secret").is_none(),
        "the secret went to the keyring, not the answer"
    );
    let shop_id = shop.site_id();
    let hub_side = hub.get("Event Consumer", &shop_id).data().clone();
    assert_eq!(hub_side["consumer_doctypes"][0]["ref_doctype"], "Item");
    assert_eq!(
        hub_side["consumer_doctypes"][0]["status"], "Pending",
        "the hub decides"
    );
    let used = &hub.method("outpost.invite.list", json!({})).body["message"][0];
    assert_eq!(used["redeemed_by"], shop_id);
    assert_eq!(used["redeemed_by_name"], "Shop 1");

    // A shop invoice and a hub item: neither moves before approval.
    shop.insert("Customer", json!({"customer_name": "Acme"}))
        .data();
    shop.insert("Item", json!({"item_code": "PEN"})).data();
    let inv_name = shop
        .insert(
            "Sales Invoice",
            json!({"customer": "Acme", "items": [{"item_code": "PEN", "qty": 2, "rate": 3}]}),
        )
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.insert("Item", json!({"item_code": "HUB-ITEM"})).data();
    shop.sync_now();
    assert_eq!(hub.get("Sales Invoice", &inv_name).status, 404);
    assert_eq!(shop.get("Item", "HUB-ITEM").status, 404);

    hub.decide(&shop_id, &[("Item", "Approved")]);
    hub.approve_pushes_of(&shop_id);
    shop.sync_now();
    assert_eq!(
        hub.get("Sales Invoice", &inv_name).data()["grand_total"],
        6.0
    );
    assert_eq!(shop.get("Item", "HUB-ITEM").status, 200);

    // Renew keys on the shop: the hub makes new ones, the shop keeps them,
    // nobody pastes anything, and the sync goes on.
    let old_key = shop.get("Event Producer", &hub.base).data()["api_key"].clone();
    let a = shop.method("outpost.event.renew_keys", json!({"producer": hub.base}));
    assert_eq!(a.status, 200, "{a:?}");
    let new_key = shop.get("Event Producer", &hub.base).data()["api_key"].clone();
    assert_ne!(old_key, new_key);
    hub.insert("Item", json!({"item_code": "AFTER-RENEWAL"}))
        .data();
    shop.sync_now();
    assert_eq!(shop.get("Item", "AFTER-RENEWAL").status, 200);
    // Renew keys on the hub: the shop is asked in the answer to its next
    // contact and renews them itself; its old key worked until then.
    let a = hub.method("outpost.event.ask_key_renewal", json!({"site_id": shop_id}));
    assert_eq!(a.status, 200, "{a:?}");
    hub.insert("Item", json!({"item_code": "BEFORE-HUB-RENEWAL"}))
        .data();
    shop.sync_now();
    assert_eq!(
        shop.get("Item", "BEFORE-HUB-RENEWAL").status,
        200,
        "the old key still worked"
    );
    let renewed = shop.get("Event Producer", &hub.base).data()["api_key"].clone();
    assert_ne!(renewed, new_key, "new keys after the contact");
    hub.insert("Item", json!({"item_code": "AFTER-HUB-RENEWAL"}))
        .data();
    shop.sync_now();
    assert_eq!(
        shop.get("Item", "AFTER-HUB-RENEWAL").status,
        200,
        "and the new ones work"
    );
    let a = hub.method(
        "outpost.event.ask_key_renewal",
        json!({"site_id": "no-such-site"}),
    );
    assert_eq!(a.status, 400, "{a:?}");
    // A System Manager's key does not renew itself this way.
    let a = hub.method("outpost.keys.renew", json!({}));
    assert_eq!(a.status, 403, "{a:?}");
}

#[test]
fn a_pre_approved_invitation_lets_documents_flow_at_once() {
    let hub = site("Hub");
    let shop = site("Shop 2");
    let inv = invite(
        &hub,
        json!({"label": "Shop 2", "push_doctypes": ["Note"], "pull_doctypes": [{"ref_doctype": "Item"}], "pre_approved": true}),
    );
    let (status, body) = redeem(&shop, inv["link"].as_str().unwrap());
    assert_eq!(status, 200, "{body}");
    hub.insert("Item", json!({"item_code": "FAST"})).data();
    let note = shop
        .insert("Note", json!({"title": "From the shop", "public": 1}))
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    shop.sync_now();
    assert_eq!(
        shop.get("Item", "FAST").status,
        200,
        "pulled without a decision"
    );
    assert_eq!(
        hub.get("Note", &note).status,
        200,
        "pushed without a decision"
    );
}

#[test]
fn a_used_expired_or_tampered_link_is_refused_with_its_reason_and_makes_nothing() {
    let hub = site("Hub");
    let first = site("Shop A");
    let second = site("Shop B");
    let inv = invite(
        &hub,
        json!({"label": "Shop A", "pull_doctypes": [{"ref_doctype": "Item"}]}),
    );
    let link = inv["link"].as_str().unwrap().to_owned();
    assert_eq!(redeem(&first, &link).0, 200);
    assert_eq!(invited_users(&hub), 1);

    let refused = |shop: &TestSite, link: &str, says: &str| {
        let (status, body) = redeem(shop, link);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "link", "{body}");
        let msg = body["message"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
        assert!(
            !msg.contains(link.rsplit('.').next().unwrap()),
            "no token in an error: {msg}"
        );
        assert_eq!(
            shop.list("Event Producer", &[])
                .data()
                .as_array()
                .unwrap()
                .len(),
            0,
            "nothing set up"
        );
    };
    // Used: by another shop.
    refused(&second, &link, "already used");
    // Tampered: one character of the token changed; cut short; not a link at all.
    let mut bad = link.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'a' { 'b' } else { 'a' });
    refused(&second, &bad, "not valid");
    refused(
        &second,
        &link[..link.len() - 5],
        "not an Outpost invitation link",
    );
    refused(&second, "hello", "not an Outpost invitation link");
    // Expired: its expiry moved into the past in the hub's own store (an
    // hour's wait is real but too long for a test).
    let late = invite(
        &hub,
        json!({"label": "Shop B", "pull_doctypes": [{"ref_doctype": "Item"}], "expires_in_hours": 1}),
    );
    let db = rusqlite::Connection::open(hub.data_dir().join("site.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE invitations SET expires = '2026-01-01T00:00:00Z' WHERE id = ?1",
        [late["id"].as_str().unwrap()],
    )
    .unwrap();
    refused(&second, late["link"].as_str().unwrap(), "expired");
    assert_eq!(invited_users(&hub), 1, "no user made by a refused link");

    // Bad invitations are refused when made, naming the field.
    for (body, field) in [
        (
            json!({"label": "", "pull_doctypes": [{"ref_doctype": "Item"}]}),
            "label",
        ),
        (json!({"label": "X"}), "push_doctypes"),
        (
            json!({"label": "X", "push_doctypes": ["Nope"]}),
            "push_doctypes",
        ),
        (
            json!({"label": "X", "push_doctypes": ["User"]}),
            "push_doctypes",
        ),
        (
            json!({"label": "X", "push_doctypes": ["Note"], "expires_in_hours": 0}),
            "expires_in_hours",
        ),
    ] {
        let a = hub.method("outpost.invite.create", body);
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.body["field"], field, "{a:?}");
    }
    // The same shop pasting its link again gets new keys and still syncs.
    assert_eq!(redeem(&first, &link).0, 200);
    hub.decide(&first.site_id(), &[("Item", "Approved")]);
    hub.insert("Item", json!({"item_code": "AGAIN"})).data();
    first.sync_now();
    assert_eq!(first.get("Item", "AGAIN").status, 200);
}

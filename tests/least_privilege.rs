//! A consumer's key on the producer (SPEC F8, least privilege): the role
//! Event Subscriber may register, pull, acknowledge, fetch what its
//! approved rows reach (conditions included) and read its own status —
//! every other resource and method is refused, and it cannot change any
//! decision. Real `outpostd` processes.

use outpost_tests::{enc, TestSite};
use serde_json::{json, Value};

const QUIET: &[&str] = &["--background-sync", "false"];

/// Every method the site serves, as its OpenAPI document lists them.
fn all_methods(site: &TestSite) -> Vec<String> {
    let doc = site.admin("GET", "/api/openapi.json", None).body;
    let params = &doc["paths"]["/api/method/{method}"]["post"]["parameters"];
    let text = params[0]["description"]
        .as_str()
        .expect("the method parameter lists the methods");
    text.trim_start_matches("One of: ")
        .split(", ")
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_subscriber_key_reaches_only_the_streaming_methods_and_what_its_rows_allow() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "condition": "doc.public == 1"}, {"ref_doctype": "Customer"}]),
    );
    let id = consumer.site_id();
    producer.decide(&id, &[("Note", "Approved"), ("Customer", "Rejected")]);
    let public = producer
        .insert("Note", json!({"title": "open", "public": 1}))
        .data()["name"]
        .clone();
    let private = producer
        .insert("Note", json!({"title": "closed", "public": 0}))
        .data()["name"]
        .clone();
    producer
        .insert("Supplier", json!({"supplier_name": "Hidden Supplies"}))
        .data();
    let key = producer.subscriber.header();
    let as_subscriber =
        |verb: &str, path: &str, body: Option<Value>| producer.call(Some(&key), verb, path, body);

    // Every resource, every verb: refused.
    let doctypes = producer.method("outpost.doctype.list", json!({})).body["message"]
        .as_array()
        .expect("doctypes")
        .iter()
        .filter(|d| d["istable"] != 1 && d["istable"] != true)
        .map(|d| d["name"].as_str().expect("name").to_owned())
        .collect::<Vec<_>>();
    assert!(doctypes.len() >= 15, "{doctypes:?}");
    for dt in &doctypes {
        let list = format!("/api/resource/{}", enc(dt));
        let one = producer
            .list(dt, &[])
            .data()
            .as_array()
            .and_then(|l| l.first().cloned());
        let one = one.map_or("anything".to_owned(), |d| {
            d["name"].as_str().unwrap_or("x").to_owned()
        });
        let doc = format!("{list}/{}", enc(&one));
        for (verb, path, body) in [
            ("GET", &list, None),
            ("POST", &list, Some(json!({"title": "x"}))),
            ("GET", &doc, None),
            ("PUT", &doc, Some(json!({"title": "x"}))),
            ("DELETE", &doc, None),
        ] {
            let a = as_subscriber(verb, path, body);
            assert_eq!(a.status, 403, "{verb} {path} must be refused: {a:?}");
        }
    }

    // Every method but the subscriber's: refused before anything runs.
    let allowed = [
        "frappe.auth.get_logged_user",
        "outpost.event.register",
        "outpost.event.pull",
        "outpost.event.ack",
        "outpost.event.fetch",
        "outpost.event.find",
        "outpost.event.subscription",
        "outpost.event.resnapshot",
        "outpost.event.push",
        // Its own keys only (tests/invite.rs renews them).
        "outpost.keys.renew",
    ];
    let methods = all_methods(&producer);
    assert!(methods.len() > allowed.len() + 10, "{methods:?}");
    for m in methods.iter().filter(|m| !allowed.contains(&m.as_str())) {
        let a = as_subscriber(
            "POST",
            &format!("/api/method/{m}"),
            Some(json!({"user": "subscriber@example.com"})),
        );
        assert_eq!(a.status, 403, "{m} must be refused: {a:?}");
    }

    // The allowed ones answer, for this consumer and within its rows.
    let ok = |m: &str, body: Value| {
        let a = as_subscriber("POST", &format!("/api/method/{m}"), Some(body));
        assert_eq!(a.status, 200, "{m}: {a:?}");
        a.body["message"].clone()
    };
    assert_eq!(
        ok("frappe.auth.get_logged_user", json!({})),
        "subscriber@example.com"
    );
    let page = ok(
        "outpost.event.pull",
        json!({"site_id": id, "after": 0, "limit": 100}),
    );
    let names: Vec<&Value> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["docname"])
        .collect();
    assert_eq!(names, vec![&public], "only the public note: {page}");
    ok(
        "outpost.event.ack",
        json!({"site_id": id, "page": page["page"]}),
    );
    ok(
        "outpost.event.resnapshot",
        json!({"site_id": id, "ref_doctype": "Note"}),
    );
    let rejected = as_subscriber(
        "POST",
        "/api/method/outpost.event.resnapshot",
        Some(json!({"site_id": id, "ref_doctype": "Customer"})),
    );
    assert_eq!(
        rejected.status, 400,
        "a rejected doctype is not sent again: {rejected:?}"
    );
    let status = ok("outpost.event.subscription", json!({"site_id": id}));
    assert!(
        status["approvals"].to_string().contains("Rejected"),
        "{status}"
    );
    assert_eq!(
        ok(
            "outpost.event.fetch",
            json!({"site_id": id, "doctype": "Note", "name": public})
        )["title"],
        "open"
    );
    assert_eq!(
        ok(
            "outpost.event.find",
            json!({"site_id": id, "doctype": "Note", "filters": {"title": "open"}})
        )["name"],
        public
    );
    // A dependency fetch honours the row's condition, and rows not approved.
    for (doctype, name) in [
        ("Note", private.clone()),
        ("Supplier", json!("Hidden Supplies")),
    ] {
        let a = as_subscriber(
            "POST",
            "/api/method/outpost.event.fetch",
            Some(json!({"site_id": id, "doctype": doctype, "name": name})),
        );
        assert_eq!(a.status, 403, "{doctype} {name}: {a:?}");
    }
    // Another consumer's status is not its to read.
    let a = as_subscriber(
        "POST",
        "/api/method/outpost.event.subscription",
        Some(json!({"site_id": "someone-else"})),
    );
    assert_eq!(a.status, 403, "{a:?}");
    let a = as_subscriber(
        "POST",
        "/api/method/outpost.event.resnapshot",
        Some(json!({"site_id": "someone-else", "ref_doctype": "Note"})),
    );
    assert_eq!(a.status, 403, "nor to restart its snapshot: {a:?}");

    // A Rejected row stays Rejected: not approvable with the key, and not
    // reset by dropping the row and registering it again.
    let ec = format!("/api/resource/Event%20Consumer/{}", enc(&id));
    let a = as_subscriber(
        "PUT",
        &ec,
        Some(json!({"consumer_doctypes": [{"ref_doctype": "Customer", "status": "Approved"}]})),
    );
    assert_eq!(a.status, 403, "{a:?}");
    let register = |doctypes: Value| {
        as_subscriber(
            "POST",
            "/api/method/outpost.event.register",
            Some(json!({"site_id": id, "site_name": "shop", "doctypes": doctypes})),
        )
    };
    assert_eq!(register(json!([{"ref_doctype": "Note"}])).status, 200);
    let again = register(json!([{"ref_doctype": "Note"}, {"ref_doctype": "Customer"}]));
    assert_eq!(again.status, 200, "{again:?}");
    let decided = producer.get("Event Consumer", &id).data()["consumer_doctypes"].clone();
    let customer = decided
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["ref_doctype"] == "Customer")
        .expect("the Customer row")
        .clone();
    assert_eq!(customer["status"], "Rejected", "{decided}");
    assert!(
        again.body["message"]["approvals"]
            .to_string()
            .contains("Rejected"),
        "{again:?}"
    );
}

#[test]
fn another_subscriber_cannot_take_over_a_registered_consumer() {
    let producer = TestSite::start_with(QUIET);
    let consumer = TestSite::start_with(QUIET);
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Note"}]));
    let id = consumer.site_id();
    let intruder = producer.user_with_keys("intruder@example.com", &["Event Subscriber"]);
    let a = producer.call(
        Some(&intruder.header()),
        "POST",
        "/api/method/outpost.event.register",
        Some(json!({"site_id": id, "site_name": "evil", "doctypes": [{"ref_doctype": "Note"}]})),
    );
    let (_, msg, _) = a.error(403);
    assert!(msg.contains("registered here with another user"), "{msg}");
    let a = producer.call(
        Some(&intruder.header()),
        "POST",
        "/api/method/outpost.event.pull",
        Some(json!({"site_id": id, "after": 0, "limit": 10})),
    );
    a.error(403);
    assert_eq!(
        producer.get("Event Consumer", &id).data()["user"],
        "subscriber@example.com"
    );
}

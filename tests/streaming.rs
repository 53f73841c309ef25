//! Event streaming between two real `outpostd` processes over HTTP
//! (SPEC F8–F15, F21).

use outpost_tests::TestSite;
use serde_json::{json, Value};

/// A producer and a consumer; scheduled pulls are slow so tests decide when to sync.
/// Two sites with background sync off: every sync here is a Sync now, so
/// its counts are exact.
fn pair() -> (TestSite, TestSite) {
    (
        TestSite::start_with(&["--background-sync", "false"]),
        TestSite::start_with(&["--background-sync", "false"]),
    )
}

fn statuses(ep: &Value) -> Vec<(String, String)> {
    ep["producer_doctypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ref_doctype"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn inserts_updates_and_deletes_of_several_doctypes_flow_once_approved() {
    let (producer, consumer) = pair();
    let ep = consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "Customer"}]),
    );
    assert_eq!(ep["registration_status"], "Registered");
    assert_eq!(
        statuses(&ep),
        [
            ("Note".into(), "Pending".into()),
            ("Customer".into(), "Pending".into())
        ]
    );
    assert!(
        ep.get("api_secret").is_none(),
        "the secret is never returned"
    );
    producer.decide(
        &consumer.site_id(),
        &[("Note", "Approved"), ("Customer", "Approved")],
    );

    let note = producer
        .insert(
            "Note",
            json!({"title": "Price list", "content": "v1", "public": 1}),
        )
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    producer
        .insert("Customer", json!({"customer_name": "Acme"}))
        .data();
    let summary = consumer.sync_now();
    assert_eq!(summary[0]["synced"], 2, "{summary}");
    assert_eq!(summary[0]["online"], true);
    let got = consumer.get("Note", &note).data().clone();
    assert_eq!(
        (got["title"].as_str(), got["content"].as_str()),
        (Some("Price list"), Some("v1"))
    );
    assert_eq!(
        got["owner"], "admin@example.com",
        "owned by the Event Producer's user"
    );
    assert_eq!(consumer.get("Customer", "Acme").status, 200);

    producer
        .update(
            "Note",
            &note,
            json!({"content": "v2", "title": "Price list 2026"}),
        )
        .data();
    consumer.sync_now();
    let got = consumer.get("Note", &note).data().clone();
    assert_eq!(
        (got["title"].as_str(), got["content"].as_str()),
        (Some("Price list 2026"), Some("v2"))
    );

    producer.delete("Note", &note).data();
    consumer.sync_now();
    consumer.get("Note", &note).error(404);

    // One update-log entry per change on the producer, one sync log per received entry.
    let log = producer
        .method("outpost.event.update_log", json!({"ref_doctype": "Note"}))
        .body["message"]
        .clone();
    let kinds: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["update_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Delete", "Update", "Create"]);
    assert_eq!(
        log[1]["data"]["changed"],
        json!({"title": "Price list 2026", "content": "v2"})
    );
    assert!(log[0]["received_by"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == &json!(consumer.site_id())));
    let synced = consumer.sync_log_all();
    assert_eq!(synced.len(), 4);
    assert!(synced.iter().all(|l| l["status"] == "Synced"), "{synced:?}");

    // Nothing new: a sync applies nothing and writes no log.
    assert_eq!(consumer.sync_now()[0]["pulled"], 0);
    assert_eq!(consumer.sync_log_all().len(), 4);
}

#[test]
fn pending_and_rejected_doctypes_deliver_nothing_and_unsubscribe_stops_delivery() {
    let (producer, consumer) = pair();
    let ep = consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "Customer"}, {"ref_doctype": "Item"}]),
    );
    let name = ep["name"].as_str().unwrap().to_owned();
    producer.decide(
        &consumer.site_id(),
        &[("Note", "Approved"), ("Customer", "Rejected")],
    );
    producer.insert("Note", json!({"title": "approved"})).data();
    producer
        .insert("Customer", json!({"customer_name": "Rejected Co"}))
        .data();
    producer
        .insert("Item", json!({"item_code": "PENDING-1"}))
        .data();
    consumer.sync_now();
    assert_eq!(consumer.count("Note", json!({"title": "approved"})), 1);
    assert_eq!(
        consumer.count("Customer", json!({})),
        0,
        "Rejected delivers nothing"
    );
    assert_eq!(
        consumer.count("Item", json!({})),
        0,
        "Pending delivers nothing"
    );
    let ep = consumer.get("Event Producer", &name).data().clone();
    assert_eq!(
        statuses(&ep),
        [
            ("Note".into(), "Approved".into()),
            ("Customer".into(), "Rejected".into()),
            ("Item".into(), "Pending".into())
        ],
        "the consumer sees the producer's decisions"
    );

    // Unsubscribe Note: the edit keeps the other rows' approvals.
    let mut rows = ep["producer_doctypes"].as_array().unwrap().clone();
    rows[0]["unsubscribe"] = json!(1);
    consumer
        .update("Event Producer", &name, json!({"producer_doctypes": rows}))
        .data();
    producer
        .insert("Note", json!({"title": "after unsubscribe"}))
        .data();
    consumer.sync_now();
    assert_eq!(
        consumer.count("Note", json!({"title": "after unsubscribe"})),
        0
    );
    let ec = producer
        .get("Event Consumer", &consumer.site_id())
        .data()
        .clone();
    let note_row = ec["consumer_doctypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref_doctype"] == "Note")
        .unwrap()
        .clone();
    assert_eq!(
        (
            note_row["status"].as_str(),
            note_row["unsubscribed"].as_i64()
        ),
        (Some("Approved"), Some(1))
    );
}

#[test]
fn dependencies_arrive_first_through_child_rows_dynamic_links_and_invoice_parties_but_never_a_user()
{
    let (producer, consumer) = pair();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note"}, {"ref_doctype": "ToDo"}, {"ref_doctype": "Sales Invoice"}]),
    );
    producer.decide(
        &consumer.site_id(),
        &[
            ("Note", "Approved"),
            ("ToDo", "Approved"),
            ("Sales Invoice", "Approved"),
        ],
    );

    producer
        .insert(
            "User",
            json!({"email": "viewer@example.com", "full_name": "Vi Ewer"}),
        )
        .data();
    let note = producer
        .insert(
            "Note",
            json!({"title": "Seen", "seen_by": [{"user": "viewer@example.com"}]}),
        )
        .data()
        .clone();
    consumer.get("User", "viewer@example.com").error(404);

    // The ToDo points through a Dynamic Link at a Lead, a doctype the consumer does not subscribe to.
    let hidden = producer.insert("Lead", json!({"lead_name": "Dana"})).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let todo = producer
        .insert(
            "ToDo",
            json!({"description": "call Dana", "reference_type": "Lead", "reference_name": hidden}),
        )
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    producer.seed_sales();
    let inv = producer
        .insert(
            "Sales Invoice",
            json!({"customer": "Acme", "items": [{"item_code": "PEN"}, {"item_code": "INK"}]}),
        )
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 0, "{s}");
    // A User is never taken from a producer unless subscribed to (it could
    // bring roles): the note keeps the producer's user name.
    consumer.get("User", "viewer@example.com").error(404);
    assert_eq!(
        consumer.get("Note", note["name"].as_str().unwrap()).data()["seen_by"][0]["user"],
        "viewer@example.com"
    );
    assert_eq!(
        consumer.get("Lead", &hidden).data()["lead_name"],
        "Dana",
        "Dynamic Link target fetched"
    );
    assert_eq!(
        consumer.get("ToDo", &todo).data()["reference_name"],
        json!(hidden)
    );
    assert_eq!(consumer.get("Customer", "Acme").status, 200);
    assert_eq!(consumer.get("Item", "PEN").status, 200);
    assert_eq!(consumer.get("Item", "INK").status, 200);
    assert_eq!(
        consumer.get("Sales Invoice", &inv).data()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        consumer.count("Item", json!({})),
        2,
        "only what is linked: PAD was not fetched"
    );

    // Scoped access: the producer refuses a fetch of something nothing approved links to.
    let stray = producer
        .insert("Item", json!({"item_code": "SECRET-RECIPE"}))
        .data()
        .clone();
    assert_eq!(stray["name"], "SECRET-RECIPE");
    let refused = producer.call(
        Some(&producer.subscriber.header()),
        "POST",
        "/api/method/outpost.event.fetch",
        Some(json!({"site_id": consumer.site_id(), "doctype": "Item", "name": "SECRET-RECIPE"})),
    );
    let (exc, _, _) = refused.error(403);
    assert_eq!(exc, "PermissionError");
}

#[test]
fn without_same_name_documents_are_found_again_by_remote_name_and_site() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Note", "use_same_name": 0}]),
    );
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);
    let remote = producer.insert("Note", json!({"title": "renamed"})).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    consumer.sync_now();
    let found = consumer.list(
        "Note",
        &[(
            "fields",
            r#"["name","remote_docname","remote_site_name","title"]"#,
        )],
    );
    let local = found.data()[0].clone();
    assert_ne!(
        local["name"],
        json!(remote),
        "named by the consumer's own rule"
    );
    assert_eq!(local["remote_docname"], json!(remote));
    assert_eq!(local["remote_site_name"], json!(producer.site_id()));
    let local_name = local["name"].as_str().unwrap().to_owned();

    producer
        .update("Note", &remote, json!({"title": "renamed twice"}))
        .data();
    consumer.sync_now();
    assert_eq!(
        consumer.get("Note", &local_name).data()["title"],
        "renamed twice"
    );
    producer.delete("Note", &remote).data();
    consumer.sync_now();
    consumer.get("Note", &local_name).error(404);
    let log = consumer.sync_log_all();
    assert!(
        log.iter()
            .all(|l| l["docname"] == json!(local_name) && l["remote_docname"] == json!(remote)),
        "{log:?}"
    );
}

#[test]
fn a_failed_entry_shows_its_error_blocks_later_ones_and_resync_turns_it_synced() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Customer"}]));
    producer.decide(&consumer.site_id(), &[("Customer", "Approved")]);
    // The producer has a field the consumer lacks: applying fails, for real.
    producer.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Customer", "field": {"fieldname": "loyalty_card", "fieldtype": "Data"}}),
    );
    producer
        .insert(
            "Customer",
            json!({"customer_name": "Bo", "loyalty_card": "LC-9"}),
        )
        .data();
    producer
        .update("Customer", "Bo", json!({"territory": "North"}))
        .data();
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 2, "{s}");
    let log = consumer.sync_log_all();
    let (update, create) = (&log[0], &log[1]);
    assert_eq!(create["status"], "Failed");
    assert!(
        create["error"]
            .as_str()
            .unwrap()
            .contains("Unknown field loyalty_card"),
        "{create}"
    );
    assert!(
        update["error"]
            .as_str()
            .unwrap()
            .contains("Waiting for an earlier failed update"),
        "{update}"
    );
    let status = consumer
        .method("outpost.event.producer_status", json!({}))
        .body["message"][0]
        .clone();
    assert_eq!(status["failed"], 2);

    consumer.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Customer", "field": {"fieldname": "loyalty_card", "fieldtype": "Data"}}),
    );
    let fixed = consumer.method("outpost.event.resync", json!({"id": create["id"]}));
    assert_eq!(fixed.body["message"]["status"], "Synced", "{fixed:?}");
    let bo = consumer.get("Customer", "Bo").data().clone();
    assert_eq!(
        (bo["loyalty_card"].as_str(), bo["territory"].as_str()),
        (Some("LC-9"), Some("North")),
        "the waiting update followed"
    );
    assert!(consumer
        .sync_log_all()
        .iter()
        .all(|l| l["status"] == "Synced"));
}

#[test]
fn a_producer_user_without_the_subscriber_role_an_administrator_key_or_a_wrong_secret_is_refused_and_nothing_is_stored(
) {
    let (producer, consumer) = pair();
    let clerk = producer.user_with_keys("clerk@example.com", &["Sales User"]);
    let doc = json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": clerk.api_key,
                     "api_secret": clerk.api_secret, "producer_doctypes": [{"ref_doctype": "Note"}]});
    let (_, msg, _) = consumer.insert("Event Producer", doc).error(400);
    assert!(
        msg.contains("does not have the role Event Subscriber"),
        "{msg}"
    );
    // Least privilege: an administrator's key is refused, and the message says what to use.
    let doc = json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": producer.admin.api_key,
                     "api_secret": producer.admin.api_secret, "producer_doctypes": [{"ref_doctype": "Note"}]});
    let (_, msg, _) = consumer.insert("Event Producer", doc).error(400);
    assert!(
        msg.contains("is a System Manager") && msg.contains("only the role Event Subscriber"),
        "{msg}"
    );
    let doc = json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": producer.subscriber.api_key,
                     "api_secret": "wrong", "producer_doctypes": [{"ref_doctype": "Note"}]});
    let (_, msg, _) = consumer.insert("Event Producer", doc).error(400);
    assert!(msg.contains("Invalid API key or secret"), "{msg}");
    let doc = json!({"producer_url": "ftp://x", "user": "admin@example.com", "api_key": "k", "api_secret": "s",
                     "producer_doctypes": [{"ref_doctype": "Note"}]});
    let (_, _, field) = consumer.insert("Event Producer", doc).error(400);
    assert_eq!(field.as_deref(), Some("producer_url"));
    assert_eq!(consumer.count("Event Producer", json!({})), 0);
}

#[test]
fn a_todo_whose_dynamic_link_points_at_an_unsubscribed_note_brings_that_note_first() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "ToDo"}]));
    producer.decide(&consumer.site_id(), &[("ToDo", "Approved")]);
    let note = producer
        .insert(
            "Note",
            json!({"title": "Call list", "content": "Dana, Eli"}),
        )
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let todo = producer
        .insert("ToDo", json!({"description": "work the call list", "reference_type": "Note", "reference_name": note}))
        .data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = consumer.sync_now();
    assert_eq!(
        (s[0]["synced"].as_i64(), s[0]["failed"].as_i64()),
        (Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(
        consumer.get("Note", &note).data()["content"],
        "Dana, Eli",
        "the Note came as a dependency"
    );
    assert_eq!(
        consumer.get("ToDo", &todo).data()["reference_name"],
        json!(note)
    );
}

/// A page is applied whole unless an entry fails: then it is applied again
/// entry by entry. The documents before and after the failing one arrive
/// whole (their data read again from what came), the failing one is a
/// Failed line that keeps its document for Resync, and nothing else.
#[test]
fn one_failing_entry_in_a_page_takes_nothing_with_it() {
    let (producer, consumer) = pair();
    consumer.subscribe_to(&producer, json!([{"ref_doctype": "Customer"}]));
    producer.decide(&consumer.site_id(), &[("Customer", "Approved")]);
    // Both sites know the field; only the consumer requires it.
    producer.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Customer", "field": {"fieldname": "vat_id", "fieldtype": "Data"}}),
    );
    consumer.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Customer", "field": {"fieldname": "vat_id", "fieldtype": "Data", "reqd": 1}}),
    );
    for (name, vat) in [("Ann", "V-1"), ("Bo", ""), ("Cy", "V-3")] {
        producer
            .insert(
                "Customer",
                json!({"customer_name": name, "vat_id": vat, "territory": format!("{name} land")}),
            )
            .data();
    }
    let s = consumer.sync_now();
    assert_eq!(
        (s[0]["synced"].as_i64(), s[0]["failed"].as_i64()),
        (Some(2), Some(1)),
        "{s}"
    );
    for (name, vat) in [("Ann", "V-1"), ("Cy", "V-3")] {
        let doc = consumer.get("Customer", name).data().clone();
        assert_eq!(
            (doc["vat_id"].as_str(), doc["territory"].as_str()),
            (Some(vat), Some(format!("{name} land").as_str())),
            "{doc}"
        );
    }
    assert_eq!(consumer.get("Customer", "Bo").status, 404);
    let log = consumer.sync_log_all();
    let failed: Vec<&Value> = log.iter().filter(|l| l["status"] == "Failed").collect();
    assert_eq!(failed.len(), 1, "{log:?}");
    assert_eq!(failed[0]["remote_docname"], "Bo");
    assert_eq!(failed[0]["data"]["territory"], "Bo land", "{}", failed[0]);
    assert!(
        failed[0]["error"].as_str().unwrap_or("").contains("vat_id"),
        "{}",
        failed[0]
    );
}

//! Document Type Mapping (SPEC F16) between two real sites.

use outpost_tests::TestSite;
use serde_json::{json, Value};

fn pair() -> (TestSite, TestSite) {
    (
        TestSite::start_with(&["--sync-interval", "3600"]),
        TestSite::start_with(&["--sync-interval", "3600"]),
    )
}

fn name(v: &Value) -> String {
    v["name"].as_str().unwrap().to_owned()
}

fn synced(consumer: &TestSite) {
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 0, "{s}");
    assert!(s[0]["error"].is_null(), "{s}");
}

/// On the consumer: a remote Note stored as a ToDo, whose Role (named after
/// the note's title) is created first through an inner "Document" mapping.
fn note_to_todo(consumer: &TestSite) {
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Note to Role", "local_doctype": "Role", "remote_doctype": "Note",
                   "field_mapping": [{"local_fieldname": "role_name", "remote_fieldname": "title"}]}),
        )
        .data();
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Note to ToDo", "local_doctype": "ToDo", "remote_doctype": "Note",
                   "field_mapping": [
                       {"local_fieldname": "description", "remote_fieldname": "content", "default_value": "(empty note)"},
                       {"local_fieldname": "priority", "default_value": "High"},
                       {"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document",
                        "mapping": "Note to Role", "remote_value_filters": "{\"title\": \"title\"}"}]}),
        )
        .data();
}

#[test]
fn a_remote_note_lives_here_as_a_todo_through_create_update_and_delete() {
    let (producer, consumer) = pair();
    note_to_todo(&consumer);
    let ep = consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "ToDo", "has_mapping": 1, "mapping": "Note to ToDo"}]),
    );
    let row = &ep["producer_doctypes"][0];
    assert_eq!(row["remote_doctype"], "Note", "{ep}");
    // The producer is asked for Notes, and approves Notes.
    let ec = producer
        .get("Event Consumer", &consumer.site_id())
        .data()
        .clone();
    assert_eq!(ec["consumer_doctypes"][0]["ref_doctype"], "Note");
    producer.decide(&consumer.site_id(), &[("Note", "Approved")]);

    let note = name(
        producer
            .insert(
                "Note",
                json!({"title": "Night shift", "content": "Lock the back door"}),
            )
            .data(),
    );
    synced(&consumer);
    let todo = consumer.get("ToDo", &note).data().clone();
    assert_eq!(todo["description"], "Lock the back door");
    assert_eq!(
        todo["priority"], "High",
        "default for a field with no remote"
    );
    assert_eq!(
        todo["role"], "Night shift",
        "the Role made from the note's title"
    );
    assert_eq!(
        consumer.get("Role", "Night shift").data()["role_name"],
        "Night shift"
    );
    consumer.get("Note", &note).error(404);
    let log = consumer.method("outpost.event.sync_log", json!({})).body["message"].clone();
    assert_eq!(
        (
            log[0]["ref_doctype"].as_str(),
            log[0]["mapping"].as_str(),
            log[0]["remote_docname"].as_str()
        ),
        (Some("ToDo"), Some("Note to ToDo"), Some(note.as_str()))
    );

    // An update maps its diff; a new title brings a new Role.
    producer
        .update(
            "Note",
            &note,
            json!({"content": "Lock both doors", "title": "Closing"}),
        )
        .data();
    synced(&consumer);
    let todo = consumer.get("ToDo", &note).data().clone();
    assert_eq!(
        (todo["description"].as_str(), todo["role"].as_str()),
        (Some("Lock both doors"), Some("Closing"))
    );
    assert_eq!(
        todo["priority"], "High",
        "an update leaves the default alone"
    );

    // A note without content gets the default description; a second note
    // with a known title reuses its Role.
    let bare = name(producer.insert("Note", json!({"title": "Closing"})).data());
    synced(&consumer);
    assert_eq!(
        consumer.get("ToDo", &bare).data()["description"],
        "(empty note)"
    );
    assert_eq!(consumer.count("Role", json!({"role_name": "Closing"})), 1);

    producer.delete("Note", &note).data();
    synced(&consumer);
    consumer.get("ToDo", &note).error(404);
    consumer.get("ToDo", &bare).data();
}

#[test]
fn invoice_rows_map_onto_a_local_child_table_through_every_kind_of_change() {
    let (producer, consumer) = pair();
    producer.seed_sales();
    for dt in [
        json!({"name": "Shop Order Line", "istable": 1, "fields": [
            {"fieldname": "product", "fieldtype": "Data", "label": "Product"},
            {"fieldname": "quantity", "fieldtype": "Float", "label": "Quantity"}]}),
        json!({"name": "Shop Order", "autoname": "hash", "fields": [
            {"fieldname": "buyer", "fieldtype": "Data", "label": "Buyer"},
            {"fieldname": "lines", "fieldtype": "Table", "options": "Shop Order Line", "label": "Lines"}]}),
    ] {
        let a = consumer.method("outpost.doctype.import", json!({"definition": dt}));
        assert_eq!(a.status, 200, "{a:?}");
    }
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Invoice Item to Line", "local_doctype": "Shop Order Line", "remote_doctype": "Sales Invoice Item",
                   "field_mapping": [{"local_fieldname": "product", "remote_fieldname": "item_code"},
                                     {"local_fieldname": "quantity", "remote_fieldname": "qty"}]}),
        )
        .data();
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Invoice to Order", "local_doctype": "Shop Order", "remote_doctype": "Sales Invoice",
                   "field_mapping": [{"local_fieldname": "buyer", "remote_fieldname": "customer"},
                                     {"local_fieldname": "lines", "remote_fieldname": "items", "mapping_type": "Child Table",
                                      "mapping": "Invoice Item to Line"}]}),
        )
        .data();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Shop Order", "has_mapping": 1, "mapping": "Invoice to Order"}]),
    );
    producer.decide(&consumer.site_id(), &[("Sales Invoice", "Approved")]);

    let inv = producer
        .insert(
            "Sales Invoice",
            json!({"customer": "Acme", "items": [{"item_code": "PEN", "qty": 2}, {"item_code": "INK", "qty": 1}]}),
        )
        .data()
        .clone();
    let inv_name = name(&inv);
    synced(&consumer);
    let lines = |consumer: &TestSite| -> Vec<(String, f64)> {
        let order = consumer.get("Shop Order", &inv_name).data().clone();
        assert_eq!(order["buyer"], "Acme");
        order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["product"].as_str().unwrap().to_owned(),
                    l["quantity"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(lines(&consumer), [("PEN".into(), 2.0), ("INK".into(), 1.0)]);

    // Change one row, remove another, add a third: one update's diff.
    let mut items = inv["items"].as_array().unwrap().clone();
    items[0]["qty"] = json!(5);
    items.remove(1);
    items.push(json!({"item_code": "PAD", "qty": 3}));
    producer
        .update("Sales Invoice", &inv_name, json!({"items": items}))
        .data();
    synced(&consumer);
    assert_eq!(lines(&consumer), [("PEN".into(), 5.0), ("PAD".into(), 3.0)]);
    // No Item or Customer was needed here: the mapping stores plain text.
    assert_eq!(consumer.count("Item", json!({})), 0);

    producer.delete("Sales Invoice", &inv_name).data();
    synced(&consumer);
    consumer.get("Shop Order", &inv_name).error(404);
}

#[test]
fn an_opportunity_brings_the_lead_its_eval_filter_finds_in_the_local_country() {
    let (producer, consumer) = pair();
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Lead from hub", "local_doctype": "Lead", "remote_doctype": "Lead"}),
        )
        .data();
    consumer
        .insert(
            "Document Type Mapping",
            json!({"mapping_name": "Opportunity from hub", "local_doctype": "Opportunity", "remote_doctype": "Opportunity",
                   "field_mapping": [{"local_fieldname": "party_name", "remote_fieldname": "party_name", "mapping_type": "Document",
                                      "mapping": "Lead from hub",
                                      "remote_value_filters": json!({"lead_name": "title",
                                          "country": "eval:frappe.db.get_value('Global Defaults', None, 'country')"}).to_string()}]}),
        )
        .data();
    consumer.subscribe_to(
        &producer,
        json!([{"ref_doctype": "Opportunity", "has_mapping": 1, "mapping": "Opportunity from hub"}]),
    );
    producer.decide(&consumer.site_id(), &[("Opportunity", "Approved")]);

    // Two people of the same name; the older one is in Portugal.
    let lisbon = name(
        producer
            .insert("Lead", json!({"lead_name": "Ana Souza", "country": "Portugal", "email_id": "ana@pt.example"}))
            .data(),
    );
    let recife = name(
        producer
            .insert("Lead", json!({"lead_name": "Ana Souza", "country": "Brazil", "email_id": "ana@br.example"}))
            .data(),
    );
    let first = name(
        producer
            .insert(
                "Opportunity",
                json!({"title": "Ana Souza", "party_name": lisbon, "opportunity_amount": 100}),
            )
            .data(),
    );
    let second = name(
        producer
            .insert(
                "Opportunity",
                json!({"title": "Ana Souza", "party_name": recife, "opportunity_amount": 250}),
            )
            .data(),
    );
    // The shop has not said where it is yet: no Lead matches, the
    // Opportunities fail with the reason and wait.
    let s = consumer.sync_now();
    assert_eq!(s[0]["failed"], 2, "{s}");
    let failed = consumer
        .method("outpost.event.sync_log", json!({"status": "Failed"}))
        .body["message"]
        .clone();
    let failed = failed.as_array().unwrap().clone();
    assert_eq!(failed.len(), 2);
    let err = failed[0]["error"].as_str().unwrap();
    assert!(
        err.contains("Mapping Opportunity from hub") && err.contains("Lead"),
        "{err}"
    );
    consumer.get("Opportunity", &first).error(404);

    consumer
        .insert(
            "Global Defaults",
            json!({"name": "Global Defaults", "country": "Brazil"}),
        )
        .data();
    for f in &failed {
        let again = consumer.method("outpost.event.resync", json!({"id": f["id"]}));
        assert_eq!(again.body["message"]["status"], "Synced", "{again:?}");
    }

    let leads = consumer.list(
        "Lead",
        &[("fields", r#"["name","lead_name","country","email_id"]"#)],
    );
    let leads = leads.data().as_array().unwrap().clone();
    assert_eq!(
        leads.len(),
        1,
        "one Lead, found by the eval: filter, reused: {leads:?}"
    );
    assert_eq!(
        (leads[0]["country"].as_str(), leads[0]["email_id"].as_str()),
        (Some("Brazil"), Some("ana@br.example"))
    );
    for opp in [&first, &second] {
        let o = consumer.get("Opportunity", opp).data().clone();
        assert_eq!(o["party_name"], leads[0]["name"], "{o}");
    }
    assert_eq!(
        consumer.get("Opportunity", &second).data()["opportunity_amount"],
        250.0
    );
}

#[test]
fn mappings_that_cannot_work_are_refused_when_saved() {
    let (producer, consumer) = pair();
    note_to_todo(&consumer);
    let refuse = |doc: Value, field: &str, words: &str| {
        let (_, msg, f) = consumer.insert("Document Type Mapping", doc).error(400);
        assert_eq!(f.as_deref(), Some(field), "{msg}");
        assert!(msg.contains(words), "{msg}");
    };
    refuse(
        json!({"mapping_name": "m1", "local_doctype": "ToDo", "remote_doctype": "Note",
               "field_mapping": [{"local_fieldname": "role", "remote_fieldname": "title"}]}),
        "mapping",
        "Row #1: role is a Link field: set a Mapping or a Default Value",
    );
    refuse(
        json!({"mapping_name": "m2", "local_doctype": "ToDo", "remote_doctype": "Note",
               "field_mapping": [{"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document", "mapping": "Note to Role"}]}),
        "remote_value_filters",
        "Row #1: set Remote Value Filters for title",
    );
    refuse(
        json!({"mapping_name": "m3", "local_doctype": "ToDo", "remote_doctype": "Note",
               "field_mapping": [{"local_fieldname": "summary", "remote_fieldname": "title"}]}),
        "local_fieldname",
        "ToDo has no field summary",
    );
    refuse(
        json!({"mapping_name": "m4", "local_doctype": "ToDo", "remote_doctype": "Note",
               "field_mapping": [{"local_fieldname": "role", "remote_fieldname": "title", "mapping_type": "Document",
                                  "mapping": "Note to Role", "remote_value_filters": "{\"title\": \"eval:doc.title ==\"}"}]}),
        "remote_value_filters",
        "Invalid eval: expression",
    );
    assert_eq!(
        consumer.count("Document Type Mapping", json!({})),
        2,
        "only the two good ones"
    );

    // An Event Producer row whose mapping stores another doctype.
    let (_, msg, f) = consumer
        .insert(
            "Event Producer",
            json!({"producer_url": producer.base, "user": "admin@example.com", "api_key": producer.subscriber.api_key,
                   "api_secret": producer.subscriber.api_secret,
                   "producer_doctypes": [{"ref_doctype": "Note", "has_mapping": 1, "mapping": "Note to ToDo"}]}),
        )
        .error(400);
    assert_eq!(f.as_deref(), Some("mapping"));
    assert!(
        msg.contains("Mapping Note to ToDo stores ToDo documents, not Note"),
        "{msg}"
    );
    assert_eq!(consumer.count("Event Producer", json!({})), 0);
}

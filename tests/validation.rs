//! Every validation rule of SPEC F6, over HTTP: a 4xx naming the field,
//! and nothing half-written.

use outpost_tests::TestSite;
use serde_json::json;

fn invoice() -> serde_json::Value {
    json!({"customer": "Acme", "items": [{"item_code": "PEN", "qty": 1, "rate": 2.5}]})
}

#[test]
fn field_types_are_enforced() {
    let site = TestSite::start();
    site.seed_sales();
    let mut bad = invoice();
    bad["items"][0]["qty"] = json!("three");
    let (exc, msg, field) = site.insert("Sales Invoice", bad).error(400);
    assert_eq!(
        (exc.as_str(), field.as_deref()),
        ("ValidationError", Some("qty"))
    );
    assert!(msg.contains("expects a number"), "{msg}");

    let mut bad = invoice();
    bad["posting_date"] = json!("22/11/2026");
    let (_, msg, field) = site.insert("Sales Invoice", bad).error(400);
    assert_eq!(field.as_deref(), Some("posting_date"));
    assert!(msg.contains("YYYY-MM-DD"), "{msg}");

    let (_, _, field) = site
        .insert("Note", json!({"title": "t", "public": 7}))
        .error(400);
    assert_eq!(field.as_deref(), Some("public"));

    let (_, msg, field) = site
        .insert("Customer", json!({"customer_name": "X", "colour": "red"}))
        .error(400);
    assert_eq!(field.as_deref(), Some("colour"));
    assert!(msg.contains("Unknown field"), "{msg}");
}

#[test]
fn mandatory_fields_are_required_in_documents_and_rows() {
    let site = TestSite::start();
    site.seed_sales();
    let (exc, msg, field) = site
        .insert("Sales Invoice", json!({"items": [{"item_code": "PEN"}]}))
        .error(400);
    assert_eq!(
        (exc.as_str(), field.as_deref()),
        ("MandatoryError", Some("customer"))
    );
    assert!(msg.contains("Customer"), "{msg}");

    let (_, _, field) = site
        .insert("Sales Invoice", json!({"customer": "Acme", "items": []}))
        .error(400);
    assert_eq!(field.as_deref(), Some("items"));

    let (_, msg, field) = site
        .insert(
            "Sales Invoice",
            json!({"customer": "Acme", "items": [{"qty": 1}]}),
        )
        .error(400);
    assert_eq!(field.as_deref(), Some("item_code"));
    assert!(msg.contains("row 1"), "{msg}");
}

#[test]
fn select_values_must_be_among_the_options() {
    let site = TestSite::start();
    let (_, msg, field) = site
        .insert(
            "Customer",
            json!({"customer_name": "X", "customer_type": "Robot"}),
        )
        .error(400);
    assert_eq!(field.as_deref(), Some("customer_type"));
    assert!(msg.contains("\"Company\", \"Individual\""), "{msg}");
}

#[test]
fn unique_fields_refuse_a_second_document_with_the_same_value() {
    let site = TestSite::start();
    site.insert("Item", json!({"item_code": "PEN"})).data();
    let (exc, _, field) = site.insert("Item", json!({"item_code": "PEN"})).error(409);
    assert_eq!(exc, "DuplicateEntryError");
    assert_eq!(field.as_deref(), Some("item_code"));
    // Unique but not the name: two users may not share an email.
    site.insert("User", json!({"email": "a@example.com"}))
        .data();
    let (exc, _, _) = site
        .insert("User", json!({"email": "a@example.com"}))
        .error(409);
    assert_eq!(exc, "DuplicateEntryError");
}

#[test]
fn links_must_point_at_existing_documents_and_nothing_is_half_written() {
    let site = TestSite::start();
    site.seed_sales();
    let mut bad = invoice();
    bad["customer"] = json!("Nobody");
    let (exc, msg, field) = site.insert("Sales Invoice", bad).error(400);
    assert_eq!(
        (exc.as_str(), field.as_deref()),
        ("LinkValidationError", Some("customer"))
    );
    assert!(msg.contains("Nobody"), "{msg}");

    let mut bad = invoice();
    bad["items"] = json!([{"item_code": "PEN"}, {"item_code": "GHOST"}]);
    let (_, msg, field) = site.insert("Sales Invoice", bad).error(400);
    assert_eq!(field.as_deref(), Some("item_code"));
    assert!(msg.contains("GHOST") && msg.contains("row 2"), "{msg}");

    // Dynamic Link: the doctype comes from another field.
    let (_, _, field) = site
        .insert(
            "ToDo",
            json!({"description": "x", "reference_type": "Note", "reference_name": "missing"}),
        )
        .error(400);
    assert_eq!(field.as_deref(), Some("reference_name"));

    // None of the refused invoices was stored, and no series number was spent.
    assert_eq!(
        site.list("Sales Invoice", &[])
            .data()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let ok = site.insert("Sales Invoice", invoice()).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ok.ends_with("-00001"), "{ok}");
}

#[test]
fn submit_and_cancel_follow_the_docstatus_rules() {
    let site = TestSite::start();
    site.seed_sales();
    let name = site.insert("Sales Invoice", invoice()).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, msg, _) = site
        .update("Sales Invoice", &name, json!({"docstatus": 2}))
        .error(409);
    assert!(msg.contains("draft"), "{msg}");
    let (_, msg, field) = site
        .update("Customer", "Acme", json!({"docstatus": 1}))
        .error(400);
    assert_eq!(field.as_deref(), Some("docstatus"));
    assert!(msg.contains("not submittable"), "{msg}");
    let (_, _, field) = site
        .update("Sales Invoice", &name, json!({"docstatus": 5}))
        .error(400);
    assert_eq!(field.as_deref(), Some("docstatus"));
    site.update("Sales Invoice", &name, json!({"docstatus": 1}))
        .data();
    let (_, msg, _) = site
        .update("Sales Invoice", &name, json!({"docstatus": 0}))
        .error(409);
    assert!(msg.contains("cannot go back to draft"), "{msg}");
}

#[test]
fn a_document_cannot_be_deleted_while_another_links_to_it() {
    let site = TestSite::start();
    site.seed_sales();
    let name = site.insert("Sales Invoice", invoice()).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (exc, msg, _) = site.delete("Customer", "Acme").error(409);
    assert_eq!(exc, "LinkExistsError");
    assert!(msg.contains(&name), "{msg}");
    let (_, msg, _) = site.delete("Item", "PEN").error(409);
    assert!(msg.contains(&name), "linked from a child row: {msg}");
    assert_eq!(site.get("Customer", "Acme").status, 200, "still there");
    site.delete("Sales Invoice", &name).data();
    assert_eq!(site.delete("Customer", "Acme").data(), "ok");
}

#[test]
fn malformed_requests_get_a_clear_4xx() {
    let site = TestSite::start();
    let res = site
        .call(
            Some(&site.admin.header()),
            "POST",
            "/api/resource/Customer",
            None,
        )
        .error(400);
    assert!(
        res.1.contains("customer_name"),
        "empty body → mandatory field named: {}",
        res.1
    );
    let client = reqwest::blocking::Client::new();
    let res = client
        .post(format!("{}/api/resource/Customer", site.base))
        .header("Authorization", site.admin.header())
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );
    let (exc, _, _) = site.insert("No Such Type", json!({})).error(404);
    assert_eq!(exc, "DoesNotExistError");
    let (_, msg, _) = site.insert("Sales Invoice Item", json!({})).error(400);
    assert!(msg.contains("child table"), "{msg}");
    let big = "x".repeat(9 * 1024 * 1024);
    let res = client
        .post(format!("{}/api/resource/Note", site.base))
        .header("Authorization", site.admin.header())
        .header("Content-Type", "application/json")
        .body(format!("{{\"title\": \"{big}\"}}"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 413, "bodies are size-limited");
}

/// A document grown by several saves past what one request carries could
/// never be sent to another site (and would stop every sync that has to
/// carry it): the save that would make it so is refused with its size, and
/// the document stays as it was.
#[test]
fn a_save_that_would_make_a_document_too_large_to_travel_is_refused() {
    let site = TestSite::start();
    let a = site.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Note", "field": {"fieldname": "annex", "fieldtype": "Long Text", "label": "Annex"}}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let content = "lorem ipsum ".repeat(5 * 1024 * 1024 / 12);
    let note = site
        .insert("Note", json!({"title": "Manual", "content": content}))
        .data()["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let annex = "dolor sit ".repeat(4 * 1024 * 1024 / 10);
    let (exc, msg, _) = site
        .update("Note", &note, json!({"annex": annex}))
        .error(400);
    assert_eq!(exc, "ValidationError");
    assert!(
        msg.contains(&format!("Note {note} would take 9.0 MB")) && msg.contains("at most 7.9 MB"),
        "{msg}"
    );
    let kept = site.get("Note", &note);
    assert!(kept.data()["annex"].is_null(), "nothing half-written");
    assert_eq!(
        kept.data()["content"].as_str().map(str::len),
        Some(content.len())
    );
    // A smaller annex still goes.
    let a = site.update("Note", &note, json!({"annex": "see page 2"}));
    assert_eq!(a.status, 200, "{a:?}");
}

//! Document CRUD over HTTP against a real `outpostd` (SPEC F6, F7).

use outpost_tests::TestSite;
use serde_json::json;

#[test]
fn sales_invoice_with_item_rows_round_trips_through_create_read_update_submit_cancel_delete() {
    let site = TestSite::start();
    site.seed_sales();

    let created = site.insert(
        "Sales Invoice",
        json!({"customer": "Acme", "items": [
            {"item_code": "PEN", "qty": 3, "rate": 2.5, "amount": 7.5},
            {"item_code": "INK", "qty": 1, "rate": 4.0, "amount": 4.0}
        ]}),
    );
    let inv = created.data().clone();
    let name = inv["name"].as_str().unwrap().to_owned();
    assert_eq!(inv["docstatus"], 0);
    assert_eq!(inv["owner"], "admin@example.com");
    let rows = inv["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["parent"], name.as_str());
    assert_eq!(rows[0]["parenttype"], "Sales Invoice");
    assert_eq!(rows[0]["parentfield"], "items");
    assert_eq!(rows[1]["idx"], 2);
    assert!(
        inv["posting_date"].as_str().is_some_and(|d| d.len() == 10),
        "default date applied: {inv}"
    );

    // Read back exactly what was stored.
    assert_eq!(site.get("Sales Invoice", &name).data(), &inv);

    // PUT merges fields; a child table given replaces the rows, keeping named ones.
    let first_row = rows[0]["name"].clone();
    let updated = site
        .update(
            "Sales Invoice",
            &name,
            json!({"remarks": "paid in cash", "items": [
                {"name": first_row, "item_code": "PEN", "qty": 5, "rate": 2.5},
                {"item_code": "PAD", "qty": 2, "rate": 1.0}
            ]}),
        )
        .data()
        .clone();
    assert_eq!(updated["remarks"], "paid in cash");
    assert_eq!(updated["customer"], "Acme", "fields not given are kept");
    let rows = updated["items"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["item_code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["PEN", "PAD"]
    );
    assert_eq!(rows[0]["name"], first_row);
    assert_eq!(rows[0]["qty"], 5);
    assert_eq!(
        rows[0]["creation"], inv["items"][0]["creation"],
        "a kept row keeps its creation"
    );

    // An update that changes nothing writes nothing.
    let same = site
        .update("Sales Invoice", &name, json!({"remarks": "paid in cash"}))
        .data()
        .clone();
    assert_eq!(same["modified"], updated["modified"]);

    // Submit, then edits are refused, then cancel, then delete.
    assert_eq!(
        site.update("Sales Invoice", &name, json!({"docstatus": 1}))
            .data()["docstatus"],
        1
    );
    let (exc, msg, _) = site
        .update("Sales Invoice", &name, json!({"remarks": "changed"}))
        .error(409);
    assert_eq!(exc, "UpdateAfterSubmitError");
    assert!(msg.contains("cancel it first"), "{msg}");
    let (exc, _, _) = site.delete("Sales Invoice", &name).error(409);
    assert_eq!(exc, "UpdateAfterSubmitError");
    assert_eq!(
        site.update("Sales Invoice", &name, json!({"docstatus": 2}))
            .data()["docstatus"],
        2
    );
    let (_, msg, _) = site
        .update("Sales Invoice", &name, json!({"docstatus": 1}))
        .error(409);
    assert!(msg.contains("Cancelled"), "{msg}");
    assert_eq!(site.delete("Sales Invoice", &name).data(), "ok");
    let (exc, _, _) = site.get("Sales Invoice", &name).error(404);
    assert_eq!(exc, "DoesNotExistError");
}

#[test]
fn custom_doctypes_and_custom_fields_can_be_added_at_run_time() {
    let site = TestSite::start();
    let dt = json!({"name": "Shop Visit", "autoname": "hash", "fields": [
        {"fieldname": "shop", "fieldtype": "Data", "reqd": 1, "in_list_view": 1},
        {"fieldname": "customer", "fieldtype": "Link", "options": "Customer"}
    ]});
    let made = site.method("outpost.doctype.import", json!({"definition": dt}));
    assert_eq!(made.body["message"]["name"], "Shop Visit", "{made:?}");
    site.insert("Shop Visit", json!({"shop": "Shop 12"})).data();

    let added = site.method(
        "outpost.doctype.add_custom_field",
        json!({"doctype": "Customer", "field": {"fieldname": "loyalty_card", "fieldtype": "Data", "label": "Loyalty Card"}}),
    );
    assert_eq!(added.status, 200, "{added:?}");
    let c = site
        .insert(
            "Customer",
            json!({"customer_name": "Bo", "loyalty_card": "LC-1"}),
        )
        .data()
        .clone();
    assert_eq!(c["loyalty_card"], "LC-1");

    // A bad declaration names what is wrong and changes nothing.
    let bad = json!({"name": "Broken", "fields": [{"fieldname": "x", "fieldtype": "Link", "options": "Nowhere"}]});
    let (_, msg, field) = site
        .method("outpost.doctype.import", json!({"definition": bad}))
        .error(400);
    assert!(msg.contains("Nowhere"), "{msg}");
    assert_eq!(field.as_deref(), Some("x"));
    let (exc, _, _) = site.list("Broken", &[]).error(404);
    assert_eq!(exc, "DoesNotExistError");
}

/// Doctype logic declared in the DocType JSON (Item Name fetched from the
/// Item, amounts and the total computed, status following docstatus) holds
/// on every save, whatever the caller sends.
#[test]
fn a_sales_invoice_fetches_item_names_computes_its_amounts_and_follows_docstatus() {
    let site = TestSite::start();
    site.seed_sales();
    let a = site.update("Item", "PEN", json!({"item_name": "Blue pen"}));
    assert_eq!(a.status, 200, "{a:?}");
    let made = site.insert(
        "Sales Invoice",
        json!({"customer": "Acme", "status": "Paid", "grand_total": 999, "items": [
            {"item_code": "PEN", "qty": 3, "rate": 0.1, "amount": 50, "item_name": "typed by hand"},
            {"item_code": "INK", "qty": 2, "rate": 4.25}
        ]}),
    );
    assert_eq!(made.status, 200, "{made:?}");
    let inv = made.data().clone();
    let rows = inv["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows[0]["item_name"], "Blue pen", "fetched from the Item");
    assert_eq!(rows[0]["amount"], 0.3, "qty × rate, not what was sent");
    assert_eq!(rows[1]["amount"], 8.5);
    assert_eq!(inv["grand_total"], 8.8, "the sum of the amounts");
    assert_eq!(inv["status"], "Draft", "a draft is a Draft");
    let name = inv["name"].as_str().unwrap_or_default().to_owned();

    // A changed quantity changes its amount and the total.
    let rows_now: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| json!({"name": r["name"], "item_code": r["item_code"], "qty": 10, "rate": r["rate"]}))
        .collect();
    let upd = site.update("Sales Invoice", &name, json!({"items": rows_now}));
    assert_eq!(upd.status, 200, "{upd:?}");
    assert_eq!(upd.data()["grand_total"], 43.5);

    let sub = site.update("Sales Invoice", &name, json!({"docstatus": 1}));
    assert_eq!(sub.data()["status"], "Unpaid", "submitted and not paid");
    let can = site.update("Sales Invoice", &name, json!({"docstatus": 2}));
    assert_eq!(can.data()["status"], "Cancelled");

    // A declaration with a formula it cannot evaluate is refused, named.
    let bad = site.method(
        "outpost.doctype.import",
        json!({"definition": {"name": "Bad Sum", "fields": [
            {"fieldname": "a", "fieldtype": "Float"},
            {"fieldname": "total", "fieldtype": "Float", "compute": "a + b"}]}}),
    );
    let (_, msg, field) = bad.error(400);
    assert!(
        msg.contains("compute") && msg.contains("not understood"),
        "{msg}"
    );
    assert_eq!(field.as_deref(), Some("total"));
}

/// Amend after Cancel, as in Desk: a cancelled invoice becomes a new draft
/// named `<name>-1` (then `-2`, …, counted from the original) that names
/// the one it replaces; a submitted or draft invoice, or a doctype that is
/// not submittable, is refused with the reason and nothing is made.
#[test]
fn a_cancelled_sales_invoice_is_amended_into_a_new_draft() {
    let site = TestSite::start();
    site.seed_sales();
    let made = site.insert(
        "Sales Invoice",
        json!({"customer": "Acme", "remarks": "first try", "items": [{"item_code": "PEN", "qty": 2, "rate": 1.5}]}),
    );
    let name = made.data()["name"].as_str().unwrap_or_default().to_owned();
    let amend = |n: &str| {
        site.method(
            "outpost.document.amend",
            json!({"doctype": "Sales Invoice", "name": n}),
        )
    };
    let count = || site.count("Sales Invoice", json!({}));

    let draft = amend(&name);
    assert_ne!(draft.status, 200);
    assert!(draft.body.to_string().contains("is a draft"), "{draft:?}");
    site.update("Sales Invoice", &name, json!({"docstatus": 1}))
        .data();
    let submitted = amend(&name);
    assert!(
        submitted.body.to_string().contains("cancel it first"),
        "{submitted:?}"
    );
    assert_eq!(count(), 1, "nothing made by a refused amend");

    site.update("Sales Invoice", &name, json!({"docstatus": 2}))
        .data();
    let first = amend(&name);
    assert_eq!(first.status, 200, "{first:?}");
    let first = first.body["message"].clone();
    assert_eq!(first["name"], format!("{name}-1"));
    assert_eq!(first["amended_from"], name.as_str());
    assert_eq!(first["docstatus"], 0);
    assert_eq!(first["status"], "Draft");
    assert_eq!(first["remarks"], "first try");
    assert_eq!(first["items"][0]["item_code"], "PEN");
    assert_eq!(first["items"][0]["amount"], 3.0);
    let old = site.get("Sales Invoice", &name).data().clone();
    assert_ne!(
        first["items"][0]["name"], old["items"][0]["name"],
        "the draft's rows are its own"
    );

    // The amendment, submitted, cancelled and amended: counted from the original.
    let again = amend(&name).body["message"]["name"].clone();
    assert_eq!(
        again,
        format!("{name}-2"),
        "the same cancelled invoice again"
    );
    let one = format!("{name}-1");
    site.update("Sales Invoice", &one, json!({"docstatus": 1}))
        .data();
    site.update("Sales Invoice", &one, json!({"docstatus": 2}))
        .data();
    assert_eq!(amend(&one).body["message"]["name"], format!("{name}-3"));

    let customer = site.method(
        "outpost.document.amend",
        json!({"doctype": "Customer", "name": "Acme"}),
    );
    assert!(
        customer.body.to_string().contains("not amended"),
        "{customer:?}"
    );
    assert_eq!(count(), 4);
}

//! Each naming rule of SPEC F5, over HTTP.

use outpost_tests::TestSite;
use serde_json::json;

fn import(site: &TestSite, name: &str, autoname: &str) {
    let dt = json!({"name": name, "autoname": autoname, "fields": [
        {"fieldname": "title", "fieldtype": "Data", "in_list_view": 1}
    ]});
    let res = site.method("outpost.doctype.import", json!({"definition": dt}));
    assert_eq!(res.status, 200, "{res:?}");
}

#[test]
fn field_naming_uses_the_fields_value() {
    let site = TestSite::start();
    assert_eq!(
        site.insert("Item", json!({"item_code": "PEN-01"})).data()["name"],
        "PEN-01"
    );
    let (exc, msg, field) = site
        .insert("Item", json!({"item_code": "PEN-01", "item_name": "again"}))
        .error(409);
    assert_eq!(exc, "DuplicateEntryError");
    assert!(msg.contains("PEN-01"), "{msg}");
    assert_eq!(field.as_deref(), Some("item_code"));
}

#[test]
fn hash_naming_gives_ten_hex_characters() {
    let site = TestSite::start();
    let a = site.insert("Note", json!({"title": "one"})).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = site.insert("Note", json!({"title": "two"})).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(a, b);
    for n in [&a, &b] {
        assert!(
            n.len() == 10 && n.chars().all(|c| c.is_ascii_hexdigit()),
            "{n}"
        );
    }
}

#[test]
fn series_naming_counts_per_prefix_with_the_year() {
    let site = TestSite::start();
    site.seed_sales();
    let inv = json!({"customer": "Acme", "items": [{"item_code": "PEN"}]});
    let a = site.insert("Sales Invoice", inv.clone()).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = site.insert("Sales Invoice", inv).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    // The year from the machine's clock, not from the product's own output.
    let year = String::from_utf8(
        std::process::Command::new("date")
            .arg("+%Y")
            .output()
            .expect("date")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_owned();
    assert_eq!(year.len(), 4);
    assert_eq!(a, format!("SINV-{year}-00001"));
    assert_eq!(b, format!("SINV-{year}-00002"));
    let lead = site.insert("Lead", json!({"lead_name": "Ana"})).data()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        lead,
        format!("CRM-LEAD-{year}-00001"),
        "each prefix has its own counter"
    );
}

#[test]
fn autoincrement_naming_counts_one_two_three() {
    let site = TestSite::start();
    import(&site, "Visit Log", "autoincrement");
    let names: Vec<_> = (0..3)
        .map(|i| {
            site.insert("Visit Log", json!({"title": format!("v{i}")}))
                .data()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["1", "2", "3"]);
}

#[test]
fn prompt_naming_takes_the_callers_name_and_requires_it() {
    let site = TestSite::start();
    import(&site, "Shelf", "prompt");
    assert_eq!(
        site.insert("Shelf", json!({"name": "Shelf A/1", "title": "front"}))
            .data()["name"],
        "Shelf A/1"
    );
    assert_eq!(
        site.get("Shelf", "Shelf A/1").data()["title"],
        "front",
        "names with / work in URLs"
    );
    let (_, msg, field) = site.insert("Shelf", json!({"title": "no name"})).error(400);
    assert_eq!(field.as_deref(), Some("name"));
    assert!(msg.contains("name is required"), "{msg}");
    let (exc, _, _) = site
        .insert("Shelf", json!({"name": "Shelf A/1"}))
        .error(409);
    assert_eq!(exc, "DuplicateEntryError");
}

#[test]
fn an_unknown_naming_rule_is_refused_when_declared() {
    let site = TestSite::start();
    let dt = json!({"name": "Odd", "autoname": "random please", "fields": []});
    let (_, msg, field) = site
        .method("outpost.doctype.import", json!({"definition": dt}))
        .error(400);
    assert_eq!(field.as_deref(), Some("autoname"));
    assert!(msg.contains("random please"), "{msg}");
}

//! Lists with filters, fields, ordering and paging (SPEC F7).

use outpost_tests::TestSite;
use serde_json::{json, Value};

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

fn seeded() -> TestSite {
    let site = TestSite::start();
    for i in 1..=25 {
        let doc = json!({
            "item_code": format!("ITEM-{i:02}"),
            "item_name": if i % 2 == 0 { "Even thing" } else { "Odd thing" },
            "standard_rate": i as f64 * 1.5,
            "disabled": i32::from(i > 20),
            "description": if i % 5 == 0 { Value::from("fifth") } else { Value::Null },
        });
        site.insert("Item", doc).data();
    }
    site
}

#[test]
fn filters_in_every_documented_form_and_operator() {
    let site = seeded();
    let q = |filters: Value| {
        names(
            site.list(
                "Item",
                &[
                    ("filters", &filters.to_string()),
                    ("limit_page_length", "100"),
                ],
            )
            .data(),
        )
    };

    assert_eq!(q(json!({"item_code": "ITEM-03"})), ["ITEM-03"]);
    assert_eq!(q(json!({"standard_rate": [">=", 36]})).len(), 2);
    assert_eq!(q(json!([["standard_rate", "<", 3]])), ["ITEM-01"]);
    assert_eq!(
        q(json!([["Item", "item_code", "=", "ITEM-07"]])),
        ["ITEM-07"]
    );
    assert_eq!(q(json!([["item_name", "like", "Even%"]])).len(), 12);
    assert_eq!(q(json!([["item_name", "not like", "Even%"]])).len(), 13);
    let mut got = q(json!([["item_code", "in", ["ITEM-01", "ITEM-02", "NOPE"]]]));
    got.sort();
    assert_eq!(got, ["ITEM-01", "ITEM-02"]);
    assert_eq!(
        q(json!([["item_code", "not in", "ITEM-01, ITEM-02"]])).len(),
        23
    );
    assert_eq!(q(json!([["item_code", "!=", "ITEM-01"]])).len(), 24);
    assert_eq!(q(json!([["description", "is", "set"]])).len(), 5);
    assert_eq!(q(json!([["description", "is", "not set"]])).len(), 20);
    assert_eq!(
        q(json!([["disabled", "=", "1"]])).len(),
        5,
        "numeric fields accept numbers as text"
    );
    assert_eq!(
        q(json!([["disabled", "=", 0], ["item_name", "like", "Odd%"]])).len(),
        10,
        "filters combine with AND"
    );
}

#[test]
fn fields_order_and_paging() {
    let site = seeded();
    let page = |start: &str| {
        names(
            site.list(
                "Item",
                &[
                    ("order_by", "item_code asc"),
                    ("limit_start", start),
                    ("limit_page_length", "10"),
                ],
            )
            .data(),
        )
    };
    let (p1, p2, p3) = (page("0"), page("10"), page("20"));
    assert_eq!(p1.first().map(String::as_str), Some("ITEM-01"));
    assert_eq!(p2.first().map(String::as_str), Some("ITEM-11"));
    assert_eq!(p3.len(), 5);
    let all: Vec<_> = [p1, p2, p3].concat();
    assert_eq!(all.len(), 25, "pages neither overlap nor skip");

    let default = site.list("Item", &[]).data().clone();
    assert_eq!(default.as_array().unwrap().len(), 20, "default page length");
    assert_eq!(
        default[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["name"],
        "default fields"
    );

    let desc = site.list(
        "Item",
        &[
            ("fields", r#"["name","standard_rate"]"#),
            ("order_by", "standard_rate desc"),
        ],
    );
    assert_eq!(desc.data()[0]["name"], "ITEM-25");
    assert_eq!(desc.data()[0]["standard_rate"], 37.5);
    let star = site.list(
        "Item",
        &[("fields", r#"["*"]"#), ("limit_page_length", "1")],
    );
    assert!(star.data()[0].get("item_group").is_some() && star.data()[0].get("modified").is_some());
}

#[test]
fn the_search_box_finds_words_in_any_case_in_names_and_text_fields_and_counts_them() {
    let site = seeded();
    let search = |text: &str, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("search", text),
            ("limit_page_length", "100"),
            ("order_by", "item_code asc"),
        ];
        params.extend_from_slice(extra);
        names(site.list("Item", &params).data())
    };
    let count = |text: &str, filters: Value| {
        site.method(
            "frappe.client.get_count",
            json!({"doctype": "Item", "search": text, "filters": filters}),
        )
        .body["message"]
            .as_i64()
            .unwrap()
    };
    // A word of the item name, in another case: the even items.
    let even = search("EVEN", &[]);
    assert_eq!(even.len(), 12);
    assert!(
        even.iter().all(|n| n[5..].parse::<u32>().unwrap() % 2 == 0),
        "{even:?}"
    );
    assert_eq!(count("EVEN", Value::Null), 12);
    // Every word must match, wherever it is: the name and the description.
    assert_eq!(search("item-1 fifth", &[]), ["ITEM-10", "ITEM-15"]);
    assert_eq!(count("item-1 fifth", Value::Null), 2);
    // With a filter at the same time.
    let filtered = json!([["disabled", "=", 1]]);
    assert_eq!(
        search("even", &[("filters", &filtered.to_string())]),
        ["ITEM-22", "ITEM-24"]
    );
    assert_eq!(count("even", filtered), 2);
    // Equality stays exact, in case too.
    assert_eq!(count("", json!({"item_name": "Even thing"})), 12);
    assert_eq!(count("", json!({"item_name": "even thing"})), 0);
    assert_eq!(count("", json!({"item_name": "Even%"})), 0);
    // A wildcard typed in the box is a character, not "anything".
    assert!(search("%", &[]).is_empty());
    assert!(search("ITEM_0", &[]).is_empty());
    assert_eq!(search("  ", &[]).len(), 25, "blank finds everything");
    let (_, msg, field) = site
        .list("Item", &[("search", &"x".repeat(141))])
        .error(400);
    assert_eq!(field.as_deref(), Some("search"));
    assert!(msg.contains("at most 140"), "{msg}");
}

#[test]
fn bad_list_parameters_name_what_is_wrong() {
    let site = seeded();
    let err = |params: &[(&str, &str)]| site.list("Item", params).error(400);
    let (_, msg, field) = err(&[("filters", r#"{"colour": "red"}"#)]);
    assert_eq!(field.as_deref(), Some("colour"));
    assert!(msg.contains("unknown field"), "{msg}");
    let (_, msg, _) = err(&[("filters", r#"[["item_code", "~", "x"]]"#)]);
    assert!(msg.contains("Unknown filter operator"), "{msg}");
    let (_, msg, _) = err(&[("filters", "{oops")]);
    assert!(msg.contains("filters is not valid JSON"), "{msg}");
    let (_, _, field) = err(&[("order_by", "item_code; DROP TABLE documents")]);
    assert_eq!(field.as_deref(), Some("order_by"));
    let (_, _, field) = err(&[("limit_page_length", "5000")]);
    assert_eq!(field.as_deref(), Some("limit_page_length"));
    let (_, msg, _) = err(&[("limit_start", "-1")]);
    assert!(msg.contains("limit_start"), "{msg}");
    let (_, _, field) = err(&[("filters", r#"[["standard_rate", ">", "cheap"]]"#)]);
    assert_eq!(field.as_deref(), Some("standard_rate"));
    assert_eq!(
        site.list("Item", &[("limit_page_length", "100")])
            .data()
            .as_array()
            .unwrap()
            .len(),
        25,
        "still all there"
    );
}

#[test]
fn every_query_bound_is_a_400_naming_it_and_never_a_500_with_sql() {
    let site = seeded();
    // 1,500 values in a query string; the 40,000 of the report go in a body below.
    let many_values: Vec<String> = (0..1_500).map(|i| format!("I{i}")).collect();
    let many_filters: Vec<Value> = (0..200)
        .map(|i| json!(["item_code", "!=", format!("X{i}")]))
        .collect();
    let many_terms = vec!["item_code asc"; 300].join(", ");
    let many_fields = serde_json::to_string(&vec!["item_code"; 500]).unwrap();
    // (what, query parameters, the field named, words of the message)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "in with 1,500 values",
            vec![(
                "filters",
                json!([["item_code", "in", many_values]]).to_string(),
            )],
            "item_code",
            "at most 1000 values",
        ),
        (
            "200 filters",
            vec![("filters", Value::from(many_filters).to_string())],
            "filters",
            "At most 50 filters",
        ),
        (
            "300 order terms",
            vec![("order_by", many_terms)],
            "order_by",
            "at most 10 fields",
        ),
        (
            "500 fields",
            vec![("fields", many_fields)],
            "fields",
            "at most 200 fields",
        ),
        (
            "a page of 5,000",
            vec![("limit_page_length", "5000".to_owned())],
            "limit_page_length",
            "between 1 and 1000",
        ),
    ];
    for (what, params, field, words) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = site.list("Item", &params);
        let (exc, msg, f) = a.error(400);
        assert_eq!(exc, "ValidationError", "{what}");
        assert_eq!(f.as_deref(), Some(field), "{what}: {msg}");
        assert!(msg.contains(words), "{what}: {msg}");
        assert!(
            !msg.contains("SELECT") && !msg.contains("json_extract"),
            "{what}: {msg}"
        );
    }
    // The report's sizes, through get_count, whose filters come in a body.
    let a = site.method(
        "frappe.client.get_count",
        json!({"doctype": "Item", "filters": [["item_code", "in", (0..40_000).map(|i| format!("I{i}")).collect::<Vec<_>>()]]}),
    );
    let (_, msg, _) = a.error(400);
    assert!(msg.contains("at most 1000 values"), "{msg}");
    let filters: Vec<Value> = (0..2_000)
        .map(|i| json!(["item_code", "!=", format!("X{i}")]))
        .collect();
    let a = site.method(
        "frappe.client.get_count",
        json!({"doctype": "Item", "filters": filters}),
    );
    let (_, msg, _) = a.error(400);
    assert!(msg.contains("At most 50 filters"), "{msg}");
    assert_eq!(
        site.list("Item", &[("limit_page_length", "100")])
            .data()
            .as_array()
            .map(Vec::len),
        Some(25)
    );
}

#[test]
fn a_sort_by_an_indexed_field_orders_by_it_then_by_name_either_way() {
    // ToDo's status is declared search_index: the list reads its index.
    let site = TestSite::start();
    let made: Vec<(String, String)> = ["Open", "Closed", "Cancelled", "Open", "Closed", "Open"]
        .iter()
        .map(|s| {
            let doc = site.insert("ToDo", json!({"status": s, "description": "x"}));
            (
                s.to_string(),
                doc.data()["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected = made.clone();
    expected.sort();
    let order = |spec: &str| {
        site.list(
            "ToDo",
            &[("order_by", spec), ("fields", r#"["name","status"]"#)],
        )
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_owned(),
                d["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(order("status asc"), expected);
    expected.reverse();
    assert_eq!(order("status desc"), expected);
    // Paged the same way.
    let page = site.list(
        "ToDo",
        &[
            ("order_by", "status desc"),
            ("limit_start", "1"),
            ("limit_page_length", "2"),
            ("fields", r#"["name"]"#),
        ],
    );
    assert_eq!(
        names(page.data()),
        [expected[1].1.clone(), expected[2].1.clone()]
    );
}

//! Authentication, permissions, secrets at rest, the OpenAPI document.

use outpost_tests::{cli, files_holding, TestSite};
use serde_json::json;

#[test]
fn requests_without_or_with_wrong_credentials_are_refused() {
    let site = TestSite::start();
    let (exc, msg, _) = site
        .call(None, "GET", "/api/resource/Customer", None)
        .error(401);
    assert_eq!(exc, "AuthenticationError");
    assert!(msg.contains("Authorization"), "{msg}");
    let wrong = format!("token {}:{}", site.admin.api_key, "not-the-secret");
    let (exc, msg, _) = site
        .call(Some(&wrong), "GET", "/api/resource/Customer", None)
        .error(401);
    assert_eq!(exc, "AuthenticationError");
    assert!(
        !msg.contains("not-the-secret"),
        "the secret is not echoed: {msg}"
    );
    let (exc, _, _) = site
        .call(
            Some("token nobody:nothing"),
            "POST",
            "/api/method/outpost.site.info",
            None,
        )
        .error(401);
    assert_eq!(exc, "AuthenticationError");
    let (_, msg, _) = site
        .call(Some("Basic abc"), "GET", "/api/resource/Customer", None)
        .error(401);
    assert!(msg.contains("token"), "{msg}");
    // And with the right ones it works.
    assert_eq!(site.list("Customer", &[]).status, 200);
    let me = site.admin("GET", "/api/method/frappe.auth.get_logged_user", None);
    assert_eq!(me.body["message"], "admin@example.com");
}

#[test]
fn roles_limit_what_a_user_may_do() {
    let site = TestSite::start();
    let clerk = site.user_with_keys("clerk@example.com", &["Sales User"]);
    let as_clerk = |m: &str, p: &str, b| site.call(Some(&clerk.header()), m, p, b);
    assert_eq!(
        as_clerk(
            "POST",
            "/api/resource/Customer",
            Some(json!({"customer_name": "Walk-in"}))
        )
        .status,
        200
    );
    let (exc, msg, _) = as_clerk(
        "POST",
        "/api/resource/Item",
        Some(json!({"item_code": "X"})),
    )
    .error(403);
    assert_eq!(exc, "PermissionError");
    assert!(msg.contains("create Item"), "{msg}");
    as_clerk(
        "POST",
        "/api/method/outpost.user.generate_keys",
        Some(json!({"user": "admin@example.com"})),
    )
    .error(403);
    as_clerk(
        "POST",
        "/api/method/outpost.doctype.import",
        Some(json!({"definition": {"name": "X", "fields": []}})),
    )
    .error(403);
    // Regenerating one's own keys invalidates the old secret at once.
    let fresh = as_clerk(
        "POST",
        "/api/method/outpost.user.generate_keys",
        Some(json!({"user": "clerk@example.com"})),
    );
    let secret = fresh.body["message"]["api_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    as_clerk("GET", "/api/resource/Customer", None).error(401);
    let new = format!(
        "token {}:{secret}",
        fresh.body["message"]["api_key"].as_str().unwrap()
    );
    assert_eq!(
        site.call(Some(&new), "GET", "/api/resource/Customer", None)
            .status,
        200
    );
}

#[test]
fn no_secret_is_stored_in_plain_text() {
    let site = TestSite::start();
    let data = site.data_dir().to_str().unwrap().to_owned();
    let keys = cli(&[
        "user",
        "add",
        "--data-dir",
        &data,
        "--email",
        "shop@example.com",
        "--generate-keys",
    ]);
    let secret = keys["api_secret"].as_str().unwrap().to_owned();
    site.insert("User", json!({"email": "hub@example.com"}))
        .data();
    let via_api = site.method(
        "outpost.user.generate_keys",
        json!({"user": "hub@example.com"}),
    );
    let api_secret = via_api.body["message"]["api_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 32 && api_secret.len() >= 32);
    // The API shows the key again, never the secret.
    let shown = site.method(
        "outpost.user.get_api_key",
        json!({"user": "shop@example.com"}),
    );
    assert_eq!(shown.body["message"], keys["api_key"]);
    assert!(!shown.body.to_string().contains(&secret));
    // Every file of the data directory (database, WAL, config), byte for byte.
    for s in [&secret, &api_secret] {
        let hits = files_holding(site.data_dir(), s);
        assert!(hits.is_empty(), "{hits:?} hold a secret");
    }
}

#[test]
fn the_openapi_document_describes_every_route() {
    let site = TestSite::start();
    let doc = site.call(None, "GET", "/api/openapi.json", None);
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, verbs) in [
        ("/api/resource/{doctype}", &["get", "post"][..]),
        (
            "/api/resource/{doctype}/{name}",
            &["get", "put", "delete"][..],
        ),
        ("/api/method/{method}", &["get", "post"][..]),
    ] {
        for v in verbs {
            assert!(
                paths[path].get(*v).is_some(),
                "{v} {path} missing from the OpenAPI document"
            );
        }
    }
    assert!(doc.body["components"]["securitySchemes"]["token"].is_object());
    let (exc, _, _) = site.call(None, "GET", "/api/nothing-here", None).error(404);
    assert_eq!(exc, "DoesNotExistError");
}

#[test]
fn a_browser_signs_in_with_a_password_and_its_session_cannot_be_used_cross_site() {
    let site = TestSite::start();
    let data = site.data_dir().to_str().unwrap().to_owned();
    let set = std::process::Command::new(outpost_tests::outpostd())
        .args([
            "user",
            "set-password",
            "--data-dir",
            &data,
            "--email",
            "admin@example.com",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"long enough pw\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(set.status.success());
    let http = reqwest::blocking::Client::new();
    let login = |pwd: &str| {
        http.post(format!("{}/api/method/login", site.base))
            .json(&json!({"usr": "admin@example.com", "pwd": pwd}))
            .send()
            .unwrap()
    };
    let bad = login("wrong password");
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get("set-cookie").is_none());
    assert!(bad.text().unwrap().contains("Wrong email or password"));

    let ok = login("long enough pw");
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let sid = cookie.split(';').next().unwrap().to_owned();

    // Reads work with the cookie; a change needs the UI's header too (a
    // cross-site form cannot send it).
    let who = http
        .get(format!(
            "{}/api/method/frappe.auth.get_logged_user",
            site.base
        ))
        .header("Cookie", &sid)
        .send()
        .unwrap();
    assert_eq!(
        who.json::<serde_json::Value>().unwrap()["message"],
        "admin@example.com"
    );
    let post = |ui: bool| {
        let mut r = http
            .post(format!("{}/api/resource/Note", site.base))
            .header("Cookie", &sid)
            .json(&json!({"title": "from the browser"}));
        if ui {
            r = r.header("X-Outpost-UI", "1");
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(post(false), 403);
    assert_eq!(site.count("Note", json!({})), 0, "nothing was written");
    assert_eq!(post(true), 200);

    // The token is not in the database in a usable form.
    let token = sid.split_once('=').unwrap().1;
    let hits = files_holding(site.data_dir(), token);
    assert!(hits.is_empty(), "{hits:?} hold the session token");

    // Signing out ends the session.
    http.post(format!("{}/api/method/logout", site.base))
        .header("Cookie", &sid)
        .send()
        .unwrap();
    let after = http
        .get(format!(
            "{}/api/method/frappe.auth.get_logged_user",
            site.base
        ))
        .header("Cookie", &sid)
        .send()
        .unwrap();
    assert_eq!(after.status(), 401);
}

//! The router driven without sockets (`app(state)` + tower's oneshot).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use outpost_engine::{Actor, Site};
use outpost_server::{app, AppState};
use tower::ServiceExt;

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_token_authenticates_and_a_bad_path_answers_in_the_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::open(dir.path()).unwrap();
    site.insert(
        &Actor::system(),
        "User",
        serde_json::json!({"email": "a@example.com", "roles": [{"role": "System Manager"}]}),
    )
    .unwrap();
    let keys = site
        .generate_keys(&Actor::system(), "a@example.com")
        .unwrap();
    let state = AppState::new(site);
    let token = format!("token {}:{}", keys.api_key, keys.api_secret.expose());

    let req = Request::get("/api/method/frappe.auth.get_logged_user")
        .header("Authorization", &token)
        .body(Body::empty());
    let (status, body) = send(&state, req.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "a@example.com");

    let req = Request::get("/api/resource/Customer/%FF%FE")
        .header("Authorization", &token)
        .body(Body::empty());
    let (status, body) = send(&state, req.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["exc_type"], "ValidationError");

    let req = Request::post("/api/method/outpost.site.configure").header("Authorization", &token);
    let req = req
        .header("Content-Type", "application/json")
        .body(Body::from(r#"{"url": "ftp://shop"}"#));
    let (status, body) = send(&state, req.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "url");

    let req = Request::get("/api/method/outpost.site.configure")
        .header("Authorization", &token)
        .body(Body::empty());
    let (status, _) = send(&state, req.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "methods that change data need POST"
    );
}

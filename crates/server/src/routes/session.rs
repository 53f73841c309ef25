//! Browser sign-in (SPEC F26): `login` checks a user's password and sets an
//! HttpOnly, SameSite=Strict session cookie; `logout` ends the session.
//! Scripts and other sites keep using `Authorization: token key:secret`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use outpost_engine::sessions::SESSION_DAYS;
use outpost_engine::{Error, Secret};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::ErrorSchema;
use crate::error::{ApiError, ApiResult};
use crate::extract::{session_cookie, JsonBody, SESSION_COOKIE};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct Login {
    /// The user's email.
    usr: String,
    /// The password (set with `outpostd user set-password` or in Users & keys).
    pwd: String,
}

fn cookie(value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .map_err(|_| ApiError::internal("Cannot set the session cookie"))
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/method/login", tag = "session",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = Object),
        (status = 401, description = "Wrong email or password", body = ErrorSchema),
    ))]
pub async fn login(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let Login { usr, pwd } = serde_json::from_value(body).map_err(|_| {
        ApiError::from(Error::bad_input("Send {\"usr\": email, \"pwd\": password}"))
    })?;
    let password = Secret::new(pwd);
    let (actor, token) = state
        .run(move |site| site.login(usr.trim(), &password))
        .await?;
    let mut res = Json(json!({ "message": "Logged In", "user": actor.user })).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie(token.expose(), SESSION_DAYS * 86_400)?,
    );
    Ok(res)
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/method/logout", tag = "session",
    responses((status = 200, description = "Signed out", body = Object)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = session_cookie(&headers) {
        let token = Secret::new(token);
        state.run(move |site| site.logout(&token)).await?;
    }
    let mut res = Json(json!({ "message": "Logged Out" })).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie("", 0)?);
    Ok(res)
}

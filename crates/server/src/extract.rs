//! Extractors whose failures answer in the API's error shape: the caller's
//! identity, JSON bodies, query strings and path segments.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use outpost_engine::{Actor, ExcType, Secret};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller (`Authorization: token <api_key>:<api_secret>`).
pub struct Caller(pub Actor);

/// The browser's session cookie (set by `/api/method/login`).
pub const SESSION_COOKIE: &str = "sid";
/// Sent by the UI with every request; a cross-site form cannot send it, so
/// a session cookie alone never authorises a change (CSRF).
pub const UI_HEADER: &str = "x-outpost-ui";

/// The session token in a Cookie header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            return session_caller(parts, state).await;
        };
        let header = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("The Authorization header is not valid text"))?;
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("token") {
            return Err(ApiError::unauthorized(
                "Unsupported Authorization scheme: use token <api_key>:<api_secret>",
            ));
        }
        let Some((key, secret)) = rest.trim().split_once(':') else {
            return Err(ApiError::unauthorized(
                "Malformed token: use token <api_key>:<api_secret>",
            ));
        };
        let (key, secret) = (key.to_owned(), Secret::new(secret));
        let actor = state
            .run(move |site| site.authenticate_token(&key, &secret))
            .await?;
        Ok(Caller(actor))
    }
}

/// A browser signed in with a password: the session cookie, plus the UI's
/// header on anything that is not a plain read.
async fn session_caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(token) = session_cookie(&parts.headers) else {
        return Err(ApiError::unauthorized(
            "Not signed in: sign in, or send the header Authorization: token <api_key>:<api_secret>",
        ));
    };
    let safe = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !safe && !parts.headers.contains_key(UI_HEADER) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            outpost_engine::ExcType::PermissionError,
            format!("A signed-in browser must send the {UI_HEADER} header with changes"),
        ));
    }
    let token = Secret::new(token);
    let actor = state.run(move |site| site.session_actor(&token)).await?;
    Ok(Caller(actor))
}

/// A JSON body, any shape; the engine checks its content.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json_body(&bytes).map(JsonBody)
    }
}

/// A JSON body as the bytes that came (an empty one is `{}`): read by a
/// typed reader without building a JSON tree first.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            let status = rej.status();
            let exc = if status.is_server_error() {
                ExcType::InternalError
            } else {
                ExcType::ValidationError
            };
            ApiError::new(
                status,
                exc,
                format!("Cannot read the request body: {}", rej.body_text()),
            )
        })?;
        if bytes.is_empty() {
            return Ok(RawBody(Bytes::from_static(b"{}")));
        }
        Ok(RawBody(bytes))
    }
}

/// A JSON body parsed, or the error that says why it is not JSON.
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}

/// Query-string parameters as (name, value) pairs.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(QueryPairs)
            .map_err(|e| ApiError::bad_request(format!("Malformed query string: {e}")))
    }
}

impl QueryPairs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        self.get(key)
            .map(|v| {
                serde_json::from_str(v)
                    .map_err(|e| ApiError::bad_request(format!("{key} is not valid JSON: {e}")))
            })
            .transpose()
    }

    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    ApiError::bad_request(format!("{key} must be a whole number ≥ 0, got {v:?}"))
                })
            })
            .transpose()
    }
}

/// Path segments, percent-decoded.
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Segments(t))
            .map_err(|rej| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ExcType::ValidationError,
                    rej.body_text(),
                )
            })
    }
}

//! `/api/method/{method}`: actions. Arguments come from the JSON body
//! (POST) or the query string (GET); the answer is `{"message": …}`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use outpost_engine::{Actor, Error, ExcType, Site};
use serde_json::{json, Map, Value};

use super::{ErrorSchema, Message};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, JsonBody, QueryPairs, Segments};
use crate::state::AppState;

/// The methods this site answers, with what they take.
pub const METHODS: &[(&str, &str)] = &[
    ("frappe.auth.get_logged_user", "The signed-in user's name."),
    ("outpost.site.info", "site_id, site_name, url, version."),
    ("outpost.site.configure", "Set site_name and/or url (System Manager)."),
    ("outpost.doctype.list", "Every DocType: name, module, istable, is_submittable, custom."),
    ("outpost.doctype.get", "One DocType's declaration. Args: doctype."),
    ("outpost.doctype.import", "Declare a custom DocType. Args: definition (the DocType JSON)."),
    ("outpost.doctype.add_custom_field", "Add a field to a DocType. Args: doctype, field."),
    ("outpost.user.generate_keys", "New api_key and api_secret for a user; the secret is shown only in this answer. Args: user."),
    ("outpost.user.get_api_key", "A user's api_key (never the secret). Args: user."),
];

/// Call a method. See the description of `method` for the list.
#[utoipa::path(post, path = "/api/method/{method}", tag = "method",
    params(("method" = String, Path, description = "One of: frappe.auth.get_logged_user, outpost.site.info, outpost.site.configure, outpost.doctype.list, outpost.doctype.get, outpost.doctype.import, outpost.doctype.add_custom_field, outpost.user.generate_keys, outpost.user.get_api_key")),
    request_body(content = Object, description = "The method's arguments"),
    responses(
        (status = 200, description = "The method's answer", body = Message<Object>),
        (status = 400, description = "Bad or missing argument", body = ErrorSchema),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 403, description = "Not allowed", body = ErrorSchema),
        (status = 404, description = "Unknown method", body = ErrorSchema),
    ))]
pub async fn call_post(
    State(state): State<AppState>,
    caller: Caller,
    Segments(method): Segments<String>,
    JsonBody(args): JsonBody,
) -> ApiResult<Json<Message<Value>>> {
    call(state, caller, method, args, Method::POST).await
}

/// Call a read-only method with its arguments in the query string.
#[utoipa::path(get, path = "/api/method/{method}", tag = "method",
    params(("method" = String, Path, description = "A read-only method: frappe.auth.get_logged_user, outpost.site.info, outpost.doctype.list, outpost.doctype.get, outpost.user.get_api_key")),
    responses(
        (status = 200, description = "The method's answer", body = Message<Object>),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 404, description = "Unknown method", body = ErrorSchema),
        (status = 405, description = "The method changes data: use POST", body = ErrorSchema),
    ))]
pub async fn call_get(
    State(state): State<AppState>,
    caller: Caller,
    Segments(method): Segments<String>,
    q: QueryPairs,
) -> ApiResult<Json<Message<Value>>> {
    let args: Map<String, Value> = q.0.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    call(state, caller, method, Value::Object(args), Method::GET).await
}

const READ_ONLY: &[&str] = &[
    "frappe.auth.get_logged_user",
    "outpost.site.info",
    "outpost.doctype.list",
    "outpost.doctype.get",
    "outpost.user.get_api_key",
];

async fn call(
    state: AppState,
    Caller(actor): Caller,
    method: String,
    args: Value,
    verb: Method,
) -> ApiResult<Json<Message<Value>>> {
    if !METHODS.iter().any(|(m, _)| *m == method) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ExcType::DoesNotExistError,
            format!("Unknown method {method}"),
        ));
    }
    if verb == Method::GET && !READ_ONLY.contains(&method.as_str()) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ExcType::ValidationError,
            format!("{method} changes data: call it with POST"),
        ));
    }
    let Value::Object(args) = args else {
        return Err(ApiError::bad_request(
            "Method arguments must be a JSON object",
        ));
    };
    let message = state
        .run(move |site| dispatch(site, &actor, &method, &args))
        .await?;
    Ok(Json(Message { message }))
}

fn arg<'a>(args: &'a Map<String, Value>, key: &str) -> outpost_engine::Result<&'a Value> {
    args.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Error::invalid(key, format!("Missing argument {key}")))
}

fn arg_str<'a>(args: &'a Map<String, Value>, key: &str) -> outpost_engine::Result<&'a str> {
    arg(args, key)?
        .as_str()
        .ok_or_else(|| Error::invalid(key, format!("Argument {key} must be text")))
}

fn opt_str<'a>(args: &'a Map<String, Value>, key: &str) -> outpost_engine::Result<Option<&'a str>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(key, format!("Argument {key} must be text"))),
    }
}

fn to_value<T: serde::Serialize>(v: T) -> outpost_engine::Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Corrupt(e.to_string()))
}

fn dispatch(
    site: &Site,
    actor: &Actor,
    method: &str,
    args: &Map<String, Value>,
) -> outpost_engine::Result<Value> {
    match method {
        "frappe.auth.get_logged_user" => Ok(Value::from(actor.user.clone())),
        "outpost.site.info" => to_value(site.info()?),
        "outpost.site.configure" => {
            to_value(site.configure(actor, opt_str(args, "site_name")?, opt_str(args, "url")?)?)
        }
        "outpost.doctype.list" => to_value(site.doctypes().summaries()),
        "outpost.doctype.get" => {
            to_value(site.doctypes().require(arg_str(args, "doctype")?)?.as_ref())
        }
        "outpost.doctype.import" => to_value(
            site.import_doctype(actor, arg(args, "definition")?.clone())?
                .as_ref(),
        ),
        "outpost.doctype.add_custom_field" => to_value(
            site.add_custom_field(
                actor,
                arg_str(args, "doctype")?,
                arg(args, "field")?.clone(),
            )?
            .as_ref(),
        ),
        "outpost.user.generate_keys" => {
            let keys = site.generate_keys(actor, arg_str(args, "user")?)?;
            // The one place a secret leaves the site: the answer to this call.
            Ok(
                json!({ "user": keys.user, "api_key": keys.api_key, "api_secret": keys.api_secret.expose() }),
            )
        }
        "outpost.user.get_api_key" => to_value(site.api_key_of(actor, arg_str(args, "user")?)?),
        _ => Err(Error::bad_input(format!("Unknown method {method}"))),
    }
}

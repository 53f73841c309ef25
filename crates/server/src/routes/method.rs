//! `/api/method/{method}`: actions. Arguments come from the JSON body
//! (POST) or the query string (GET); the answer is `{"message": …}`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;
use outpost_engine::stream::log::Stored;
use outpost_engine::stream::wire::{FetchRequest, FindRequest, PushRequest};
use outpost_engine::{Actor, Error, ExcType, Site};
use serde_json::{json, Map, Value};

use super::{ErrorSchema, Message};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json_body, Caller, QueryPairs, RawBody, Segments};
use crate::state::AppState;

/// The methods this site answers, with what they take.
pub const METHODS: &[(&str, &str)] = &[
    ("frappe.auth.get_logged_user", "The signed-in user's name."),
    ("outpost.user.me", "The signed-in user and their roles (what the app shows them)."),
    ("frappe.client.get_count", "How many documents match. Args: doctype, filters?, search?."),
    ("outpost.site.info", "site_id, site_name, url, version."),
    ("outpost.site.configure", "Set site_name and/or url (System Manager)."),
    ("outpost.doctype.list", "Every DocType: name, module, istable, is_submittable, custom."),
    ("outpost.doctype.get", "One DocType's declaration. Args: doctype."),
    ("outpost.doctype.import", "Declare a custom DocType. Args: definition (the DocType JSON)."),
    ("outpost.doctype.add_custom_field", "Add a field to a DocType. Args: doctype, field."),
    ("outpost.document.amend", "A new draft from a cancelled document (Amend, as in Desk): named <name>-1, -2…, amended_from set. Args: doctype, name."),
    ("outpost.user.generate_keys", "New api_key and api_secret for a user; the secret is shown only in this answer. Args: user."),
    ("outpost.user.get_api_key", "A user's api_key (never the secret). Args: user."),
    ("outpost.user.set_password", "Set a user's password for browser sign-in (System Manager, or yourself). Args: user, password."),
    ("outpost.site.set_keep_in_background", "Desktop: keep syncing in the background when the window closes (System Manager). Args: enabled."),
    ("outpost.site.set_background_sync", "Pause (false) or resume (true) scheduled pulls, retries and live-channel syncs; Sync now works either way (System Manager). Args: enabled."),
    ("outpost.site.set_sync_interval", "Seconds between scheduled pulls (System Manager); null returns to the start-up value. Args: sync_interval."),
    ("outpost.event.register", "Producer side: a consumer registers (Registration body) → RegistrationReply."),
    ("outpost.event.pull", "Producer side: a page of the update log for a consumer (PullRequest) → PullReply."),
    ("outpost.event.ack", "Producer side: the consumer has committed every page up to page (AckRequest); only then is what those pages delivered recorded."),
    ("outpost.event.subscription", "Producer side, for a subscriber key: its own Event Consumer's status — approvals and held documents. Args: site_id."),
    ("outpost.event.fetch", "Producer side: a dependency document (FetchRequest) → the document."),
    ("outpost.event.find", "Producer side: the document a mapping depends on, by filters (FindRequest) → the oldest match the consumer may see."),
    ("outpost.event.consumer_status", "Producer side: each registered consumer: last pull, entries behind, approved and pending doctypes."),
    ("outpost.event.update_log", "Producer side: the Event Update Log, newest first. Args: ref_doctype?, before?, limit?."),
    ("outpost.event.update_log_count", "How many update-log entries there are. Args: ref_doctype?."),
    ("outpost.invite.create", "Hub side (System Manager): an invitation for a shop. Args: label, push_doctypes (shop → hub), pull_doctypes ([{ref_doctype, condition?}], hub → shop), expires_in_hours? (48), pre_approved? → the invitation with its link (said once)."),
    ("outpost.keys.renew", "For a subscriber key: new keys for this user (the old ones stop working); answers {api_key, api_secret} once."),
    ("outpost.event.renew_keys", "Consumer side (System Manager): new keys from an Event Producer, kept here in place of the old ones. Args: producer."),
    ("outpost.event.ask_key_renewal", "Producer side (System Manager): ask a site that pulls or pushes here to renew its keys; it does at its next contact, its old keys working until then. Args: site_id."),
    ("outpost.invite.list", "Hub side (System Manager): every invitation, newest first, never a token."),
    ("outpost.invite.redeem", "Shop side (System Manager): join a hub with the link it gave. Args: link → the Event Producer made for the hub."),
    ("outpost.event.sync_activity", "The last 24 hours of traffic per minute: entries and backlog per other site, in (received here) and out (taken from here; managers only)."),
    ("outpost.event.sync_history", "The last syncs run from here, newest first. Args: limit? (default 50)."),
    ("outpost.event.sync_now", "Consumer side: pull now from every Event Producer (or one: producer) → summaries."),
    ("outpost.event.producer_status", "Consumer side: each Event Producer's online state, cursor, last sync, failures."),
    ("outpost.event.sync_progress", "Consumer side: what Sync now is doing: running, the producer being synced (cursor, start, target) and those done."),
    ("outpost.event.sync_log", "Consumer side: the Event Sync Log, newest first. Args: status?, before? (an id: page back), limit?."),
    ("outpost.event.sync_log_count", "How many sync-log lines there are. Args: status?."),
    ("outpost.event.resync", "Consumer side: apply a Failed sync-log entry again. Args: id."),
    ("outpost.event.reapply_conflict", "Consumer side: a Conflict sync-log entry's losing version becomes the document here, as a new change every site takes. Args: id."),
    ("outpost.event.request_existing", "Consumer side: ask a producer to send every existing document of a subscribed doctype again (SPEC F18). Args: producer (the Event Producer's name), ref_doctype (the local doctype of its row)."),
    ("outpost.event.push", "Consumer side, for a subscriber key: a producer that cannot be reached sends a page of its log (SPEC F20). Body: PushRequest; answers PushReply (this site's cursor, acknowledged page and decisions)."),
    ("outpost.event.resnapshot", "Producer side, for a subscriber key: start the snapshot of an approved doctype over. Args: site_id, ref_doctype."),
];

/// Call a method. See the description of `method` for the list.
#[utoipa::path(post, path = "/api/method/{method}", tag = "method",
    params(("method" = String, Path, description = "One of: frappe.auth.get_logged_user, outpost.user.me, frappe.client.get_count, outpost.site.info, outpost.site.configure, outpost.doctype.list, outpost.doctype.get, outpost.doctype.import, outpost.doctype.add_custom_field, outpost.document.amend, outpost.user.generate_keys, outpost.user.get_api_key, outpost.user.set_password, outpost.site.set_keep_in_background, outpost.site.set_background_sync, outpost.site.set_sync_interval, outpost.event.register, outpost.event.pull, outpost.event.ack, outpost.event.subscription, outpost.event.fetch, outpost.event.find, outpost.event.consumer_status, outpost.event.update_log, outpost.event.update_log_count, outpost.invite.create, outpost.invite.list, outpost.invite.redeem, outpost.keys.renew, outpost.event.renew_keys, outpost.event.ask_key_renewal, outpost.event.sync_activity, outpost.event.sync_history, outpost.event.sync_now, outpost.event.producer_status, outpost.event.sync_progress, outpost.event.sync_log, outpost.event.sync_log_count, outpost.event.resync, outpost.event.reapply_conflict, outpost.event.request_existing, outpost.event.resnapshot, outpost.event.push")),
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
    RawBody(body): RawBody,
) -> ApiResult<Json<Message<Answer>>> {
    if method == PUSH {
        // A pushed page (a megabyte) is read straight into its request,
        // each entry's data kept as the text it came as: no JSON tree of
        // the whole body, no copy of it, no second serialisation.
        known_method(&method, &Method::POST)?;
        let req: PushRequest<Stored> = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid arguments: {e}")))?;
        let Caller(actor) = caller;
        return run(state, method, move |site: &Site| push(site, &actor, req)).await;
    }
    call(state, caller, method, parse_json_body(&body)?, Method::POST).await
}

const PUSH: &str = "outpost.event.push";

fn push(site: &Site, actor: &Actor, req: PushRequest<Stored>) -> outpost_engine::Result<Answer> {
    allowed(actor, PUSH)?;
    let answer = to_value(site.receive_push(actor, req)?);
    crate::memory::trim_if_large();
    answer
}

/// Call a read-only method with its arguments in the query string.
#[utoipa::path(get, path = "/api/method/{method}", tag = "method",
    params(("method" = String, Path, description = "A read-only method: frappe.auth.get_logged_user, outpost.user.me, frappe.client.get_count, outpost.site.info, outpost.doctype.list, outpost.doctype.get, outpost.user.get_api_key, outpost.event.update_log, outpost.event.update_log_count, outpost.event.sync_activity, outpost.event.sync_history, outpost.event.producer_status, outpost.event.sync_log, outpost.event.sync_log_count, outpost.event.sync_progress, outpost.event.consumer_status")),
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
) -> ApiResult<Json<Message<Answer>>> {
    let args: Map<String, Value> = q.0.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    call(state, caller, method, Value::Object(args), Method::GET).await
}

/// Methods that may take long (they wait on other sites): each runs on a
/// thread of its own, never in the pool other requests need.
const LONG: &[&str] = &[
    "outpost.event.sync_now",
    "outpost.event.resync",
    "outpost.event.request_existing",
];

const READ_ONLY: &[&str] = &[
    "frappe.auth.get_logged_user",
    "outpost.user.me",
    "frappe.client.get_count",
    "outpost.site.info",
    "outpost.doctype.list",
    "outpost.doctype.get",
    "outpost.user.get_api_key",
    "outpost.event.update_log",
    "outpost.event.update_log_count",
    "outpost.event.sync_activity",
    "outpost.event.sync_history",
    "outpost.event.producer_status",
    "outpost.event.sync_log",
    "outpost.event.sync_log_count",
    "outpost.event.sync_progress",
    "outpost.event.consumer_status",
];

async fn call(
    state: AppState,
    Caller(actor): Caller,
    method: String,
    args: Value,
    verb: Method,
) -> ApiResult<Json<Message<Answer>>> {
    known_method(&method, &verb)?;
    let Value::Object(args) = args else {
        return Err(ApiError::bad_request(
            "Method arguments must be a JSON object",
        ));
    };
    let name = method.clone();
    run(state, name, move |site: &Site| {
        dispatch(site, &actor, &method, &args)
    })
    .await
}

/// A method this API has, called with a verb it takes.
fn known_method(method: &str, verb: &Method) -> ApiResult<()> {
    if !METHODS.iter().any(|(m, _)| *m == method) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ExcType::DoesNotExistError,
            format!("Unknown method {method}"),
        ));
    }
    if *verb == Method::GET && !READ_ONLY.contains(&method) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ExcType::ValidationError,
            format!("{method} changes data: call it with POST"),
        ));
    }
    Ok(())
}

/// Runs a method's work off the async executor: long ones on a thread of
/// their own.
async fn run(
    state: AppState,
    method: String,
    work: impl FnOnce(&Site) -> outpost_engine::Result<Answer> + Send + 'static,
) -> ApiResult<Json<Message<Answer>>> {
    let message = if LONG.contains(&method.as_str()) {
        state.run_apart(work).await?
    } else {
        state.run(work).await?
    };
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

fn opt_int(args: &Map<String, Value>, key: &str) -> outpost_engine::Result<Option<i64>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::invalid(key, format!("{key} must be a whole number"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(key, format!("{key} must be a whole number"))),
        Some(_) => Err(Error::invalid(key, format!("{key} must be a whole number"))),
    }
}

fn arg_flag(args: &Map<String, Value>, key: &str) -> outpost_engine::Result<bool> {
    match args.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) if matches!(v.as_i64(), Some(0 | 1)) => Ok(v.as_i64() == Some(1)),
        _ => Err(Error::invalid(key, format!("{key} must be true or false"))),
    }
}

fn from_args<T: serde::de::DeserializeOwned>(
    args: &Map<String, Value>,
) -> outpost_engine::Result<T> {
    // Read from the arguments as they are (a pushed page is a megabyte of
    // them: not copied first).
    T::deserialize(args).map_err(|e| Error::bad_input(format!("Invalid arguments: {e}")))
}

/// A method's answer, serialised once: straight from the engine's types to
/// the bytes sent (a page of 500 documents is not built as a JSON tree first).
pub type Answer = Box<serde_json::value::RawValue>;

fn to_value<T: serde::Serialize>(v: T) -> outpost_engine::Result<Answer> {
    serde_json::value::to_raw_value(&v).map_err(|e| Error::Corrupt(e.to_string()))
}

/// All a subscriber key may call (SPEC F8, least privilege).
pub const SUBSCRIBER_METHODS: &[&str] = &[
    "frappe.auth.get_logged_user",
    "outpost.event.register",
    "outpost.event.pull",
    "outpost.event.ack",
    "outpost.event.fetch",
    "outpost.event.find",
    "outpost.event.subscription",
    "outpost.event.resnapshot",
    "outpost.event.push",
    "outpost.keys.renew",
];

/// Whether `actor` may call `method` at all (a subscriber key only the
/// few it needs).
fn allowed(actor: &Actor, method: &str) -> outpost_engine::Result<()> {
    if actor.is_subscriber() && !SUBSCRIBER_METHODS.contains(&method) {
        return Err(Error::Permission(format!(
            "{} holds the role Event Subscriber: it may only register, pull and fetch, not call {method}",
            actor.user
        )));
    }
    Ok(())
}

/// Runs a method: the one place both the HTTP route and the desktop's IPC
/// command go through.
pub fn dispatch(
    site: &Site,
    actor: &Actor,
    method: &str,
    args: &Map<String, Value>,
) -> outpost_engine::Result<Answer> {
    allowed(actor, method)?;
    match method {
        "frappe.auth.get_logged_user" => to_value(&actor.user),
        "outpost.user.me" => to_value(json!({
            "user": actor.user,
            "roles": actor.roles.iter().filter(|r| *r != "All").collect::<Vec<_>>(),
            "system_manager": actor.is_system_manager(),
        })),
        "frappe.client.get_count" => {
            let filters = match args.get("filters") {
                Some(Value::String(s)) => Some(serde_json::from_str(s).map_err(|e| {
                    Error::invalid("filters", format!("filters is not valid JSON: {e}"))
                })?),
                other => other.cloned(),
            };
            to_value(site.count(
                actor,
                arg_str(args, "doctype")?,
                filters.as_ref(),
                opt_str(args, "search")?,
            )?)
        }
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
        "outpost.document.amend" => {
            to_value(&site.amend(actor, arg_str(args, "doctype")?, arg_str(args, "name")?)?)
        }
        "outpost.user.generate_keys" => {
            let keys = site.generate_keys(actor, arg_str(args, "user")?)?;
            // The one place a secret leaves the site: the answer to this call.
            to_value(
                json!({ "user": keys.user, "api_key": keys.api_key, "api_secret": keys.api_secret.expose() }),
            )
        }
        "outpost.user.get_api_key" => to_value(site.api_key_of(actor, arg_str(args, "user")?)?),
        "outpost.user.set_password" => {
            let password = outpost_engine::Secret::new(arg_str(args, "password")?);
            site.set_password(actor, arg_str(args, "user")?, &password)?;
            to_value("Password set")
        }
        "outpost.site.set_sync_interval" => {
            let seconds = match args.get("sync_interval") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_f64().ok_or_else(|| {
                    Error::invalid("sync_interval", "sync_interval must be a number of seconds")
                })?),
            };
            to_value(site.set_sync_interval(actor, seconds)?)
        }
        "outpost.event.sync_progress" => to_value(site.sync_progress(actor)?),
        "outpost.site.set_keep_in_background" => {
            to_value(site.set_keep_in_background(actor, arg_flag(args, "enabled")?)?)
        }
        "outpost.site.set_background_sync" => {
            to_value(site.set_background_sync(actor, arg_flag(args, "enabled")?)?)
        }
        "outpost.event.register" => to_value(site.register_consumer(actor, from_args(args)?)?),
        "outpost.event.pull" => to_value(site.pull_updates(actor, &from_args(args)?)?),
        "outpost.event.ack" => {
            site.acknowledge_pages(actor, &from_args(args)?)?;
            to_value("Acknowledged")
        }
        "outpost.event.subscription" => {
            to_value(site.subscription_status(actor, arg_str(args, "site_id")?)?)
        }
        PUSH => {
            let req: PushRequest = from_args(args)?;
            push(site, actor, req.stored()?)
        }
        "outpost.event.resnapshot" => {
            site.request_snapshot(
                actor,
                arg_str(args, "site_id")?,
                arg_str(args, "ref_doctype")?,
            )?;
            to_value("The existing documents will be sent again")
        }
        "outpost.event.request_existing" => {
            site.resnapshot(
                actor,
                arg_str(args, "producer")?,
                arg_str(args, "ref_doctype")?,
            )?;
            to_value("Asked: the existing documents arrive with the next syncs")
        }
        "outpost.event.fetch" => {
            let req: FetchRequest = from_args(args)?;
            to_value(site.fetch_dependency(actor, &req.site_id, &req.doctype, &req.name)?)
        }
        "outpost.event.find" => {
            let req: FindRequest = from_args(args)?;
            to_value(site.find_dependency(actor, &req)?)
        }
        "outpost.event.consumer_status" => to_value(site.consumer_statuses(actor)?),
        "outpost.event.update_log" => {
            let before = opt_int(args, "before")?;
            let limit = opt_int(args, "limit")?.unwrap_or(100).clamp(1, 1000) as u32;
            to_value(site.update_log(actor, opt_str(args, "ref_doctype")?, before, limit)?)
        }
        "outpost.event.sync_now" => {
            to_value(site.sync_now(actor, opt_str(args, "producer")?, &|_| {})?)
        }
        "outpost.event.producer_status" => to_value(site.producer_statuses(actor)?),
        "outpost.event.sync_log" => {
            let limit = opt_int(args, "limit")?.unwrap_or(100).clamp(1, 1000) as u32;
            to_value(site.sync_log(
                actor,
                opt_str(args, "status")?,
                opt_int(args, "before")?,
                limit,
            )?)
        }
        "outpost.invite.create" => {
            let req = serde_json::from_value(Value::Object(args.clone()))
                .map_err(|e| Error::bad_input(format!("Invalid invitation: {e}")))?;
            to_value(site.create_invitation(actor, req)?)
        }
        "outpost.invite.list" => to_value(site.invitations(actor)?),
        "outpost.keys.renew" => to_value(site.renew_own_keys(actor)?),
        "outpost.event.ask_key_renewal" => {
            to_value(site.ask_key_renewal(actor, arg_str(args, "site_id")?)?)
        }
        "outpost.event.renew_keys" => to_value(site.renew_keys(actor, arg_str(args, "producer")?)?),
        "outpost.invite.redeem" => to_value(site.redeem_invitation(actor, arg_str(args, "link")?)?),
        "outpost.event.sync_activity" => to_value(site.sync_activity(actor)?),
        "outpost.event.sync_history" => {
            let limit = opt_int(args, "limit")?.unwrap_or(50).clamp(1, 500) as u32;
            to_value(site.sync_history(actor, limit)?)
        }
        "outpost.event.update_log_count" => {
            to_value(site.update_log_count(actor, opt_str(args, "ref_doctype")?)?)
        }
        "outpost.event.sync_log_count" => {
            to_value(site.sync_log_count(actor, opt_str(args, "status")?)?)
        }
        "outpost.event.resync" => {
            let id =
                opt_int(args, "id")?.ok_or_else(|| Error::invalid("id", "Missing argument id"))?;
            to_value(site.resync(actor, id)?)
        }
        "outpost.event.reapply_conflict" => {
            let id =
                opt_int(args, "id")?.ok_or_else(|| Error::invalid("id", "Missing argument id"))?;
            to_value(site.reapply_conflict(actor, id)?)
        }
        _ => Err(Error::bad_input(format!("Unknown method {method}"))),
    }
}

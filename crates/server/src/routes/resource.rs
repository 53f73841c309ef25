//! `/api/resource/{doctype}[/{name}]`: document CRUD and lists.

use axum::extract::State;
use axum::Json;
use outpost_engine::{Doc, ListQuery};
use serde_json::Value;

use super::{Data, ErrorSchema};
use crate::error::ApiResult;
use crate::extract::{Caller, JsonBody, QueryPairs, Segments};
use crate::state::AppState;

/// List documents of a doctype.
#[utoipa::path(get, path = "/api/resource/{doctype}", tag = "resource",
    params(
        ("doctype" = String, Path, description = "DocType name, e.g. Sales Invoice"),
        ("filters" = Option<String>, Query, description = r#"JSON: {"field": value}, {"field": [op, value]} or [[field, op, value], …]; ops = != < > <= >= like "not like" in "not in" is"#),
        ("fields" = Option<String>, Query, description = r#"JSON list of field names, or ["*"]; default ["name"]"#),
        ("order_by" = Option<String>, Query, description = "field asc|desc, comma-separated; default modified desc"),
        ("search" = Option<String>, Query, description = "words found, in any case, in the name or a text, Link or Select field; every word must match"),
        ("limit_start" = Option<u64>, Query, description = "rows to skip"),
        ("limit_page_length" = Option<u64>, Query, description = "rows to return, 1..1000; default 20"),
    ),
    responses(
        (status = 200, description = "The page of documents", body = Data<Vec<Object>>),
        (status = 400, description = "Bad filter, field or paging", body = ErrorSchema),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 403, description = "No read permission", body = ErrorSchema),
        (status = 404, description = "Unknown DocType", body = ErrorSchema),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Segments(doctype): Segments<String>,
    q: QueryPairs,
) -> ApiResult<Json<Data<Vec<Doc>>>> {
    let fields = match q.json("fields")? {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(crate::error::ApiError::bad_request(
                        "fields must be a JSON list of field names",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(crate::error::ApiError::bad_request(
                "fields must be a JSON list of field names",
            ))
        }
    };
    let query = ListQuery {
        filters: q.json("filters")?,
        fields,
        order_by: q.get("order_by").map(str::to_owned),
        search: q.get("search").map(str::to_owned),
        limit_start: q.number("limit_start")?,
        limit_page_length: q.number("limit_page_length")?,
    };
    let data = state
        .run(move |site| site.list(&actor, &doctype, &query))
        .await?;
    Ok(Json(Data { data }))
}

/// Create a document; the body is the document (child tables as lists of rows).
#[utoipa::path(post, path = "/api/resource/{doctype}", tag = "resource",
    params(("doctype" = String, Path, description = "DocType name")),
    request_body(content = Object, description = "The document's fields"),
    responses(
        (status = 200, description = "The document as stored", body = Data<Object>),
        (status = 400, description = "A field breaks a rule; `field` names it", body = ErrorSchema),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 403, description = "No create permission", body = ErrorSchema),
        (status = 409, description = "Name or unique value already taken", body = ErrorSchema),
    ))]
pub async fn insert(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Segments(doctype): Segments<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Data<Doc>>> {
    let data = state
        .run(move |site| site.insert(&actor, &doctype, body))
        .await?;
    Ok(Json(Data { data }))
}

/// Read one document.
#[utoipa::path(get, path = "/api/resource/{doctype}/{name}", tag = "resource",
    params(("doctype" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The document", body = Data<Object>),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 404, description = "No such document", body = ErrorSchema),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Segments((doctype, name)): Segments<(String, String)>,
) -> ApiResult<Json<Data<Doc>>> {
    let data = state
        .run(move |site| site.get(&actor, &doctype, &name))
        .await?;
    Ok(Json(Data { data }))
}

/// Update: merges the given fields; a child table given replaces the old rows.
/// `docstatus: 1` submits, `docstatus: 2` cancels.
#[utoipa::path(put, path = "/api/resource/{doctype}/{name}", tag = "resource",
    params(("doctype" = String, Path), ("name" = String, Path)),
    request_body(content = Object, description = "Fields to change"),
    responses(
        (status = 200, description = "The document as stored", body = Data<Object>),
        (status = 400, description = "A field breaks a rule", body = ErrorSchema),
        (status = 404, description = "No such document", body = ErrorSchema),
        (status = 409, description = "Not allowed in the document's docstatus, or unique value taken", body = ErrorSchema),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Segments((doctype, name)): Segments<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Data<Doc>>> {
    let data = state
        .run(move |site| site.update(&actor, &doctype, &name, body))
        .await?;
    Ok(Json(Data { data }))
}

/// Delete a document (refused while submitted or while other documents link to it).
#[utoipa::path(delete, path = "/api/resource/{doctype}/{name}", tag = "resource",
    params(("doctype" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = r#"{"data": "ok"}"#, body = Data<String>),
        (status = 404, description = "No such document", body = ErrorSchema),
        (status = 409, description = "Submitted, or linked from another document", body = ErrorSchema),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Segments((doctype, name)): Segments<(String, String)>,
) -> ApiResult<Json<Data<&'static str>>> {
    state
        .run(move |site| site.delete(&actor, &doctype, &name))
        .await?;
    Ok(Json(Data { data: "ok" }))
}

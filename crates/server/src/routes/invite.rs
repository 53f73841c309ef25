//! A shop redeeming an invitation (`outpost.invite.accept`): the one method
//! a caller without keys may call — the invitation's single-use token is
//! the credential; what it answers (the shop's keys) is said once.

use axum::extract::State;
use axum::Json;
use outpost_engine::stream::invite::AcceptRequest;
use outpost_engine::Error;

use super::{ErrorSchema, Message};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

/// Redeem an invitation: the hub makes the shop's subscriber user and keys.
#[utoipa::path(post, path = "/api/method/outpost.invite.accept", tag = "method",
    request_body(content = Object, description = "{id, token, site_id, site_name}: the id and token from the invitation link, the shop's site"),
    responses(
        (status = 200, description = "The shop's keys (said once) and what flows which way", body = Object),
        (status = 400, description = "Not valid, expired or already used by another site; nothing was made", body = ErrorSchema),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Message<outpost_engine::stream::invite::Accepted>>> {
    let req: AcceptRequest = serde_json::from_value(body).map_err(|e| {
        Error::bad_input(format!(
            "Send {{\"id\", \"token\", \"site_id\", \"site_name\"}} from the invitation link: {e}"
        ))
    })?;
    let message = state.run(move |site| site.accept_invitation(&req)).await?;
    Ok(Json(Message { message }))
}

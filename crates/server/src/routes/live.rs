//! `GET /api/stream/updates`: the live channel a consumer holds open
//! (server-sent events). The consumer opens it, so it works behind NAT.
//! Each `update` event announces the newest update-log sequence number.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;

use super::ErrorSchema;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, QueryPairs};
use crate::state::AppState;

/// How often a channel looks whether the server is stopping.
const STOP_CHECK: Duration = Duration::from_millis(250);

/// Live channel: an `update` event whenever the update log grows.
#[utoipa::path(get, path = "/api/stream/updates", tag = "stream",
    params(("site_id" = String, Query, description = "The registered consumer's site id")),
    responses(
        (status = 200, description = "text/event-stream of `update` events with data {\"seq\": N}"),
        (status = 401, description = "Not authenticated", body = ErrorSchema),
        (status = 403, description = "Not a registered consumer", body = ErrorSchema),
    ))]
pub async fn updates(
    State(state): State<AppState>,
    Caller(actor): Caller,
    q: QueryPairs,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let site_id = q
        .get("site_id")
        .ok_or_else(|| ApiError::bad_request("site_id is required"))?
        .to_owned();
    state
        .run(move |site| site.check_consumer(&actor, &site_id))
        .await?;
    // Where the log ends as the channel opens (read off the executor): only
    // what comes after it is announced. One watcher reads the log for every
    // channel; a channel only waits for its number to pass `last`.
    let last = state.run(|site| site.last_update_seq()).await?;
    let newest = state.newest_seq();
    let stream = futures_util::stream::unfold(
        (state, newest, last),
        |(state, mut newest, mut last)| async move {
            loop {
                if state.is_stopping() {
                    // The server stops: end the channel (the consumer
                    // reconnects once the site is back).
                    return None;
                }
                match tokio::time::timeout(STOP_CHECK, newest.changed()).await {
                    Err(_) => continue,
                    // The watcher ended: end the channel, the consumer
                    // opens it again.
                    Ok(Err(_)) => return None,
                    Ok(Ok(())) => {}
                }
                let seq = *newest.borrow_and_update();
                if seq > last {
                    last = seq;
                    let event = Event::default()
                        .event("update")
                        .data(format!("{{\"seq\":{seq}}}"));
                    return Some((Ok(event), (state, newest, last)));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

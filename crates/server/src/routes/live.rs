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

/// How often the channel looks for new writes (an atomic counter, no query).
const POLL: Duration = Duration::from_millis(20);
/// Writes by another process (the CLI) do not move the counter: look at the
/// log itself this often anyway.
const RECHECK_EVERY: u32 = 50;

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
    let last = state.run(|site| site.last_update_seq()).await?;
    let stream = futures_util::stream::unfold(
        (state, last, u64::MAX),
        |(state, mut last, mut seen)| async move {
            let mut ticks = 0u32;
            loop {
                if state.is_stopping() {
                    // The server stops: end the channel (the consumer
                    // reconnects once the site is back).
                    return None;
                }
                let generation = state.site.write_generation();
                ticks += 1;
                if generation != seen || ticks >= RECHECK_EVERY {
                    seen = generation;
                    ticks = 0;
                    if let Ok(seq) = state.run(|site| site.last_update_seq()).await {
                        if seq > last {
                            last = seq;
                            let event = Event::default()
                                .event("update")
                                .data(format!("{{\"seq\":{seq}}}"));
                            return Some((Ok(event), (state, last, seen)));
                        }
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

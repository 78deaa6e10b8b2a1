//! `GET /api/outbound/runs/{id}/events`: server-sent events of one run.
//!
//! Events are named `state` (status changed; the first event is always one)
//! and `progress` (cursor or counts changed); data is the run JSON. After the
//! run reaches a terminal status, a last `state` event is sent and the
//! stream ends. The stream polls the store at `events_interval` — in the
//! tenant's database scope, which the stream must set itself: it is polled
//! by the server after the request's middleware has returned.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiResult;
use super::params::ApiPath;
use super::runs::run_for;
use super::views::{RunJson, parse_id};
use crate::store::tenant_scope::{DbScope, scoped};

struct Cursor {
    s: AppState,
    t: TenantAuth,
    id: i64,
    last: Option<(String, i64, String)>,
    done: bool,
    first: Option<RunJson>,
}

fn event(name: &str, run: &RunJson) -> Event {
    Event::default()
        .event(name)
        .json_data(run)
        .unwrap_or_else(|_| Event::default().event(name))
}

/// The stream's data is the run JSON (`Run`); in the document, as the text
/// of an event stream (an SSE event is no JSON schema).
#[utoipa::path(
    get,
    path = "/api/outbound/runs/{id}/events",
    operation_id = "stream_run_events",
    tag = "runs",
    summary = "Server-sent events: `state` and `progress`, each with the run JSON as data; the stream ends after the terminal `state`",
    params(("id" = i64, Path, description = "The run's id", minimum = 1)),
    responses(
        (status = 200, description = "An event stream; each event's data is a `Run`", body = String, content_type = "text/event-stream"),
        (status = 400, description = "The id is not a positive integer", body = super::error::ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = super::error::ErrorBody),
        super::error::KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
pub async fn stream(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = parse_id("id", &id)?;
    let first = run_for(&s, &t, id, "GET /api/outbound/runs/{id}/events").await?;
    let cursor = Cursor {
        s,
        t,
        id,
        last: None,
        done: false,
        first: Some(first),
    };
    let stream = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.done {
                return None;
            }
            let run = match c.first.take() {
                Some(r) => r,
                None => {
                    tokio::time::sleep(c.s.config.events_interval).await;
                    let (s, t, id) = (c.s.clone(), c.t, c.id);
                    let r = scoped(DbScope::Tenant(t.tenant), async move {
                        run_for(&s, &t, id, "GET /api/outbound/runs/{id}/events").await
                    })
                    .await;
                    match r {
                        Ok(r) => r,
                        // Database hiccup: try again next tick.
                        Err(_) => continue,
                    }
                }
            };
            let terminal = matches!(run.status, "completed" | "cancelled" | "failed");
            let counts = serde_json::to_string(&(&run.counts, &run.jobs)).unwrap_or_default();
            let key = (run.status.to_string(), run.cursor_position, counts);
            let ev = match &c.last {
                Some(prev) if prev.0 != key.0 => Some(event("state", &run)),
                None => Some(event("state", &run)),
                Some(prev) if *prev != key => Some(event("progress", &run)),
                _ => None,
            };
            c.last = Some(key);
            if terminal {
                c.done = true;
                // Always close with a `state` event of the terminal run.
                let ev = event("state", &run);
                return Some((Ok(ev), c));
            }
            if let Some(ev) = ev {
                return Some((Ok(ev), c));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

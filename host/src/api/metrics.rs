//! Prometheus metrics, two endpoints (OpenMetrics text):
//! - `/metrics`: this node's families ([`crate::process_metrics`]): build
//!   info, start time, calls committed by outcome, plugin errors, callbacks,
//!   security events, heartbeats, leases lost, takeovers, HTTP requests and
//!   latency by route template, cancel and claim latency, the API's and
//!   workers' pools (open/idle/max connections, acquire waits), the
//!   process's memory, CPU and file descriptors. Each node counts only what
//!   it did: scrape every node, `sum()` across them.
//! - `/metrics/fleet`: fleet-wide gauges from the database — runs by state,
//!   jobs by status and by outcome, calls in flight (jobs `dialing`) — summed
//!   over the runs' live counters (`run_job_counts`), never over jobs or
//!   attempts. Every node serves the same numbers: scrape it from ONE target
//!   (one node, or the load balancer), never every replica, or `sum()`
//!   multiplies them.
//!
//! [`track_http`] is the layer that counts requests by route template. A
//! `dialplane worker` has no API: [`super::node_metrics`] serves its
//! `/metrics` alone (`--metrics-listen`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiResult;
use crate::model::{JobStatus, RunStatus};
pub use crate::process_metrics::Metrics;

/// The OpenMetrics content type both endpoints answer with.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched (bounded, unlike paths).
const UNMATCHED_ROUTE: &str = "unmatched";

/// The metrics routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(fleet_metrics))
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "This node's Prometheus metrics (OpenMetrics text; sum() across nodes)",
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "application/openmetrics-text"),
    ),
)]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        s.metrics.encode(),
    )
}

#[utoipa::path(
    get,
    path = "/metrics/fleet",
    operation_id = "fleet_metrics",
    tag = "operations",
    summary = "Fleet-wide gauges from the database (scrape from one target only)",
    responses(
        (status = 200, description = "The gauges", body = String, content_type = "application/openmetrics-text"),
        (status = 503, description = "The database is unreachable", body = super::error::ErrorBody),
    ),
)]
async fn fleet_metrics(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let agg = s.platform.aggregates().await?;
    let mut registry = Registry::default();
    let runs: Family<Vec<(String, String)>, Gauge> = Family::default();
    for state in RunStatus::ALL.iter().map(|s| s.as_str()) {
        let v = agg.runs_by_state.get(state).copied().unwrap_or(0);
        runs.get_or_create(&vec![("state".into(), state.into())])
            .set(v);
    }
    registry.register("dialplane_runs", "Runs, by state (fleet-wide)", runs);
    let jobs: Family<Vec<(String, String)>, Gauge> = Family::default();
    for status in JobStatus::ALL.iter().map(|s| s.as_str()) {
        let v = agg.jobs_by_status.get(status).copied().unwrap_or(0);
        jobs.get_or_create(&vec![("state".into(), status.into())])
            .set(v);
    }
    registry.register("dialplane_jobs", "Jobs, by state (fleet-wide)", jobs);
    let outcomes: Family<Vec<(String, String)>, Gauge> = Family::default();
    for (outcome, v) in &agg.jobs_by_outcome {
        outcomes
            .get_or_create(&vec![("outcome".into(), outcome.clone())])
            .set(*v);
    }
    registry.register(
        "dialplane_job_outcomes",
        "Jobs, by their last call's outcome (fleet-wide)",
        outcomes,
    );
    let in_flight: Gauge = Gauge::default();
    in_flight.set(agg.jobs_by_status.get("dialing").copied().unwrap_or(0));
    registry.register(
        "dialplane_calls_in_flight",
        "Calls in flight: jobs dialing (fleet-wide)",
        in_flight,
    );
    let mut out = String::new();
    let _ = encode(&mut out, &registry);
    Ok(([(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], out))
}

/// Counts every request by its matched route template, method and status,
/// and times it (a `Router::layer`, so the route is known).
pub async fn track_http(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE.to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let res = next.run(req).await;
    s.metrics
        .http_request(&route, &method, res.status().as_u16(), started.elapsed());
    res
}

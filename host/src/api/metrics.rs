//! `/metrics` in Prometheus text format:
//! - `dialplane_calls_total{outcome}` and `dialplane_runs{state}`: from the
//!   database (all hosts' work, not only this process's);
//! - `dialplane_plugin_errors_total{cause}`: plugin failures seen by this
//!   process (rejected uploads, callback parsing, and the calls of the
//!   workers it hosts: loops, traps, memory, bad output);
//! - `dialplane_cancel_latency_seconds`: request → no call can start, as
//!   observed by the cancel endpoints;
//! - `dialplane_claim_latency_seconds`: claim round trips of the workers this
//!   process hosts;
//! - `dialplane_security_events_total`, `dialplane_callbacks_total{result}`.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiResult;
pub use crate::process_metrics::Metrics;

/// The metrics route and its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Label values are ours or outcome labels; escape anyway.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics (text exposition format 0.0.4)",
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "The database is unreachable", body = super::error::ErrorBody),
    ),
)]
async fn metrics(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let agg = s.platform.aggregates().await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP dialplane_calls_total Calls placed, by outcome.\n# TYPE dialplane_calls_total counter"
    );
    for (k, v) in &agg.calls_by_outcome {
        let _ = writeln!(out, "dialplane_calls_total{{outcome=\"{}\"}} {v}", label(k));
    }
    let _ = writeln!(
        out,
        "# HELP dialplane_runs Runs, by state.\n# TYPE dialplane_runs gauge"
    );
    for state in crate::store::RunStatus::ALL.iter().map(|s| s.as_str()) {
        let v = agg.runs_by_state.get(state).copied().unwrap_or(0);
        let _ = writeln!(out, "dialplane_runs{{state=\"{state}\"}} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP dialplane_plugin_errors_total Plugin failures, by cause.\n# TYPE dialplane_plugin_errors_total counter"
    );
    for (k, v) in s.metrics.plugin_errors.lock().unwrap().iter() {
        let _ = writeln!(
            out,
            "dialplane_plugin_errors_total{{cause=\"{}\"}} {v}",
            label(k)
        );
    }
    let _ = writeln!(
        out,
        "# HELP dialplane_callbacks_total Provider callbacks, by result.\n# TYPE dialplane_callbacks_total counter"
    );
    for (k, v) in s.metrics.callbacks.lock().unwrap().iter() {
        let _ = writeln!(
            out,
            "dialplane_callbacks_total{{result=\"{}\"}} {v}",
            label(k)
        );
    }
    let _ = writeln!(
        out,
        "# HELP dialplane_security_events_total Security events: cross-tenant accesses and unauthenticated callbacks refused.\n# TYPE dialplane_security_events_total counter"
    );
    let _ = writeln!(
        out,
        "dialplane_security_events_total {}",
        s.metrics.security_events.load(Ordering::Relaxed)
    );
    s.metrics.cancel_latency.write(
        &mut out,
        "dialplane_cancel_latency_seconds",
        "Cancel request until no call can start.",
    );
    s.metrics.claim_latency.write(
        &mut out,
        "dialplane_claim_latency_seconds",
        "Time to claim a run.",
    );
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

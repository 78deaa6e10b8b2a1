//! `/metrics` in Prometheus text format:
//! - `dialplane_calls_total{outcome}` and `dialplane_runs{state}`: from the
//!   database (all hosts' work, not only this process's);
//! - `dialplane_plugin_errors_total{cause}`: plugin failures seen by this
//!   process (rejected uploads, callback parsing);
//! - `dialplane_cancel_latency_seconds`: request → no call can start, as
//!   observed by the cancel endpoints;
//! - `dialplane_claim_latency_seconds`: fed by in-process workers through
//!   [`Metrics::observe_claim`];
//! - `dialplane_security_events_total`, `dialplane_callbacks_total{result}`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use super::error::ApiResult;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// Histogram bucket bounds (seconds).
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// This process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub plugin_errors: Mutex<BTreeMap<String, u64>>,
    pub callbacks: Mutex<BTreeMap<String, u64>>,
    pub security_events: AtomicU64,
    pub cancel_latency: Histogram,
    pub claim_latency: Histogram,
}

impl Metrics {
    pub fn plugin_error(&self, cause: &str) {
        *self
            .plugin_errors
            .lock()
            .unwrap()
            .entry(cause.to_string())
            .or_default() += 1;
    }
    pub fn callback(&self, result: &str) {
        *self
            .callbacks
            .lock()
            .unwrap()
            .entry(result.to_string())
            .or_default() += 1;
    }
    pub fn observe_cancel(&self, d: Duration) {
        self.cancel_latency.observe(d);
    }
    pub fn observe_claim(&self, d: Duration) {
        self.claim_latency.observe(d);
    }
}

/// Label values are ours or outcome labels; escape anyway.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

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
    for state in ["queued", "running", "completed", "cancelled", "failed"] {
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
        "# HELP dialplane_security_events_total Cross-tenant accesses refused.\n# TYPE dialplane_security_events_total counter"
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

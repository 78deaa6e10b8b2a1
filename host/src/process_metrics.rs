//! This process's counters and histograms, shared by the API and the
//! workers it hosts (`dialplane serve` hands one [`Metrics`] to both), and
//! rendered by `/metrics` ([`crate::api::metrics`]).
//!
//! Atomics and std Mutexes, not tokio's: nothing awaits while one is held.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

    /// Appends the Prometheus text of this histogram.
    pub fn write(&self, out: &mut String, name: &str, help: &str) {
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
    /// Round trip of a claim that took at least one run.
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

//! This process's metrics (per node: each counts only what it did, so
//! `sum()` across replicas is right), shared by the API and the workers it
//! hosts (`dialplane serve` hands one [`Metrics`] to both), kept in one
//! `prometheus-client` [`Registry`] and rendered by `/metrics`
//! ([`crate::api::metrics`]). Fleet-wide gauges (runs, jobs, calls in
//! flight) are not here: they come from the database at `/metrics/fleet`.
//!
//! Read at scrape rather than counted: the pools' occupancy
//! ([`Metrics::watch_pool`]) and the process's memory, CPU and file
//! descriptors ([`crate::process_stats`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::timed_pool::PoolProbe;

/// Latency buckets (seconds) of the cancel, claim and HTTP histograms.
pub const LATENCY_BUCKETS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Compile-time buckets (seconds): a component compiles in 0.1 s to tens
/// of seconds.
pub const COMPILE_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];

/// Pool-wait buckets (seconds): an idle connection is handed out in
/// microseconds; a saturated pool makes requests wait up to the acquire
/// timeout ([`crate::config::DATABASE_ACQUIRE_TIMEOUT_DEFAULT`], 10 s).
pub const POOL_WAIT_BUCKETS: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// The `pool` label of the API's tenant-scoped store.
pub const API_POOL: &str = "api";
/// The `pool` label of the workers' store.
pub const WORKER_POOL: &str = "worker";

/// The build's version (`dialplane_build_info{version}`).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cause {
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackResult {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallOutcome {
    outcome: String,
    /// The run's dialer adapter (platform-installed names: bounded).
    dialer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginCall {
    /// The export called: `plan`, `on-result`, `place-call`, …
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComplianceDecision {
    /// `plan` (before the flow's request is dialed) or `placement` (the
    /// rules once more just before the call).
    stage: String,
    rule: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pool {
    /// [`API_POOL`] or [`WORKER_POOL`].
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
}

/// An HTTP request's labels: the matched route template (never the raw
/// path), the method and the status code — bounded sets.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRequest {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRoute {
    route: String,
    method: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// This process's counters and histograms, in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    plugin_errors: Family<Cause, Counter>,
    callbacks: Family<CallbackResult, Counter>,
    security_events: Counter,
    cancel_latency: Histogram,
    /// Round trip of a claim that took at least one run.
    claim_latency: Histogram,
    calls: Family<CallOutcome, Counter>,
    retries: Counter,
    plugin_calls: HistogramFamily<PluginCall>,
    plugin_compile: Histogram,
    compliance: Family<ComplianceDecision, Counter>,
    heartbeats: Counter,
    leases_lost: Counter,
    takeovers: Counter,
    http_requests: Family<HttpRequest, Counter>,
    http_latency: HistogramFamily<HttpRoute>,
    pool_waits: HistogramFamily<Pool>,
    /// The pools [`Metrics::watch_pool`] added, read at scrape.
    pools: Arc<Mutex<Vec<WatchedPool>>>,
    /// The pools' waits as plain totals, by pool label
    /// ([`Metrics::pool_wait_totals`]; prometheus-client's histograms do not
    /// give their sum and count back outside its tests).
    pool_wait_totals: Mutex<HashMap<String, Arc<WaitTotals>>>,
}

#[derive(Debug, Default)]
struct WaitTotals {
    acquires: AtomicU64,
    waited_ns: AtomicU64,
}

/// Debug shows the label only (a probe is a pool).
struct WatchedPool {
    label: Pool,
    probe: Arc<dyn PoolProbe>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            plugin_errors: Family::default(),
            callbacks: Family::default(),
            security_events: Counter::default(),
            cancel_latency: latency_histogram(),
            claim_latency: latency_histogram(),
            calls: Family::default(),
            retries: Counter::default(),
            plugin_calls: Family::new_with_constructor(latency_histogram),
            plugin_compile: Histogram::new(COMPILE_BUCKETS),
            compliance: Family::default(),
            heartbeats: Counter::default(),
            leases_lost: Counter::default(),
            takeovers: Counter::default(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(latency_histogram),
            pool_waits: Family::new_with_constructor(|| Histogram::new(POOL_WAIT_BUCKETS)),
            pools: Arc::default(),
            pool_wait_totals: Mutex::default(),
        };
        let build: Family<Build, Gauge> = Family::default();
        build
            .get_or_create(&Build {
                version: BUILD_VERSION.into(),
            })
            .set(1);
        registry.register("dialplane_build_info", "The running build (value 1)", build);
        let start: Gauge<f64, AtomicU64> = Gauge::default();
        start.set(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        );
        registry.register(
            "dialplane_process_start_time_seconds",
            "When this process started (Unix time)",
            start,
        );
        // Counter names get `_total` from the encoder.
        registry.register(
            "dialplane_plugin_errors",
            "Plugin failures seen by this process, by cause",
            m.plugin_errors.clone(),
        );
        registry.register(
            "dialplane_callbacks",
            "Provider callbacks received by this process, by result",
            m.callbacks.clone(),
        );
        registry.register(
            "dialplane_security_events",
            "Security events: cross-tenant accesses and unauthenticated callbacks refused",
            m.security_events.clone(),
        );
        registry.register(
            "dialplane_cancel_latency_seconds",
            "Cancel request until no call can start",
            m.cancel_latency.clone(),
        );
        registry.register(
            "dialplane_claim_latency_seconds",
            "Time to claim a run",
            m.claim_latency.clone(),
        );
        registry.register(
            "dialplane_calls",
            "Calls whose results this process's workers committed, by outcome and dialer",
            m.calls.clone(),
        );
        registry.register(
            "dialplane_retries",
            "Placed calls whose job was queued again for another attempt",
            m.retries.clone(),
        );
        registry.register(
            "dialplane_plugin_call_duration_seconds",
            "Calls into plugins by this process, by export",
            m.plugin_calls.clone(),
        );
        registry.register(
            "dialplane_plugin_compile_duration_seconds",
            "Components this process compiled (cache misses)",
            m.plugin_compile.clone(),
        );
        registry.register(
            "dialplane_compliance_decisions",
            "Compliance verdicts of this process's workers, by stage, rule and verdict",
            m.compliance.clone(),
        );
        registry.register(
            "dialplane_heartbeats",
            "Heartbeats this process's workers sent",
            m.heartbeats.clone(),
        );
        registry.register(
            "dialplane_leases_lost",
            "Runs whose lease this process's workers lost",
            m.leases_lost.clone(),
        );
        registry.register(
            "dialplane_takeovers",
            "Runs this process's workers took over from an expired owner",
            m.takeovers.clone(),
        );
        registry.register(
            "dialplane_http_requests",
            "HTTP requests served, by route template, method and status",
            m.http_requests.clone(),
        );
        registry.register(
            "dialplane_http_request_duration_seconds",
            "HTTP request latency, by route template and method",
            m.http_latency.clone(),
        );
        registry.register(
            "dialplane_db_pool_acquire_duration_seconds",
            "How long this process's queries waited for a database connection, by pool",
            m.pool_waits.clone(),
        );
        registry.register_collector(Box::new(PoolCollector {
            pools: Arc::clone(&m.pools),
        }));
        registry.register_collector(Box::new(crate::process_stats::ProcessCollector));
        Metrics { registry, ..m }
    }

    /// Exports `probe`'s pool under `pool` ([`API_POOL`], [`WORKER_POOL`]):
    /// its occupancy, read at scrape, and every later acquire's wait.
    pub fn watch_pool(&self, pool: &str, probe: Arc<dyn PoolProbe>) {
        let label = Pool { pool: pool.into() };
        // A histogram handle shares its family member's counts.
        let waits = self.pool_waits.get_or_create(&label).clone();
        let totals = self.wait_totals(pool);
        probe.observe_waits(Box::new(move |d| {
            waits.observe(d.as_secs_f64());
            totals.acquires.fetch_add(1, Ordering::Relaxed);
            totals
                .waited_ns
                .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        }));
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(WatchedPool { label, probe });
        }
    }

    /// How many connections `pool` has handed out and their summed wait
    /// (for `bench api`, which reports the wait per request).
    pub fn pool_wait_totals(&self, pool: &str) -> (u64, Duration) {
        let totals = self.wait_totals(pool);
        (
            totals.acquires.load(Ordering::Relaxed),
            Duration::from_nanos(totals.waited_ns.load(Ordering::Relaxed)),
        )
    }

    fn wait_totals(&self, pool: &str) -> Arc<WaitTotals> {
        let mut all = self
            .pool_wait_totals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(all.entry(pool.to_string()).or_default())
    }

    /// OpenMetrics text of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn plugin_error(&self, cause: &str) {
        self.plugin_errors
            .get_or_create(&Cause {
                cause: cause.into(),
            })
            .inc();
    }
    pub fn callback(&self, result: &str) {
        self.callbacks
            .get_or_create(&CallbackResult {
                result: result.into(),
            })
            .inc();
    }
    pub fn security_event(&self) {
        self.security_events.inc();
    }
    pub fn observe_cancel(&self, d: Duration) {
        self.cancel_latency.observe(d.as_secs_f64());
    }
    pub fn observe_claim(&self, d: Duration) {
        self.claim_latency.observe(d.as_secs_f64());
    }
    /// A committed call result (`outcome`: [`crate::runtime::Outcome::label`]).
    pub fn call(&self, outcome: &str, dialer: &str) {
        self.calls
            .get_or_create(&CallOutcome {
                outcome: outcome.into(),
                dialer: dialer.into(),
            })
            .inc();
    }
    /// One call into a plugin's export `kind`, however it ended.
    pub fn plugin_call(&self, kind: &str, took: Duration) {
        self.plugin_calls
            .get_or_create(&PluginCall { kind: kind.into() })
            .observe(took.as_secs_f64());
    }
    /// One component compiled (not loaded from a cache).
    pub fn plugin_compiled(&self, took: Duration) {
        self.plugin_compile.observe(took.as_secs_f64());
    }
    pub fn retry(&self) {
        self.retries.inc();
    }
    pub fn compliance_decision(&self, stage: &str, rule: &str, verdict: &str) {
        self.compliance
            .get_or_create(&ComplianceDecision {
                stage: stage.into(),
                rule: rule.into(),
                verdict: verdict.into(),
            })
            .inc();
    }
    pub fn heartbeat(&self) {
        self.heartbeats.inc();
    }
    pub fn lease_lost(&self) {
        self.leases_lost.inc();
    }
    pub fn takeover(&self) {
        self.takeovers.inc();
    }
    /// One served request; `route` is the matched template (`unmatched`
    /// when none matched).
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.http_requests
            .get_or_create(&HttpRequest {
                route: route.into(),
                method: method.into(),
                status: status.to_string(),
            })
            .inc();
        self.http_latency
            .get_or_create(&HttpRoute {
                route: route.into(),
                method: method.into(),
            })
            .observe(took.as_secs_f64());
    }
}

/// One figure of a pool's status.
type ReadPool = fn(&crate::store::PoolStatus) -> i64;

/// The watched pools' occupancy, read when scraped. Two probes under one
/// label (several workers in one test process) are summed.
struct PoolCollector {
    pools: Arc<Mutex<Vec<WatchedPool>>>,
}

impl std::fmt::Debug for WatchedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedPool")
            .field("pool", &self.label.pool)
            .finish()
    }
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut by_label: Vec<(Pool, crate::store::PoolStatus)> = Vec::new();
        if let Ok(mut pools) = self.pools.lock() {
            // Each probe read once; a dropped pool (a worker that ended)
            // leaves the list.
            pools.retain(|watched| {
                let Some(status) = watched.probe.status() else {
                    return false;
                };
                match by_label.iter_mut().find(|(l, _)| *l == watched.label) {
                    Some((_, sum)) => {
                        sum.size += status.size;
                        sum.idle += status.idle;
                        sum.max += status.max;
                    }
                    None => by_label.push((watched.label.clone(), status)),
                }
                true
            });
        }
        let families: [(&str, &str, ReadPool); 3] = [
            (
                "dialplane_db_pool_connections",
                "Open database connections of the pool, read at scrape",
                |s| i64::from(s.size),
            ),
            (
                "dialplane_db_pool_idle",
                "Idle database connections of the pool, read at scrape",
                |s| s.idle as i64,
            ),
            (
                "dialplane_db_pool_max",
                "The pool's connection limit",
                |s| i64::from(s.max),
            ),
        ];
        for (name, help, read) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (label, status) in &by_label {
                ConstGauge::new(read(status)).encode(family.encode_family(label)?)?;
            }
        }
        Ok(())
    }
}

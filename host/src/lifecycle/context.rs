//! What the worker's services share: the store, the plugin host, the
//! clock, the config, the worker's lease, the rate limiter, the tenants'
//! call slots, the fleet shares, the dialer directory, the stop signal, and
//! the control of every run it drives. A leaf: it imports state types only,
//! never a service, so every service can take it without a cycle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::clock::Clock;
use super::compliance::call_slots::CallSlots;
use super::compliance::rate_limit::RateLimiter;
use super::dialer_directory::DialerDirectory;
use super::lease::LeaseClock;
use super::metrics::LifecycleMetrics;
use super::run_control::RunControl;
use super::shares::FleetShare;
use super::shutdown::Stop;
use super::worker_config::WorkerConfig;
use crate::model::{RunId, TenantId};
use crate::process_metrics::Metrics;
use crate::runtime::PluginHost;
use crate::store::Store;

/// State shared by the worker's loops and run drivers.
pub struct WorkerCtx {
    pub store: Arc<dyn Store>,
    pub plugins: Arc<PluginHost>,
    pub clock: Arc<dyn Clock>,
    pub cfg: WorkerConfig,
    /// Worker-level: when the last heartbeat was sent (per-run leases are in
    /// each [`RunControl`]).
    pub lease: LeaseClock,
    pub rate: RateLimiter,
    pub metrics: LifecycleMetrics,
    /// Counters `/metrics` shows (shared with the API in `dialplane serve`):
    /// claim latency, plugin errors by cause.
    pub process_metrics: Arc<Metrics>,
    /// This worker's share of the fleet-wide tenant and account limits.
    pub fleet: FleetShare,
    /// The active dialer adapters, hot-swapped by [`super::dialer_watcher`].
    pub dialers: DialerDirectory,
    pub stop: Stop,
    runs: Mutex<HashMap<RunId, Arc<RunControl>>>,
    tenant_calls: Mutex<HashMap<TenantId, Arc<CallSlots>>>,
    /// Woken when a run driver ends (a slot is free).
    pub slot_freed: Notify,
}

impl WorkerCtx {
    /// A fresh context: no runs, no leases, full fleet shares until the
    /// first refresh.
    pub fn new(
        store: Arc<dyn Store>,
        plugins: Arc<PluginHost>,
        clock: Arc<dyn Clock>,
        cfg: WorkerConfig,
        stop: Stop,
        process_metrics: Arc<Metrics>,
    ) -> WorkerCtx {
        WorkerCtx {
            dialers: DialerDirectory::new(store.clone(), plugins.clone()),
            store,
            plugins,
            clock,
            lease: LeaseClock::new(cfg.lease_ttl),
            cfg,
            rate: RateLimiter::new(),
            metrics: LifecycleMetrics::default(),
            process_metrics,
            fleet: FleetShare::default(),
            stop,
            runs: Mutex::new(HashMap::new()),
            tenant_calls: Mutex::new(HashMap::new()),
            slot_freed: Notify::new(),
        }
    }

    pub fn active_runs(&self) -> Vec<Arc<RunControl>> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn run_control(&self, run_id: RunId) -> Option<Arc<RunControl>> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&run_id)
            .cloned()
    }

    pub(crate) fn insert_run(&self, ctl: Arc<RunControl>) {
        if let Some(old) = self
            .runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ctl.claim.run, ctl)
        {
            // We re-claimed our own expired lease: the old driver is fenced.
            old.lease_lost();
        }
    }

    pub(crate) fn remove_run(&self, ctl: &RunControl) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs
            .get(&ctl.claim.run)
            .is_some_and(|c| c.claim.generation == ctl.claim.generation)
        {
            runs.remove(&ctl.claim.run);
        }
        drop(runs);
        self.slot_freed.notify_waiters();
    }

    /// The tenant's calls in flight on this worker, limited to this
    /// worker's share of the tenant's fleet-wide cap.
    pub fn tenant_slots(&self, tenant: TenantId) -> Arc<CallSlots> {
        self.tenant_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant)
            .or_insert_with(|| {
                CallSlots::new(
                    self.fleet
                        .tenant_calls(tenant, self.cfg.tenant_max_concurrent_calls),
                )
            })
            .clone()
    }

    /// Applies the current fleet shares to every tenant's call slots.
    pub(crate) fn resize_tenant_slots(&self) {
        for (b, slots) in self
            .tenant_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            slots.set_limit(
                self.fleet
                    .tenant_calls(*b, self.cfg.tenant_max_concurrent_calls),
            );
        }
    }
}

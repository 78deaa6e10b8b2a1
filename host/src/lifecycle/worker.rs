//! The worker: claims runs, drives each in its own task (so one tenant's
//! huge run cannot starve another's small one), heartbeats them all in one
//! statement, and reacts to cancel notices at once.
//!
//! [`Worker::start`] is the loop; [`Worker::run_once`] (claim what fits and
//! spawn drivers) is what tests call step by step. Shutdown is injectable
//! ([`super::shutdown::stop_pair`]); on stop the worker lets each run finish
//! its current batch, then releases its leases so another worker takes over
//! at once instead of after the TTL.

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::context::WorkerCtx;
use super::shutdown::Stop;
use super::worker_config::WorkerConfig;
use super::{cancel_listener, claimer, cleaner, dialer_watcher, heartbeater};
use crate::process_metrics::Metrics;
use crate::runtime::PluginHost;
use crate::store::{Store, WorkerInfo};

/// While stopping, how often the worker looks whether its drivers are done
/// (besides being woken when one ends).
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// A worker process (or an in-process worker in tests).
#[derive(Clone)]
pub struct Worker {
    pub ctx: Arc<WorkerCtx>,
}

impl Worker {
    /// Registers the worker row. `stop` ends [`Worker::start`].
    pub async fn new(
        store: Arc<dyn Store>,
        plugins: Arc<PluginHost>,
        clock: Option<Arc<dyn Clock>>,
        cfg: WorkerConfig,
        stop: Stop,
    ) -> anyhow::Result<Worker> {
        Self::reporting_to(store, plugins, clock, cfg, stop, Arc::default()).await
    }

    /// [`Worker::new`], counting into `metrics` (the API's, when one
    /// process serves both).
    pub async fn reporting_to(
        store: Arc<dyn Store>,
        plugins: Arc<PluginHost>,
        clock: Option<Arc<dyn Clock>>,
        cfg: WorkerConfig,
        stop: Stop,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Worker> {
        cfg.validate()?;
        store
            .register_worker(&WorkerInfo {
                id: cfg.worker_id.to_string(),
                hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                pid: std::process::id() as i64,
            })
            .await?;
        metrics.watch_pool(crate::process_metrics::WORKER_POOL, store.pool_probe());
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(Worker {
            ctx: Arc::new(WorkerCtx::new(store, plugins, clock, cfg, stop, metrics)),
        })
    }

    pub fn id(&self) -> &str {
        self.ctx.cfg.worker_id.as_str()
    }

    /// Claims as many runs as there are free slots and spawns a driver for
    /// each. Returns how many it claimed.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        claimer::run_once(&self.ctx).await
    }

    /// Runs until the stop signal: heartbeater, cancel listener, dialer
    /// watcher, cleaner, and the claim loop. Then waits (at most a lease TTL) for the
    /// drivers to finish their batch and releases the leases.
    pub async fn start(self) -> anyhow::Result<()> {
        let ctx = self.ctx.clone();
        let hb = tokio::spawn(heartbeater::start(ctx.clone()));
        let listener = tokio::spawn(cancel_listener::start(ctx.clone()));
        let watcher = tokio::spawn(dialer_watcher::start(ctx.clone()));
        let cleaner = tokio::spawn(cleaner::start(ctx.clone()));
        claimer::start(ctx.clone()).await;
        // Drivers see the stop signal between batches.
        let deadline = tokio::time::Instant::now() + ctx.cfg.lease_ttl;
        while !ctx.active_runs().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = ctx.slot_freed.notified() => {}
                _ = tokio::time::sleep(DRAIN_POLL) => {}
            }
        }
        listener.abort();
        watcher.abort();
        cleaner.abort();
        let _ = hb.await;
        ctx.store.release_worker(&ctx.cfg.worker_id).await?;
        Ok(())
    }
}

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

use futures::StreamExt;

use super::claimer;
use super::clock::{Clock, SystemClock};
use super::context::WorkerCtx;
use super::dialer_watcher;
use super::heartbeat;
use super::run_control::RunControl;
use super::run_driver;
use super::shutdown::Stop;
use super::worker_config::WorkerConfig;
use crate::process_metrics::Metrics;
use crate::runtime::PluginHost;
use crate::store::{Store, WorkerInfo};

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
                id: cfg.worker_id.clone(),
                hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                pid: std::process::id() as i64,
            })
            .await?;
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(Worker {
            ctx: Arc::new(WorkerCtx::new(store, plugins, clock, cfg, stop, metrics)),
        })
    }

    pub fn id(&self) -> &str {
        &self.ctx.cfg.worker_id
    }

    /// Claims as many runs as there are free slots and spawns a driver for
    /// each. Returns how many it claimed.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let free = (self.ctx.cfg.max_runs as usize).saturating_sub(self.ctx.active_runs().len());
        if free == 0 || self.ctx.stop.is_stopped() {
            return Ok(0);
        }
        let (sent, claimed) = claimer::claim(&self.ctx, free as u32).await?;
        let n = claimed.len();
        for run in claimed {
            let ctl = Arc::new(RunControl::new(&run, self.ctx.cfg.lease_ttl));
            ctl.lease.renewed(sent);
            self.ctx.insert_run(ctl.clone());
            tokio::spawn(run_driver::drive(self.ctx.clone(), run, ctl));
        }
        Ok(n)
    }

    /// Runs until the stop signal: heartbeat loop, cancel listener, claim
    /// loop. Then waits for the drivers to finish their batch and releases
    /// the leases.
    pub async fn start(self) -> anyhow::Result<()> {
        let ctx = self.ctx.clone();
        let hb = tokio::spawn(heartbeat::start(ctx.clone(), ctx.stop.clone()));
        let listener = tokio::spawn(listen_for_cancels(ctx.clone()));
        let watcher = tokio::spawn(dialer_watcher::start(
            ctx.clone(),
            ctx.cfg.dialer_watch_interval,
        ));
        while !ctx.stop.is_stopped() {
            let claimed = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(worker = %ctx.cfg.worker_id, "claim failed: {e:#}");
                    0
                }
            };
            if claimed == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(ctx.cfg.poll_interval) => {}
                    _ = ctx.slot_freed.notified() => {}
                    _ = ctx.stop.wait() => {}
                }
            }
        }
        // Drivers see the stop signal between batches.
        let deadline = tokio::time::Instant::now() + ctx.cfg.lease_ttl;
        while !ctx.active_runs().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = ctx.slot_freed.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        listener.abort();
        watcher.abort();
        let _ = hb.await;
        ctx.store.release_worker(&ctx.cfg.worker_id).await?;
        Ok(())
    }
}

/// Applies cancel notices (LISTEN/NOTIFY or the in-process channel) to the
/// runs this worker drives. Reconnects if the notice stream fails.
async fn listen_for_cancels(ctx: Arc<WorkerCtx>) {
    loop {
        match ctx.store.cancel_notices().await {
            Ok(mut notices) => {
                while let Some(run_id) = notices.next().await {
                    if let Some(ctl) = ctx.run_control(run_id) {
                        ctl.cancel_seen(&*ctx.store).await;
                    }
                }
            }
            Err(e) => tracing::warn!("cancel notices unavailable: {e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

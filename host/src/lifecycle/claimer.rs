//! The claimer: takes leases on runs in one statement (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, one write transaction on SQLite) — `queued` runs
//! and `running` runs whose heartbeat is older than their TTL. Each claim
//! bumps the run's lease generation, the fencing token of every later write.
//!
//! [`start`] is the worker's claim loop over [`run_once`] (claim what fits,
//! spawn a driver per run): it claims again at once after a claim, and
//! otherwise when a driver frees a slot or after `poll_interval` (default
//! [`WORKER_POLL_INTERVAL_DEFAULT`](crate::config::WORKER_POLL_INTERVAL_DEFAULT)).

use std::sync::Arc;
use std::time::Instant;

use super::context::WorkerCtx;
use super::fleet_share;
use super::run_control::RunControl;
use super::run_driver;
use crate::store::ClaimedRun;

/// Claims as many runs as the worker has free slots and spawns a driver for
/// each. Returns how many it claimed.
pub async fn run_once(ctx: &Arc<WorkerCtx>) -> anyhow::Result<usize> {
    let free = (ctx.cfg.max_runs as usize).saturating_sub(ctx.active_runs().len());
    if free == 0 || ctx.stop.is_stopped() {
        return Ok(0);
    }
    let (sent, claimed) = claim(ctx, free as u32).await?;
    let n = claimed.len();
    for run in claimed {
        let ctl = Arc::new(RunControl::new(&run, ctx.cfg.lease_ttl));
        ctl.lease.renewed(sent);
        ctx.insert_run(ctl.clone());
        tokio::spawn(run_driver::drive(ctx.clone(), run, ctl));
    }
    Ok(n)
}

/// Claims until the worker stops. A failed claim is logged and retried
/// after the poll interval.
pub async fn start(ctx: Arc<WorkerCtx>) {
    while !ctx.stop.is_stopped() {
        let claimed = match run_once(&ctx).await {
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
}

/// Claims up to `limit` runs. Returns each with the instant the claim was
/// sent: the start of its local lease (never later than the database's).
pub async fn claim(ctx: &Arc<WorkerCtx>, limit: u32) -> anyhow::Result<(Instant, Vec<ClaimedRun>)> {
    let sent = Instant::now();
    let claimed = ctx
        .store
        .claim_runs(
            &ctx.cfg.worker_id,
            limit,
            ctx.cfg.lease_ttl.as_millis() as i64,
        )
        .await?;
    if !claimed.is_empty() {
        ctx.process_metrics.observe_claim(sent.elapsed());
        // New runs change the fleet's shares of tenant and account limits.
        if let Err(e) = fleet_share::run_once(ctx).await {
            tracing::warn!(worker = %ctx.cfg.worker_id, "fleet load unavailable: {e:#}");
        }
        for r in &claimed {
            if r.reclaimed {
                ctx.process_metrics.takeover();
            }
            tracing::info!(
                worker = %ctx.cfg.worker_id,
                tenant = r.tenant.0,
                run_id = r.lease.run.0,
                generation = r.lease.generation.0,
                "{}",
                if r.reclaimed { "took over run" } else { "claimed run" }
            );
        }
    }
    Ok((sent, claimed))
}

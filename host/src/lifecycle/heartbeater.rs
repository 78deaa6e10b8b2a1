//! The heartbeater: one statement refreshes `lock_ts` of every run this worker
//! owns (per-run heartbeats are what overload a database at scale), and
//! reports which leases it still holds and which runs were cancelled,
//! paused or resumed.
//!
//! It also renews the *local* lease deadline ([`super::lease`]) that zombie
//! safety relies on. A worker paused by SIGSTOP wakes with an
//! expired local lease and places no call until a heartbeat succeeds — and
//! that heartbeat tells it first whether the run was cancelled or taken.
//!
//! [`start`] beats every `heartbeat_interval` (default
//! [`HEARTBEAT_INTERVAL_DEFAULT`](crate::config::HEARTBEAT_INTERVAL_DEFAULT))
//! over [`run_once`]; run drivers also beat before a batch when the last
//! beat is stale ([`beat_if_older`]). Every beat refreshes the fleet shares
//! ([`super::fleet_share`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::WorkerCtx;
use super::fleet_share;
use crate::model::RunId;

/// One heartbeat: refresh, then apply what it says to the run drivers
/// (cancel or pause → close the dialing gate and acknowledge; resume →
/// reopen it; missing → lease lost). The local lease is extended only after
/// they are applied.
pub async fn run_once(ctx: &Arc<WorkerCtx>) -> anyhow::Result<()> {
    let sent = Instant::now();
    let leases = ctx.store.heartbeat(&ctx.cfg.worker_id).await?;
    let held: std::collections::HashMap<RunId, _> = leases.iter().map(|l| (l.run, *l)).collect();
    for ctl in ctx.active_runs() {
        match held.get(&ctl.claim.run) {
            Some(l) if l.generation == ctl.claim.generation => {
                ctl.apply(l, &*ctx.store).await;
                ctl.lease.renewed(sent);
            }
            _ => {
                if ctl.lose_lease() {
                    ctx.process_metrics.lease_lost();
                }
            }
        }
    }
    ctx.process_metrics.heartbeat();
    // Worker-level: only "when did we last heartbeat" (for beat_if_older).
    ctx.lease.renewed(sent);
    // Limits are fleet-wide: re-take this worker's share. A failure keeps
    // the last shares; the lease is what safety depends on, not this.
    if let Err(e) = fleet_share::run_once(ctx).await {
        tracing::warn!(worker = %ctx.cfg.worker_id, "fleet load unavailable: {e:#}");
    }
    Ok(())
}

/// Heartbeats every `heartbeat_interval` until the worker stops. Failures
/// are logged and retried on the next tick; the local lease simply runs out
/// meanwhile.
pub async fn start(ctx: Arc<WorkerCtx>) {
    let stop = ctx.stop.clone();
    let mut tick = tokio::time::interval(ctx.cfg.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait() => return,
        }
        if let Err(e) = run_once(&ctx).await {
            tracing::warn!(worker = %ctx.cfg.worker_id, "heartbeat failed: {e:#}");
        }
    }
}

/// Refreshes now if the last heartbeat is older than `max_age` ("heartbeat
/// before each batch", without a statement per batch at high throughput).
pub async fn beat_if_older(ctx: &Arc<WorkerCtx>, max_age: Duration) -> anyhow::Result<()> {
    if ctx.lease.age().is_none_or(|a| a >= max_age) {
        run_once(ctx).await?;
    }
    Ok(())
}

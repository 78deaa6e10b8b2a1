//! The claimer: takes leases on runs in one statement (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, one write transaction on SQLite) — `queued` runs
//! and `running` runs whose heartbeat is older than their TTL. Each claim
//! bumps the run's lease generation, the fencing token of every later write.

use std::sync::Arc;
use std::time::Instant;

use super::context::WorkerCtx;
use crate::store::ClaimedRun;

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
        if let Err(e) = super::fleet_share::refresh(ctx).await {
            tracing::warn!(worker = %ctx.cfg.worker_id, "fleet load unavailable: {e:#}");
        }
        for r in &claimed {
            tracing::info!(
                worker = %ctx.cfg.worker_id,
                run_id = r.run_id,
                generation = r.generation,
                reclaimed = r.reclaimed,
                "claimed run"
            );
        }
    }
    Ok((sent, claimed))
}

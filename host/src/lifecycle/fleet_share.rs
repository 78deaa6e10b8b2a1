//! Keeps this worker's share of the fleet-wide limits current. A tenant's
//! cap on calls in flight and its calls per second, and an adapter account's
//! calls per second, hold for the whole fleet, not per worker: each worker
//! takes the fraction of the fleet's live runs (of that tenant, or on that
//! adapter) that it drives ([`super::shares`]). Shares are refreshed by
//! every heartbeat and after every claim ([`run_once`]), from one grouped
//! read of the runs table.
//!
//! No loop of its own: the shares change when runs are claimed or leases
//! lapse, so the claimer and the heartbeater (every `heartbeat_interval`)
//! call [`run_once`]; a separate timer would only add reads.
//!
//! Between two refreshes a worker that just claimed elsewhere can overshoot
//! briefly, and every worker keeps at least one call slot per tenant it
//! drives, so no run ever stalls; the sum is otherwise within the cap.

use std::sync::Arc;

use super::context::WorkerCtx;

/// Reads the fleet's load, recomputes the shares, and resizes the tenants'
/// call slots on this worker.
pub async fn run_once(ctx: &Arc<WorkerCtx>) -> anyhow::Result<()> {
    let load = ctx.store.fleet_load().await?;
    ctx.fleet.apply(ctx.cfg.worker_id.as_str(), &load);
    ctx.resize_tenant_slots();
    Ok(())
}

//! The owner's side of cancel, pause and resume: applies their notices (PostgreSQL
//! `LISTEN/NOTIFY`, the in-process channel on SQLite) to the runs this
//! worker drives at once, instead of at the next heartbeat (which applies
//! them too, so a missed notice only costs latency).
//!
//! [`start`] listens, and reconnects after [`RECONNECT_DELAY`] if the
//! notice stream fails; [`run_once`] applies one notice.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::context::WorkerCtx;
use crate::model::RunId;

/// Pause before listening again after the notice stream ended or failed.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(200);

/// Applies a notice for `run_id`, if this worker drives it. A notice does
/// not say whether it is a cancel, a pause or a resume: the run's flags
/// are read under this worker's lease and applied as a heartbeat would.
pub async fn run_once(ctx: &Arc<WorkerCtx>, run_id: RunId) {
    let Some(ctl) = ctx.run_control(run_id) else {
        return;
    };
    match ctx.store.lease_state(&ctl.claim).await {
        Ok(Some(state)) => ctl.apply(&state, &*ctx.store).await,
        Ok(None) => ctl.lease_lost(),
        // The next heartbeat reads the same flags.
        Err(e) => tracing::warn!(run_id = run_id.0, "run notice not applied: {e}"),
    }
}

/// Listens for cancel notices until the task is aborted (the worker does
/// so on stop).
pub async fn start(ctx: Arc<WorkerCtx>) {
    loop {
        match ctx.store.cancel_notices().await {
            Ok(mut notices) => {
                while let Some(run_id) = notices.next().await {
                    run_once(&ctx, run_id).await;
                }
            }
            Err(e) => tracing::warn!("cancel notices unavailable: {e:#}"),
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

//! The owner's side of cancel: applies cancel notices (PostgreSQL
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

/// Applies a cancel notice for `run_id`: closes its dialing gate and
/// acknowledges, if this worker drives it.
pub async fn run_once(ctx: &Arc<WorkerCtx>, run_id: RunId) {
    if let Some(ctl) = ctx.run_control(run_id) {
        ctl.cancel_seen(&*ctx.store).await;
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

//! Fenced writes of a run's progress that must not be lost to a short
//! database outage: the results of placed calls (step 6) and the calls
//! placed in `pending` mode. Each is retried while the database is
//! unavailable and the lease is still ours; a lost lease ends the driver,
//! and the next owner reconciles those jobs.

use std::sync::Arc;
use std::time::Duration;

use super::context::WorkerCtx;
use super::run_state::RunState;
use crate::store::{Fenced, JobResult, PendingCall};

/// First pause before retrying a write the database could not take;
/// doubles up to [`RETRY_MAX_DELAY`].
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(50);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// Retries a fenced write while the database is unavailable and the lease
/// is still ours; a lost lease ends the driver (nothing was written).
macro_rules! retry_fenced {
    ($run:expr, $write:expr) => {{
        let mut delay = RETRY_FIRST_DELAY;
        loop {
            match $write {
                Ok(Fenced::Done) => break,
                Ok(Fenced::LeaseLost) => {
                    $run.ctl.lease_lost();
                    break;
                }
                Err(e) if e.is_unavailable() && !$run.ctl.is_lost() => {
                    tracing::warn!(
                        run_id = $run.claimed.lease.run.0,
                        "database unavailable, retrying: {e}"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX_DELAY);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }};
}

/// Step 6: commits results; retried through short database outages (the
/// calls were placed: losing their results would mean reconciling them).
pub async fn commit_results(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    results: &[JobResult],
) -> anyhow::Result<()> {
    retry_fenced!(
        run,
        ctx.store
            .finish_jobs(
                &run.claimed.lease,
                results,
                ctx.clock.now().timestamp_millis()
            )
            .await
    );
    Ok(())
}

/// Records calls placed in `pending` mode (callbacks must find them);
/// retried like [`commit_results`].
pub async fn record_pending(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    calls: &[PendingCall],
) -> anyhow::Result<()> {
    retry_fenced!(
        run,
        ctx.store.record_pending(&run.claimed.lease, calls).await
    );
    Ok(())
}

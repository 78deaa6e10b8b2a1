//! The reclaimer: before a new owner dials anything, it settles the jobs a
//! previous owner left `dialing` (that owner died, stalled, or this worker
//! lost its own lease for a while). Telephony APIs have no idempotency key on
//! call creation, so a blind retry could ring a person twice; instead:
//!
//! - a pending call whose provider id was recorded is left to the callback /
//!   call-timeout path;
//! - otherwise the adapter's `lookup(idempotency key)` says what happened:
//!   a report → the attempt is recorded (and the flow's `on-result` runs);
//!   `none` → never placed: the job goes back to the queue with the **same**
//!   attempt number, hence the same key (an adapter that did place it late
//!   will refuse the duplicate);
//!   an error → `interrupted` with outcome `unknown`, never re-dialed.

use std::sync::Arc;

use super::commit;
use super::context::WorkerCtx;
use super::job_result::JobAttempt;
use super::run_state::RunState;
use super::steps::after_call::{CallOf, after_call};
use crate::store::JobResult;

/// Settles the run's `dialing` jobs that have no recorded pending call.
pub async fn reconcile(ctx: &Arc<WorkerCtx>, run: &RunState) -> anyhow::Result<()> {
    let dialing = ctx
        .store
        .dialing_jobs(run.claimed.run_id, run.claimed.generation)
        .await?;
    let mut results = Vec::new();
    let mut pending = 0;
    for j in dialing {
        if j.provider_call_id.is_some() {
            pending += 1;
            continue;
        }
        let result = match run.plugins.lookup(&j.idempotency_key).await {
            Ok(Ok(Some(report))) => {
                let now = chrono::Utc::now().timestamp_millis();
                let mut r = after_call(
                    ctx,
                    run,
                    CallOf {
                        job_id: j.job_id,
                        lead_id: j.lead_id,
                        lead: &j.lead,
                        attempt: j.attempt,
                        placed_at: Some(now),
                        dialer_version: None,
                    },
                    report,
                )
                .await;
                r.note = Some(
                    r.note
                        .map(|n| format!("{n} (reconciled through lookup after takeover)"))
                        .unwrap_or_else(|| "reconciled through lookup after takeover".into()),
                );
                r
            }
            Ok(Ok(None)) => JobResult::requeue(JobAttempt::dialing(&j), 0),
            Ok(Err(e)) => interrupted(&j, format!("lookup could not tell: {e}")),
            Err(e) => interrupted(&j, format!("lookup failed: {e}")),
        };
        results.push(result);
    }
    run.ctl.add_pending(pending);
    if !results.is_empty() {
        tracing::info!(
            run_id = run.claimed.run_id,
            settled = results.len(),
            "reconciled jobs left dialing"
        );
        commit::commit_results(ctx, run, &results).await?;
    }
    Ok(())
}

fn interrupted(j: &crate::store::DialingJob, why: String) -> JobResult {
    let reason = format!("owner died mid-call; {why}; not re-dialed");
    JobResult::interrupted(JobAttempt::dialing(j), reason).with_note(Some(why))
}

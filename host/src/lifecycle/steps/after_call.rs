//! Step 5 for a call that ended: the flow's `on-result` says whether to
//! try again (within the run's `max_attempts`), what to note, and what the
//! lead's status and tags become. All of it goes into the one
//! [`JobResult`] the commit writes fenced, so a run does what `plugin test`
//! shows; a status or tag the store cannot hold is named in the note.

use std::sync::Arc;

use crate::lifecycle::context::WorkerCtx;
use crate::lifecycle::job_result::JobAttempt;
use crate::lifecycle::run_state::RunState;
use crate::model::{JobId, LeadId};
use crate::runtime::CallReport;
use crate::store::{JobResult, JobStatus, LeadUpdate};

/// Which attempt at which lead a call belongs to.
pub struct CallOf<'a> {
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub lead: &'a crate::runtime::Lead,
    pub attempt: u32,
    pub placed_at: Option<i64>,
    /// The dialer adapter version that placed the call, when known.
    pub dialer_version: Option<i64>,
}

/// Step 5 for a call that ended: ask the flow what next.
#[tracing::instrument(level = "info", name = "job", skip_all, fields(job = call.job_id.get(), lead = call.lead_id.get(), attempt = call.attempt))]
pub async fn after_call(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    call: CallOf<'_>,
    report: CallReport,
) -> JobResult {
    let CallOf {
        job_id,
        lead_id,
        lead,
        attempt,
        placed_at,
        dialer_version,
    } = call;
    let follow = run
        .plugins
        .on_result(&run.context(attempt), lead, &report)
        .await;
    let outcome = report.outcome.label();
    let (note, retry, lead_update) = match follow {
        Ok(f) => {
            let (update, refused) = LeadUpdate::checked(f.lead_status.as_deref(), &f.tags);
            let note = match (f.note, refused) {
                (Some(n), Some(r)) => Some(format!("{n} ({r})")),
                (n, r) => n.or(r),
            };
            (note, f.retry_after_secs, update)
        }
        Err(e) => (Some(format!("on-result failed: {e}")), None, None),
    };
    let at = JobAttempt::new(run.claimed.lease.run, job_id, lead_id, attempt);
    let result = match retry {
        Some(secs) if attempt < run.claimed.settings.max_attempts && !run.ctl.is_cancelled() => {
            let not_before_ms = ctx.clock.now().timestamp_millis() + i64::from(secs) * 1000;
            JobResult::retry(at, outcome, not_before_ms)
        }
        _ => JobResult::finished(at, JobStatus::Completed, outcome, None),
    };
    result
        .with_call(report, placed_at, dialer_version)
        .with_note(note)
        .with_lead_update(lead_update)
}

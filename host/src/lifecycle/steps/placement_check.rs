//! The platform's rules once more at the moment of placement, after the
//! call-slot and rate-limit waits: a lead approved at 19:59:30 may reach
//! the dialer after 20:00, and its number may have joined the do-not-call
//! list meanwhile. The plan step's verdict only says the lead may be
//! marked; this one says it may be dialed now.

use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::compliance::{self, LeadFacts, Verdict};
use crate::lifecycle::context::WorkerCtx;
use crate::lifecycle::job_result::JobAttempt;
use crate::lifecycle::run_state::RunState;
use crate::store::{JobResult, JobStatus, JobWork};

/// A lead whose batch was fetched at least this long ago has
/// its DNC entry read again (one point query); a shorter wait trusts the
/// batch's read, so an unthrottled run pays nothing extra.
pub const DNC_RECHECK_AFTER: Duration = Duration::from_millis(500);

/// When the DNC list cannot be read at placement, the lead is tried again
/// this much later instead of being dialed unchecked.
const DNC_UNREADABLE_RETRY_SECS: i64 = 1;

/// `Ok(record)`: dial now, and store this compliance record (JSON) with the
/// attempt. `Err(result)`: not now — deferred to the window's next opening,
/// or skipped (DNC, attempt cap), with nothing placed.
pub async fn check(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    job: &JobWork,
    at: &JobAttempt,
    waited: Duration,
) -> Result<String, JobResult> {
    let now = ctx.clock.now();
    let dnc_listed = if job.dnc_listed || waited < DNC_RECHECK_AFTER {
        job.dnc_listed
    } else {
        match ctx
            .store
            .dnc_contains(run.claimed.tenant, &job.lead.phone)
            .await
        {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(
                    run_id = run.claimed.lease.run.0,
                    "do-not-call list unreadable at placement, not dialing yet: {e}"
                );
                let retry = now.timestamp_millis() + DNC_UNREADABLE_RETRY_SECS * 1000;
                return Err(JobResult::requeue(at.clone(), retry));
            }
        }
    };
    let facts = LeadFacts {
        phone: &job.lead.phone,
        timezone: job.lead.timezone.as_deref(),
        dnc_listed,
        attempts_24h: job.attempts_24h,
    };
    let s = &run.claimed.settings;
    let cap = s
        .daily_attempt_cap
        .min(crate::config::LEAD_DAILY_ATTEMPT_CAP_DEFAULT);
    let verdict = compliance::judge(&facts, s.calling_window, cap, now);
    let (rule, said) = verdict.metric_labels();
    ctx.process_metrics
        .compliance_decision("placement", rule, said);
    match verdict {
        Verdict::Allow(record) => Ok(record.to_json()),
        // Same attempt, same key: the lead waits for the next opening.
        Verdict::Defer { until, record } => {
            run.ctl.deferrals.record(&record.rule);
            Err(JobResult::requeue(at.clone(), until.timestamp_millis()))
        }
        Verdict::Skip { reason, record } => Err(JobResult::finished(
            at.clone(),
            JobStatus::Skipped,
            "not-dialed",
            Some(format!("at placement: {reason}")),
        )
        .with_compliance(Some(record.to_json()))),
    }
}

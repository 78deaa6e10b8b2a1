//! Steps 1–2 for one lead: the flow's `plan` decides whether and how to
//! call; then compliance (calling window, DNC, attempt cap), which the
//! plugin cannot override; a request to any number but the lead's is
//! refused.

use std::sync::Arc;

use crate::lifecycle::compliance::{self, ComplianceRecord, LeadFacts, Verdict};
use crate::lifecycle::context::WorkerCtx;
use crate::lifecycle::run_state::RunState;
use crate::runtime::{CallRequest, Decision};
use crate::store::{JobDecision, JobStatus, JobWork};

/// A compliance record for decisions taken before the platform's rules
/// were consulted (the flow skipped, or failed).
fn flow_record(rule: &str, reason: &str, window: &str) -> String {
    ComplianceRecord {
        verdict: "skipped".into(),
        rule: rule.into(),
        window: window.into(),
        timezone: None,
        local_time: None,
        dnc_checked: false,
        dnc_listed: false,
        attempts_24h: 0,
        reason: Some(reason.into()),
    }
    .to_json()
}

/// Steps 1–2 for one job.
#[tracing::instrument(level = "info", name = "job", skip_all, fields(job = job.job_id.get(), lead = job.lead_id.get(), attempt = job.attempt + 1))]
pub async fn plan_one(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    job: &JobWork,
) -> (JobDecision, Option<CallRequest>) {
    let attempt = job.attempt + 1;
    let s = &run.claimed.settings;
    let window = s.calling_window.to_string();
    let skip = |status: JobStatus, rule: &str, reason: String| JobDecision::Skip {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt,
        status,
        compliance: flow_record(rule, &reason, &window),
        reason,
    };
    let decision = run.plugins.plan(&run.context(attempt), &job.lead).await;
    let req = match decision {
        Err(e) => {
            return (
                skip(
                    JobStatus::Failed,
                    "flow-error",
                    format!("flow plan failed: {e}"),
                ),
                None,
            );
        }
        Ok(Decision::Skip(reason)) => {
            return (
                skip(
                    JobStatus::Skipped,
                    "flow",
                    format!("flow skipped: {reason}"),
                ),
                None,
            );
        }
        Ok(Decision::Dial(req)) => req,
    };
    if req.to != job.lead.phone {
        return (
            skip(
                JobStatus::Failed,
                "destination",
                format!(
                    "flow asked to dial {}, which is not the lead's number",
                    req.to
                ),
            ),
            None,
        );
    }
    let facts = LeadFacts {
        phone: &job.lead.phone,
        timezone: job.lead.timezone.as_deref(),
        dnc_listed: job.dnc_listed,
        attempts_24h: job.attempts_24h,
    };
    let cap = s
        .daily_attempt_cap
        .min(crate::config::LEAD_DAILY_ATTEMPT_CAP_DEFAULT);
    let verdict = compliance::judge(&facts, s.calling_window, cap, ctx.clock.now());
    let (rule, said) = verdict.metric_labels();
    ctx.process_metrics.compliance_decision("plan", rule, said);
    match verdict {
        Verdict::Allow(record) => (
            JobDecision::Dial {
                job_id: job.job_id,
                lead_id: job.lead_id,
                attempt,
                compliance: record.to_json(),
            },
            Some(req),
        ),
        Verdict::Defer { until, record } => {
            run.ctl.deferrals.record(&record.rule);
            (
                JobDecision::Defer {
                    job_id: job.job_id,
                    lead_id: job.lead_id,
                    attempt,
                    until_ms: until.timestamp_millis(),
                    compliance: record.to_json(),
                },
                None,
            )
        }
        Verdict::Skip { reason, record } => (
            JobDecision::Skip {
                job_id: job.job_id,
                lead_id: job.lead_id,
                attempt,
                status: JobStatus::Skipped,
                reason,
                compliance: record.to_json(),
            },
            None,
        ),
    }
}

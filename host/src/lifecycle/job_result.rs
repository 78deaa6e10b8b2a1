//! The ways one attempt at a job can end, as named constructors of the
//! store's [`JobResult`], so each step says what happened (`requeue`,
//! `interrupted`, …) instead of spelling out every field. A leaf: no other
//! lifecycle module.

use crate::model::{JobId, LeadId, RunId};
use crate::runtime::CallReport;
use crate::store::{
    DialingJob, JobNext, JobResult, JobStatus, JobWork, LeadUpdate, idempotency_key,
};

/// Which attempt at which job a result is for, and that attempt's
/// idempotency key.
#[derive(Debug, Clone)]
pub struct JobAttempt {
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub attempt: u32,
    pub idempotency_key: String,
}

impl JobAttempt {
    /// Attempt `attempt` at `job_id` of `run`, keyed `run-job-attempt`.
    pub fn new(run: RunId, job_id: JobId, lead_id: LeadId, attempt: u32) -> JobAttempt {
        JobAttempt {
            job_id,
            lead_id,
            attempt,
            idempotency_key: idempotency_key(run, job_id, attempt),
        }
    }

    /// The attempt a fetched job is about to make.
    pub fn next_of(run: RunId, job: &JobWork) -> JobAttempt {
        JobAttempt::new(run, job.job_id, job.lead_id, job.attempt + 1)
    }

    /// The attempt a job left `dialing` was making, under the key it was
    /// marked with.
    pub fn dialing(job: &DialingJob) -> JobAttempt {
        JobAttempt {
            job_id: job.job_id,
            lead_id: job.lead_id,
            attempt: job.attempt,
            idempotency_key: job.idempotency_key.clone(),
        }
    }
}

/// What the result of a job is before [`JobResult::with_call`] and
/// [`JobResult::with_note`] add to it.
fn result(at: JobAttempt, next: JobNext) -> JobResult {
    JobResult {
        job_id: at.job_id,
        lead_id: at.lead_id,
        attempt: at.attempt,
        idempotency_key: at.idempotency_key,
        placed_at: None,
        dialer_version: None,
        report: None,
        note: None,
        lead_update: None,
        compliance: None,
        next,
    }
}

impl JobResult {
    /// The job ends for good: `status` (`completed`, `failed`, `cancelled`,
    /// `interrupted`) with `outcome`.
    pub fn finished(
        at: JobAttempt,
        status: JobStatus,
        outcome: impl Into<String>,
        reason: Option<String>,
    ) -> JobResult {
        let outcome = outcome.into();
        result(
            at,
            JobNext::Finish {
                status,
                outcome,
                reason,
            },
        )
    }

    /// The job ends `interrupted` with outcome `unknown`: a call may exist,
    /// so it is never dialed again.
    pub fn interrupted(at: JobAttempt, reason: String) -> JobResult {
        JobResult::finished(at, JobStatus::Interrupted, "unknown", Some(reason))
    }

    /// The job ends `cancelled` and its call was never placed.
    pub fn cancelled_before_placing(at: JobAttempt) -> JobResult {
        JobResult::finished(
            at,
            JobStatus::Cancelled,
            "not-dialed",
            Some("run cancelled before the call was placed".into()),
        )
    }

    /// The call ended with `outcome`; the job is queued for its next
    /// attempt from `not_before_ms`.
    pub fn retry(at: JobAttempt, outcome: String, not_before_ms: i64) -> JobResult {
        result(
            at,
            JobNext::Retry {
                not_before_ms,
                outcome,
            },
        )
    }

    /// No call was placed: the job is queued again from `not_before_ms`
    /// with the same attempt, so the same idempotency key.
    pub fn requeue(at: JobAttempt, not_before_ms: i64) -> JobResult {
        result(at, JobNext::Requeue { not_before_ms })
    }

    /// The call this attempt made: its report, when it was placed and by
    /// which dialer version (each when known).
    pub fn with_call(
        mut self,
        report: CallReport,
        placed_at: Option<i64>,
        dialer_version: Option<i64>,
    ) -> JobResult {
        self.report = Some(report);
        self.placed_at = placed_at;
        self.dialer_version = dialer_version;
        self
    }

    /// The compliance record judged at placement, stored with the attempt
    /// instead of the one from when the job was marked.
    pub fn with_compliance(mut self, record: Option<String>) -> JobResult {
        self.compliance = record;
        self
    }

    /// The note recorded with the attempt.
    pub fn with_note(mut self, note: Option<String>) -> JobResult {
        self.note = note;
        self
    }

    /// The flow's follow-up for the lead, committed with the result.
    pub fn with_lead_update(mut self, update: Option<LeadUpdate>) -> JobResult {
        self.lead_update = update;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requeue_keeps_the_attempt_and_its_key() {
        let r = JobResult::requeue(JobAttempt::new(RunId(7), JobId(3), LeadId(9), 2), 1_000);
        assert_eq!((r.job_id, r.lead_id, r.attempt), (JobId(3), LeadId(9), 2));
        assert_eq!(r.idempotency_key, idempotency_key(RunId(7), JobId(3), 2));
        assert_eq!(
            r.next,
            JobNext::Requeue {
                not_before_ms: 1_000
            }
        );
        assert_eq!((r.placed_at, r.report, r.note), (None, None, None));
    }

    #[test]
    fn interrupted_is_final_with_an_unknown_outcome() {
        let r = JobResult::interrupted(
            JobAttempt::new(RunId(1), JobId(1), LeadId(1), 1),
            "why".into(),
        )
        .with_note(Some("note".into()));
        assert_eq!(
            r.next,
            JobNext::Finish {
                status: JobStatus::Interrupted,
                outcome: "unknown".into(),
                reason: Some("why".into()),
            }
        );
        assert_eq!(r.note.as_deref(), Some("note"));
    }
}

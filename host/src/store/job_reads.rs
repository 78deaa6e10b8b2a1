//! [`ApiJobReads`]: a run's jobs as the dashboard reads them — one filtered,
//! keyset-paged page at a time, and one job with its lead and attempts.
//! Read-only; written once for both engines (`portable/job_reads.rs`).

use async_trait::async_trait;

use super::{AttemptView, JobView, Page, StoreResult};
use crate::model::{JobId, JobStatus, LeadId, RunId, TenantId};

/// What a `dialing` job is really doing. A job is marked `dialing` when a
/// batch reserves it, before its call is handed to the provider; it is
/// `Placed` once the provider's call id is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialPhase {
    /// Reserved for a batch: no provider call id yet.
    Reserved,
    /// The provider accepted the call (its id is recorded).
    Placed,
}

impl DialPhase {
    pub const fn as_str(self) -> &'static str {
        match self {
            DialPhase::Reserved => "reserved",
            DialPhase::Placed => "placed",
        }
    }
}

/// The job states a filter may name: a stored status, or a phase of
/// `dialing` ([`DialPhase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStateFilter {
    Status(JobStatus),
    Phase(DialPhase),
}

impl JobStateFilter {
    /// `queued`, `dialing`, ..., `reserved` or `placed`.
    pub fn parse(s: &str) -> Option<JobStateFilter> {
        match s {
            "reserved" => Some(JobStateFilter::Phase(DialPhase::Reserved)),
            "placed" => Some(JobStateFilter::Phase(DialPhase::Placed)),
            other => other.parse().ok().map(JobStateFilter::Status),
        }
    }
}

/// Filters on a run's jobs; `None` filters nothing. All given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub state: Option<JobStateFilter>,
    /// The job's outcome, exactly.
    pub outcome: Option<String>,
    /// A lead: with a leading `+`, the start of its phone number (E.164);
    /// otherwise its external id exactly, or its id.
    pub lead: Option<String>,
    /// Last update at or after (epoch ms).
    pub since: Option<i64>,
    /// Last update before (epoch ms).
    pub until: Option<i64>,
}

/// One job of a listing, with what the page shows next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobListing {
    pub job: JobView,
    /// For a `dialing` job: reserved or placed; `None` otherwise.
    pub phase: Option<DialPhase>,
    /// Last change of the job (epoch ms).
    pub updated_at: i64,
    pub lead_external_id: String,
}

/// The lead of a job, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLead {
    pub id: LeadId,
    pub external_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub status: String,
    pub tags: Vec<String>,
}

/// One job with its lead and every attempt, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDetail {
    pub listing: JobListing,
    pub lead: JobLead,
    pub attempts: Vec<AttemptView>,
}

/// The dashboard's reads of jobs. Another tenant's run or job is
/// `NotFound`, exactly like a missing one.
#[async_trait]
pub trait ApiJobReads {
    /// A run's jobs matching `filter`, in id order, keyset-paged by id.
    async fn list_jobs_filtered(
        &self,
        tenant: TenantId,
        run: RunId,
        filter: &JobFilter,
        page: Page,
    ) -> StoreResult<Vec<JobListing>>;

    /// One job of `run`, with its lead and attempts.
    async fn job_detail(&self, tenant: TenantId, run: RunId, job: JobId) -> StoreResult<JobDetail>;
}

/// `%`, `_` and the escape itself, escaped for `LIKE ... ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

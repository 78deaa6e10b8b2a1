//! A run's jobs: `GET /api/outbound/runs/{id}/jobs` (filtered by state,
//! outcome, lead and update time; keyset-paged; each job with its attempts)
//! and `GET /api/outbound/runs/{id}/jobs/{job_id}` (one job with its lead
//! and its attempt timeline). What the dashboard reads.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::audit::or_not_found;
use super::auth::TenantAuth;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::{PageQuery, Paged, paged};
use super::params::{ApiPath, ApiQuery};
use super::views::{parse_id, rfc3339};
use crate::model::{JobId, RunId};
use crate::store::AttemptView;
use crate::store::job_reads::{DialPhase, JobFilter, JobListing, JobStateFilter};
use crate::store::platform_reads::Resource;

/// Longest `outcome` filter.
pub const JOB_OUTCOME_FILTER_MAX: usize = 64;
/// Longest `lead` filter.
pub const JOB_LEAD_FILTER_MAX: usize = 128;

/// Paging and filters of a run's jobs. Unknown parameters are refused (a
/// mistyped filter must not silently list every job).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// Items per page, 1..=500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// A job state (`queued`, `dialing`, `completed`, `failed`, `skipped`,
    /// `cancelled`, `interrupted`) or a phase of `dialing`: `reserved` (marked
    /// for a batch, not yet handed to the provider) or `placed`.
    pub status: Option<String>,
    /// The job's outcome, exactly (e.g. `answered`, `no-answer`).
    pub outcome: Option<String>,
    /// A lead: its id or its external id (exactly); with a leading `+`, the
    /// start of its phone number (`+1415` matches every +1 415 number).
    pub lead: Option<String>,
    /// Jobs last updated at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Jobs last updated before this time (RFC 3339).
    pub until: Option<String>,
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError::bad_request("invalid_query", Some(field), format!("{field}: {message}"))
}

fn text_filter(field: &str, v: &Option<String>, max: usize) -> ApiResult<Option<String>> {
    match v.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(bad(field, "must not be empty".into())),
        Some(s) if s.chars().count() > max => Err(bad(field, format!("at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn time_filter(field: &str, v: &Option<String>) -> ApiResult<Option<i64>> {
    v.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .map_err(|e| bad(field, format!("not an RFC 3339 time ({e}): {s:?}")))
        })
        .transpose()
}

impl JobsQuery {
    fn filter(&self) -> ApiResult<JobFilter> {
        let state = match self.status.as_deref() {
            None => None,
            Some(s) => Some(JobStateFilter::parse(s).ok_or_else(|| {
                bad(
                    "status",
                    format!(
                        "unknown state {s:?}: queued, dialing, reserved, placed, completed, \
                         failed, skipped, cancelled or interrupted"
                    ),
                )
            })?),
        };
        let filter = JobFilter {
            state,
            outcome: text_filter("outcome", &self.outcome, JOB_OUTCOME_FILTER_MAX)?,
            lead: text_filter("lead", &self.lead, JOB_LEAD_FILTER_MAX)?,
            since: time_filter("since", &self.since)?,
            until: time_filter("until", &self.until)?,
        };
        if let (Some(a), Some(b)) = (filter.since, filter.until)
            && a >= b
        {
            return Err(bad("until", "must be later than since".into()));
        }
        Ok(filter)
    }
}

/// What a job is doing: its `state`, except that a `dialing` job is
/// `reserved` (marked for a batch; its call not handed to the provider yet)
/// or `placed` (the provider has the call).
fn phase_of(j: &JobListing) -> String {
    j.phase
        .map(DialPhase::as_str)
        .unwrap_or(&j.job.status)
        .to_string()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Attempt)]
pub struct AttemptJson {
    pub attempt: i64,
    pub placed: bool,
    pub decision: String,
    pub placed_at: Option<String>,
    pub outcome: Option<String>,
    pub provider_call_id: Option<String>,
    /// The dialer adapter version that placed the call (hot swap can change
    /// it mid-run); null when no call was placed.
    pub dialer_version: Option<i64>,
    /// The compliance record: rule, time zone, local time, DNC check.
    #[schema(value_type = Object)]
    pub compliance: serde_json::Value,
    /// The flow's note (and anything of its follow-up the store refused).
    pub note: Option<String>,
    /// The lead status this attempt's follow-up set; null when it set none.
    pub lead_status: Option<String>,
    /// The tags this attempt's follow-up added to the lead.
    pub lead_tags: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobWithAttempts {
    pub id: i64,
    pub lead_id: i64,
    pub lead_external_id: Option<String>,
    /// The stored job state: `queued`, `dialing`, `completed`, ...
    pub state: String,
    pub attempt: i64,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The note of the job's last attempt (deferrals aside).
    pub note: Option<String>,
    /// `state`, except that a `dialing` job is `reserved` (marked for a
    /// batch, its call not yet handed to the provider) or `placed`.
    pub phase: String,
    /// The job's last change (RFC 3339, UTC).
    pub updated_at: String,
    pub attempts: Vec<AttemptJson>,
}

#[utoipa::path(
    get,
    path = "/api/outbound/runs/{id}/jobs",
    operation_id = "list_run_jobs",
    tag = "runs",
    summary = "A run's jobs (paged, filtered by state, outcome, lead and update time), each with its last note and its attempts: outcome, compliance record, the flow's note, lead status and tags",
    params(("id" = i64, Path, description = "The run's id", minimum = 1), JobsQuery),
    responses(
        (status = 200, description = "A page of jobs", body = Paged<JobWithAttempts>),
        (status = 400, description = "Bad id, paging parameter or filter (`field` names it)", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
pub async fn jobs(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<Paged<JobWithAttempts>>> {
    let id = parse_id("id", &id)?;
    let req = PageQuery {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
    .parse()?;
    let filter = q.filter()?;
    // Existence (and the security event) first: an empty page would say nothing.
    let r = s
        .store
        .list_jobs_filtered(t.tenant, RunId(id), &filter, req.store_page())
        .await;
    let endpoint = "GET /api/outbound/runs/{id}/jobs";
    let rows = or_not_found(&s, &t, Resource::Run, id, endpoint, r).await?;
    let page = paged(req, rows, |j| j.job.id.0, |j| j);
    let job_ids: Vec<JobId> = page.items.iter().map(|j| j.job.id).collect();
    let (_, attempts) = s
        .platform
        .job_details(t.tenant, RunId(id), &job_ids)
        .await?;
    let mut by_job: BTreeMap<JobId, Vec<AttemptJson>> = BTreeMap::new();
    for a in attempts {
        by_job.entry(a.job_id).or_default().push(AttemptJson {
            attempt: a.attempt,
            placed: a.placed,
            decision: a.decision,
            placed_at: a.placed_at.map(rfc3339),
            outcome: a.outcome,
            provider_call_id: a.provider_call_id,
            dialer_version: a.dialer_version,
            compliance: serde_json::from_str(&a.compliance).unwrap_or(serde_json::Value::Null),
            note: a.note,
            lead_status: a.lead_status,
            lead_tags: a.lead_tags,
        });
    }
    let items = page
        .items
        .into_iter()
        .map(|j| {
            let attempts = by_job.remove(&j.job.id).unwrap_or_default();
            JobWithAttempts {
                phase: phase_of(&j),
                note: last_note(attempts.iter().map(|a| (a.decision.as_str(), &a.note))),
                attempts,
                id: j.job.id.0,
                lead_id: j.job.lead_id.get(),
                lead_external_id: Some(j.lead_external_id),
                state: j.job.status,
                attempt: j.job.attempt,
                outcome: j.job.outcome,
                reason: j.job.reason,
                updated_at: rfc3339(j.updated_at),
            }
        })
        .collect();
    Ok(Json(Paged {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// The note of the last attempt that was not a deferral (a deferral has no
/// note, and says nothing of how the job went).
fn last_note<'a>(
    attempts: impl DoubleEndedIterator<Item = (&'a str, &'a Option<String>)>,
) -> Option<String> {
    attempts
        .rev()
        .find(|(decision, _)| *decision != "deferred")
        .and_then(|(_, note)| note.clone())
}

/// The lead of a job, as it is now (the flow may have changed its status
/// and tags).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JobLead)]
pub struct JobLeadJson {
    pub id: i64,
    pub external_id: String,
    /// As imported, unmasked: the tenant owns its leads.
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub status: String,
    pub tags: Vec<String>,
}

/// One entry of a job's attempt timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TimelineAttempt)]
pub struct TimelineAttemptJson {
    pub attempt: i64,
    /// `allowed` (a call was placed), `deferred` or `skipped`.
    pub decision: String,
    /// The rule that decided, only when it decided something other than
    /// allow (`calling-window`, `dnc`, `attempt-cap`, `timezone`); null for
    /// an allowed call.
    pub rule: Option<String>,
    /// Why a deferral or skip happened.
    pub reason: Option<String>,
    pub placed: bool,
    /// Times in RFC 3339, UTC.
    pub decided_at: String,
    pub placed_at: Option<String>,
    pub ended_at: Option<String>,
    /// The provider's progress: `queued`, `ringing`, `answered`, `ended`.
    pub call_state: Option<String>,
    pub outcome: Option<String>,
    pub provider_call_id: Option<String>,
    pub dialer_version: Option<i64>,
    /// The full compliance record: verdict, rule, window, time zone, local
    /// time, DNC check, attempts in the last 24 h.
    #[schema(value_type = Object)]
    pub compliance: serde_json::Value,
    pub note: Option<String>,
    pub lead_status: Option<String>,
    pub lead_tags: Vec<String>,
}

impl From<AttemptView> for TimelineAttemptJson {
    fn from(a: AttemptView) -> Self {
        let compliance: serde_json::Value =
            serde_json::from_str(&a.compliance).unwrap_or(serde_json::Value::Null);
        let field = |k: &str| compliance.get(k).and_then(|v| v.as_str()).map(String::from);
        let decided_otherwise = a.decision != "allowed";
        TimelineAttemptJson {
            rule: field("rule").filter(|_| decided_otherwise),
            reason: field("reason").filter(|_| decided_otherwise),
            attempt: a.attempt,
            decision: a.decision,
            placed: a.placed,
            decided_at: rfc3339(a.decided_at),
            placed_at: a.placed_at.map(rfc3339),
            ended_at: a.ended_at.map(rfc3339),
            call_state: a.call_state,
            outcome: a.outcome,
            provider_call_id: a.provider_call_id,
            dialer_version: a.dialer_version,
            compliance,
            note: a.note,
            lead_status: a.lead_status,
            lead_tags: a.lead_tags,
        }
    }
}

/// One job: its state, its lead and its attempt timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JobDetail)]
pub struct JobDetailJson {
    pub id: i64,
    pub run_id: i64,
    /// The stored job state.
    pub state: String,
    /// `state`, except that a `dialing` job is `reserved` or `placed`.
    pub phase: String,
    pub attempt: i64,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The note of the job's last attempt (deferrals aside).
    pub note: Option<String>,
    pub updated_at: String,
    pub lead: JobLeadJson,
    pub attempts: Vec<TimelineAttemptJson>,
}

#[utoipa::path(
    get,
    path = "/api/outbound/runs/{id}/jobs/{job_id}",
    operation_id = "get_run_job",
    tag = "runs",
    summary = "One job of a run: its state (reserved vs placed while dialing), its lead, and its attempt timeline with each compliance verdict, outcome, note, lead status and tags",
    params(
        ("id" = i64, Path, description = "The run's id", minimum = 1),
        ("job_id" = i64, Path, description = "The job's id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The job", body = JobDetailJson),
        (status = 400, description = "An id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such run or job (or another tenant's)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
pub async fn job(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath((id, job_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<JobDetailJson>> {
    let id = parse_id("id", &id)?;
    let job_id = parse_id("job_id", &job_id)?;
    let r = s.store.job_detail(t.tenant, RunId(id), JobId(job_id)).await;
    let endpoint = "GET /api/outbound/runs/{id}/jobs/{job_id}";
    // Another tenant's job (whatever run it is asked under) is a 404 with
    // its security event, like every cross-tenant read.
    let d = or_not_found(&s, &t, Resource::Job, job_id, endpoint, r).await?;
    let note = last_note(d.attempts.iter().map(|a| (a.decision.as_str(), &a.note)));
    Ok(Json(JobDetailJson {
        id: d.listing.job.id.0,
        run_id: d.listing.job.run_id.0,
        phase: phase_of(&d.listing),
        state: d.listing.job.status,
        attempt: d.listing.job.attempt,
        outcome: d.listing.job.outcome,
        reason: d.listing.job.reason,
        note,
        updated_at: rfc3339(d.listing.updated_at),
        lead: JobLeadJson {
            id: d.lead.id.get(),
            external_id: d.lead.external_id,
            phone: d.lead.phone,
            name: d.lead.name,
            timezone: d.lead.timezone,
            status: d.lead.status,
            tags: d.lead.tags,
        },
        attempts: d.attempts.into_iter().map(Into::into).collect(),
    }))
}

//! The run lifecycle's store (runs, jobs, attempts, workers), split by
//! audience the way the database roles are:
//!
//! - [`ApiRunStore`]: the API, acting for one tenant. Every method takes
//!   the [`TenantId`] and filters by it; on PostgreSQL its connections run as
//!   the Row-Level Security role `dialplane_tenant`
//!   ([`super::tenant_scope`]). It can create, read and cancel, but never
//!   claim a run or write under a lease.
//! - [`WorkerRunStore`]: workers, connected as the schema owner. They drive
//!   whichever run they claimed, so methods take the claim's [`Lease`]
//!   (run, generation, worker), not tenants; every write is fenced on it
//!   (`AND lease_generation = $g`) and reports [`Fenced::LeaseLost`] instead
//!   of writing when the lease moved on.
//!
//! Both drivers implement them in `*/runs/`; the conformance cases are in
//! [`super::conformance_runs`]. Times are epoch milliseconds. Lease times
//! come from the database clock; `now_ms` arguments come from the worker's
//! injectable clock.

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use super::{LeadUpdate, Page, StoreResult};
use crate::model::{
    CallEvent, CallReport, CancelMode, JobId, Lead, LeadId, Lease, LeaseGeneration, RunId,
    RunSettings, TenantId, WorkerId,
};

/// The statuses are defined once in [`crate::model::status`]; re-exported
/// so `store::runs::RunStatus` paths keep working.
pub use crate::model::{JobStatus, RunStatus};

pub(crate) use super::run_counts::{RUN_JOB_COUNTS_SQL, counts_from_counters, counts_from_rows};

/// Reading `runs.status`: a name the model does not know is a corrupt row.
impl RunStatus {
    pub fn parse(s: &str) -> StoreResult<Self> {
        s.parse()
            .map_err(|_| super::StoreError::Other(format!("corrupt runs.status {s:?}")))
    }
}

/// What to create: the lead list is snapshotted into jobs, the flow version
/// is pinned (`flow_version: None` = the version active now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub lead_ids: Vec<LeadId>,
    pub flow: String,
    pub flow_version: Option<i64>,
    pub dialer: String,
    pub settings: RunSettings,
}

/// Jobs of a run counted by status and by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub by_outcome: std::collections::BTreeMap<String, i64>,
}

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub id: RunId,
    #[serde(rename = "business_id")]
    pub tenant: TenantId,
    pub status: RunStatus,
    pub flow_plugin_id: i64,
    pub dialer: String,
    pub settings: RunSettings,
    pub total_leads: i64,
    pub cursor_position: i64,
    pub cancel_requested: bool,
    pub cancel_mode: Option<CancelMode>,
    /// A pause was asked for and not withdrawn (the run is `paused`, or
    /// `running` until its owner parks it).
    pub pause_requested: bool,
    /// When the run was last parked (epoch ms).
    pub paused_at: Option<i64>,
    pub owner_worker: Option<String>,
    pub lease_generation: LeaseGeneration,
    pub last_call_placed_at: Option<i64>,
    pub failure: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Filled by [`ApiRunStore::get_run`]; empty in listings.
    pub counts: JobCounts,
}

/// One job (a lead in a run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: JobId,
    pub run_id: RunId,
    pub lead_id: LeadId,
    pub position: i64,
    pub status: String,
    pub attempt: i64,
    pub not_before: i64,
    pub outcome: Option<String>,
    pub reason: Option<String>,
}

/// One decision about a lead: a placed call, or a deferral/skip with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub id: i64,
    pub run_id: RunId,
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub attempt: i64,
    pub placed: bool,
    pub idempotency_key: Option<String>,
    pub decision: String,
    /// The compliance record (rule, time zone, local time, DNC check) as JSON.
    pub compliance: String,
    pub worker_id: String,
    pub lease_generation: LeaseGeneration,
    pub provider_call_id: Option<String>,
    pub call_state: Option<String>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// The lead status this attempt's follow-up set, if it set one.
    pub lead_status: Option<String>,
    /// The tags this attempt's follow-up added to the lead.
    pub lead_tags: Vec<String>,
    pub decided_at: i64,
    pub placed_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// The dialer adapter version that placed the call, if one was placed.
    pub dialer_version: Option<i64>,
}

/// What [`ApiRunStore::request_cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequested {
    /// Run state right after the request (`cancelled` at once when nobody owned it).
    pub status: RunStatus,
    /// Queued jobs cancelled by the request.
    pub jobs_cancelled: u64,
    /// The lease generation whose owner must acknowledge.
    pub generation: LeaseGeneration,
}

/// What became of a callback event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEventApplied {
    /// The call moved forward to this state.
    Applied,
    /// Duplicate or out of order: the call is already at or past this state.
    Ignored,
    /// No call of this tenant has that provider call id *yet*: the event is
    /// kept and applied when the worker records the call (a provider may
    /// post the final callback before its create answer returns).
    Held,
}

/// A worker row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub hostname: String,
    pub pid: i64,
}

/// A run a worker now holds the lease of.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The lease every write for this run presents.
    pub lease: Lease,
    pub tenant: TenantId,
    /// True when the run was `running` under another owner whose lease expired.
    pub reclaimed: bool,
    pub flow_plugin_id: i64,
    pub dialer: String,
    pub settings: RunSettings,
    pub cancel_requested: bool,
    pub cancel_mode: Option<CancelMode>,
    /// A pause is requested: the new owner starts with its gate closed,
    /// settles what earlier owners left dialing, and parks the run.
    pub pause_requested: bool,
}

/// The state of one lease as seen by a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseState {
    pub run: RunId,
    pub generation: LeaseGeneration,
    pub cancel_requested: bool,
    pub cancel_acked: bool,
    pub pause_requested: bool,
    /// This generation acknowledged the pause ([`super::WorkerRunPause::ack_pause`]).
    pub pause_acked: bool,
}

/// A [`LeaseState`] row: `id, lease_generation, cancel_requested,
/// cancel_acked, pause_requested, pause_acked` (each driver's
/// `LEASE_STATE_COLUMNS`).
pub type LeaseStateRow = (RunId, LeaseGeneration, bool, bool, bool, bool);

impl From<LeaseStateRow> for LeaseState {
    fn from(r: LeaseStateRow) -> Self {
        LeaseState {
            run: r.0,
            generation: r.1,
            cancel_requested: r.2,
            cancel_acked: r.3,
            pause_requested: r.4,
            pause_acked: r.5,
        }
    }
}

/// How many live runs one worker drives for one tenant on one adapter: the
/// fleet's load, from which each worker takes its share of the tenant and
/// account limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLoad {
    pub tenant: TenantId,
    pub dialer: String,
    pub owner_worker: String,
    pub runs: i64,
}

/// A job ready to be worked on, with the facts compliance needs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobWork {
    pub job_id: JobId,
    pub lead_id: LeadId,
    /// Attempts already started; this one will be `attempt + 1`.
    pub attempt: u32,
    pub lead: Lead,
    pub dnc_listed: bool,
    /// Calls placed to this lead by any of the tenant's runs in the last 24 h.
    pub attempts_24h: u32,
}

/// A job left `dialing` (by this owner or a dead one).
#[derive(Debug, Clone, PartialEq)]
pub struct DialingJob {
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub attempt: u32,
    pub idempotency_key: String,
    pub provider_call_id: Option<String>,
    pub call_deadline: Option<i64>,
    /// The attempt row's call state, if the call was recorded as pending.
    pub call_state: Option<String>,
    pub report: Option<CallReport>,
    pub lead: Lead,
}

/// What the lifecycle's plan step decided for one job before any call.
#[derive(Debug, Clone, PartialEq)]
pub enum JobDecision {
    /// Mark `dialing` for attempt `attempt` (= previous + 1).
    Dial {
        job_id: JobId,
        lead_id: LeadId,
        attempt: u32,
        compliance: String,
    },
    /// Outside the calling window: not before `until_ms`; attempt not used.
    Defer {
        job_id: JobId,
        lead_id: LeadId,
        attempt: u32,
        until_ms: i64,
        compliance: String,
    },
    /// Never dialed (DNC, cap, unknown time zone, the flow said skip, bad
    /// request from the flow): job ends `skipped` (or `failed`) with the reason.
    Skip {
        job_id: JobId,
        lead_id: LeadId,
        attempt: u32,
        status: JobStatus,
        reason: String,
        compliance: String,
    },
}

/// The answer to "mark these dialing".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkResult {
    /// These jobs are now `dialing` (a job cancelled meanwhile is left out).
    Marked(Vec<JobId>),
    /// `cancel_requested` was set first: nothing was written.
    Cancelled,
    /// `pause_requested` was set first: nothing was written.
    Paused,
    /// The lease moved on: nothing was written.
    LeaseLost,
}

/// A fenced write: done, or refused because the lease moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    Done,
    LeaseLost,
}

/// How one dialing job ends (or goes back to the queue).
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub attempt: u32,
    pub idempotency_key: String,
    /// `None` when no call was placed (e.g. the adapter refused it).
    pub placed_at: Option<i64>,
    /// The dialer adapter version that placed the call (hot swap can change
    /// it between two calls of one run); `None` when unknown or not placed.
    pub dialer_version: Option<i64>,
    pub report: Option<CallReport>,
    pub note: Option<String>,
    /// The flow's follow-up for the lead, applied in the same transaction
    /// (and under the same fence) as the rest of the result, and recorded
    /// with the attempt.
    pub lead_update: Option<LeadUpdate>,
    /// The compliance record judged at placement (JSON); `None` keeps the
    /// one the job was marked with.
    pub compliance: Option<String>,
    pub next: JobNext,
}

/// What happens to the job after this attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum JobNext {
    /// Terminal: `completed`, `failed`, `cancelled`, `interrupted`.
    Finish {
        status: JobStatus,
        outcome: String,
        reason: Option<String>,
    },
    /// Back to `queued` for another attempt after `not_before_ms`.
    Retry { not_before_ms: i64, outcome: String },
    /// The call was never placed (reconciled as such, or the adapter said
    /// "transient, nothing placed"): back to `queued` not before
    /// `not_before_ms`, with the same attempt number, so the same
    /// idempotency key is reused and no attempt is used up.
    Requeue { not_before_ms: i64 },
}

/// A call placed in `pending` mode, recorded before waiting for its end.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    pub job_id: JobId,
    pub lead_id: LeadId,
    pub attempt: u32,
    pub idempotency_key: String,
    pub provider_call_id: String,
    pub placed_at: i64,
    pub call_deadline: i64,
    /// The dialer adapter version that placed the call.
    pub dialer_version: i64,
    /// The compliance record judged at placement (JSON); `None` keeps the
    /// one the job was marked with.
    pub compliance: Option<String>,
}

/// The idempotency key of one placement: `run-job-attempt`.
pub fn idempotency_key(run: RunId, job_id: JobId, attempt: u32) -> String {
    format!("{run}-{job_id}-{attempt}")
}

/// The API's side of runs: what a tenant may do to its own runs.
///
/// Every method takes the tenant and treats another tenant's run or job as
/// missing (`NotFound`), so the API answers 404 and existence does not leak.
/// Nothing here claims a run or writes under a lease: the API's handle
/// ([`super::ApiStore`]) does not include [`WorkerRunStore`], so a request
/// cannot fence out or impersonate a worker.
#[async_trait]
pub trait ApiRunStore {
    /// Creates a `queued` run: resolves and pins the flow version, checks the
    /// dialer exists, snapshots `lead_ids` into jobs (in order) in one
    /// transaction. A lead id that is not the tenant's → `Invalid` naming
    /// `lead_ids[i]`; a repeated lead id is rejected by the database's
    /// `UNIQUE (run_id, lead_id)` (`Conflict`) and nothing is written.
    async fn create_run(&self, tenant: TenantId, spec: &RunSpec) -> StoreResult<RunId>;

    /// The run with its job counts; another tenant's run is `NotFound`.
    async fn get_run(&self, tenant: TenantId, run: RunId) -> StoreResult<RunView>;

    /// The tenant's runs, newest id last, keyset-paged by id.
    async fn list_runs(&self, tenant: TenantId, page: Page) -> StoreResult<Vec<RunView>>;

    /// A run's jobs in id order.
    async fn list_jobs(
        &self,
        tenant: TenantId,
        run: RunId,
        page: Page,
    ) -> StoreResult<Vec<JobView>>;

    /// A run's attempts (placed calls and compliance decisions) in id order.
    async fn list_attempts(
        &self,
        tenant: TenantId,
        run: RunId,
        page: Page,
    ) -> StoreResult<Vec<AttemptView>>;

    /// Sets `cancel_requested` and cancels every queued job in one
    /// transaction, then notifies the owner. A run nobody owns ends
    /// `cancelled` at once. Idempotent. Does **not** wait: see
    /// [`crate::lifecycle::canceller::cancel_run`].
    async fn request_cancel(
        &self,
        tenant: TenantId,
        run: RunId,
        mode: Option<CancelMode>,
    ) -> StoreResult<CancelRequested>;

    /// True once no worker can place another call for the run: it is
    /// terminal or unowned, or its current owner acknowledged the cancel, or
    /// the lease has expired (its owner will not dial: it checks its own
    /// lease, and learns of the cancel with its next heartbeat). A run that
    /// is not the tenant's has nothing to settle: true.
    async fn cancel_settled(&self, tenant: TenantId, run: RunId) -> StoreResult<bool>;

    /// Cancels one queued job (counted by the cursor). A job that is not
    /// queued → `Invalid { field: "status" }`; another tenant's → `NotFound`.
    async fn cancel_job(&self, tenant: TenantId, job: JobId) -> StoreResult<JobView>;

    /// Applies a provider event to the call with that provider call id,
    /// through the monotonic state machine queued < ringing < answered < ended.
    async fn apply_call_event(
        &self,
        tenant: TenantId,
        event: &CallEvent,
    ) -> StoreResult<CallEventApplied>;
}

/// The workers' side of runs: leases and the writes made under them.
///
/// Only workers call this (the owner's connection; RLS does not apply). A
/// worker claims runs of any tenant, so methods take a [`Lease`] (or a
/// [`RunId`] for plain reads); the tenant comes from the claimed row, never
/// from a caller. Every write presents the [`Lease`] it was made under and
/// is refused ([`Fenced::LeaseLost`], [`MarkResult::LeaseLost`]) once
/// another worker took the run over, so a stalled owner can never write over
/// its successor.
#[async_trait]
pub trait WorkerRunStore {
    /// Records (or refreshes) a worker row.
    async fn register_worker(&self, worker: &WorkerInfo) -> StoreResult<()>;

    /// Marks a worker stopped and gives up its leases so another worker can
    /// take them over at once (status stays `running`).
    async fn release_worker(&self, worker: &WorkerId) -> StoreResult<()>;

    /// Claims up to `limit` runs in one statement: `queued` ones (not
    /// paused), or `running` ones whose lease expired. Each claim bumps the generation.
    async fn claim_runs(
        &self,
        worker: &WorkerId,
        limit: u32,
        lease_ttl_ms: i64,
    ) -> StoreResult<Vec<ClaimedRun>>;

    /// Refreshes `lock_ts` of every run this worker owns, in one statement,
    /// and says which leases it still holds.
    async fn heartbeat(&self, worker: &WorkerId) -> StoreResult<Vec<LeaseState>>;

    /// Live runs (running, lease not expired) by tenant, adapter and owner,
    /// across the whole fleet. One small grouped read of the runs table.
    async fn fleet_load(&self) -> StoreResult<Vec<RunLoad>>;

    /// The owner of `lease` has stopped dialing for a cancelled run.
    async fn ack_cancel(&self, lease: &Lease) -> StoreResult<Fenced>;

    /// Run ids whose cancel was requested, as they happen
    /// (PostgreSQL `LISTEN`, an in-process channel on SQLite). Best effort:
    /// the heartbeat also reports `cancel_requested`.
    async fn cancel_notices(&self) -> StoreResult<BoxStream<'static, RunId>>;

    /// Jobs of the run in `dialing` (with their pending-call state).
    async fn dialing_jobs(&self, lease: &Lease) -> StoreResult<Vec<DialingJob>>;

    /// Applies held provider events ([`CallEventApplied::Held`]) to the
    /// run's recorded calls, as [`Self::record_pending`] does; the driver
    /// also calls it while calls are pending, so an event whose hand-over
    /// raced the recording is applied at the next step at the latest.
    /// Not fenced: events are the provider's word, applied whoever owns
    /// the run (the API applies them with no lease at all).
    async fn apply_held_call_events(&self, lease: &Lease) -> StoreResult<u64>;

    /// Up to `limit` queued jobs due at `now_ms`, in position order.
    async fn next_jobs(&self, lease: &Lease, now_ms: i64, limit: u32) -> StoreResult<Vec<JobWork>>;

    /// Earliest `not_before` of the run's queued jobs (to sleep until).
    async fn next_due(&self, run: RunId) -> StoreResult<Option<i64>>;

    /// Applies the decisions in **one committed transaction**, guarded by
    /// `NOT cancel_requested AND lease_generation = lease.generation`. Deferrals and
    /// skips get an attempt row with their compliance record; skips count
    /// toward the cursor.
    async fn mark_dialing(
        &self,
        lease: &Lease,
        decisions: &[JobDecision],
        now_ms: i64,
    ) -> StoreResult<MarkResult>;

    /// Records calls placed in `pending` mode (attempt rows in call state
    /// `queued`) so callbacks can find them, then applies the events that
    /// arrived for them before they were recorded
    /// ([`CallEventApplied::Held`]).
    async fn record_pending(&self, lease: &Lease, calls: &[PendingCall]) -> StoreResult<Fenced>;

    /// Finishes (or requeues) dialing jobs, writes their attempt rows,
    /// applies their [`JobResult::lead_update`]s to the leads, advances
    /// `cursor_position` by the jobs that became terminal and
    /// `last_call_placed_at`, all in one transaction, fenced: a stale lease
    /// writes nothing, lead state included. A job no longer `dialing` (a
    /// repeated commit) is left alone, and so is its lead. It may run
    /// while the same owner marks its next batch, and (where the engine has
    /// concurrent writers) alongside another call with the other half of the
    /// same batch; the jobs are always disjoint. Drivers should not hold the
    /// run row's lock for the whole transaction (the PostgreSQL driver
    /// checks the lease last, under that lock, and rolls back when it moved
    /// on).
    async fn finish_jobs(
        &self,
        lease: &Lease,
        results: &[JobResult],
        now_ms: i64,
    ) -> StoreResult<Fenced>;

    /// Ends the run if nothing is left: `cancelled` when cancel was requested
    /// and no job is dialing, `completed` when no job is queued or dialing.
    /// Returns the status after the call (`running` = not finished yet).
    async fn finish_run_if_done(&self, lease: &Lease) -> StoreResult<RunStatus>;

    /// The run's pinned flow version: (name, version, component bytes).
    async fn run_flow_plugin(&self, run: RunId) -> StoreResult<(String, i64, Vec<u8>)>;

    /// Ends the run `failed` with a reason (its flow cannot be loaded, …);
    /// queued jobs are cancelled.
    async fn fail_run(&self, lease: &Lease, reason: &str) -> StoreResult<Fenced>;
}

// ---- helpers shared by both drivers ----

/// Checks a spec before any SQL; errors name the field.
pub(crate) fn validate_spec(spec: &RunSpec) -> StoreResult<()> {
    if spec.lead_ids.is_empty() {
        return Err(super::StoreError::invalid(
            "lead_ids",
            "a run needs at least one lead",
        ));
    }
    if spec.flow.trim().is_empty() {
        return Err(super::StoreError::invalid(
            "flow",
            "must name a flow plugin",
        ));
    }
    if spec.dialer.trim().is_empty() {
        return Err(super::StoreError::invalid(
            "dialer",
            "must name a dialer adapter",
        ));
    }
    spec.settings
        .validate()
        .map_err(|(f, r)| super::StoreError::invalid(&format!("settings.{f}"), r))
}

pub(crate) fn no_flow(spec: &RunSpec) -> super::StoreError {
    super::StoreError::invalid(
        "flow",
        match spec.flow_version {
            Some(v) => format!("no flow plugin {:?} version {v} for this tenant", spec.flow),
            None => format!("no active flow plugin {:?} for this tenant", spec.flow),
        },
    )
}

/// A lead's `attributes` JSON object → ordered string pairs (non-string
/// values are passed as their JSON text).
pub(crate) fn attributes_from_json(json: &str) -> crate::runtime::Properties {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `attempts.lead_tags` (a JSON array, or NULL) → the tags; a value that is
/// not an array of strings reads as none.
pub(crate) fn tags_from_json(json: Option<String>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

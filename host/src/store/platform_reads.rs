//! [`PlatformReads`]: the reads the API needs beyond its tenant-scoped
//! [`super::ApiStore`]:
//!
//! - [`PlatformReads::owner_of`]: which tenant owns a run/job/lead that
//!   another tenant just asked for (the answer stays 404; this only lets the
//!   security event land in the owner's audit log);
//! - [`PlatformReads::aggregates`]: counts for `/metrics`;
//! - [`PlatformReads::job_details`]: a page of jobs' leads and attempts in
//!   two queries (filtered by the tenant like every tenant query).
//!
//! Runs on its own small pool with the owner's rights (RLS does not apply:
//! these reads cross tenants on purpose), so every tenant query here filters
//! by the tenant (`business_id`) itself. Both drivers implement it with one body,
//! `super::portable::platform_reads`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Engine, StoreError, StoreResult, redact_url};
use crate::model::{JobId, RunId, TenantId};

/// A resource type the API addresses by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Run,
    Job,
    Lead,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Run => "run",
            Resource::Job => "job",
            Resource::Lead => "lead",
        }
    }
    pub(crate) fn table(self) -> &'static str {
        match self {
            Resource::Run => "runs",
            Resource::Job => "jobs",
            Resource::Lead => "leads",
        }
    }
}

/// Fleet-wide counts for `/metrics/fleet`: runs by state (a parked run is
/// `paused`), and jobs by status and by outcome summed over the runs' live
/// counters (`run_job_counts`, migration 0011) — never a scan of jobs or
/// attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub runs_by_state: BTreeMap<String, i64>,
    pub jobs_by_status: BTreeMap<String, i64>,
    pub jobs_by_outcome: BTreeMap<String, i64>,
}

/// One attempt of a job, for `GET /api/outbound/runs/{id}/jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptDetail {
    pub job_id: JobId,
    pub attempt: i64,
    pub placed: bool,
    pub decision: String,
    pub compliance: String,
    pub outcome: Option<String>,
    pub provider_call_id: Option<String>,
    pub dialer_version: Option<i64>,
    pub placed_at: Option<i64>,
    /// The flow's note on the attempt.
    pub note: Option<String>,
    /// The lead status the attempt's follow-up set, if any.
    pub lead_status: Option<String>,
    /// The tags the attempt's follow-up added to the lead.
    pub lead_tags: Vec<String>,
}

/// Cross-tenant reads for the API (see the module docs).
#[async_trait]
pub trait PlatformReads: Send + Sync {
    /// The tenant owning `resource` `id`, if it exists at all.
    async fn owner_of(&self, resource: Resource, id: i64) -> StoreResult<Option<TenantId>>;

    /// The tenants owning a flow plugin named `name` (other than `except`).
    async fn flow_owners(&self, name: &str, except: TenantId) -> StoreResult<Vec<TenantId>>;

    /// Runs by state and jobs by status and outcome, over all tenants.
    async fn aggregates(&self) -> StoreResult<Aggregates>;

    /// Name and version of a plugin row (runs pin flows by row id).
    async fn plugin_name_version(&self, plugin_id: i64) -> StoreResult<Option<(String, i64)>>;

    /// External ids of the leads of `job_ids` (job id → external id) and
    /// their attempts in order, for `tenant` only.
    async fn job_details(
        &self,
        tenant: TenantId,
        run_id: RunId,
        job_ids: &[JobId],
    ) -> StoreResult<(BTreeMap<JobId, String>, Vec<AttemptDetail>)>;
}

/// Connections of the platform-reads pool: few, it serves rare requests.
const PLATFORM_READS_CONNECTIONS: u32 = 2;

/// Opens the platform-reads pool on `url` with the owner's rights. Plain
/// connect options: these reads need no migration, write nothing and hold
/// no transaction open.
pub async fn connect_platform_reads(url: &str) -> StoreResult<Arc<dyn PlatformReads>> {
    let redacted = redact_url(url);
    let err = |e| StoreError::from_sqlx(e, &redacted);
    Ok(match Engine::from_url(url)? {
        Engine::Postgres => Arc::new(PgStore {
            pool: sqlx::postgres::PgPoolOptions::new()
                .max_connections(PLATFORM_READS_CONNECTIONS)
                .connect(url)
                .await
                .map_err(err)?
                .into(),
            url: redacted,
        }),
        Engine::Sqlite => Arc::new(SqliteStore {
            pool: sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(PLATFORM_READS_CONNECTIONS)
                .connect(url)
                .await
                .map_err(err)?
                .into(),
            url: redacted,
        }),
    })
}

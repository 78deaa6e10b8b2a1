//! [`ApiReads`]: the reads the API needs beyond the [`super::Store`] trait:
//!
//! - [`ApiReads::owner_of`]: which tenant owns a run/job/lead/plugin that
//!   another tenant just asked for (the answer stays 404; this only lets the
//!   security event land in the owner's audit log);
//! - [`ApiReads::aggregates`]: counts for `/metrics`;
//! - [`ApiReads::job_details`]: a page of jobs' leads and attempts in two
//!   queries (filtered by `business_id` like every tenant query).
//!
//! Runs on its own small pool with the owner's rights (RLS does not apply),
//! so every tenant query here filters by `business_id` itself.

use std::collections::BTreeMap;

use sqlx::{PgPool, Row, SqlitePool};

use super::{Engine, StoreError, StoreResult, redact_url};

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
    fn table(self) -> &'static str {
        match self {
            Resource::Run => "runs",
            Resource::Job => "jobs",
            Resource::Lead => "leads",
        }
    }
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    /// Placed calls by outcome label (`unknown` while no outcome yet).
    pub calls_by_outcome: BTreeMap<String, i64>,
    pub runs_by_state: BTreeMap<String, i64>,
}

#[derive(Clone)]
enum Pool {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

/// Reads for the API (see the module docs).
#[derive(Clone)]
pub struct ApiReads {
    pool: Pool,
    url: String,
}

/// Connections of the platform-reads pool: few, it serves rare requests.
const PLATFORM_READS_CONNECTIONS: u32 = 2;

impl ApiReads {
    pub async fn connect(url: &str) -> StoreResult<ApiReads> {
        let redacted = redact_url(url);
        let err = |e| StoreError::from_sqlx(e, &redacted);
        let pool = match Engine::from_url(url)? {
            Engine::Postgres => Pool::Pg(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(PLATFORM_READS_CONNECTIONS)
                    .connect(url)
                    .await
                    .map_err(err)?,
            ),
            Engine::Sqlite => Pool::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(PLATFORM_READS_CONNECTIONS)
                    .connect(url)
                    .await
                    .map_err(err)?,
            ),
        };
        Ok(ApiReads {
            pool,
            url: redacted,
        })
    }

    fn err(&self, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(e, &self.url)
    }

    /// The tenant owning `resource` `id`, if it exists at all.
    pub async fn owner_of(&self, resource: Resource, id: i64) -> StoreResult<Option<i64>> {
        let sql = format!("SELECT business_id FROM {} WHERE id = $1", resource.table());
        let row: Option<(i64,)> = match &self.pool {
            Pool::Pg(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await,
            Pool::Sqlite(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await,
        }
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.0))
    }

    /// The tenants owning a flow plugin named `name` (other than `except`).
    pub async fn flow_owners(&self, name: &str, except: i64) -> StoreResult<Vec<i64>> {
        let sql = "SELECT DISTINCT business_id FROM plugins \
                   WHERE kind = 'flow' AND name = $1 AND business_id IS NOT NULL AND business_id <> $2";
        let rows: Vec<(i64,)> = match &self.pool {
            Pool::Pg(p) => {
                sqlx::query_as(sql)
                    .bind(name)
                    .bind(except)
                    .fetch_all(p)
                    .await
            }
            Pool::Sqlite(p) => {
                sqlx::query_as(sql)
                    .bind(name)
                    .bind(except)
                    .fetch_all(p)
                    .await
            }
        }
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Calls by outcome and runs by state, over all tenants.
    pub async fn aggregates(&self) -> StoreResult<Aggregates> {
        let calls =
            "SELECT COALESCE(outcome, 'unknown'), COUNT(*) FROM attempts WHERE placed GROUP BY 1";
        let runs = "SELECT status, COUNT(*) FROM runs GROUP BY 1";
        let mut out = Aggregates::default();
        macro_rules! fill {
            ($p:expr) => {{
                for r in sqlx::query(calls)
                    .fetch_all($p)
                    .await
                    .map_err(|e| self.err(e))?
                {
                    out.calls_by_outcome.insert(r.get(0), r.get(1));
                }
                for r in sqlx::query(runs)
                    .fetch_all($p)
                    .await
                    .map_err(|e| self.err(e))?
                {
                    out.runs_by_state.insert(r.get(0), r.get(1));
                }
            }};
        }
        match &self.pool {
            Pool::Pg(p) => fill!(p),
            Pool::Sqlite(p) => fill!(p),
        }
        Ok(out)
    }
}

impl ApiReads {
    /// Name and version of a plugin row (runs pin flows by row id).
    pub async fn plugin_name_version(&self, plugin_id: i64) -> StoreResult<Option<(String, i64)>> {
        let sql = "SELECT name, version FROM plugins WHERE id = $1";
        match &self.pool {
            Pool::Pg(p) => sqlx::query_as(sql).bind(plugin_id).fetch_optional(p).await,
            Pool::Sqlite(p) => sqlx::query_as(sql).bind(plugin_id).fetch_optional(p).await,
        }
        .map_err(|e| self.err(e))
    }
}

/// One attempt of a job, for `GET /api/outbound/runs/{id}/jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptDetail {
    pub job_id: i64,
    pub attempt: i64,
    pub placed: bool,
    pub decision: String,
    pub compliance: String,
    pub outcome: Option<String>,
    pub provider_call_id: Option<String>,
    pub dialer_version: Option<i64>,
    pub placed_at: Option<i64>,
}

impl ApiReads {
    /// External ids of the leads of `job_ids` (job id → external id) and
    /// their attempts in order, for tenant `business_id` only.
    pub async fn job_details(
        &self,
        business_id: i64,
        run_id: i64,
        job_ids: &[i64],
    ) -> StoreResult<(BTreeMap<i64, String>, Vec<AttemptDetail>)> {
        if job_ids.is_empty() {
            return Ok(Default::default());
        }
        let list = job_ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let leads_sql = format!(
            "SELECT j.id, l.external_id FROM jobs j JOIN leads l \
             ON l.business_id = j.business_id AND l.id = j.lead_id \
             WHERE j.business_id = $1 AND j.run_id = $2 AND j.id IN ({list})"
        );
        let attempts_sql = format!(
            "SELECT job_id, attempt, placed, decision, CAST(compliance AS TEXT), outcome, \
             provider_call_id, placed_at, dialer_version FROM attempts \
             WHERE business_id = $1 AND run_id = $2 AND job_id IN ({list}) ORDER BY job_id, id"
        );
        let mut leads = BTreeMap::new();
        let mut attempts = Vec::new();
        macro_rules! fill {
            ($p:expr) => {{
                for r in sqlx::query(&leads_sql)
                    .bind(business_id)
                    .bind(run_id)
                    .fetch_all($p)
                    .await
                    .map_err(|e| self.err(e))?
                {
                    leads.insert(r.get::<i64, _>(0), r.get::<String, _>(1));
                }
                for r in sqlx::query(&attempts_sql)
                    .bind(business_id)
                    .bind(run_id)
                    .fetch_all($p)
                    .await
                    .map_err(|e| self.err(e))?
                {
                    attempts.push(AttemptDetail {
                        job_id: r.get(0),
                        attempt: r.get::<i32, _>(1) as i64,
                        placed: r.get(2),
                        decision: r.get(3),
                        compliance: r.get(4),
                        outcome: r.get(5),
                        provider_call_id: r.get(6),
                        dialer_version: r.get(8),
                        placed_at: r.get(7),
                    });
                }
            }};
        }
        match &self.pool {
            Pool::Pg(p) => fill!(p),
            Pool::Sqlite(p) => fill!(p),
        }
        Ok((leads, attempts))
    }
}

//! The run store on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED`,
//! batch writes with `UNNEST` arrays, cancel notices with `LISTEN/NOTIFY`.
//!
//! Fencing: every lease-scoped write first locks the run row with
//! `... AND lease_generation = $g FOR UPDATE`; a claim that bumps the
//! generation needs the same row lock, so a write either commits under the
//! lease it names or finds the row gone and writes nothing. `finish_jobs`
//! takes that lock last instead (its final `UPDATE runs ... AND
//! lease_generation = $g`) and rolls back when it matches nothing, so the
//! owner's next `mark_dialing` need not wait for its whole transaction.
//!
//! Batch writes join an `UNNEST` of arrays to `jobs` by id, and the plan
//! must probe `jobs` by primary key once per id: any other plan scans all of
//! the run's jobs per batch (O(run), not O(batch); measured 20× slower). The
//! planner picks it only when the `jobs` side looks large, and statistics
//! always say no job is `dialing` (they are taken between batches), so a
//! `j.status = 'dialing'` filter made it start from `jobs`. Hence
//! `j.status = d.expect` against [`DIALING_COLUMN`] (a join clause, which
//! PostgreSQL re-checks under concurrent updates like a filter). Results
//! are written by one statement per batch ([`finish_batch`]).
//!
//! - [`api_side`]: [`crate::store::ApiRunStore`], the API's tenant-scoped
//!   reads and writes.
//! - [`worker_side`]: [`crate::store::WorkerRunStore`], leases, the owner's
//!   reads of its work and the end of a run.
//! - [`batch_writes`]: the owner's fenced batch writes (mark dialing,
//!   record pending calls).
//! - [`finish_batch`]: `finish_jobs`, a batch's results in one statement.

mod api_side;
mod batch_writes;
mod finish_batch;
mod worker_side;

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use crate::model::{CancelMode, RunId, TenantId};
use crate::runtime::Lead;
use crate::store::runs::{JobCounts, JobView, RunStatus, RunView, attributes_from_json};
use crate::store::{StoreError, StoreResult};

/// One more `UNNEST` column for the batch updates of `dialing` jobs: the
/// status they must still have, as a column so the guard is a join clause
/// (see the module doc).
const DIALING_COLUMN: &str = "array_fill('dialing'::TEXT, ARRAY[cardinality($2::BIGINT[])])";

/// The database clock in epoch milliseconds.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
/// Channel of cancel notices; the payload is the run id.
const CANCEL_CHANNEL: &str = "dialplane_cancel";

const RUN_COLUMNS: &str = "id, business_id, status, flow_plugin_id, dialer, settings::text AS settings, \
    total_leads, cursor_position, cancel_requested, cancel_mode, owner_worker, lease_generation, \
    last_call_placed_at, failure, created_at, started_at, finished_at";

fn run_from_row(row: &PgRow) -> StoreResult<RunView> {
    let settings: String = row.get("settings");
    Ok(RunView {
        id: row.get("id"),
        tenant: row.get("business_id"),
        status: RunStatus::parse(row.get::<&str, _>("status"))?,
        flow_plugin_id: row.get("flow_plugin_id"),
        dialer: row.get("dialer"),
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Other(format!("corrupt runs.settings: {e}")))?,
        total_leads: row.get("total_leads"),
        cursor_position: row.get("cursor_position"),
        cancel_requested: row.get("cancel_requested"),
        cancel_mode: row
            .get::<Option<&str>, _>("cancel_mode")
            .and_then(CancelMode::parse),
        owner_worker: row.get("owner_worker"),
        lease_generation: row.get("lease_generation"),
        last_call_placed_at: row.get("last_call_placed_at"),
        failure: row.get("failure"),
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        counts: JobCounts::default(),
    })
}

fn job_from_row(row: &PgRow) -> JobView {
    JobView {
        id: row.get("id"),
        run_id: row.get("run_id"),
        lead_id: row.get("lead_id"),
        position: row.get("position"),
        status: row.get("status"),
        attempt: row.get::<i32, _>("attempt") as i64,
        not_before: row.get("not_before"),
        outcome: row.get("outcome"),
        reason: row.get("reason"),
    }
}

const JOB_COLUMNS: &str =
    "id, run_id, lead_id, position, status, attempt, not_before, outcome, reason";

/// Lead columns (`l.`) → [`Lead`]; attributes are a JSON object of strings.
fn lead_from_row(row: &PgRow) -> Lead {
    let attrs: String = row.get("attributes");
    Lead {
        id: row.get("external_id"),
        phone: row.get("phone"),
        name: row.get("name"),
        timezone: row.get("timezone"),
        attributes: attributes_from_json(&attrs),
    }
}

impl PgStore {
    /// Locks the run row under lease `generation`; `None` = lease lost.
    async fn fence(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        run_id: i64,
        generation: i64,
    ) -> StoreResult<Option<bool>> {
        let row: Option<(bool,)> = sqlx::query_as(
            "SELECT cancel_requested FROM runs \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running' FOR UPDATE",
        )
        .bind(run_id)
        .bind(generation)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.0))
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(|e| self.err(e))
    }

    /// `ANALYZE jobs`, when a worker first claims a large run. Batch writes
    /// join a batch of job ids to `jobs` by primary key, and the planner
    /// picks that plan only if it knows the run has many jobs; statistics
    /// from before the run was created say it has none, and it then scans
    /// every job of the run per batch (O(run) instead of O(batch)).
    /// Autovacuum would catch up, but only after a minute or more. Done here
    /// rather than in `create_run` because the API creates runs under a role
    /// that may not analyze the table. A failure only costs speed.
    async fn refresh_job_statistics(&self) {
        if let Err(e) = sqlx::query("ANALYZE jobs").execute(&self.pool).await {
            tracing::warn!("ANALYZE jobs failed (plans may be slow until autovacuum runs): {e}");
        }
    }

    async fn get_run_exists(&self, tenant: TenantId, run: RunId) -> StoreResult<()> {
        let r: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM runs WHERE business_id = $1 AND id = $2")
                .bind(tenant)
                .bind(run)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        r.map(|_| ()).ok_or(StoreError::NotFound)
    }
}

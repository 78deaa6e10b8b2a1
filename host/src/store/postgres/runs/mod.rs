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
//! - pausing and resuming a run: `crate::store::portable::run_pause`,
//!   instantiated below with this driver's `write_tx` and `notify_owner`.
//! - [`batch_writes`]: the owner's fenced batch writes (mark dialing,
//!   record pending calls).
//! - [`finish_batch`]: `finish_jobs`, a batch's results in one statement.

mod api_side;
mod batch_writes;
mod finish_batch;
mod worker_side;

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::model::{RunId, TenantId};
use crate::store::{StoreError, StoreResult};

/// One more `UNNEST` column for the batch updates of `dialing` jobs: the
/// status they must still have, as a column so the guard is a join clause
/// (see the module doc).
const DIALING_COLUMN: &str = "array_fill('dialing'::TEXT, ARRAY[cardinality($2::BIGINT[])])";

/// The database clock in epoch milliseconds.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
/// Channel of cancel, pause and resume notices; the payload is the run id
/// (the owner reads which with [`crate::store::WorkerRunPause::lease_state`]).
const CANCEL_CHANNEL: &str = "dialplane_cancel";

/// The columns of a [`crate::store::LeaseStateRow`].
const LEASE_STATE_COLUMNS: &str = "id, lease_generation, cancel_requested, \
     COALESCE(cancel_acked_generation = lease_generation, FALSE), pause_requested, \
     COALESCE(pause_acked_generation = lease_generation, FALSE)";

/// What a fenced write finds on the run row it locked.
#[derive(Debug, Clone, Copy)]
struct RunFlags {
    cancel: bool,
    pause: bool,
}

crate::store::portable::run_rows::impl_run_rows!(PgRow, postgres);
crate::store::portable::run_pause::impl_run_pause!(PgStore, postgres);

impl PgStore {
    /// Locks the run row under lease `generation`; `None` = lease lost.
    async fn fence(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        run_id: i64,
        generation: i64,
    ) -> StoreResult<Option<RunFlags>> {
        let row: Option<(bool, bool)> = sqlx::query_as(
            "SELECT cancel_requested, pause_requested FROM runs \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running' FOR UPDATE",
        )
        .bind(run_id)
        .bind(generation)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|(cancel, pause)| RunFlags { cancel, pause }))
    }

    /// A transaction for a write: a plain `BEGIN`; its statements lock the
    /// rows they need (`FOR UPDATE`).
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(|e| self.err(e))
    }

    /// Tells `run`'s owner, wherever it runs, to read its flags (cancel,
    /// pause, resume) now rather than at its next heartbeat.
    async fn notify_owner(&self, run: RunId) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CANCEL_CHANNEL)
            .bind(run.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
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

//! The run store on SQLite. Every write is a `BEGIN IMMEDIATE` transaction:
//! it holds the database's single write lock from its first statement, so
//! a claim, a cancel and a fenced write can never interleave (the SQLite
//! counterpart of PostgreSQL's row locks). Cancel notices go through an
//! in-process channel; workers in other processes learn from their heartbeat.
//!
//! - [`api_side`]: [`crate::store::ApiRunStore`], the API's tenant-scoped
//!   reads and writes.
//! - [`worker_side`]: [`crate::store::WorkerRunStore`], leases, the owner's
//!   reads of its work and the end of a run.
//! - pausing and resuming a run: `crate::store::portable::run_pause`,
//!   instantiated below with this driver's `write_tx` and `notify_owner`.
//! - [`batch_writes`]: the owner's fenced batch writes (mark dialing, record
//!   pending calls, finish jobs).

mod api_side;
mod batch_writes;
mod worker_side;

use std::sync::OnceLock;

use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};
use tokio::sync::broadcast;

use super::SqliteStore;
use crate::model::{RunId, TenantId};
use crate::store::{StoreError, StoreResult};

/// The database clock in epoch milliseconds.
const NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/// The columns of a [`crate::store::LeaseStateRow`].
const LEASE_STATE_COLUMNS: &str = "id, lease_generation, cancel_requested, \
     COALESCE(cancel_acked_generation = lease_generation, 0), pause_requested, \
     COALESCE(pause_acked_generation = lease_generation, 0)";

/// What a fenced write finds on the run row it locked.
#[derive(Debug, Clone, Copy)]
struct RunFlags {
    cancel: bool,
    pause: bool,
}

/// In-process cancel notices: (database url, run id).
fn cancel_channel() -> &'static broadcast::Sender<(String, i64)> {
    static CH: OnceLock<broadcast::Sender<(String, i64)>> = OnceLock::new();
    CH.get_or_init(|| broadcast::channel(1024).0)
}

crate::store::portable::run_rows::impl_run_rows!(SqliteRow, sqlite);
crate::store::portable::run_pause::impl_run_pause!(SqliteStore, sqlite);

impl SqliteStore {
    /// Tells `run`'s owner in this process to read its flags (cancel,
    /// pause, resume) now; owners in other processes read them at their
    /// next heartbeat.
    async fn notify_owner(&self, run: RunId) -> StoreResult<()> {
        let _ = cancel_channel().send((self.url.clone(), run.0));
        Ok(())
    }

    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))
    }

    /// Checks the lease inside a write transaction; `None` = lease lost.
    async fn fence(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        generation: i64,
    ) -> StoreResult<Option<RunFlags>> {
        let row: Option<(bool, bool)> = sqlx::query_as(
            "SELECT cancel_requested, pause_requested FROM runs \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running'",
        )
        .bind(run_id)
        .bind(generation)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|(cancel, pause)| RunFlags { cancel, pause }))
    }

    async fn run_exists(&self, tenant: TenantId, run: RunId) -> StoreResult<()> {
        let r: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM runs WHERE business_id = $1 AND id = $2")
                .bind(tenant)
                .bind(run)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        r.map(|_| ()).ok_or(StoreError::NotFound)
    }

    async fn add_cursor(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        n: u64,
    ) -> StoreResult<()> {
        if n > 0 {
            sqlx::query("UPDATE runs SET cursor_position = cursor_position + $2 WHERE id = $1")
                .bind(run_id)
                .bind(n as i64)
                .execute(&mut **tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn bump_last_placed(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        placed: Option<i64>,
    ) -> StoreResult<()> {
        if let Some(p) = placed {
            sqlx::query(
                "UPDATE runs SET last_call_placed_at = MAX(COALESCE(last_call_placed_at, 0), $2) \
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(p)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

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
//! - [`batch_writes`]: the owner's fenced batch writes (mark dialing, record
//!   pending calls, finish jobs).

mod api_side;
mod batch_writes;
mod worker_side;

use std::sync::OnceLock;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::broadcast;

use super::SqliteStore;
use crate::model::{CancelMode, RunId, TenantId};
use crate::runtime::Lead;
use crate::store::runs::{JobCounts, JobView, RunStatus, RunView, attributes_from_json};
use crate::store::{StoreError, StoreResult};

/// The database clock in epoch milliseconds.
const NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

const RUN_COLUMNS: &str = "id, business_id, status, flow_plugin_id, dialer, settings, \
    total_leads, cursor_position, cancel_requested, cancel_mode, owner_worker, lease_generation, \
    last_call_placed_at, failure, created_at, started_at, finished_at";

const JOB_COLUMNS: &str =
    "id, run_id, lead_id, position, status, attempt, not_before, outcome, reason";

/// In-process cancel notices: (database url, run id).
fn cancel_channel() -> &'static broadcast::Sender<(String, i64)> {
    static CH: OnceLock<broadcast::Sender<(String, i64)>> = OnceLock::new();
    CH.get_or_init(|| broadcast::channel(1024).0)
}

fn run_from_row(row: &SqliteRow) -> StoreResult<RunView> {
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

fn job_from_row(row: &SqliteRow) -> JobView {
    JobView {
        id: row.get("id"),
        run_id: row.get("run_id"),
        lead_id: row.get("lead_id"),
        position: row.get("position"),
        status: row.get("status"),
        attempt: row.get("attempt"),
        not_before: row.get("not_before"),
        outcome: row.get("outcome"),
        reason: row.get("reason"),
    }
}

fn lead_from_row(row: &SqliteRow) -> Lead {
    let attrs: String = row.get("attributes");
    Lead {
        id: row.get("external_id"),
        phone: row.get("phone"),
        name: row.get("name"),
        timezone: row.get("timezone"),
        attributes: attributes_from_json(&attrs),
    }
}

impl SqliteStore {
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
    ) -> StoreResult<Option<bool>> {
        let row: Option<(bool,)> = sqlx::query_as(
            "SELECT cancel_requested FROM runs \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running'",
        )
        .bind(run_id)
        .bind(generation)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.0))
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

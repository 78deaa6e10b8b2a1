//! [`ApiRunPause`] and [`WorkerRunPause`] on SQLite: each request is one
//! `BEGIN IMMEDIATE` transaction, so a pause, a resume, a claim and a park
//! never interleave. Notices go through the in-process cancel channel.

use async_trait::async_trait;

use super::{LEASE_STATE_COLUMNS, NOW_MS, cancel_channel};
use crate::model::{Lease, RunId, TenantId};
use crate::store::run_pause::{ApiRunPause, Parked, WorkerRunPause, refuse_pause, refuse_resume};
use crate::store::runs::{Fenced, LeaseState, LeaseStateRow, RunStatus};
use crate::store::sqlite::SqliteStore;
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl ApiRunPause for SqliteStore {
    async fn request_pause(&self, tenant: TenantId, run: RunId) -> StoreResult<RunStatus> {
        let mut tx = self.write_tx().await?;
        let row: Option<(String, bool, bool, bool)> = sqlx::query_as(&format!(
            // Unowned: never claimed, or the owner is gone (released, lease
        // expired) with no call left `dialing`: no live owner can dial.
        "SELECT status, cancel_requested, pause_requested, \
                 status = 'queued' OR ((owner_worker IS NULL OR lock_ts IS NULL \
                     OR lock_ts < {NOW_MS} - lease_ttl_ms) \
                     AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = runs.id AND status = 'dialing')) \
             FROM runs WHERE business_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(run)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((status, cancel, pause, unowned)) = row else {
            return Err(StoreError::NotFound);
        };
        let status = refuse_pause(run, &status, cancel)?;
        if status == RunStatus::Queued && pause {
            return Ok(RunStatus::Paused);
        }
        let now = if unowned {
            // Parked at once; the bump fences a stalled former owner.
            sqlx::query(&format!(
                "UPDATE runs SET pause_requested = 1, status = 'queued', paused_at = {NOW_MS}, \
                     owner_worker = NULL, lock_ts = NULL, \
                     lease_generation = lease_generation + CASE WHEN status = 'running' THEN 1 ELSE 0 END \
                 WHERE id = $1"
            ))
            .bind(run)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            RunStatus::Paused
        } else {
            sqlx::query("UPDATE runs SET pause_requested = 1 WHERE id = $1")
                .bind(run)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            RunStatus::Running
        };
        tx.commit().await.map_err(|e| self.err(e))?;
        if now == RunStatus::Running {
            let _ = cancel_channel().send((self.url.clone(), run.0));
        }
        Ok(now)
    }

    async fn pause_settled(&self, tenant: TenantId, run: RunId) -> StoreResult<bool> {
        let row: Option<(bool,)> = sqlx::query_as(&format!(
            "SELECT status <> 'running' OR NOT pause_requested \
                 OR owner_worker IS NULL OR lock_ts IS NULL \
                 OR COALESCE(pause_acked_generation = lease_generation, 0) \
                 OR lock_ts < {NOW_MS} - lease_ttl_ms \
             FROM runs WHERE business_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(run)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.0).unwrap_or(true))
    }

    async fn request_resume(&self, tenant: TenantId, run: RunId) -> StoreResult<RunStatus> {
        let mut tx = self.write_tx().await?;
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT status, pause_requested FROM runs WHERE business_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(run)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((status, pause)) = row else {
            return Err(StoreError::NotFound);
        };
        let status = refuse_resume(run, &status, pause)?;
        sqlx::query(
            "UPDATE runs SET pause_requested = 0, pause_acked_generation = NULL, \
                 paused_at = NULL WHERE id = $1",
        )
        .bind(run)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        if status == RunStatus::Running {
            let _ = cancel_channel().send((self.url.clone(), run.0));
        }
        Ok(status)
    }
}

#[async_trait]
impl WorkerRunPause for SqliteStore {
    async fn ack_pause(&self, lease: &Lease) -> StoreResult<Fenced> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE runs SET pause_acked_generation = CASE WHEN pause_requested \
                 THEN lease_generation ELSE pause_acked_generation END \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running'",
        )
        .bind(lease.run)
        .bind(lease.generation)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(if n == 1 {
            Fenced::Done
        } else {
            Fenced::LeaseLost
        })
    }

    async fn park_run(&self, lease: &Lease) -> StoreResult<Parked> {
        let mut tx = self.write_tx().await?;
        let row: Option<(bool, bool, bool)> = sqlx::query_as(
            "SELECT pause_requested, cancel_requested, \
                 EXISTS (SELECT 1 FROM jobs WHERE run_id = runs.id AND status = 'dialing') \
             FROM runs WHERE id = $1 AND lease_generation = $2 AND status = 'running'",
        )
        .bind(lease.run)
        .bind(lease.generation)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let parked = match row {
            None => Parked::LeaseLost,
            Some((pause, cancel, _)) if !pause || cancel => Parked::NotRequested,
            Some((_, _, true)) => Parked::Busy,
            Some(_) => {
                sqlx::query(&format!(
                    "UPDATE runs SET status = 'queued', paused_at = {NOW_MS}, owner_worker = NULL, \
                         lock_ts = NULL, lease_generation = lease_generation + 1 WHERE id = $1"
                ))
                .bind(lease.run)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                Parked::Parked
            }
        };
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(parked)
    }

    async fn lease_state(&self, lease: &Lease) -> StoreResult<Option<LeaseState>> {
        let row: Option<LeaseStateRow> = sqlx::query_as(&format!(
            "SELECT {LEASE_STATE_COLUMNS} FROM runs \
             WHERE id = $1 AND lease_generation = $2 AND status = 'running'"
        ))
        .bind(lease.run)
        .bind(lease.generation)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(LeaseState::from))
    }
}

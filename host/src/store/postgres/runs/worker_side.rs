//! [`WorkerRunStore`] on PostgreSQL: leases (register, claim, heartbeat,
//! release, cancel acknowledgement and notices), the owner's reads of its
//! work, and the end of a run. The batch writes are in
//! [`super::batch_writes`] and [`super::finish_batch`].

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::Row;
use sqlx::postgres::PgListener;

use super::finish_batch::{ATTEMPT_KEY_CONSTRAINT, FinishBatch};
use super::{
    CANCEL_CHANNEL, LEASE_STATE_COLUMNS, NOW_MS, RunFlags, dialing_job_from_row, job_work_from_row,
};
use crate::config::POSTGRES_ANALYZE_AFTER_JOBS;
use crate::model::{CancelMode, Lease, RunId, TenantId, WorkerId};
use crate::store::postgres::PgStore;
use crate::store::runs::{
    ClaimedRun, DialingJob, Fenced, JobDecision, JobResult, JobWork, LeaseState, LeaseStateRow,
    MarkResult, PendingCall, RunLoad, RunStatus, WorkerInfo, WorkerRunStore,
};
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl WorkerRunStore for PgStore {
    async fn register_worker(&self, worker: &WorkerInfo) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO workers (id, hostname, pid, started_at, last_seen) \
             VALUES ($1, $2, $3, {NOW_MS}, {NOW_MS}) \
             ON CONFLICT (id) DO UPDATE SET last_seen = EXCLUDED.last_seen, stopped_at = NULL"
        ))
        .bind(&worker.id)
        .bind(&worker.hostname)
        .bind(worker.pid)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn release_worker(&self, worker: &WorkerId) -> StoreResult<()> {
        let worker_id = worker.as_str();
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "UPDATE workers SET stopped_at = {NOW_MS}, last_seen = {NOW_MS} WHERE id = $1"
        ))
        .bind(worker_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(
            "UPDATE runs SET owner_worker = NULL, lock_ts = NULL \
             WHERE owner_worker = $1 AND status = 'running'",
        )
        .bind(worker_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn claim_runs(
        &self,
        worker: &WorkerId,
        limit: u32,
        lease_ttl_ms: i64,
    ) -> StoreResult<Vec<ClaimedRun>> {
        let worker_id = worker.as_str();
        let rows = sqlx::query(&format!(
            "WITH c AS ( \
                 SELECT id, status AS old_status FROM runs \
                 WHERE (status = 'queued' AND NOT pause_requested) \
                    OR (status = 'running' AND (owner_worker IS NULL OR lock_ts IS NULL \
                                                OR lock_ts < {NOW_MS} - lease_ttl_ms)) \
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE runs r SET status = 'running', owner_worker = $1, \
                 lease_generation = r.lease_generation + 1, lease_ttl_ms = $3, lock_ts = {NOW_MS}, \
                 started_at = COALESCE(r.started_at, {NOW_MS}), \
                 cancel_acked_generation = CASE WHEN r.cancel_requested \
                     THEN r.lease_generation + 1 ELSE r.cancel_acked_generation END, \
                 pause_acked_generation = CASE WHEN r.pause_requested \
                     THEN r.lease_generation + 1 ELSE r.pause_acked_generation END \
             FROM c WHERE r.id = c.id \
             RETURNING r.id, r.business_id, r.lease_generation, c.old_status, r.flow_plugin_id, \
                 r.dialer, r.settings::text AS settings, r.cancel_requested, r.cancel_mode, \
                 r.pause_requested, \
                 r.total_leads"
        ))
        .bind(worker_id)
        .bind(limit as i64)
        .bind(lease_ttl_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let new_jobs: i64 = rows
            .iter()
            .filter(|r| r.get::<&str, _>("old_status") == "queued")
            .map(|r| r.get::<i64, _>("total_leads"))
            .sum();
        if new_jobs >= POSTGRES_ANALYZE_AFTER_JOBS {
            self.refresh_job_statistics().await;
        }
        rows.iter()
            .map(|r| {
                let settings: String = r.get("settings");
                Ok(ClaimedRun {
                    lease: Lease {
                        run: r.get("id"),
                        generation: r.get("lease_generation"),
                        worker: worker.clone(),
                    },
                    tenant: r.get("business_id"),
                    reclaimed: r.get::<&str, _>("old_status") == "running",
                    flow_plugin_id: r.get("flow_plugin_id"),
                    dialer: r.get("dialer"),
                    settings: serde_json::from_str(&settings)
                        .map_err(|e| StoreError::Other(format!("corrupt runs.settings: {e}")))?,
                    cancel_requested: r.get("cancel_requested"),
                    cancel_mode: r
                        .get::<Option<&str>, _>("cancel_mode")
                        .and_then(CancelMode::parse),
                    pause_requested: r.get("pause_requested"),
                })
            })
            .collect()
    }

    async fn fleet_load(&self) -> StoreResult<Vec<RunLoad>> {
        let rows: Vec<(TenantId, String, String, i64)> = sqlx::query_as(&format!(
            "SELECT business_id, dialer, owner_worker, COUNT(*) FROM runs \
             WHERE status = 'running' AND owner_worker IS NOT NULL \
               AND lock_ts >= {NOW_MS} - lease_ttl_ms \
             GROUP BY business_id, dialer, owner_worker"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(tenant, dialer, owner_worker, runs)| RunLoad {
                tenant,
                dialer,
                owner_worker,
                runs,
            })
            .collect())
    }

    async fn heartbeat(&self, worker: &WorkerId) -> StoreResult<Vec<LeaseState>> {
        let worker_id = worker.as_str();
        let rows: Vec<LeaseStateRow> = sqlx::query_as(&format!(
            "WITH w AS (UPDATE workers SET last_seen = {NOW_MS} WHERE id = $1) \
             UPDATE runs SET lock_ts = {NOW_MS} WHERE owner_worker = $1 AND status = 'running' \
             RETURNING {LEASE_STATE_COLUMNS}"
        ))
        .bind(worker_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(LeaseState::from).collect())
    }

    async fn ack_cancel(&self, lease: &Lease) -> StoreResult<Fenced> {
        let (run_id, generation) = (lease.run.0, lease.generation.0);
        let n = sqlx::query(
            "UPDATE runs SET cancel_acked_generation = lease_generation \
             WHERE id = $1 AND lease_generation = $2 AND cancel_requested",
        )
        .bind(run_id)
        .bind(generation)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        Ok(if n == 1 {
            Fenced::Done
        } else {
            Fenced::LeaseLost
        })
    }

    async fn cancel_notices(&self) -> StoreResult<BoxStream<'static, RunId>> {
        let mut listener = PgListener::connect_with(self.pool.inner())
            .await
            .map_err(|e| self.err(e))?;
        listener
            .listen(CANCEL_CHANNEL)
            .await
            .map_err(|e| self.err(e))?;
        // `recv` reconnects (and re-listens) after the server went away; back
        // off between failed attempts instead of spinning.
        let stream = futures::stream::unfold(listener, |mut l| async move {
            loop {
                match l.recv().await {
                    Ok(n) => {
                        if let Ok(id) = n.payload().parse::<i64>() {
                            return Some((RunId(id), l));
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn apply_held_call_events(&self, lease: &Lease) -> StoreResult<u64> {
        self.apply_early_call_events(lease.run.0).await
    }

    async fn dialing_jobs(&self, lease: &Lease) -> StoreResult<Vec<DialingJob>> {
        let (run_id, generation) = (lease.run.0, lease.generation.0);
        let rows = sqlx::query(
            "SELECT j.id, j.lead_id, j.attempt, j.provider_call_id, j.call_deadline, \
                    a.call_state, a.report::text AS report, \
                    l.external_id, l.phone, l.name, l.timezone, l.attributes::text AS attributes \
             FROM jobs j \
             JOIN runs r ON r.id = j.run_id AND r.lease_generation = $2 \
             JOIN leads l ON l.business_id = j.business_id AND l.id = j.lead_id \
             LEFT JOIN attempts a ON a.idempotency_key = j.run_id || '-' || j.id || '-' || j.attempt \
             WHERE j.run_id = $1 AND j.open AND j.status = 'dialing' ORDER BY j.position",
        )
        .bind(run_id)
        .bind(generation)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| dialing_job_from_row(r, lease.run))
            .collect())
    }

    async fn next_jobs(&self, lease: &Lease, now_ms: i64, limit: u32) -> StoreResult<Vec<JobWork>> {
        let run_id = lease.run.0;
        let rows = sqlx::query(
            "SELECT j.id, j.lead_id, j.attempt, \
                    l.external_id, l.phone, l.name, l.timezone, l.attributes::text AS attributes, \
                    EXISTS (SELECT 1 FROM dnc d WHERE d.business_id = j.business_id AND d.phone = l.phone) AS dnc, \
                    (SELECT COUNT(*) FROM attempts a WHERE a.business_id = j.business_id \
                        AND a.lead_id = j.lead_id AND a.placed_at > $2 - 86400000) AS n24 \
             FROM jobs j JOIN leads l ON l.business_id = j.business_id AND l.id = j.lead_id \
             WHERE j.run_id = $1 AND j.open AND j.status = 'queued' AND j.not_before <= $2 \
             ORDER BY j.position LIMIT $3",
        )
        .bind(run_id)
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(job_work_from_row).collect())
    }

    async fn next_due(&self, run: RunId) -> StoreResult<Option<i64>> {
        let run_id = run.0;
        let (v,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(not_before) FROM jobs WHERE run_id = $1 AND open AND status = 'queued'",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(v)
    }

    // The batch writes are long: their bodies are in `batch_writes.rs`.
    async fn mark_dialing(
        &self,
        lease: &Lease,
        decisions: &[JobDecision],
        now_ms: i64,
    ) -> StoreResult<MarkResult> {
        let (run_id, generation, worker_id) =
            (lease.run.0, lease.generation.0, lease.worker.as_str());
        self.mark_batch(run_id, generation, worker_id, decisions, now_ms)
            .await
    }

    async fn record_pending(&self, lease: &Lease, calls: &[PendingCall]) -> StoreResult<Fenced> {
        let (run_id, generation, worker_id) =
            (lease.run.0, lease.generation.0, lease.worker.as_str());
        let fenced = self
            .record_pending_batch(run_id, generation, worker_id, calls)
            .await?;
        if fenced == Fenced::Done {
            // After the commit, never inside it: see `portable::call_events`.
            self.apply_early_call_events(run_id).await?;
        }
        Ok(fenced)
    }

    async fn finish_jobs(
        &self,
        lease: &Lease,
        results: &[JobResult],
        now_ms: i64,
    ) -> StoreResult<Fenced> {
        let (run_id, generation, worker_id) =
            (lease.run.0, lease.generation.0, lease.worker.as_str());
        let batch = FinishBatch::new(results)?;
        match self
            .finish_batch(run_id, generation, worker_id, &batch, now_ms, false)
            .await
        {
            // A call this worker placed that already has an attempt row (an
            // adapter that answered `pending` and later `none` to lookup):
            // the plain insert refused it, so upsert the whole batch.
            Err(StoreError::Conflict { constraint }) if constraint == ATTEMPT_KEY_CONSTRAINT => {
                self.finish_batch(run_id, generation, worker_id, &batch, now_ms, true)
                    .await
            }
            other => other,
        }
    }

    async fn finish_run_if_done(&self, lease: &Lease) -> StoreResult<RunStatus> {
        let (run_id, generation) = (lease.run.0, lease.generation.0);
        let mut tx = self.write_tx().await?;
        let Some(RunFlags { cancel, .. }) = self.fence(&mut tx, run_id, generation).await? else {
            let (s,): (String,) = sqlx::query_as("SELECT status FROM runs WHERE id = $1")
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            return RunStatus::parse(&s);
        };
        if cancel {
            // A retry may have put a job back after the cancel: cancel it too.
            let n = sqlx::query(&format!(
                "UPDATE jobs SET status = 'cancelled', reason = 'run cancelled', updated_at = {NOW_MS} \
                 WHERE run_id = $1 AND open AND status = 'queued'"
            ))
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            sqlx::query("UPDATE runs SET cursor_position = cursor_position + $2 WHERE id = $1")
                .bind(run_id)
                .bind(n as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        let row: Option<(String,)> = sqlx::query_as(&format!(
            "UPDATE runs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END, \
                 finished_at = {NOW_MS}, lock_ts = NULL \
             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1 \
                 AND open) RETURNING status"
        ))
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        match row {
            Some((s,)) => RunStatus::parse(&s),
            None => Ok(RunStatus::Running),
        }
    }

    async fn run_flow_plugin(&self, run: RunId) -> StoreResult<(String, i64, Vec<u8>)> {
        let run_id = run.0;
        sqlx::query_as(
            "SELECT p.name, p.version, p.bytes FROM runs r JOIN plugins p ON p.id = r.flow_plugin_id \
             WHERE r.id = $1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)
    }

    async fn fail_run(&self, lease: &Lease, reason: &str) -> StoreResult<Fenced> {
        let (run_id, generation) = (lease.run.0, lease.generation.0);
        let mut tx = self.write_tx().await?;
        if self.fence(&mut tx, run_id, generation).await?.is_none() {
            return Ok(Fenced::LeaseLost);
        }
        let n = sqlx::query(&format!(
            "UPDATE jobs SET status = 'cancelled', reason = $2, updated_at = {NOW_MS} \
             WHERE run_id = $1 AND open AND status = 'queued'"
        ))
        .bind(run_id)
        .bind(format!("run failed: {reason}"))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        sqlx::query(&format!(
            "UPDATE runs SET status = 'failed', failure = $2, finished_at = {NOW_MS}, lock_ts = NULL, \
                 cursor_position = cursor_position + $3 WHERE id = $1"
        ))
        .bind(run_id)
        .bind(reason)
        .bind(n as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }
}

//! [`WorkerRunStore`] on SQLite: leases (register, claim, heartbeat,
//! release, cancel acknowledgement and notices), the owner's reads of its
//! work, and the end of a run. The batch writes are in
//! [`super::batch_writes`].

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::Row;
use tokio::sync::broadcast;

use super::{
    LEASE_STATE_COLUMNS, NOW_MS, RunFlags, cancel_channel, dialing_job_from_row, job_work_from_row,
};
use crate::model::{CancelMode, Lease, LeaseGeneration, RunId, TenantId, WorkerId};
use crate::store::runs::{
    ClaimedRun, DialingJob, Fenced, JobDecision, JobResult, JobWork, LeaseState, LeaseStateRow,
    MarkResult, PendingCall, RunLoad, RunStatus, WorkerInfo, WorkerRunStore,
};
use crate::store::sqlite::SqliteStore;
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl WorkerRunStore for SqliteStore {
    async fn register_worker(&self, worker: &WorkerInfo) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO workers (id, hostname, pid, started_at, last_seen) \
             VALUES ($1, $2, $3, {NOW_MS}, {NOW_MS}) \
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, stopped_at = NULL"
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
        // One write transaction: no other writer in between, so the runs the
        // first statement sees are the ones the second claims.
        let mut tx = self.write_tx().await?;
        // Which of them another worker held (`running`): a takeover, unlike
        // a queued run, new or resumed after a pause (both bump the generation).
        let taken_over: std::collections::HashSet<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM (SELECT id, status FROM runs \
                 WHERE (status = 'queued' AND NOT pause_requested) \
                    OR (status = 'running' AND (owner_worker IS NULL OR lock_ts IS NULL \
                                                OR lock_ts < {NOW_MS} - lease_ttl_ms)) \
                 ORDER BY id LIMIT $1) WHERE status = 'running'"
        ))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .into_iter()
        .collect();
        let rows = sqlx::query(&format!(
            "UPDATE runs SET status = 'running', owner_worker = $1, \
                 lease_generation = lease_generation + 1, lease_ttl_ms = $3, lock_ts = {NOW_MS}, \
                 started_at = COALESCE(started_at, {NOW_MS}), \
                 cancel_acked_generation = CASE WHEN cancel_requested \
                     THEN lease_generation + 1 ELSE cancel_acked_generation END, \
                 pause_acked_generation = CASE WHEN pause_requested \
                     THEN lease_generation + 1 ELSE pause_acked_generation END \
             WHERE id IN (SELECT id FROM runs \
                 WHERE (status = 'queued' AND NOT pause_requested) \
                    OR (status = 'running' AND (owner_worker IS NULL OR lock_ts IS NULL \
                                                OR lock_ts < {NOW_MS} - lease_ttl_ms)) \
                 ORDER BY id LIMIT $2) \
             RETURNING id, business_id, lease_generation, flow_plugin_id, dialer, settings, \
                 cancel_requested, cancel_mode, pause_requested"
        ))
        .bind(worker_id)
        .bind(limit as i64)
        .bind(lease_ttl_ms)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let settings: String = r.get("settings");
                let generation: i64 = r.get("lease_generation");
                Ok(ClaimedRun {
                    lease: Lease {
                        run: r.get("id"),
                        generation: LeaseGeneration(generation),
                        worker: worker.clone(),
                    },
                    tenant: r.get("business_id"),
                    reclaimed: taken_over.contains(&r.get::<i64, _>("id")),
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
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "UPDATE workers SET last_seen = {NOW_MS} WHERE id = $1"
        ))
        .bind(worker_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let rows: Vec<LeaseStateRow> = sqlx::query_as(&format!(
            "UPDATE runs SET lock_ts = {NOW_MS} WHERE owner_worker = $1 AND status = 'running' \
             RETURNING {LEASE_STATE_COLUMNS}"
        ))
        .bind(worker_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
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
        let url = self.url.clone();
        let rx = cancel_channel().subscribe();
        let stream = futures::stream::unfold(rx, move |mut rx| {
            let url = url.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok((u, id)) if u == url => return Some((RunId(id), rx)),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
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
                    a.call_state, a.report, \
                    l.external_id, l.phone, l.name, l.timezone, l.attributes \
             FROM jobs j \
             JOIN runs r ON r.id = j.run_id AND r.lease_generation = $2 \
             JOIN leads l ON l.business_id = j.business_id AND l.id = j.lead_id \
             LEFT JOIN attempts a ON a.idempotency_key = j.run_id || '-' || j.id || '-' || j.attempt \
             WHERE j.run_id = $1 AND j.status = 'dialing' ORDER BY j.position",
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
                    l.external_id, l.phone, l.name, l.timezone, l.attributes, \
                    EXISTS (SELECT 1 FROM dnc d WHERE d.business_id = j.business_id AND d.phone = l.phone) AS dnc, \
                    (SELECT COUNT(*) FROM attempts a WHERE a.business_id = j.business_id \
                        AND a.lead_id = j.lead_id AND a.placed_at > $2 - 86400000) AS n24 \
             FROM jobs j JOIN leads l ON l.business_id = j.business_id AND l.id = j.lead_id \
             WHERE j.run_id = $1 AND j.status = 'queued' AND j.not_before <= $2 \
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
            "SELECT MIN(not_before) FROM jobs WHERE run_id = $1 AND status = 'queued'",
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
        self.finish_batch(run_id, generation, worker_id, results, now_ms)
            .await
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
            let n = sqlx::query(&format!(
                "UPDATE jobs SET status = 'cancelled', reason = 'run cancelled', updated_at = {NOW_MS} \
                 WHERE run_id = $1 AND status = 'queued'"
            ))
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            self.add_cursor(&mut tx, run_id, n).await?;
        }
        let row: Option<(String,)> = sqlx::query_as(&format!(
            "UPDATE runs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END, \
                 finished_at = {NOW_MS}, lock_ts = NULL \
             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1 \
                 AND status IN ('queued', 'dialing')) RETURNING status"
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
             WHERE run_id = $1 AND status = 'queued'"
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

//! The run store ([`ApiRunStore`], [`WorkerRunStore`]) on SQLite. Every write is a `BEGIN IMMEDIATE` transaction:
//! it holds the database's single write lock from its first statement, so
//! a claim, a cancel and a fenced write can never interleave (the SQLite
//! counterpart of PostgreSQL's row locks). Cancel notices go through an
//! in-process channel; workers in other processes learn from their heartbeat.

use std::sync::OnceLock;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::broadcast;

use super::SqliteStore;
use crate::lifecycle::settings::CancelMode;
use crate::runtime::{CallEvent, CallReport, CallState, Lead};
use crate::store::runs::*;
use crate::store::{Page, StoreError, StoreResult};

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
        business_id: row.get("business_id"),
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

fn state_rank(s: CallState) -> i32 {
    match s {
        CallState::Queued => 0,
        CallState::Ringing => 1,
        CallState::Answered => 2,
        CallState::Ended => 3,
    }
}

fn state_str(s: CallState) -> &'static str {
    match s {
        CallState::Queued => "queued",
        CallState::Ringing => "ringing",
        CallState::Answered => "answered",
        CallState::Ended => "ended",
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

    async fn run_exists(&self, business_id: i64, run_id: i64) -> StoreResult<()> {
        let r: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM runs WHERE business_id = $1 AND id = $2")
                .bind(business_id)
                .bind(run_id)
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

#[async_trait]
impl ApiRunStore for SqliteStore {
    async fn create_run(&self, business_id: i64, spec: &RunSpec) -> StoreResult<i64> {
        validate_spec(spec)?;
        let settings =
            serde_json::to_string(&spec.settings).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut tx = self.write_tx().await?;
        let flow: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM plugins WHERE kind = 'flow' AND name = $2 \
               AND (business_id = $1 OR business_id IS NULL) \
               AND (($3 IS NULL AND active) OR version = $3) \
             ORDER BY business_id IS NULL, business_id LIMIT 1",
        )
        .bind(business_id)
        .bind(&spec.flow)
        .bind(spec.flow_version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((flow_id,)) = flow else {
            return Err(no_flow(spec));
        };
        let dialer: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM plugins WHERE kind = 'dialer' AND business_id IS NULL \
               AND name = $1 AND active",
        )
        .bind(&spec.dialer)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if dialer.is_none() {
            return Err(StoreError::invalid(
                "dialer",
                format!("no active dialer adapter named {:?}", spec.dialer),
            ));
        }
        let (run_id,): (i64,) = sqlx::query_as(&format!(
            "INSERT INTO runs (business_id, flow_plugin_id, dialer, settings, total_leads, created_at) \
             VALUES ($1, $2, $3, $4, $5, {NOW_MS}) RETURNING id"
        ))
        .bind(business_id)
        .bind(flow_id)
        .bind(&spec.dialer)
        .bind(&settings)
        .bind(spec.lead_ids.len() as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        for (i, lead_id) in spec.lead_ids.iter().enumerate() {
            let done = sqlx::query(&format!(
                "INSERT INTO jobs (business_id, run_id, lead_id, position, updated_at) \
                 SELECT $1, $2, id, $4, {NOW_MS} FROM leads WHERE business_id = $1 AND id = $3"
            ))
            .bind(business_id)
            .bind(run_id)
            .bind(lead_id)
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::invalid(
                    &format!("lead_ids[{i}]"),
                    format!("lead {lead_id} not found"),
                ));
            }
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(run_id)
    }

    async fn get_run(&self, business_id: i64, run_id: i64) -> StoreResult<RunView> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)?;
        let mut run = run_from_row(&row)?;
        let counts: Vec<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT status, outcome, COUNT(*) FROM jobs \
             WHERE business_id = $1 AND run_id = $2 GROUP BY status, outcome",
        )
        .bind(business_id)
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        run.counts = counts_from_rows(counts);
        Ok(run)
    }

    async fn list_runs(&self, business_id: i64, page: Page) -> StoreResult<Vec<RunView>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE business_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(business_id)
        .bind(page.sql_after())
        .bind(page.sql_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn list_jobs(
        &self,
        business_id: i64,
        run_id: i64,
        page: Page,
    ) -> StoreResult<Vec<JobView>> {
        self.run_exists(business_id, run_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE business_id = $1 AND run_id = $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        ))
        .bind(business_id)
        .bind(run_id)
        .bind(page.sql_after())
        .bind(page.sql_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    async fn list_attempts(
        &self,
        business_id: i64,
        run_id: i64,
        page: Page,
    ) -> StoreResult<Vec<AttemptView>> {
        self.run_exists(business_id, run_id).await?;
        let rows = sqlx::query(
            "SELECT id, run_id, job_id, lead_id, attempt, placed, idempotency_key, decision, \
                    compliance, worker_id, lease_generation, provider_call_id, \
                    call_state, outcome, note, decided_at, placed_at, ended_at, dialer_version \
             FROM attempts WHERE business_id = $1 AND run_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(business_id)
        .bind(run_id)
        .bind(page.sql_after())
        .bind(page.sql_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| AttemptView {
                id: r.get("id"),
                run_id: r.get("run_id"),
                job_id: r.get("job_id"),
                lead_id: r.get("lead_id"),
                attempt: r.get("attempt"),
                placed: r.get("placed"),
                idempotency_key: r.get("idempotency_key"),
                decision: r.get("decision"),
                compliance: r.get("compliance"),
                worker_id: r.get("worker_id"),
                lease_generation: r.get("lease_generation"),
                provider_call_id: r.get("provider_call_id"),
                call_state: r.get("call_state"),
                outcome: r.get("outcome"),
                note: r.get("note"),
                decided_at: r.get("decided_at"),
                placed_at: r.get("placed_at"),
                ended_at: r.get("ended_at"),
                dialer_version: r.get("dialer_version"),
            })
            .collect())
    }

    async fn request_cancel(
        &self,
        business_id: i64,
        run_id: i64,
        mode: Option<CancelMode>,
    ) -> StoreResult<CancelRequested> {
        let mut tx = self.write_tx().await?;
        let row: Option<(String, i64)> = sqlx::query_as(&format!(
            "UPDATE runs SET cancel_requested = 1, \
                 cancel_mode = COALESCE(cancel_mode, $3, json_extract(settings, '$.cancel_mode'), 'hangup'), \
                 cancel_requested_at = COALESCE(cancel_requested_at, {NOW_MS}) \
             WHERE business_id = $1 AND id = $2 RETURNING status, lease_generation"
        ))
        .bind(business_id)
        .bind(run_id)
        .bind(mode.map(CancelMode::as_str))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((status, generation)) = row else {
            return Err(StoreError::NotFound);
        };
        let mut status = RunStatus::parse(&status)?;
        let mut jobs_cancelled = 0;
        if !status.is_terminal() {
            jobs_cancelled = sqlx::query(&format!(
                "UPDATE jobs SET status = 'cancelled', reason = 'run cancelled', updated_at = {NOW_MS} \
                 WHERE business_id = $1 AND run_id = $2 AND status = 'queued'"
            ))
            .bind(business_id)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            self.add_cursor(&mut tx, run_id, jobs_cancelled).await?;
            let ended = sqlx::query(&format!(
                "UPDATE runs SET status = 'cancelled', finished_at = {NOW_MS}, \
                     lease_generation = lease_generation + 1, owner_worker = NULL, lock_ts = NULL \
                 WHERE id = $1 AND (status = 'queued' OR ((owner_worker IS NULL OR lock_ts IS NULL \
                       OR lock_ts < {NOW_MS} - lease_ttl_ms) \
                       AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1 AND status = 'dialing')))"
            ))
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            if ended == 1 {
                status = RunStatus::Cancelled;
            }
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        let _ = cancel_channel().send((self.url.clone(), run_id));
        Ok(CancelRequested {
            status,
            jobs_cancelled,
            generation,
        })
    }

    async fn cancel_settled(&self, business_id: i64, run_id: i64) -> StoreResult<bool> {
        let row: Option<(bool,)> = sqlx::query_as(&format!(
            "SELECT status NOT IN ('queued', 'running') OR status = 'queued' \
                 OR owner_worker IS NULL OR lock_ts IS NULL \
                 OR COALESCE(cancel_acked_generation = lease_generation, 0) \
                 OR lock_ts < {NOW_MS} - lease_ttl_ms \
             FROM runs WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.0).unwrap_or(true))
    }

    async fn cancel_job(&self, business_id: i64, job_id: i64) -> StoreResult<JobView> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'cancelled', reason = 'job cancelled', updated_at = {NOW_MS} \
             WHERE business_id = $1 AND id = $2 AND status = 'queued' RETURNING {JOB_COLUMNS}"
        ))
        .bind(business_id)
        .bind(job_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some(row) = row else {
            let st: Option<(String,)> =
                sqlx::query_as("SELECT status FROM jobs WHERE business_id = $1 AND id = $2")
                    .bind(business_id)
                    .bind(job_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            return Err(match st {
                None => StoreError::NotFound,
                Some((s,)) => StoreError::invalid(
                    "status",
                    format!("job {job_id} is {s}; only a queued job can be cancelled"),
                ),
            });
        };
        let job = job_from_row(&row);
        self.add_cursor(&mut tx, job.run_id, 1).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(job)
    }

    async fn apply_call_event(
        &self,
        business_id: i64,
        event: &CallEvent,
    ) -> StoreResult<CallEventApplied> {
        let ended = event.state == CallState::Ended;
        let report = match (&event.report, ended) {
            (Some(r), true) => {
                Some(serde_json::to_string(r).map_err(|e| StoreError::Other(e.to_string()))?)
            }
            _ => None,
        };
        let outcome = ended.then(|| {
            event
                .report
                .as_ref()
                .map(|r| r.outcome.label())
                .unwrap_or_else(|| "unknown".into())
        });
        let done = sqlx::query(&format!(
            "UPDATE attempts SET call_state = $3, \
                 outcome = COALESCE($5, outcome), report = COALESCE($6, report), \
                 ended_at = CASE WHEN $3 = 'ended' THEN {NOW_MS} ELSE ended_at END \
             WHERE business_id = $1 AND provider_call_id = $2 AND placed \
               AND (CASE call_state WHEN 'queued' THEN 0 WHEN 'ringing' THEN 1 \
                    WHEN 'answered' THEN 2 WHEN 'ended' THEN 3 ELSE -1 END) < $4"
        ))
        .bind(business_id)
        .bind(&event.provider_call_id)
        .bind(state_str(event.state))
        .bind(state_rank(event.state))
        .bind(outcome)
        .bind(report)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if done > 0 {
            return Ok(CallEventApplied::Applied);
        }
        let known: Option<(i32,)> = sqlx::query_as(
            "SELECT 1 FROM attempts WHERE business_id = $1 AND provider_call_id = $2 LIMIT 1",
        )
        .bind(business_id)
        .bind(&event.provider_call_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(if known.is_some() {
            CallEventApplied::Ignored
        } else {
            CallEventApplied::UnknownCall
        })
    }
}

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

    async fn release_worker(&self, worker_id: &str) -> StoreResult<()> {
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
        worker_id: &str,
        limit: u32,
        lease_ttl_ms: i64,
    ) -> StoreResult<Vec<ClaimedRun>> {
        // One statement in one write transaction: no other writer in between.
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(&format!(
            "UPDATE runs SET status = 'running', owner_worker = $1, \
                 lease_generation = lease_generation + 1, lease_ttl_ms = $3, lock_ts = {NOW_MS}, \
                 started_at = COALESCE(started_at, {NOW_MS}), \
                 cancel_acked_generation = CASE WHEN cancel_requested \
                     THEN lease_generation + 1 ELSE cancel_acked_generation END \
             WHERE id IN (SELECT id FROM runs \
                 WHERE status = 'queued' \
                    OR (status = 'running' AND (owner_worker IS NULL OR lock_ts IS NULL \
                                                OR lock_ts < {NOW_MS} - lease_ttl_ms)) \
                 ORDER BY id LIMIT $2) \
             RETURNING id, business_id, lease_generation, flow_plugin_id, dialer, settings, \
                 cancel_requested, cancel_mode"
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
                    run_id: r.get("id"),
                    business_id: r.get("business_id"),
                    generation,
                    // Generation 1 is the first claim; anything later took
                    // the run over from an earlier owner.
                    reclaimed: generation > 1,
                    flow_plugin_id: r.get("flow_plugin_id"),
                    dialer: r.get("dialer"),
                    settings: serde_json::from_str(&settings)
                        .map_err(|e| StoreError::Other(format!("corrupt runs.settings: {e}")))?,
                    cancel_requested: r.get("cancel_requested"),
                    cancel_mode: r
                        .get::<Option<&str>, _>("cancel_mode")
                        .and_then(CancelMode::parse),
                })
            })
            .collect()
    }

    async fn fleet_load(&self) -> StoreResult<Vec<RunLoad>> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(&format!(
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
            .map(|(business_id, dialer, owner_worker, runs)| RunLoad {
                business_id,
                dialer,
                owner_worker,
                runs,
            })
            .collect())
    }

    async fn heartbeat(&self, worker_id: &str) -> StoreResult<Vec<LeaseState>> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "UPDATE workers SET last_seen = {NOW_MS} WHERE id = $1"
        ))
        .bind(worker_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, i64, bool, bool)> = sqlx::query_as(&format!(
            "UPDATE runs SET lock_ts = {NOW_MS} WHERE owner_worker = $1 AND status = 'running' \
             RETURNING id, lease_generation, cancel_requested, \
                 COALESCE(cancel_acked_generation = lease_generation, 0)"
        ))
        .bind(worker_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(
                |(run_id, generation, cancel_requested, cancel_acked)| LeaseState {
                    run_id,
                    generation,
                    cancel_requested,
                    cancel_acked,
                },
            )
            .collect())
    }

    async fn ack_cancel(&self, run_id: i64, generation: i64) -> StoreResult<Fenced> {
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

    async fn cancel_notices(&self) -> StoreResult<BoxStream<'static, i64>> {
        let url = self.url.clone();
        let rx = cancel_channel().subscribe();
        let stream = futures::stream::unfold(rx, move |mut rx| {
            let url = url.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok((u, id)) if u == url => return Some((id, rx)),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn dialing_jobs(&self, run_id: i64, generation: i64) -> StoreResult<Vec<DialingJob>> {
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
            .map(|r| {
                let job_id: i64 = r.get("id");
                let attempt = r.get::<i64, _>("attempt") as u32;
                DialingJob {
                    job_id,
                    lead_id: r.get("lead_id"),
                    attempt,
                    idempotency_key: idempotency_key(run_id, job_id, attempt),
                    provider_call_id: r.get("provider_call_id"),
                    call_deadline: r.get("call_deadline"),
                    call_state: r.get("call_state"),
                    report: r
                        .get::<Option<String>, _>("report")
                        .and_then(|s| serde_json::from_str::<CallReport>(&s).ok()),
                    lead: lead_from_row(r),
                }
            })
            .collect())
    }

    async fn next_jobs(
        &self,
        run_id: i64,
        _generation: i64,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<JobWork>> {
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
        Ok(rows
            .iter()
            .map(|r| JobWork {
                job_id: r.get("id"),
                lead_id: r.get("lead_id"),
                attempt: r.get::<i64, _>("attempt") as u32,
                dnc_listed: r.get("dnc"),
                attempts_24h: r.get::<i64, _>("n24") as u32,
                lead: lead_from_row(r),
            })
            .collect())
    }

    async fn next_due(&self, run_id: i64) -> StoreResult<Option<i64>> {
        let (v,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(not_before) FROM jobs WHERE run_id = $1 AND status = 'queued'",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(v)
    }

    async fn mark_dialing(
        &self,
        run_id: i64,
        generation: i64,
        worker_id: &str,
        decisions: &[JobDecision],
        now_ms: i64,
    ) -> StoreResult<MarkResult> {
        let mut tx = self.write_tx().await?;
        match self.fence(&mut tx, run_id, generation).await? {
            None => return Ok(MarkResult::LeaseLost),
            Some(true) => return Ok(MarkResult::Cancelled),
            Some(false) => {}
        }
        let mut marked = Vec::new();
        let mut skipped = 0u64;
        for d in decisions {
            match d {
                JobDecision::Dial {
                    job_id,
                    attempt,
                    compliance,
                    ..
                } => {
                    let n = sqlx::query(
                        "UPDATE jobs SET status = 'dialing', attempt = $3, compliance = $4, \
                             provider_call_id = NULL, call_deadline = NULL, updated_at = $5 \
                         WHERE id = $2 AND run_id = $1 AND status = 'queued'",
                    )
                    .bind(run_id)
                    .bind(job_id)
                    .bind(*attempt as i64)
                    .bind(compliance)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    if n == 1 {
                        marked.push(*job_id);
                    }
                }
                JobDecision::Defer {
                    job_id,
                    lead_id,
                    attempt,
                    until_ms,
                    compliance,
                } => {
                    sqlx::query(
                        "UPDATE jobs SET not_before = $3, updated_at = $4 \
                         WHERE id = $2 AND run_id = $1 AND status = 'queued'",
                    )
                    .bind(run_id)
                    .bind(job_id)
                    .bind(until_ms)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    self.insert_decision(
                        &mut tx, run_id, *job_id, *lead_id, *attempt, "deferred", compliance,
                        worker_id, generation, now_ms,
                    )
                    .await?;
                }
                JobDecision::Skip {
                    job_id,
                    lead_id,
                    attempt,
                    status,
                    reason,
                    compliance,
                } => {
                    skipped += sqlx::query(
                        "UPDATE jobs SET status = $3, reason = $4, outcome = 'not-dialed', \
                             updated_at = $5 \
                         WHERE id = $2 AND run_id = $1 AND status = 'queued'",
                    )
                    .bind(run_id)
                    .bind(job_id)
                    .bind(status)
                    .bind(reason)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    self.insert_decision(
                        &mut tx, run_id, *job_id, *lead_id, *attempt, "skipped", compliance,
                        worker_id, generation, now_ms,
                    )
                    .await?;
                }
            }
        }
        self.add_cursor(&mut tx, run_id, skipped).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(MarkResult::Marked(marked))
    }

    async fn record_pending(
        &self,
        run_id: i64,
        generation: i64,
        worker_id: &str,
        calls: &[PendingCall],
    ) -> StoreResult<Fenced> {
        let mut tx = self.write_tx().await?;
        if self.fence(&mut tx, run_id, generation).await?.is_none() {
            return Ok(Fenced::LeaseLost);
        }
        for c in calls {
            sqlx::query(
                "UPDATE jobs SET provider_call_id = $3, call_deadline = $4 \
                 WHERE id = $2 AND run_id = $1 AND status = 'dialing'",
            )
            .bind(run_id)
            .bind(c.job_id)
            .bind(&c.provider_call_id)
            .bind(c.call_deadline)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            sqlx::query(
                "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                     idempotency_key, decision, compliance, worker_id, lease_generation, \
                     provider_call_id, call_state, decided_at, placed_at, dialer_version) \
                 SELECT business_id, run_id, id, lead_id, $3, 1, $4, 'allowed', \
                     COALESCE(compliance, '{}'), $5, $6, $7, 'queued', $8, $8, $9 \
                 FROM jobs WHERE id = $2 AND run_id = $1 \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(run_id)
            .bind(c.job_id)
            .bind(c.attempt as i64)
            .bind(&c.idempotency_key)
            .bind(worker_id)
            .bind(generation)
            .bind(&c.provider_call_id)
            .bind(c.placed_at)
            .bind(c.dialer_version)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        let max_placed = calls.iter().map(|c| c.placed_at).max();
        self.bump_last_placed(&mut tx, run_id, max_placed).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }

    async fn finish_jobs(
        &self,
        run_id: i64,
        generation: i64,
        worker_id: &str,
        results: &[JobResult],
        now_ms: i64,
    ) -> StoreResult<Fenced> {
        let mut tx = self.write_tx().await?;
        if self.fence(&mut tx, run_id, generation).await?.is_none() {
            return Ok(Fenced::LeaseLost);
        }
        let mut finished = 0u64;
        for r in results {
            let outcome = match &r.next {
                JobNext::Requeue { not_before_ms } => {
                    sqlx::query(
                        "UPDATE jobs SET status = 'queued', attempt = attempt - 1, compliance = NULL, \
                             provider_call_id = NULL, call_deadline = NULL, updated_at = $3, \
                             not_before = $4 \
                         WHERE id = $2 AND run_id = $1 AND status = 'dialing'",
                    )
                    .bind(run_id)
                    .bind(r.job_id)
                    .bind(now_ms)
                    .bind(not_before_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    continue;
                }
                JobNext::Finish { outcome, .. } | JobNext::Retry { outcome, .. } => outcome,
            };
            let report = r
                .report
                .as_ref()
                .map(|x| serde_json::to_string(x).unwrap_or_default());
            let attempt_outcome = r
                .report
                .as_ref()
                .map(|x| x.outcome.label())
                .unwrap_or_else(|| outcome.clone());
            sqlx::query(
                "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                     idempotency_key, decision, compliance, worker_id, lease_generation, \
                     provider_call_id, call_state, outcome, report, note, decided_at, placed_at, ended_at, \
                     dialer_version) \
                 SELECT business_id, run_id, id, lead_id, $3, $4, $5, 'allowed', \
                     COALESCE(compliance, '{}'), $6, $7, $8, CASE WHEN $4 THEN 'ended' END, \
                     $9, $10, $11, $12, $13, $12, $14 \
                 FROM jobs WHERE id = $2 AND run_id = $1 AND status = 'dialing' \
                 ON CONFLICT (idempotency_key) DO UPDATE SET \
                     call_state = COALESCE(excluded.call_state, attempts.call_state), \
                     outcome = excluded.outcome, \
                     report = COALESCE(excluded.report, attempts.report), note = excluded.note, \
                     ended_at = excluded.ended_at, worker_id = excluded.worker_id, \
                     lease_generation = excluded.lease_generation, \
                     dialer_version = COALESCE(attempts.dialer_version, excluded.dialer_version)",
            )
            .bind(run_id)
            .bind(r.job_id)
            .bind(r.attempt as i64)
            .bind(r.placed_at.is_some())
            .bind(&r.idempotency_key)
            .bind(worker_id)
            .bind(generation)
            .bind(r.report.as_ref().and_then(|x| x.provider_call_id.clone()))
            .bind(&attempt_outcome)
            .bind(report)
            .bind(&r.note)
            .bind(now_ms)
            .bind(r.placed_at)
            .bind(r.dialer_version)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            match &r.next {
                JobNext::Finish {
                    status,
                    outcome,
                    reason,
                } => {
                    finished += sqlx::query(
                        "UPDATE jobs SET status = $3, outcome = $4, reason = $5, compliance = NULL, \
                             updated_at = $6 \
                         WHERE id = $2 AND run_id = $1 AND status = 'dialing'",
                    )
                    .bind(run_id)
                    .bind(r.job_id)
                    .bind(status)
                    .bind(outcome)
                    .bind(reason)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                }
                JobNext::Retry {
                    not_before_ms,
                    outcome,
                } => {
                    sqlx::query(
                        "UPDATE jobs SET status = 'queued', not_before = $3, outcome = $4, \
                             compliance = NULL, provider_call_id = NULL, call_deadline = NULL, \
                             updated_at = $5 \
                         WHERE id = $2 AND run_id = $1 AND status = 'dialing'",
                    )
                    .bind(run_id)
                    .bind(r.job_id)
                    .bind(not_before_ms)
                    .bind(outcome)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                }
                JobNext::Requeue { .. } => {}
            }
        }
        self.add_cursor(&mut tx, run_id, finished).await?;
        let max_placed = results.iter().filter_map(|r| r.placed_at).max();
        self.bump_last_placed(&mut tx, run_id, max_placed).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }

    async fn finish_run_if_done(&self, run_id: i64, generation: i64) -> StoreResult<RunStatus> {
        let mut tx = self.write_tx().await?;
        let Some(cancel) = self.fence(&mut tx, run_id, generation).await? else {
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

    async fn run_flow_plugin(&self, run_id: i64) -> StoreResult<(String, i64, Vec<u8>)> {
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

    async fn fail_run(&self, run_id: i64, generation: i64, reason: &str) -> StoreResult<Fenced> {
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

impl SqliteStore {
    #[allow(clippy::too_many_arguments)]
    async fn insert_decision(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        job_id: i64,
        lead_id: i64,
        attempt: u32,
        decision: &str,
        compliance: &str,
        worker_id: &str,
        generation: i64,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                 decision, compliance, worker_id, lease_generation, decided_at) \
             SELECT business_id, $1, $2, $3, $4, 0, $5, $6, $7, $8, $9 FROM runs WHERE id = $1",
        )
        .bind(run_id)
        .bind(job_id)
        .bind(lead_id)
        .bind(attempt as i64)
        .bind(decision)
        .bind(compliance)
        .bind(worker_id)
        .bind(generation)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

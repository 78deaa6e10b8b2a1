//! The run store ([`ApiRunStore`], [`WorkerRunStore`]) on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED`, batch
//! writes with `UNNEST` arrays, cancel notices with `LISTEN/NOTIFY`.
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
//! are written by one statement per batch ([`super::finish_batch`]).

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use super::finish_batch::{ATTEMPT_KEY_CONSTRAINT, FinishBatch};
use crate::config::POSTGRES_ANALYZE_AFTER_JOBS;
use crate::lifecycle::settings::CancelMode;
use crate::runtime::{CallEvent, CallReport, CallState, Lead};
use crate::store::runs::*;

/// One more `UNNEST` column for the batch updates of `dialing` jobs: the
/// status they must still have, as a column so the guard is a join clause
/// (see the module doc).
const DIALING_COLUMN: &str = "array_fill('dialing'::TEXT, ARRAY[cardinality($2::BIGINT[])])";
use crate::store::{Page, StoreError, StoreResult};

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
}

#[async_trait]
impl ApiRunStore for PgStore {
    async fn create_run(&self, business_id: i64, spec: &RunSpec) -> StoreResult<i64> {
        validate_spec(spec)?;
        let settings =
            serde_json::to_string(&spec.settings).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut tx = self.begin().await?;
        let flow: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM plugins WHERE kind = 'flow' AND name = $2 \
               AND (business_id = $1 OR business_id IS NULL) \
               AND (($3::BIGINT IS NULL AND active) OR version = $3) \
             ORDER BY business_id NULLS LAST LIMIT 1",
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
        // The tenant's leads among those named, compared here: an anti-join
        // in SQL is planned from statistics, and right after a large import
        // they say the tenant has no leads, which made it a nested loop over
        // both lists (17 s for 20,000 leads). `id = ANY` is linear either way.
        let found: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM leads WHERE business_id = $1 AND id = ANY($2)")
                .bind(business_id)
                .bind(&spec.lead_ids)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let found: std::collections::HashSet<i64> = found.into_iter().map(|r| r.0).collect();
        if let Some((i, id)) = spec
            .lead_ids
            .iter()
            .enumerate()
            .find(|(_, id)| !found.contains(id))
        {
            return Err(StoreError::invalid(
                &format!("lead_ids[{i}]"),
                format!("lead {id} not found"),
            ));
        }
        let (run_id,): (i64,) = sqlx::query_as(&format!(
            "INSERT INTO runs (business_id, flow_plugin_id, dialer, settings, total_leads, created_at) \
             VALUES ($1, $2, $3, $4::jsonb, $5, {NOW_MS}) RETURNING id"
        ))
        .bind(business_id)
        .bind(flow_id)
        .bind(&spec.dialer)
        .bind(&settings)
        .bind(spec.lead_ids.len() as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&format!(
            "INSERT INTO jobs (business_id, run_id, lead_id, position, updated_at) \
             SELECT $1, $2, t.id, t.ord, {NOW_MS} \
             FROM UNNEST($3::BIGINT[]) WITH ORDINALITY AS t(id, ord)"
        ))
        .bind(business_id)
        .bind(run_id)
        .bind(&spec.lead_ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
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
        self.get_run_exists(business_id, run_id).await?;
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
        self.get_run_exists(business_id, run_id).await?;
        let rows = sqlx::query(
            "SELECT id, run_id, job_id, lead_id, attempt, placed, idempotency_key, decision, \
                    compliance::text AS compliance, worker_id, lease_generation, provider_call_id, \
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
                attempt: r.get::<i32, _>("attempt") as i64,
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
        let mut tx = self.begin().await?;
        let row: Option<(String, i64)> = sqlx::query_as(&format!(
            "UPDATE runs SET cancel_requested = TRUE, \
                 cancel_mode = COALESCE(cancel_mode, $3, settings->>'cancel_mode', 'hangup'), \
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
                 WHERE business_id = $1 AND run_id = $2 AND open AND status = 'queued'"
            ))
            .bind(business_id)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            // Nobody owns it (never claimed, released, or lease expired with
            // nothing in flight): it ends now, and the generation bump fences
            // any stalled former owner.
            let ended: Option<(String,)> = sqlx::query_as(&format!(
                "UPDATE runs SET cursor_position = cursor_position + $2, \
                     status = CASE WHEN status = 'queued' OR ((owner_worker IS NULL OR lock_ts IS NULL \
                                   OR lock_ts < {NOW_MS} - lease_ttl_ms) \
                                   AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1 AND open AND status = 'dialing')) \
                              THEN 'cancelled' ELSE status END \
                 WHERE id = $1 RETURNING status"
            ))
            .bind(run_id)
            .bind(jobs_cancelled as i64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            if let Some((s,)) = ended
                && s == "cancelled"
            {
                sqlx::query(&format!(
                    "UPDATE runs SET finished_at = {NOW_MS}, lease_generation = lease_generation + 1, \
                         owner_worker = NULL, lock_ts = NULL WHERE id = $1"
                ))
                .bind(run_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                status = RunStatus::Cancelled;
            }
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CANCEL_CHANNEL)
                .bind(run_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
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
                 OR COALESCE(cancel_acked_generation = lease_generation, FALSE) \
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
        let mut tx = self.begin().await?;
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
        sqlx::query("UPDATE runs SET cursor_position = cursor_position + 1 WHERE id = $1")
            .bind(job.run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
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
                 outcome = COALESCE($5, outcome), report = COALESCE($6::jsonb, report), \
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

    async fn release_worker(&self, worker_id: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
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
        let rows = sqlx::query(&format!(
            "WITH c AS ( \
                 SELECT id, status AS old_status FROM runs \
                 WHERE status = 'queued' \
                    OR (status = 'running' AND (owner_worker IS NULL OR lock_ts IS NULL \
                                                OR lock_ts < {NOW_MS} - lease_ttl_ms)) \
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE runs r SET status = 'running', owner_worker = $1, \
                 lease_generation = r.lease_generation + 1, lease_ttl_ms = $3, lock_ts = {NOW_MS}, \
                 started_at = COALESCE(r.started_at, {NOW_MS}), \
                 cancel_acked_generation = CASE WHEN r.cancel_requested \
                     THEN r.lease_generation + 1 ELSE r.cancel_acked_generation END \
             FROM c WHERE r.id = c.id \
             RETURNING r.id, r.business_id, r.lease_generation, c.old_status, r.flow_plugin_id, \
                 r.dialer, r.settings::text AS settings, r.cancel_requested, r.cancel_mode, \
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
                    run_id: r.get("id"),
                    business_id: r.get("business_id"),
                    generation: r.get("lease_generation"),
                    reclaimed: r.get::<&str, _>("old_status") == "running",
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
        let rows: Vec<(i64, i64, bool, bool)> = sqlx::query_as(&format!(
            "WITH w AS (UPDATE workers SET last_seen = {NOW_MS} WHERE id = $1) \
             UPDATE runs SET lock_ts = {NOW_MS} WHERE owner_worker = $1 AND status = 'running' \
             RETURNING id, lease_generation, cancel_requested, \
                 COALESCE(cancel_acked_generation = lease_generation, FALSE)"
        ))
        .bind(worker_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
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
        let mut listener = PgListener::connect_with(&self.pool)
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
                            return Some((id, l));
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn dialing_jobs(&self, run_id: i64, generation: i64) -> StoreResult<Vec<DialingJob>> {
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
            .map(|r| {
                let job_id: i64 = r.get("id");
                let attempt = r.get::<i32, _>("attempt") as u32;
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
        Ok(rows
            .iter()
            .map(|r| JobWork {
                job_id: r.get("id"),
                lead_id: r.get("lead_id"),
                attempt: r.get::<i32, _>("attempt") as u32,
                dnc_listed: r.get("dnc"),
                attempts_24h: r.get::<i64, _>("n24") as u32,
                lead: lead_from_row(r),
            })
            .collect())
    }

    async fn next_due(&self, run_id: i64) -> StoreResult<Option<i64>> {
        let (v,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(not_before) FROM jobs WHERE run_id = $1 AND open AND status = 'queued'",
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
        let mut tx = self.begin().await?;
        match self.fence(&mut tx, run_id, generation).await? {
            None => return Ok(MarkResult::LeaseLost),
            Some(true) => return Ok(MarkResult::Cancelled),
            Some(false) => {}
        }
        let (mut d_ids, mut d_att, mut d_c) = (vec![], vec![], vec![]);
        let (mut f_ids, mut f_until) = (vec![], vec![]);
        let (mut s_ids, mut s_status, mut s_reason) = (vec![], vec![], vec![]);
        // Attempt rows for deferrals and skips (the "why not").
        let (mut a_job, mut a_lead, mut a_att, mut a_dec, mut a_c) =
            (vec![], vec![], vec![], vec![], vec![]);
        for d in decisions {
            match d {
                JobDecision::Dial {
                    job_id,
                    attempt,
                    compliance,
                    ..
                } => {
                    d_ids.push(*job_id);
                    d_att.push(*attempt as i32);
                    d_c.push(compliance.clone());
                }
                JobDecision::Defer {
                    job_id,
                    lead_id,
                    attempt,
                    until_ms,
                    compliance,
                } => {
                    f_ids.push(*job_id);
                    f_until.push(*until_ms);
                    a_job.push(*job_id);
                    a_lead.push(*lead_id);
                    a_att.push(*attempt as i32);
                    a_dec.push("deferred");
                    a_c.push(compliance.clone());
                }
                JobDecision::Skip {
                    job_id,
                    lead_id,
                    attempt,
                    status,
                    reason,
                    compliance,
                } => {
                    s_ids.push(*job_id);
                    s_status.push(*status);
                    s_reason.push(reason.clone());
                    a_job.push(*job_id);
                    a_lead.push(*lead_id);
                    a_att.push(*attempt as i32);
                    a_dec.push("skipped");
                    a_c.push(compliance.clone());
                }
            }
        }
        let marked: Vec<(i64,)> = if d_ids.is_empty() {
            vec![]
        } else {
            sqlx::query_as(
                "UPDATE jobs j SET status = 'dialing', attempt = d.attempt, compliance = d.c::jsonb, \
                     provider_call_id = NULL, call_deadline = NULL, updated_at = $5 \
                 FROM UNNEST($2::BIGINT[], $3::INT[], $4::TEXT[]) AS d(id, attempt, c) \
                 WHERE j.id = d.id AND j.run_id = $1 AND j.status = 'queued' RETURNING j.id",
            )
            .bind(run_id)
            .bind(&d_ids)
            .bind(&d_att)
            .bind(&d_c)
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
        };
        if !f_ids.is_empty() {
            sqlx::query(
                "UPDATE jobs j SET not_before = d.until, updated_at = $4 \
                 FROM UNNEST($2::BIGINT[], $3::BIGINT[]) AS d(id, until) \
                 WHERE j.id = d.id AND j.run_id = $1 AND j.status = 'queued'",
            )
            .bind(run_id)
            .bind(&f_ids)
            .bind(&f_until)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        if !s_ids.is_empty() {
            let n = sqlx::query(
                "UPDATE jobs j SET status = d.status, reason = d.reason, outcome = 'not-dialed', \
                     updated_at = $5 \
                 FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::TEXT[]) AS d(id, status, reason) \
                 WHERE j.id = d.id AND j.run_id = $1 AND j.status = 'queued'",
            )
            .bind(run_id)
            .bind(&s_ids)
            .bind(&s_status)
            .bind(&s_reason)
            .bind(now_ms)
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
        if !a_job.is_empty() {
            sqlx::query(
                "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                     decision, compliance, worker_id, lease_generation, decided_at) \
                 SELECT r.business_id, $1, d.job, d.lead, d.att, FALSE, d.dec, d.c::jsonb, $2, $3, $4 \
                 FROM UNNEST($5::BIGINT[], $6::BIGINT[], $7::INT[], $8::TEXT[], $9::TEXT[]) \
                     AS d(job, lead, att, dec, c) \
                 JOIN runs r ON r.id = $1",
            )
            .bind(run_id)
            .bind(worker_id)
            .bind(generation)
            .bind(now_ms)
            .bind(&a_job)
            .bind(&a_lead)
            .bind(&a_att)
            .bind(&a_dec)
            .bind(&a_c)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(MarkResult::Marked(
            marked.into_iter().map(|r| r.0).collect(),
        ))
    }

    async fn record_pending(
        &self,
        run_id: i64,
        generation: i64,
        worker_id: &str,
        calls: &[PendingCall],
    ) -> StoreResult<Fenced> {
        let mut tx = self.begin().await?;
        if self.fence(&mut tx, run_id, generation).await?.is_none() {
            return Ok(Fenced::LeaseLost);
        }
        let ids: Vec<i64> = calls.iter().map(|c| c.job_id).collect();
        let atts: Vec<i32> = calls.iter().map(|c| c.attempt as i32).collect();
        let keys: Vec<&str> = calls.iter().map(|c| c.idempotency_key.as_str()).collect();
        let pcids: Vec<&str> = calls.iter().map(|c| c.provider_call_id.as_str()).collect();
        let placed: Vec<i64> = calls.iter().map(|c| c.placed_at).collect();
        let deadlines: Vec<i64> = calls.iter().map(|c| c.call_deadline).collect();
        let versions: Vec<i64> = calls.iter().map(|c| c.dialer_version).collect();
        sqlx::query(&format!(
            "UPDATE jobs j SET provider_call_id = d.pcid, call_deadline = d.deadline \
             FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::BIGINT[], \
                     {DIALING_COLUMN}) AS d(id, pcid, deadline, expect) \
             WHERE j.id = d.id AND j.run_id = $1 AND j.status = d.expect"
        ))
        .bind(run_id)
        .bind(&ids)
        .bind(&pcids)
        .bind(&deadlines)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(
            "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                 idempotency_key, decision, compliance, worker_id, lease_generation, \
                 provider_call_id, call_state, decided_at, placed_at, dialer_version) \
             SELECT j.business_id, j.run_id, j.id, j.lead_id, d.att, TRUE, d.key, 'allowed', \
                 COALESCE(j.compliance, '{}'::jsonb), $5, $6, d.pcid, 'queued', d.placed, d.placed, \
                 d.ver \
             FROM UNNEST($2::BIGINT[], $3::INT[], $4::TEXT[], $7::TEXT[], $8::BIGINT[], \
                         $9::BIGINT[]) AS d(id, att, key, pcid, placed, ver) \
             JOIN jobs j ON j.id = d.id AND j.run_id = $1 \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(run_id)
        .bind(&ids)
        .bind(&atts)
        .bind(&keys)
        .bind(worker_id)
        .bind(generation)
        .bind(&pcids)
        .bind(&placed)
        .bind(&versions)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let max_placed = placed.iter().copied().max();
        sqlx::query(
            "UPDATE runs SET last_call_placed_at = GREATEST(COALESCE(last_call_placed_at, 0), $2) \
             WHERE id = $1 AND $2 IS NOT NULL",
        )
        .bind(run_id)
        .bind(max_placed)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
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
        let batch = FinishBatch::new(results);
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

    async fn finish_run_if_done(&self, run_id: i64, generation: i64) -> StoreResult<RunStatus> {
        let mut tx = self.begin().await?;
        let Some(cancel) = self.fence(&mut tx, run_id, generation).await? else {
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
        let mut tx = self.begin().await?;
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

impl PgStore {
    async fn get_run_exists(&self, business_id: i64, run_id: i64) -> StoreResult<()> {
        let r: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM runs WHERE business_id = $1 AND id = $2")
                .bind(business_id)
                .bind(run_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        r.map(|_| ()).ok_or(StoreError::NotFound)
    }
}

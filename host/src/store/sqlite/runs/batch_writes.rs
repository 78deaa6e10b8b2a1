//! The owner's batch writes on SQLite, each one fenced `BEGIN IMMEDIATE`
//! transaction: marking jobs dialing (with the deferrals and skips decided
//! alongside), recording calls placed `pending`, and finishing jobs (with
//! the lead updates of their flows' follow-ups).

use sqlx::{Sqlite, Transaction};

use crate::model::{JobId, LeadId};
use crate::store::runs::{Fenced, JobDecision, JobNext, JobResult, MarkResult, PendingCall};
use crate::store::sqlite::SqliteStore;
use crate::store::{LeadUpdate, StoreError, StoreResult, merge_tags};

impl SqliteStore {
    /// [`crate::store::WorkerRunStore::mark_dialing`].
    pub(super) async fn mark_batch(
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
            Some(f) if f.cancel => return Ok(MarkResult::Cancelled),
            Some(f) if f.pause => return Ok(MarkResult::Paused),
            Some(_) => {}
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
                    .bind(status.as_str())
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

    /// [`crate::store::WorkerRunStore::record_pending`].
    pub(super) async fn record_pending_batch(
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
                     COALESCE($10, compliance, '{}'), $5, $6, $7, 'queued', $8, $8, $9 \
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
            .bind(&c.compliance)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        let max_placed = calls.iter().map(|c| c.placed_at).max();
        self.bump_last_placed(&mut tx, run_id, max_placed).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }

    /// [`crate::store::WorkerRunStore::finish_jobs`].
    pub(super) async fn finish_batch(
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
            let (lead_status, lead_tags) = lead_columns(r)?;
            let attempt_outcome = r
                .report
                .as_ref()
                .map(|x| x.outcome.label())
                .unwrap_or_else(|| outcome.clone());
            sqlx::query(
                "INSERT INTO attempts (business_id, run_id, job_id, lead_id, attempt, placed, \
                     idempotency_key, decision, compliance, worker_id, lease_generation, \
                     provider_call_id, call_state, outcome, report, note, decided_at, placed_at, ended_at, \
                     dialer_version, lead_status, lead_tags) \
                 SELECT business_id, run_id, id, lead_id, $3, $4, $5, 'allowed', \
                     COALESCE($17, compliance, '{}'), $6, $7, $8, CASE WHEN $4 THEN 'ended' END, \
                     $9, $10, $11, $12, $13, $12, $14, $15, $16 \
                 FROM jobs WHERE id = $2 AND run_id = $1 AND status = 'dialing' \
                 ON CONFLICT (idempotency_key) DO UPDATE SET \
                     call_state = COALESCE(excluded.call_state, attempts.call_state), \
                     outcome = excluded.outcome, \
                     report = COALESCE(excluded.report, attempts.report), note = excluded.note, \
                     ended_at = excluded.ended_at, worker_id = excluded.worker_id, \
                     lease_generation = excluded.lease_generation, \
                     dialer_version = COALESCE(attempts.dialer_version, excluded.dialer_version), \
                     lead_status = excluded.lead_status, lead_tags = excluded.lead_tags",
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
            .bind(&lead_status)
            .bind(&lead_tags)
            .bind(&r.compliance)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let settled = match &r.next {
                JobNext::Finish {
                    status,
                    outcome,
                    reason,
                } => {
                    let n = sqlx::query(
                        "UPDATE jobs SET status = $3, outcome = $4, reason = $5, compliance = NULL, \
                             updated_at = $6 \
                         WHERE id = $2 AND run_id = $1 AND status = 'dialing'",
                    )
                    .bind(run_id)
                    .bind(r.job_id)
                    .bind(status.as_str())
                    .bind(outcome)
                    .bind(reason)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    finished += n;
                    n
                }
                JobNext::Retry {
                    not_before_ms,
                    outcome,
                } => sqlx::query(
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
                .map_err(|e| self.err(e))?
                .rows_affected(),
                JobNext::Requeue { .. } => 0,
            };
            // Only with the job's own result: a repeated commit (the job is
            // no longer `dialing`) leaves the lead alone too.
            if let (1, Some(update)) = (settled, &r.lead_update) {
                self.apply_lead_update(&mut tx, run_id, r.lead_id, update)
                    .await?;
            }
        }
        self.add_cursor(&mut tx, run_id, finished).await?;
        let max_placed = results.iter().filter_map(|r| r.placed_at).max();
        self.bump_last_placed(&mut tx, run_id, max_placed).await?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }

    /// Sets the lead's status (if given) and adds the tags ([`merge_tags`]);
    /// the lead is the run's tenant's.
    async fn apply_lead_update(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        lead: LeadId,
        update: &LeadUpdate,
    ) -> StoreResult<()> {
        let tags: String = sqlx::query_scalar(
            "SELECT tags FROM leads \
             WHERE id = $2 AND business_id = (SELECT business_id FROM runs WHERE id = $1)",
        )
        .bind(run_id)
        .bind(lead)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        let mut tags: Vec<String> = serde_json::from_str(&tags)
            .map_err(|e| StoreError::Other(format!("lead tags: {e}")))?;
        merge_tags(&mut tags, &update.add_tags);
        sqlx::query(
            "UPDATE leads SET status = COALESCE($3, status), tags = $4, updated_at = $5 \
             WHERE id = $2 AND business_id = (SELECT business_id FROM runs WHERE id = $1)",
        )
        .bind(run_id)
        .bind(lead)
        .bind(&update.status)
        .bind(json(&tags)?)
        .bind(chrono::Utc::now())
        .execute(&mut **tx)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_decision(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        run_id: i64,
        job_id: JobId,
        lead_id: LeadId,
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
             SELECT business_id, $1, $2, $3, $4, 0, $5, $6, $7, $8, $9 FROM runs WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM leads WHERE id = $3 AND erased_at IS NOT NULL)",
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

fn json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

/// `attempts.lead_status` and `attempts.lead_tags` (a JSON array, `None`
/// when the result adds no tag) of a result.
fn lead_columns(r: &JobResult) -> StoreResult<(Option<String>, Option<String>)> {
    let Some(update) = &r.lead_update else {
        return Ok((None, None));
    };
    let mut tags = Vec::new();
    merge_tags(&mut tags, &update.add_tags);
    let tags = if tags.is_empty() {
        None
    } else {
        Some(json(&tags)?)
    };
    Ok((update.status.clone(), tags))
}

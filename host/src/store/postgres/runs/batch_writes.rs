//! The owner's batch writes on PostgreSQL, each one fenced transaction:
//! marking jobs dialing (with the deferrals and skips decided alongside) and
//! recording calls placed `pending`. Batches are `UNNEST` arrays joined to
//! `jobs` by id (see [`super`] for why the plan matters).

use super::DIALING_COLUMN;
use crate::store::StoreResult;
use crate::store::postgres::PgStore;
use crate::store::runs::{Fenced, JobDecision, MarkResult, PendingCall};

impl PgStore {
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
                    s_status.push(status.as_str());
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
                 JOIN runs r ON r.id = $1 \
                 WHERE NOT EXISTS (SELECT 1 FROM leads l \
                     WHERE l.business_id = r.business_id AND l.id = d.lead AND l.erased_at IS NOT NULL)",
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
            marked
                .into_iter()
                .map(|r| crate::model::JobId(r.0))
                .collect(),
        ))
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
        let ids: Vec<i64> = calls.iter().map(|c| c.job_id.get()).collect();
        let atts: Vec<i32> = calls.iter().map(|c| c.attempt as i32).collect();
        let keys: Vec<&str> = calls.iter().map(|c| c.idempotency_key.as_str()).collect();
        let pcids: Vec<&str> = calls.iter().map(|c| c.provider_call_id.as_str()).collect();
        let placed: Vec<i64> = calls.iter().map(|c| c.placed_at).collect();
        let deadlines: Vec<i64> = calls.iter().map(|c| c.call_deadline).collect();
        let versions: Vec<i64> = calls.iter().map(|c| c.dialer_version).collect();
        let comps: Vec<Option<&str>> = calls.iter().map(|c| c.compliance.as_deref()).collect();
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
                 COALESCE(d.comp::jsonb, j.compliance, '{}'::jsonb), $5, $6, d.pcid, 'queued', \
                 d.placed, d.placed, d.ver \
             FROM UNNEST($2::BIGINT[], $3::INT[], $4::TEXT[], $7::TEXT[], $8::BIGINT[], \
                         $9::BIGINT[], $10::TEXT[]) AS d(id, att, key, pcid, placed, ver, comp) \
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
        .bind(&comps)
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
}

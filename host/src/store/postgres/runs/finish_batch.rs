//! `finish_jobs` on PostgreSQL: a batch's results in one statement.
//!
//! The jobs' updates and their attempt rows are one data-modifying CTE: the
//! `UPDATE jobs` probes each job once by primary key and its `RETURNING`
//! feeds the attempt inserts, so the attempts are written for exactly the
//! jobs that were still `dialing` and no second probe of `jobs` is needed. A
//! commit that is repeated (its first try committed, but the answer was
//! lost) therefore updates and inserts nothing. The job keeps the
//! compliance record of its last attempt: `RETURNING` shows a row as
//! updated, and the attempt row needs that record.
//!
//! Attempts of calls placed in this batch are new rows: a plain `INSERT`.
//! Those of calls that were recorded `pending` already have a row under the
//! same idempotency key: `INSERT ... ON CONFLICT DO UPDATE`, which costs a
//! speculative insertion per row and so is kept to the rows that need it.
//!
//! A result's lead update (the flow's status and tags) is one more CTE over
//! the same `RETURNING`, so it is applied exactly when the job's result is,
//! and rolled back with it. The leads are locked first, in id order, by a
//! statement of their own: two runs committing results for shared leads
//! then wait on each other instead of deadlocking.
//!
//! Fenced last: the run row's `UPDATE ... AND lease_generation = $g` ends
//! the transaction, so its lock is held only for the commit and the owner
//! can mark its next batch meanwhile; when it matches nothing, the whole
//! transaction rolls back.

use sqlx::Row;

use crate::store::postgres::PgStore;
use crate::store::runs::{Fenced, JobNext, JobResult};
use crate::store::{StoreError, StoreResult, merge_tags};

/// The unique constraint on `attempts.idempotency_key`.
pub(super) const ATTEMPT_KEY_CONSTRAINT: &str = "attempts_idempotency_key_key";

/// Columns of the attempt insert, after the job's own.
const ATTEMPT_COLUMNS: &str = "business_id, run_id, job_id, lead_id, attempt, placed, \
    idempotency_key, decision, compliance, worker_id, lease_generation, provider_call_id, \
    call_state, outcome, report, note, decided_at, placed_at, ended_at, dialer_version, \
    lead_status, lead_tags";

/// The values for [`ATTEMPT_COLUMNS`], from the CTE `f` below.
const ATTEMPT_VALUES: &str = "business_id, run_id, id, lead_id, att, placed_at IS NOT NULL, key, \
    'allowed', COALESCE(compliance, '{}'::jsonb), $3, $4, pcid, \
    CASE WHEN placed_at IS NOT NULL THEN 'ended' END, a_outcome, report::jsonb, note, \
    $5, placed_at, $5, ver, l_status, l_tags::jsonb";

/// One batch of results as `UNNEST` columns: one row per result.
pub(super) struct FinishBatch {
    id: Vec<i64>,
    /// The job's next status: `queued` for a retry or requeue, else the
    /// terminal status of a finish.
    status: Vec<&'static str>,
    /// The job's outcome; `None` keeps it (requeue).
    job_outcome: Vec<Option<String>>,
    /// The job's reason; only a finish sets it.
    reason: Vec<Option<String>>,
    not_before: Vec<Option<i64>>,
    /// Write an attempt row: every result but a requeue, which also gives
    /// the attempt back (it was not used up).
    record: Vec<bool>,
    /// The attempt row may exist already (the call was recorded pending).
    upsert: Vec<bool>,
    att: Vec<i32>,
    key: Vec<String>,
    placed_at: Vec<Option<i64>>,
    pcid: Vec<Option<String>>,
    a_outcome: Vec<Option<String>>,
    report: Vec<Option<String>>,
    note: Vec<Option<String>>,
    ver: Vec<Option<i64>>,
    /// The lead status the result sets (`None` keeps it).
    l_status: Vec<Option<String>>,
    /// The tags the result adds, as a JSON array (`None`: none).
    l_tags: Vec<Option<String>>,
    /// The compliance record judged at placement (`None`: the job's).
    comp: Vec<Option<String>>,
    /// Leads with an update, in id order (the order they are locked in).
    lead_ids: Vec<i64>,
    /// Of the last call placed in the batch, for `runs.last_call_placed_at`.
    max_placed: Option<i64>,
}

impl FinishBatch {
    pub(super) fn new(results: &[JobResult]) -> StoreResult<Self> {
        let n = results.len();
        let mut b = FinishBatch {
            id: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            job_outcome: Vec::with_capacity(n),
            reason: Vec::with_capacity(n),
            not_before: Vec::with_capacity(n),
            record: Vec::with_capacity(n),
            upsert: Vec::with_capacity(n),
            att: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            placed_at: Vec::with_capacity(n),
            pcid: Vec::with_capacity(n),
            a_outcome: Vec::with_capacity(n),
            report: Vec::with_capacity(n),
            note: Vec::with_capacity(n),
            ver: Vec::with_capacity(n),
            l_status: Vec::with_capacity(n),
            l_tags: Vec::with_capacity(n),
            comp: Vec::with_capacity(n),
            lead_ids: Vec::new(),
            max_placed: results.iter().filter_map(|r| r.placed_at).max(),
        };
        for r in results {
            let (status, job_outcome, reason, not_before) = match &r.next {
                JobNext::Finish {
                    status,
                    outcome,
                    reason,
                } => (status.as_str(), Some(outcome.clone()), reason.clone(), None),
                JobNext::Retry {
                    not_before_ms,
                    outcome,
                } => ("queued", Some(outcome.clone()), None, Some(*not_before_ms)),
                JobNext::Requeue { not_before_ms } => ("queued", None, None, Some(*not_before_ms)),
            };
            let record = !matches!(r.next, JobNext::Requeue { .. });
            b.id.push(r.job_id.get());
            b.status.push(status);
            b.a_outcome.push(match &r.report {
                Some(report) => Some(report.outcome.label()),
                None if record => job_outcome.clone(),
                None => None,
            });
            b.job_outcome.push(job_outcome);
            b.reason.push(reason);
            b.not_before.push(not_before);
            b.record.push(record);
            // Placed by this batch (`placed_at` is stamped when place-call
            // returns) = no attempt row yet; the rest (settled pending calls,
            // cancels, reconciles, refusals) may have one.
            b.upsert.push(r.placed_at.is_none());
            b.att.push(r.attempt as i32);
            b.key.push(r.idempotency_key.clone());
            b.placed_at.push(r.placed_at);
            b.pcid
                .push(r.report.as_ref().and_then(|x| x.provider_call_id.clone()));
            b.report.push(
                r.report
                    .as_ref()
                    .map(|x| serde_json::to_string(x).unwrap_or_default()),
            );
            b.note.push(r.note.clone());
            b.comp.push(r.compliance.clone());
            b.ver.push(r.dialer_version);
            let update = r.lead_update.as_ref();
            b.l_status.push(update.and_then(|u| u.status.clone()));
            let mut tags = Vec::new();
            merge_tags(&mut tags, update.map_or(&[][..], |u| &u.add_tags));
            b.l_tags.push(if tags.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&tags).map_err(|e| StoreError::Other(e.to_string()))?)
            });
            if update.is_some() {
                b.lead_ids.push(r.lead_id.get());
            }
        }
        b.lead_ids.sort_unstable();
        Ok(b)
    }
}

impl PgStore {
    /// Writes `batch` and moves the cursor, fenced by `generation`. With
    /// `upsert_all`, every attempt goes through `ON CONFLICT` (the retry
    /// when a plain insert met an existing row).
    pub(super) async fn finish_batch(
        &self,
        run_id: i64,
        generation: i64,
        worker_id: &str,
        b: &FinishBatch,
        now_ms: i64,
        upsert_all: bool,
    ) -> StoreResult<Fenced> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        if !b.lead_ids.is_empty() {
            sqlx::query("SELECT 1 FROM leads WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&b.lead_ids)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        // `j.status = d.expect`: a join clause, so the plan probes `jobs` by
        // primary key per id (see the module doc of `runs.rs`).
        let sql = format!(
            "WITH f AS ( \
                 UPDATE jobs j SET status = d.status, \
                     outcome = COALESCE(d.job_outcome, j.outcome), \
                     reason = CASE WHEN d.status <> 'queued' THEN d.reason ELSE j.reason END, \
                     not_before = COALESCE(d.nb, j.not_before), \
                     attempt = CASE WHEN d.record THEN j.attempt ELSE j.attempt - 1 END, \
                     provider_call_id = CASE WHEN d.status <> 'queued' THEN j.provider_call_id END, \
                     call_deadline = CASE WHEN d.status <> 'queued' THEN j.call_deadline END, \
                     updated_at = $5 \
                 FROM UNNEST($2::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BIGINT[], \
                     $10::BOOL[], $11::BOOL[], $12::INT[], $13::TEXT[], $14::BIGINT[], \
                     $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[], $19::BIGINT[], \
                     $21::TEXT[], $22::TEXT[], $23::TEXT[], \
                     array_fill('dialing'::TEXT, ARRAY[cardinality($2::BIGINT[])])) \
                     AS d(id, status, job_outcome, reason, nb, record, upsert, \
                          att, key, placed_at, pcid, a_outcome, report, note, ver, \
                          l_status, l_tags, comp, expect) \
                 WHERE j.id = d.id AND j.run_id = $1 AND j.status = d.expect \
                 RETURNING j.business_id, j.run_id, j.id, j.lead_id, \
                     COALESCE(d.comp::jsonb, j.compliance) AS compliance, \
                     d.status <> 'queued' AS finish, \
                     d.record, d.upsert OR $20 AS upsert, d.att, d.key, d.placed_at, d.pcid, \
                     d.a_outcome, d.report, d.note, d.ver, d.l_status, d.l_tags \
             ), lead_update AS ( \
                 UPDATE leads l SET status = COALESCE(f.l_status, l.status), \
                     tags = l.tags || COALESCE(( \
                         SELECT jsonb_agg(e.t ORDER BY e.ord) \
                         FROM jsonb_array_elements(f.l_tags::jsonb) WITH ORDINALITY AS e(t, ord) \
                         WHERE NOT l.tags @> jsonb_build_array(e.t)), '[]'::jsonb), \
                     updated_at = now() \
                 FROM f WHERE l.business_id = f.business_id AND l.id = f.lead_id \
                     AND (f.l_status IS NOT NULL OR f.l_tags IS NOT NULL) \
             ), fresh AS ( \
                 INSERT INTO attempts ({ATTEMPT_COLUMNS}) \
                 SELECT {ATTEMPT_VALUES} FROM f WHERE record AND NOT upsert \
             ), known AS ( \
                 INSERT INTO attempts ({ATTEMPT_COLUMNS}) \
                 SELECT {ATTEMPT_VALUES} FROM f WHERE record AND upsert \
                 ON CONFLICT (idempotency_key) DO UPDATE SET \
                     call_state = COALESCE(EXCLUDED.call_state, attempts.call_state), \
                     outcome = EXCLUDED.outcome, \
                     report = COALESCE(EXCLUDED.report, attempts.report), \
                     note = EXCLUDED.note, ended_at = EXCLUDED.ended_at, \
                     worker_id = EXCLUDED.worker_id, \
                     lease_generation = EXCLUDED.lease_generation, \
                     dialer_version = COALESCE(attempts.dialer_version, EXCLUDED.dialer_version), \
                     lead_status = EXCLUDED.lead_status, lead_tags = EXCLUDED.lead_tags \
             ) \
             SELECT COUNT(*) FILTER (WHERE finish) FROM f"
        );
        let finished: i64 = sqlx::query(&sql)
            .bind(run_id)
            .bind(&b.id)
            .bind(worker_id)
            .bind(generation)
            .bind(now_ms)
            .bind(&b.status)
            .bind(&b.job_outcome)
            .bind(&b.reason)
            .bind(&b.not_before)
            .bind(&b.record)
            .bind(&b.upsert)
            .bind(&b.att)
            .bind(&b.key)
            .bind(&b.placed_at)
            .bind(&b.pcid)
            .bind(&b.a_outcome)
            .bind(&b.report)
            .bind(&b.note)
            .bind(&b.ver)
            .bind(upsert_all)
            .bind(&b.l_status)
            .bind(&b.l_tags)
            .bind(&b.comp)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .get(0);
        let fenced = sqlx::query(
            "UPDATE runs SET cursor_position = cursor_position + $2, \
                 last_call_placed_at = CASE WHEN $3::BIGINT IS NULL THEN last_call_placed_at \
                     ELSE GREATEST(COALESCE(last_call_placed_at, 0), $3) END \
             WHERE id = $1 AND lease_generation = $4 AND status = 'running'",
        )
        .bind(run_id)
        .bind(finished)
        .bind(b.max_placed)
        .bind(generation)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if fenced == 0 {
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(Fenced::LeaseLost);
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Fenced::Done)
    }
}

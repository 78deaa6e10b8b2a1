//! [`RetentionStore`](crate::store::RetentionStore) and
//! [`CleanerStore`](crate::store::CleanerStore) for both engines. What the
//! SQL does is described in [`crate::store::retention`]; it differs by
//! engine only in casts, the transaction's start (SQLite takes the write
//! lock up front), row locks (PostgreSQL only: `SKIP LOCKED` is what lets
//! several cleaners run at once without waiting on or deadlocking each
//! other) and how a byte value is searched.

/// `$pg` on PostgreSQL, `$lite` on SQLite.
macro_rules! by_engine {
    (postgres, $pg:literal, $lite:literal) => {
        $pg
    };
    (sqlite, $pg:literal, $lite:literal) => {
        $lite
    };
}
pub(crate) use by_engine;

macro_rules! impl_retention_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use $crate::model::{LeadId, RunId, TenantId};
            use $crate::store::portable::pg_cast;
            use $crate::store::portable::retention::by_engine;
            use $crate::store::retention::{
                ERASED_JOB_REASON, ERASED_MARK, LeadErasure, PurgeBatch, check_retention_days,
            };
            use $crate::store::{StoreError, StoreResult, counts_from_rows};

            const BEGIN: &str = by_engine!($engine, "BEGIN", "BEGIN IMMEDIATE");

            #[async_trait::async_trait]
            impl $crate::store::RetentionStore for $store {
                async fn retention_days(&self, tenant: TenantId) -> StoreResult<Option<u32>> {
                    let row: Option<(Option<i32>,)> =
                        sqlx::query_as("SELECT retention_days FROM businesses WHERE id = $1")
                            .bind(tenant)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(|e| self.err(e))?;
                    let (days,) = row.ok_or(StoreError::NotFound)?;
                    Ok(days.map(|d| d.max(0) as u32))
                }

                async fn set_retention_days(
                    &self,
                    tenant: TenantId,
                    days: Option<u32>,
                ) -> StoreResult<()> {
                    let days = days.map(|d| check_retention_days(d as i64)).transpose()?;
                    let n = sqlx::query("UPDATE businesses SET retention_days = $2 WHERE id = $1")
                        .bind(tenant)
                        .bind(days.map(|d| d as i32))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn leads_with_phone(
                    &self,
                    tenant: TenantId,
                    phone: &str,
                ) -> StoreResult<Vec<LeadId>> {
                    let rows: Vec<(i64,)> = sqlx::query_as(
                        "SELECT id FROM leads \
                         WHERE business_id = $1 AND phone = $2 AND erased_at IS NULL ORDER BY id",
                    )
                    .bind(tenant)
                    .bind(phone)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows.into_iter().map(|(id,)| LeadId(id)).collect())
                }

                async fn erase_lead(
                    &self,
                    tenant: TenantId,
                    lead: LeadId,
                    now_ms: i64,
                ) -> StoreResult<LeadErasure> {
                    let err = |e| self.err(e);
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(err)?;
                    let row: Option<(String, Option<i64>)> = sqlx::query_as(concat!(
                        "SELECT phone, erased_at FROM leads WHERE business_id = $1 AND id = $2",
                        by_engine!($engine, " FOR UPDATE", "")
                    ))
                    .bind(tenant)
                    .bind(lead)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                    let (phone, erased_at) = row.ok_or(StoreError::NotFound)?;
                    let mut done = LeadErasure {
                        lead,
                        already_erased: false,
                        jobs_skipped: 0,
                        attempts_scrubbed: 0,
                        held_events_deleted: 0,
                        tenant_store_entries_deleted: 0,
                    };
                    if erased_at.is_some() {
                        done.already_erased = true;
                        return Ok(done);
                    }
                    // Skip first, then look for a call in flight: a worker
                    // that marked the job `dialing` meanwhile committed
                    // before this UPDATE saw the row, so the look sees it.
                    let skipped: Vec<(i64,)> = sqlx::query_as(
                        "UPDATE jobs SET status = 'skipped', reason = $3, updated_at = $4 \
                         WHERE business_id = $1 AND lead_id = $2 AND status = 'queued' \
                         RETURNING run_id",
                    )
                    .bind(tenant)
                    .bind(lead)
                    .bind(ERASED_JOB_REASON)
                    .bind(now_ms)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(err)?;
                    let (dialing,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM jobs \
                         WHERE business_id = $1 AND lead_id = $2 AND status = 'dialing'",
                    )
                    .bind(tenant)
                    .bind(lead)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
                    if dialing > 0 {
                        return Err(StoreError::Conflict {
                            constraint: "dialing".into(),
                        });
                    }
                    for (run,) in &skipped {
                        // The skipped job is finished: the cursor counts it.
                        sqlx::query(
                            "UPDATE runs SET cursor_position = cursor_position + 1 WHERE id = $1",
                        )
                        .bind(run)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    }
                    done.jobs_skipped = skipped.len() as u64;
                    sqlx::query(concat!(
                        "UPDATE jobs SET reason = replace(reason, $3, $4), compliance = replace(compliance",
                        pg_cast!($engine, "::text"),
                        ", $3, $4)",
                        pg_cast!($engine, "::jsonb"),
                        " WHERE business_id = $1 AND lead_id = $2"
                    ))
                    .bind(tenant)
                    .bind(lead)
                    .bind(&phone)
                    .bind(ERASED_MARK)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                    done.held_events_deleted = sqlx::query(
                        "DELETE FROM early_call_events WHERE business_id = $1 AND provider_call_id IN \
                         (SELECT provider_call_id FROM attempts \
                          WHERE business_id = $1 AND lead_id = $2 AND provider_call_id IS NOT NULL \
                          UNION SELECT provider_call_id FROM jobs \
                          WHERE business_id = $1 AND lead_id = $2 AND provider_call_id IS NOT NULL)",
                    )
                    .bind(tenant)
                    .bind(lead)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                    done.attempts_scrubbed = sqlx::query(concat!(
                        "UPDATE attempts SET report = NULL, note = NULL, compliance = replace(compliance",
                        pg_cast!($engine, "::text"),
                        ", $3, $4)",
                        pg_cast!($engine, "::jsonb"),
                        " WHERE business_id = $1 AND lead_id = $2"
                    ))
                    .bind(tenant)
                    .bind(lead)
                    .bind(&phone)
                    .bind(ERASED_MARK)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                    done.tenant_store_entries_deleted = sqlx::query(concat!(
                        "DELETE FROM tenant_store WHERE business_id = $1 AND namespace LIKE 'dialer:%' AND ",
                        by_engine!(
                            $engine,
                            "position(convert_to($2, 'UTF8') in value) > 0",
                            "instr(value, CAST($2 AS BLOB)) > 0"
                        )
                    ))
                    .bind(tenant)
                    .bind(&phone)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                    let (on_dnc,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM dnc WHERE business_id = $1 AND phone = $2",
                    )
                    .bind(tenant)
                    .bind(&phone)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
                    if on_dnc == 0 {
                        sqlx::query(concat!(
                            "UPDATE audit_log SET detail = replace(detail",
                            pg_cast!($engine, "::text"),
                            ", $2, $3)",
                            pg_cast!($engine, "::jsonb"),
                            " WHERE business_id = $1 AND ",
                            by_engine!(
                                $engine,
                                "strpos(detail::text, $2) > 0",
                                "instr(detail, $2) > 0"
                            )
                        ))
                        .bind(tenant)
                        .bind(&phone)
                        .bind(ERASED_MARK)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    }
                    sqlx::query(
                        "UPDATE leads SET phone = '', name = NULL, timezone = NULL, \
                         attributes = '{}', external_id = 'erased-' || id, erased_at = $3, \
                         revision = revision + 1, updated_at = $4 \
                         WHERE business_id = $1 AND id = $2",
                    )
                    .bind(tenant)
                    .bind(lead)
                    .bind(now_ms)
                    .bind(chrono::Utc::now())
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    Ok(done)
                }
            }

            #[async_trait::async_trait]
            impl $crate::store::CleanerStore for $store {
                async fn purge_batch(
                    &self,
                    default_days: u32,
                    now_ms: i64,
                    limit: u32,
                ) -> StoreResult<PurgeBatch> {
                    let err = |e| self.err(e);
                    let limit = limit.max(1) as i64;
                    let mut tx = self.pool.begin_with(BEGIN).await.map_err(err)?;
                    let row: Option<(i64, i64, bool)> = sqlx::query_as(concat!(
                        "SELECT r.id, r.business_id, r.purged_counts IS NULL \
                         FROM runs r JOIN businesses b ON b.id = r.business_id \
                         WHERE r.purged_at IS NULL AND r.status IN ('completed', 'failed', 'cancelled') \
                           AND r.finished_at IS NOT NULL \
                           AND r.finished_at <= $1 - COALESCE(b.retention_days, $2) * 86400000 \
                         ORDER BY r.finished_at, r.id LIMIT 1",
                        by_engine!($engine, " FOR NO KEY UPDATE OF r SKIP LOCKED", "")
                    ))
                    .bind(now_ms)
                    .bind(default_days as i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                    let Some((run, tenant, unfrozen)) = row else {
                        return Ok(PurgeBatch::default());
                    };
                    if unfrozen {
                        let counts: Vec<(String, Option<String>, i64)> = sqlx::query_as(
                            "SELECT status, outcome, COUNT(*) FROM jobs \
                             WHERE business_id = $1 AND run_id = $2 GROUP BY status, outcome",
                        )
                        .bind(tenant)
                        .bind(run)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(err)?;
                        let json = serde_json::to_string(&counts_from_rows(counts))
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        sqlx::query(concat!(
                            "UPDATE runs SET purged_counts = $2",
                            pg_cast!($engine, "::jsonb"),
                            " WHERE id = $1"
                        ))
                        .bind(run)
                        .bind(json)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    }
                    const BATCH: &str = "(SELECT id FROM attempts \
                         WHERE business_id = $1 AND run_id = $2 ORDER BY id LIMIT $3)";
                    let held_events = sqlx::query(&format!(
                        "DELETE FROM early_call_events WHERE business_id = $1 AND provider_call_id IN \
                         (SELECT provider_call_id FROM attempts WHERE id IN {BATCH})"
                    ))
                    .bind(tenant)
                    .bind(run)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                    let attempts = sqlx::query(&format!("DELETE FROM attempts WHERE id IN {BATCH}"))
                        .bind(tenant)
                        .bind(run)
                        .bind(limit)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?
                        .rows_affected();
                    let budget = limit - attempts as i64;
                    let mut jobs = 0;
                    let mut run_purged = false;
                    if budget > 0 {
                        jobs = sqlx::query(
                            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                             WHERE business_id = $1 AND run_id = $2 ORDER BY id LIMIT $3)",
                        )
                        .bind(tenant)
                        .bind(run)
                        .bind(budget)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?
                        .rows_affected();
                        if (jobs as i64) < budget {
                            sqlx::query("UPDATE runs SET purged_at = $2 WHERE id = $1")
                                .bind(run)
                                .bind(now_ms)
                                .execute(&mut *tx)
                                .await
                                .map_err(err)?;
                            run_purged = true;
                        }
                    }
                    tx.commit().await.map_err(err)?;
                    Ok(PurgeBatch {
                        run: Some(RunId(run)),
                        attempts,
                        jobs,
                        held_events,
                        run_purged,
                    })
                }

                async fn purge_held_events(
                    &self,
                    default_days: u32,
                    now_ms: i64,
                    limit: u32,
                ) -> StoreResult<u64> {
                    // Row values and a LIMIT in the subquery: both engines.
                    let n = sqlx::query(
                        "DELETE FROM early_call_events WHERE (business_id, provider_call_id) IN \
                         (SELECT e.business_id, e.provider_call_id FROM early_call_events e \
                          JOIN businesses b ON b.id = e.business_id \
                          WHERE e.received_at <= $1 - COALESCE(b.retention_days, $2) * 86400000 \
                          LIMIT $3)",
                    )
                    .bind(now_ms)
                    .bind(default_days as i64)
                    .bind(limit.max(1) as i64)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    Ok(n)
                }
            }
        };
    };
}
pub(crate) use impl_retention_store;

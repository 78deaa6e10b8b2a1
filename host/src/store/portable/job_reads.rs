//! [`crate::store::ApiJobReads`] for both drivers: the same SQL on both
//! engines (`CAST(... AS TEXT)` reads PostgreSQL's JSONB and SQLite's text
//! alike; `LIKE ... ESCAPE '\'` means the same on both).

/// Implements [`crate::store::ApiJobReads`] for a driver type with `pool`
/// and `err`.
macro_rules! impl_job_reads {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;

            use $crate::model::{JobId, RunId, TenantId};
            use $crate::store::job_reads::{
                ApiJobReads, DialPhase, JobDetail, JobFilter, JobLead, JobListing,
                JobStateFilter, like_escape,
            };
            use $crate::store::runs::{AttemptView, JobView, tags_from_json};
            use $crate::store::{Page, StoreError, StoreResult};

            const LISTING_COLUMNS: &str = "j.id, j.run_id, j.lead_id, j.position, j.status, \
                 j.attempt, j.not_before, j.outcome, j.reason, \
                 j.provider_call_id IS NOT NULL AS has_call, j.updated_at, l.external_id";
            const LISTING_FROM: &str = "FROM jobs j JOIN leads l \
                 ON l.business_id = j.business_id AND l.id = j.lead_id";

            /// One value bound to a `$n` of a filter.
            enum Bound {
                Int(i64),
                Text(String),
            }

            fn listing_from_row(
                row: &$crate::store::portable::job_reads::engine_row!($engine),
            ) -> JobListing {
                let status: String = row.get("status");
                let phase = (status == "dialing").then(|| {
                    if row.get::<bool, _>("has_call") {
                        DialPhase::Placed
                    } else {
                        DialPhase::Reserved
                    }
                });
                JobListing {
                    job: JobView {
                        id: row.get("id"),
                        run_id: row.get("run_id"),
                        lead_id: row.get("lead_id"),
                        position: row.get("position"),
                        status,
                        attempt: i64::from(row.get::<i32, _>("attempt")),
                        not_before: row.get("not_before"),
                        outcome: row.get("outcome"),
                        reason: row.get("reason"),
                    },
                    phase,
                    updated_at: row.get("updated_at"),
                    lead_external_id: row.get("external_id"),
                }
            }

            impl $store {
                async fn job_run_exists(&self, tenant: TenantId, run: RunId) -> StoreResult<()> {
                    sqlx::query("SELECT 1 FROM runs WHERE business_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(run)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?
                        .map(|_| ())
                        .ok_or(StoreError::NotFound)
                }
            }

            #[async_trait]
            impl ApiJobReads for $store {
                async fn list_jobs_filtered(
                    &self,
                    tenant: TenantId,
                    run: RunId,
                    filter: &JobFilter,
                    page: Page,
                ) -> StoreResult<Vec<JobListing>> {
                    self.job_run_exists(tenant, run).await?;
                    let mut sql = format!(
                        "SELECT {LISTING_COLUMNS} {LISTING_FROM} \
                         WHERE j.business_id = $1 AND j.run_id = $2 AND j.id > $3"
                    );
                    let mut binds: Vec<Bound> = Vec::new();
                    let next = |b: Bound, binds: &mut Vec<Bound>| {
                        binds.push(b);
                        format!("${}", binds.len() + 4)
                    };
                    match filter.state {
                        Some(JobStateFilter::Status(s)) => {
                            let p = next(Bound::Text(s.as_str().into()), &mut binds);
                            sql.push_str(&format!(" AND j.status = {p}"));
                        }
                        Some(JobStateFilter::Phase(DialPhase::Reserved)) => sql.push_str(
                            " AND j.status = 'dialing' AND j.provider_call_id IS NULL",
                        ),
                        Some(JobStateFilter::Phase(DialPhase::Placed)) => sql.push_str(
                            " AND j.status = 'dialing' AND j.provider_call_id IS NOT NULL",
                        ),
                        None => {}
                    }
                    if let Some(o) = &filter.outcome {
                        let p = next(Bound::Text(o.clone()), &mut binds);
                        sql.push_str(&format!(" AND j.outcome = {p}"));
                    }
                    if let Some(lead) = &filter.lead {
                        if lead.starts_with('+') {
                            let p = next(
                                Bound::Text(format!("{}%", like_escape(lead))),
                                &mut binds,
                            );
                            sql.push_str(&format!(" AND l.phone LIKE {p} ESCAPE '\\'"));
                        } else {
                            let ext = next(Bound::Text(lead.clone()), &mut binds);
                            let mut any = format!("l.external_id = {ext}");
                            if let Ok(id) = lead.parse::<i64>() {
                                let p = next(Bound::Int(id), &mut binds);
                                any.push_str(&format!(" OR j.lead_id = {p}"));
                            }
                            sql.push_str(&format!(" AND ({any})"));
                        }
                    }
                    if let Some(t) = filter.since {
                        let p = next(Bound::Int(t), &mut binds);
                        sql.push_str(&format!(" AND j.updated_at >= {p}"));
                    }
                    if let Some(t) = filter.until {
                        let p = next(Bound::Int(t), &mut binds);
                        sql.push_str(&format!(" AND j.updated_at < {p}"));
                    }
                    sql.push_str(" ORDER BY j.id LIMIT $4");
                    let mut q = sqlx::query(&sql)
                        .bind(tenant)
                        .bind(run)
                        .bind(page.sql_after())
                        .bind(page.sql_limit());
                    for b in binds {
                        q = match b {
                            Bound::Int(v) => q.bind(v),
                            Bound::Text(v) => q.bind(v),
                        };
                    }
                    let rows = q.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
                    Ok(rows.iter().map(listing_from_row).collect())
                }

                async fn job_detail(
                    &self,
                    tenant: TenantId,
                    run: RunId,
                    job: JobId,
                ) -> StoreResult<JobDetail> {
                    let row = sqlx::query(&format!(
                        "SELECT {LISTING_COLUMNS}, l.phone, l.name, l.timezone, \
                             l.status AS lead_status, CAST(l.tags AS TEXT) AS lead_tags \
                         {LISTING_FROM} \
                         WHERE j.business_id = $1 AND j.run_id = $2 AND j.id = $3"
                    ))
                    .bind(tenant)
                    .bind(run)
                    .bind(job)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .ok_or(StoreError::NotFound)?;
                    let listing = listing_from_row(&row);
                    let lead = JobLead {
                        id: listing.job.lead_id,
                        external_id: listing.lead_external_id.clone(),
                        phone: row.get("phone"),
                        name: row.get("name"),
                        timezone: row.get("timezone"),
                        status: row.get("lead_status"),
                        tags: tags_from_json(row.get("lead_tags")),
                    };
                    let rows = sqlx::query(
                        "SELECT id, run_id, job_id, lead_id, attempt, placed, idempotency_key, \
                             decision, CAST(compliance AS TEXT) AS compliance, worker_id, \
                             lease_generation, provider_call_id, call_state, outcome, note, \
                             decided_at, placed_at, ended_at, dialer_version, lead_status, \
                             CAST(lead_tags AS TEXT) AS lead_tags \
                         FROM attempts WHERE business_id = $1 AND run_id = $2 AND job_id = $3 \
                         ORDER BY id",
                    )
                    .bind(tenant)
                    .bind(run)
                    .bind(job)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    let attempts = rows
                        .iter()
                        .map(|r| AttemptView {
                            id: r.get("id"),
                            run_id: r.get("run_id"),
                            job_id: r.get("job_id"),
                            lead_id: r.get("lead_id"),
                            attempt: i64::from(r.get::<i32, _>("attempt")),
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
                            lead_status: r.get("lead_status"),
                            lead_tags: tags_from_json(r.get("lead_tags")),
                            decided_at: r.get("decided_at"),
                            placed_at: r.get("placed_at"),
                            ended_at: r.get("ended_at"),
                            dialer_version: r.get("dialer_version"),
                        })
                        .collect();
                    Ok(JobDetail {
                        listing,
                        lead,
                        attempts,
                    })
                }
            }
        };
    };
}
pub(crate) use impl_job_reads;

/// The row type of a driver, by engine name.
macro_rules! engine_row {
    (postgres) => {
        sqlx::postgres::PgRow
    };
    (sqlite) => {
        sqlx::sqlite::SqliteRow
    };
}
pub(crate) use engine_row;

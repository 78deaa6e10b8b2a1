//! [`crate::store::PlatformReads`] for both drivers: the API's cross-tenant
//! reads, in SQL that is the same on both engines (see [`super`]).

/// Implements [`crate::store::PlatformReads`] for a driver type with `pool`
/// and `err`; `$engine` is `postgres` or `sqlite` (no casts needed here).
macro_rules! impl_platform_reads {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use std::collections::BTreeMap;

            use async_trait::async_trait;
            use sqlx::Row;

            use $crate::model::{JobId, RunId, TenantId};
            use $crate::store::StoreResult;
            use $crate::store::platform_reads::{
                Aggregates, AttemptDetail, PlatformReads, Resource,
            };

            #[async_trait]
            impl PlatformReads for $store {
                async fn owner_of(
                    &self,
                    resource: Resource,
                    id: i64,
                ) -> StoreResult<Option<TenantId>> {
                    let sql = format!("SELECT business_id FROM {} WHERE id = $1", resource.table());
                    let row: Option<(TenantId,)> = sqlx::query_as(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?;
                    Ok(row.map(|r| r.0))
                }

                async fn flow_owners(
                    &self,
                    name: &str,
                    except: TenantId,
                ) -> StoreResult<Vec<TenantId>> {
                    let rows: Vec<(TenantId,)> = sqlx::query_as(
                        "SELECT DISTINCT business_id FROM plugins \
                         WHERE kind = 'flow' AND name = $1 \
                         AND business_id IS NOT NULL AND business_id <> $2",
                    )
                    .bind(name)
                    .bind(except)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows.into_iter().map(|r| r.0).collect())
                }

                async fn aggregates(&self) -> StoreResult<Aggregates> {
                    let mut out = Aggregates::default();
                    for r in sqlx::query(
                        "SELECT status, outcome, CAST(SUM(n) AS BIGINT) FROM run_job_counts \
                         GROUP BY status, outcome HAVING SUM(n) <> 0",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    {
                        let (status, outcome, n): (String, String, i64) =
                            (r.get(0), r.get(1), r.get(2));
                        // '' = none (or a purged run's frozen map, 0011).
                        if !status.is_empty() {
                            *out.jobs_by_status.entry(status).or_default() += n;
                        }
                        if !outcome.is_empty() {
                            *out.jobs_by_outcome.entry(outcome).or_default() += n;
                        }
                    }
                    for r in sqlx::query(
                        // A parked run is stored `queued` (migration 0010).
                        "SELECT CASE WHEN status = 'queued' AND pause_requested \
                             THEN 'paused' ELSE status END, COUNT(*) FROM runs GROUP BY 1",
                    )
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?
                    {
                        out.runs_by_state.insert(r.get(0), r.get(1));
                    }
                    Ok(out)
                }

                async fn plugin_name_version(
                    &self,
                    plugin_id: i64,
                ) -> StoreResult<Option<(String, i64)>> {
                    sqlx::query_as("SELECT name, version FROM plugins WHERE id = $1")
                        .bind(plugin_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| self.err(e))
                }

                async fn job_details(
                    &self,
                    tenant: TenantId,
                    run_id: RunId,
                    job_ids: &[JobId],
                ) -> StoreResult<(BTreeMap<JobId, String>, Vec<AttemptDetail>)> {
                    if job_ids.is_empty() {
                        return Ok(Default::default());
                    }
                    let list = job_ids
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(",");
                    let leads_sql = format!(
                        "SELECT j.id, l.external_id FROM jobs j JOIN leads l \
                         ON l.business_id = j.business_id AND l.id = j.lead_id \
                         WHERE j.business_id = $1 AND j.run_id = $2 AND j.id IN ({list})"
                    );
                    let attempts_sql = format!(
                        "SELECT job_id, attempt, placed, decision, CAST(compliance AS TEXT), \
                         outcome, provider_call_id, placed_at, dialer_version, note, lead_status, \
                         CAST(lead_tags AS TEXT) FROM attempts \
                         WHERE business_id = $1 AND run_id = $2 AND job_id IN ({list}) \
                         ORDER BY job_id, id"
                    );
                    let mut leads = BTreeMap::new();
                    for r in sqlx::query(&leads_sql)
                        .bind(tenant)
                        .bind(run_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?
                    {
                        leads.insert(r.get::<JobId, _>(0), r.get::<String, _>(1));
                    }
                    let mut attempts = Vec::new();
                    for r in sqlx::query(&attempts_sql)
                        .bind(tenant)
                        .bind(run_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?
                    {
                        attempts.push(AttemptDetail {
                            job_id: r.get(0),
                            attempt: r.get::<i32, _>(1) as i64,
                            placed: r.get(2),
                            decision: r.get(3),
                            compliance: r.get(4),
                            outcome: r.get(5),
                            provider_call_id: r.get(6),
                            dialer_version: r.get(8),
                            placed_at: r.get(7),
                            note: r.get(9),
                            lead_status: r.get(10),
                            lead_tags: $crate::store::runs::tags_from_json(r.get(11)),
                        });
                    }
                    Ok((leads, attempts))
                }
            }
        };
    };
}
pub(crate) use impl_platform_reads;

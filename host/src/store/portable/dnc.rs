//! [`crate::store::DncStore`] for both drivers: the do-not-call list, in SQL
//! that is the same on both engines but for PostgreSQL's casts (see [`super`]).

/// Implements [`crate::store::DncStore`] for a driver type with `pool` and
/// `err`; `$engine` is `postgres` or `sqlite`.
macro_rules! impl_dnc_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::Utc;
            use sqlx::Row;

            use $crate::model::TenantId;
            use $crate::store::portable::pg_cast;
            use $crate::store::{DncStore, PAGE_LIMIT_MAX, StoreResult};

            #[async_trait]
            impl DncStore for $store {
                async fn dnc_add(&self, tenant: TenantId, phone: &str) -> StoreResult<bool> {
                    let r = sqlx::query(
                        "INSERT INTO dnc (business_id, phone, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (business_id, phone) DO NOTHING",
                    )
                    .bind(tenant)
                    .bind(phone)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(r.rows_affected() == 1)
                }

                async fn dnc_remove(&self, tenant: TenantId, phone: &str) -> StoreResult<bool> {
                    let r = sqlx::query("DELETE FROM dnc WHERE business_id = $1 AND phone = $2")
                        .bind(tenant)
                        .bind(phone)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?;
                    Ok(r.rows_affected() == 1)
                }

                async fn dnc_contains(&self, tenant: TenantId, phone: &str) -> StoreResult<bool> {
                    let row =
                        sqlx::query("SELECT 1 FROM dnc WHERE business_id = $1 AND phone = $2")
                            .bind(tenant)
                            .bind(phone)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(|e| self.err(e))?;
                    Ok(row.is_some())
                }

                async fn dnc_list(
                    &self,
                    tenant: TenantId,
                    after: Option<&str>,
                    limit: u32,
                ) -> StoreResult<Vec<String>> {
                    let rows = sqlx::query(concat!(
                        "SELECT phone FROM dnc WHERE business_id = $1 AND ($2",
                        pg_cast!($engine, "::text"),
                        " IS NULL OR phone > $2) ORDER BY phone LIMIT $3"
                    ))
                    .bind(tenant)
                    .bind(after)
                    .bind(limit.clamp(1, PAGE_LIMIT_MAX) as i64)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows.iter().map(|r| r.get(0)).collect())
                }
            }
        };
    };
}
pub(crate) use impl_dnc_store;

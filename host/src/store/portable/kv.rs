//! [`crate::store::KvStore`] for both drivers: the plugins' tenant key-value
//! store, in SQL that is the same on both engines but for PostgreSQL's casts
//! (see [`super`]).

/// Implements [`crate::store::KvStore`] for a driver type with `pool` and
/// `err`; `$engine` is `postgres` or `sqlite`.
macro_rules! impl_kv_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::Utc;
            use sqlx::Row;

            use $crate::model::TenantId;
            use $crate::store::portable::pg_cast;
            use $crate::store::{KvEntry, KvStore, Page, StoreResult};

            #[async_trait]
            impl KvStore for $store {
                async fn kv_get(
                    &self,
                    tenant: TenantId,
                    namespace: &str,
                    key: &str,
                ) -> StoreResult<Option<Vec<u8>>> {
                    let row = sqlx::query(
                        "SELECT value FROM tenant_store \
                         WHERE business_id = $1 AND namespace = $2 AND key = $3",
                    )
                    .bind(tenant)
                    .bind(namespace)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(row.map(|r| r.get(0)))
                }

                async fn kv_set(
                    &self,
                    tenant: TenantId,
                    namespace: &str,
                    key: &str,
                    value: &[u8],
                ) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO tenant_store (business_id, namespace, key, value, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (business_id, namespace, key) DO UPDATE SET \
                             value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(tenant)
                    .bind(namespace)
                    .bind(key)
                    .bind(value)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(())
                }

                async fn kv_compare_and_swap(
                    &self,
                    tenant: TenantId,
                    namespace: &str,
                    key: &str,
                    expected: Option<&[u8]>,
                    value: &[u8],
                ) -> StoreResult<bool> {
                    // One statement each: PostgreSQL re-checks `value = $6`
                    // on the row a concurrent writer committed (READ
                    // COMMITTED), SQLite has one writer; either way a swap
                    // from a stale read matches nothing.
                    let q = match expected {
                        Some(old) => sqlx::query(
                            "UPDATE tenant_store SET value = $4, updated_at = $5 \
                             WHERE business_id = $1 AND namespace = $2 AND key = $3 \
                               AND value = $6",
                        )
                        .bind(tenant)
                        .bind(namespace)
                        .bind(key)
                        .bind(value)
                        .bind(Utc::now())
                        .bind(old),
                        None => sqlx::query(
                            "INSERT INTO tenant_store \
                                 (business_id, namespace, key, value, updated_at) \
                             VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (business_id, namespace, key) DO NOTHING",
                        )
                        .bind(tenant)
                        .bind(namespace)
                        .bind(key)
                        .bind(value)
                        .bind(Utc::now()),
                    };
                    let done = q.execute(&self.pool).await.map_err(|e| self.err(e))?;
                    Ok(done.rows_affected() == 1)
                }

                async fn kv_delete(
                    &self,
                    tenant: TenantId,
                    namespace: &str,
                    key: &str,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "DELETE FROM tenant_store \
                         WHERE business_id = $1 AND namespace = $2 AND key = $3",
                    )
                    .bind(tenant)
                    .bind(namespace)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(())
                }

                async fn kv_list(
                    &self,
                    tenant: TenantId,
                    namespace: Option<&str>,
                    after_key: Option<(&str, &str)>,
                    page: Page,
                ) -> StoreResult<Vec<KvEntry>> {
                    let rows = sqlx::query(concat!(
                        "SELECT namespace, key, value FROM tenant_store WHERE business_id = $1 \
                             AND ($2",
                        pg_cast!($engine, "::text"),
                        " IS NULL OR namespace = $2) AND ($3",
                        pg_cast!($engine, "::text"),
                        " IS NULL OR (namespace, key) > ($3, $4)) \
                             ORDER BY namespace, key LIMIT $5"
                    ))
                    .bind(tenant)
                    .bind(namespace)
                    .bind(after_key.map(|a| a.0))
                    .bind(after_key.map(|a| a.1))
                    .bind(page.sql_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows
                        .iter()
                        .map(|r| KvEntry {
                            namespace: r.get(0),
                            key: r.get(1),
                            value: r.get(2),
                        })
                        .collect())
                }
            }
        };
    };
}
pub(crate) use impl_kv_store;

//! [`crate::store::AuditStore`] for both drivers: the audit log, in SQL that is
//! the same on both engines but for PostgreSQL's casts (see [`super`]).

/// Implements [`crate::store::AuditStore`] for a driver type with `pool` and
/// `err`; `$engine` is `postgres` or `sqlite`.
macro_rules! impl_audit_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::Utc;
            use sqlx::Row;

            use $crate::store::portable::pg_cast;
            use $crate::store::{
                AuditEntry, AuditRecord, AuditStore, Page, StoreError, StoreResult,
            };

            #[async_trait]
            impl AuditStore for $store {
                async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
                    let row = sqlx::query(concat!(
                        "INSERT INTO audit_log \
                             (business_id, actor_key_id, action, detail, security, at) \
                             VALUES ($1, $2, $3, $4",
                        pg_cast!($engine, "::jsonb"),
                        ", $5, $6) RETURNING id"
                    ))
                    .bind(entry.tenant)
                    .bind(entry.actor_key_id)
                    .bind(&entry.action)
                    .bind(entry.detail.to_string())
                    .bind(entry.security)
                    .bind(Utc::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(row.get(0))
                }

                async fn list_audit(
                    &self,
                    tenant: Option<$crate::model::TenantId>,
                    page: Page,
                ) -> StoreResult<Vec<AuditRecord>> {
                    let rows = sqlx::query(concat!(
                        "SELECT id, business_id, actor_key_id, action, detail",
                        pg_cast!($engine, "::text"),
                        ", security, at FROM audit_log \
                             WHERE COALESCE(business_id, 0) = COALESCE($1",
                        pg_cast!($engine, "::bigint"),
                        ", 0) AND id > $2 ORDER BY id LIMIT $3"
                    ))
                    .bind(tenant)
                    .bind(page.sql_after())
                    .bind(page.sql_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    rows.iter()
                        .map(|r| {
                            Ok(AuditRecord {
                                id: r.get(0),
                                tenant: r.get(1),
                                actor_key_id: r.get(2),
                                action: r.get(3),
                                detail: serde_json::from_str(&r.get::<String, _>(4))
                                    .map_err(|e| StoreError::Other(format!("audit detail: {e}")))?,
                                security: r.get(5),
                                at: r.get(6),
                            })
                        })
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_audit_store;

//! [`crate::store::DialerConfigStore`] for both drivers: dialer configurations
//! and callback tokens, in SQL that is the same on both engines but for
//! PostgreSQL's casts (see [`super`]).

/// Implements [`crate::store::DialerConfigStore`] for a driver type with `pool`
/// and `err`; `$engine` is `postgres` or `sqlite`.
macro_rules! impl_dialer_config_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::Utc;
            use sqlx::Row;

            use $crate::model::TenantId;
            use $crate::runtime::Properties;
            use $crate::store::portable::pg_cast;
            use $crate::store::secret;
            use $crate::store::{
                CallbackTarget, DialerConfigStore, StoreError, StoreResult, check_plugin_name,
            };

            #[async_trait]
            impl DialerConfigStore for $store {
                async fn set_dialer_config(
                    &self,
                    tenant: TenantId,
                    dialer: &str,
                    config: &Properties,
                ) -> StoreResult<()> {
                    check_plugin_name(dialer)
                        .map_err(|_| StoreError::invalid("dialer", "not a dialer name"))?;
                    let json = serde_json::to_string(config)
                        .map_err(|e| StoreError::Other(e.to_string()))?;
                    sqlx::query(concat!(
                        "INSERT INTO dialer_configs (business_id, dialer, config, updated_at) \
                             VALUES ($1, $2, $3",
                        pg_cast!($engine, "::jsonb"),
                        ", $4) ON CONFLICT (business_id, dialer) DO UPDATE SET \
                             config = excluded.config, updated_at = excluded.updated_at"
                    ))
                    .bind(tenant)
                    .bind(dialer)
                    .bind(json)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(())
                }

                async fn list_dialer_configs(&self, tenant: TenantId) -> StoreResult<Vec<String>> {
                    let rows = sqlx::query(
                        "SELECT dialer FROM dialer_configs WHERE business_id = $1 ORDER BY dialer",
                    )
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows.iter().map(|r| r.get(0)).collect())
                }

                async fn dialer_config_for_worker(
                    &self,
                    tenant: TenantId,
                    dialer: &str,
                ) -> StoreResult<Option<Properties>> {
                    let row = sqlx::query(concat!(
                        "SELECT config",
                        pg_cast!($engine, "::text"),
                        " FROM dialer_configs WHERE business_id = $1 AND dialer = $2"
                    ))
                    .bind(tenant)
                    .bind(dialer)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    row.map(|r| {
                        serde_json::from_str(&r.get::<String, _>(0))
                            .map_err(|e| StoreError::Other(format!("dialer config: {e}")))
                    })
                    .transpose()
                }

                async fn create_callback_token(
                    &self,
                    tenant: TenantId,
                    dialer: &str,
                ) -> StoreResult<String> {
                    let s = secret::generate("cb");
                    sqlx::query(
                        "INSERT INTO callback_tokens (token_hash, business_id, dialer, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&s.hash)
                    .bind(tenant)
                    .bind(dialer)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(s.plaintext)
                }

                async fn resolve_callback_token(&self, token: &str) -> StoreResult<CallbackTarget> {
                    let row = sqlx::query(
                        "SELECT business_id, dialer FROM callback_tokens WHERE token_hash = $1",
                    )
                    .bind(secret::hash(token))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .ok_or(StoreError::NotFound)?;
                    Ok(CallbackTarget {
                        tenant: row.get(0),
                        dialer: row.get(1),
                    })
                }
            }
        };
    };
}
pub(crate) use impl_dialer_config_store;

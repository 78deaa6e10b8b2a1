//! [`crate::store::AccountStore`] for both drivers: tenants and their API keys,
//! in SQL that is the same on both engines but for PostgreSQL's casts (see
//! [`super`]).

/// Implements [`crate::store::AccountStore`] for a driver type with `pool` and
/// `err`; `$engine` is `postgres` or `sqlite`.
macro_rules! impl_account_store {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::Utc;
            use sqlx::Row;

            use $crate::model::{ApiKeyId, TenantId};
            use $crate::store::portable::pg_cast;
            use $crate::store::secret;
            use $crate::store::{
                AccountStore, ApiKeyInfo, CreatedKey, Principal, StoreError, StoreResult, Tenant,
            };

            #[async_trait]
            impl AccountStore for $store {
                async fn create_tenant(&self, name: &str) -> StoreResult<TenantId> {
                    let name = name.trim();
                    if name.is_empty() || name.chars().count() > 200 {
                        return Err(StoreError::invalid("name", "must be 1 to 200 characters"));
                    }
                    let row = sqlx::query(
                        "INSERT INTO businesses (name, created_at) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(name)
                    .bind(Utc::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(row.get(0))
                }

                async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant> {
                    let row =
                        sqlx::query("SELECT id, name, created_at FROM businesses WHERE id = $1")
                            .bind(tenant)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(|e| self.err(e))?
                            .ok_or(StoreError::NotFound)?;
                    Ok(Tenant {
                        id: row.get(0),
                        name: row.get(1),
                        created_at: row.get(2),
                    })
                }

                async fn create_api_key(
                    &self,
                    tenant: Option<TenantId>,
                ) -> StoreResult<CreatedKey> {
                    let kind = if tenant.is_some() { "tenant" } else { "admin" };
                    let s = secret::generate(if tenant.is_some() { "key" } else { "admin" });
                    let row = sqlx::query(
                        "INSERT INTO api_keys (business_id, kind, key_hash, prefix, created_at) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(tenant)
                    .bind(kind)
                    .bind(&s.hash)
                    .bind(&s.prefix)
                    .bind(Utc::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| match self.err(e) {
                        // The only foreign key: the tenant does not exist.
                        StoreError::Conflict { .. } => StoreError::NotFound,
                        e => e,
                    })?;
                    Ok(CreatedKey {
                        id: row.get(0),
                        plaintext: s.plaintext,
                        prefix: s.prefix,
                    })
                }

                async fn resolve_api_key(&self, plaintext: &str) -> StoreResult<Principal> {
                    let row = sqlx::query(
                        "SELECT id, business_id FROM api_keys \
                         WHERE key_hash = $1 AND revoked_at IS NULL",
                    )
                    .bind(secret::hash(plaintext))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .ok_or(StoreError::NotFound)?;
                    let key_id: ApiKeyId = row.get(0);
                    Ok(match row.get::<Option<TenantId>, _>(1) {
                        Some(tenant) => Principal::Tenant { tenant, key_id },
                        None => Principal::Admin { key_id },
                    })
                }

                async fn revoke_api_key(
                    &self,
                    tenant: Option<TenantId>,
                    key_id: ApiKeyId,
                ) -> StoreResult<()> {
                    let done = sqlx::query(concat!(
                        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
                             WHERE id = $2 AND COALESCE(business_id, 0) = COALESCE($1",
                        pg_cast!($engine, "::bigint"),
                        ", 0)"
                    ))
                    .bind(tenant)
                    .bind(key_id)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn list_api_keys(
                    &self,
                    tenant: Option<TenantId>,
                ) -> StoreResult<Vec<ApiKeyInfo>> {
                    let rows = sqlx::query(concat!(
                        "SELECT id, business_id, prefix, created_at, revoked_at FROM api_keys \
                             WHERE COALESCE(business_id, 0) = COALESCE($1",
                        pg_cast!($engine, "::bigint"),
                        ", 0) ORDER BY id"
                    ))
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(rows
                        .iter()
                        .map(|r| ApiKeyInfo {
                            id: r.get(0),
                            tenant: r.get(1),
                            prefix: r.get(2),
                            created_at: r.get(3),
                            revoked_at: r.get(4),
                        })
                        .collect())
                }
            }
        };
    };
}
pub(crate) use impl_account_store;

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
            use $crate::config::{API_KEY_LABEL_MAX, API_KEY_LAST_USED_WRITE_INTERVAL};
            use $crate::store::{
                AccountStore, ApiKeyInfo, CreatedKey, KEY_REVOKED_CONSTRAINT,
                LAST_ACTIVE_KEY_CONSTRAINT, Principal, Revoke, StoreError, StoreResult,
                TENANT_NAME_CONSTRAINT, Tenant,
            };

            /// `business_id` of the owner `$1` (NULL = platform), in a WHERE clause.
            const OWNER_IS_1: &str = concat!(
                "COALESCE(business_id, 0) = COALESCE($1",
                pg_cast!($engine, "::bigint"),
                ", 0)"
            );
            const KEY_COLUMNS: &str =
                "id, business_id, prefix, label, created_at, last_used_at, revoked_at";

            fn check_label(label: Option<&str>) -> StoreResult<Option<String>> {
                let Some(label) = label.map(str::trim) else {
                    return Ok(None);
                };
                if label.is_empty() || label.chars().count() > API_KEY_LABEL_MAX {
                    return Err(StoreError::invalid(
                        "label",
                        format!("must be 1 to {API_KEY_LABEL_MAX} characters"),
                    ));
                }
                Ok(Some(label.to_string()))
            }

            #[async_trait]
            impl AccountStore for $store {
                async fn create_tenant(&self, name: &str) -> StoreResult<TenantId> {
                    insert_tenant(&self.pool, self, name).await
                }

                async fn create_tenant_with_key(
                    &self,
                    name: &str,
                ) -> StoreResult<(TenantId, CreatedKey)> {
                    let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
                    let id = insert_tenant(&mut *tx, self, name).await?;
                    let key = insert_key(&mut *tx, self, Some(id), None).await?;
                    tx.commit().await.map_err(|e| self.err(e))?;
                    Ok((id, key))
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

                async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
                    let rows = sqlx::query("SELECT id, name, created_at FROM businesses ORDER BY id")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| self.err(e))?;
                    Ok(rows
                        .iter()
                        .map(|r| Tenant {
                            id: r.get(0),
                            name: r.get(1),
                            created_at: r.get(2),
                        })
                        .collect())
                }

                async fn create_labelled_api_key(
                    &self,
                    tenant: Option<TenantId>,
                    label: Option<&str>,
                ) -> StoreResult<CreatedKey> {
                    let label = check_label(label)?;
                    insert_key(&self.pool, self, tenant, label.as_deref()).await
                }

                async fn resolve_api_key(&self, plaintext: &str) -> StoreResult<Principal> {
                    let row = sqlx::query(
                        "SELECT id, business_id, last_used_at FROM api_keys \
                         WHERE key_hash = $1 AND revoked_at IS NULL",
                    )
                    .bind(secret::hash(plaintext))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .ok_or(StoreError::NotFound)?;
                    let key_id: ApiKeyId = row.get(0);
                    let last_used: Option<chrono::DateTime<Utc>> = row.get(2);
                    let now = Utc::now();
                    let interval = chrono::Duration::from_std(API_KEY_LAST_USED_WRITE_INTERVAL)
                        .unwrap_or(chrono::Duration::MAX);
                    // Written only when stale, and conditionally, so a burst
                    // of requests on several nodes writes the row once.
                    // Bookkeeping, not authentication: a failed write (a
                    // busy SQLite file) is logged and the request goes on.
                    if last_used.is_none_or(|t| now - t >= interval) {
                        if let Err(e) = sqlx::query(
                            "UPDATE api_keys SET last_used_at = $1 \
                             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
                        )
                        .bind(now)
                        .bind(key_id)
                        .bind(now - interval)
                        .execute(&self.pool)
                        .await
                        {
                            tracing::warn!(key_id = %key_id, error = %self.err(e), "cannot record an API key's use");
                        }
                    }
                    Ok(match row.get::<Option<TenantId>, _>(1) {
                        Some(tenant) => Principal::Tenant { tenant, key_id },
                        None => Principal::Admin { key_id },
                    })
                }

                async fn revoke_api_key_guarded(
                    &self,
                    tenant: Option<TenantId>,
                    key_id: ApiKeyId,
                    rule: Revoke,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
                    if rule == Revoke::KeepOneActive && stringify!($engine) == "postgres" {
                        // Two revokes of an owner's last two keys at once
                        // must not both pass the check below: lock the
                        // owner's active keys first. (SQLite has one writer:
                        // its single UPDATE is atomic as it is.)
                        sqlx::query(&format!(
                            "SELECT id FROM api_keys WHERE {OWNER_IS_1} AND revoked_at IS NULL \
                             ORDER BY id FOR UPDATE"
                        ))
                        .bind(tenant)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    }
                    let keep_one = rule == Revoke::KeepOneActive;
                    let done = sqlx::query(&format!(
                        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
                         WHERE id = $2 AND {OWNER_IS_1} \
                           AND (NOT $4 OR revoked_at IS NOT NULL OR EXISTS ( \
                                SELECT 1 FROM api_keys AS o \
                                 WHERE COALESCE(o.business_id, 0) = COALESCE($1{cast}, 0) \
                                   AND o.id <> $2 AND o.revoked_at IS NULL))",
                        cast = pg_cast!($engine, "::bigint"),
                    ))
                    .bind(tenant)
                    .bind(key_id)
                    .bind(Utc::now())
                    .bind(keep_one)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    if done.rows_affected() == 0 {
                        let exists = sqlx::query(&format!(
                            "SELECT 1 FROM api_keys WHERE id = $2 AND {OWNER_IS_1}"
                        ))
                        .bind(tenant)
                        .bind(key_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                        return Err(match exists {
                            Some(_) => StoreError::Conflict {
                                constraint: LAST_ACTIVE_KEY_CONSTRAINT.into(),
                            },
                            None => StoreError::NotFound,
                        });
                    }
                    tx.commit().await.map_err(|e| self.err(e))?;
                    Ok(())
                }

                async fn rotate_api_key(
                    &self,
                    tenant: Option<TenantId>,
                    key_id: ApiKeyId,
                ) -> StoreResult<CreatedKey> {
                    // The write comes first, so SQLite takes its write lock
                    // at once and PostgreSQL locks the row: of two rotations
                    // of one key, the second finds it revoked.
                    let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
                    let old = sqlx::query(&format!(
                        "UPDATE api_keys SET revoked_at = $3 \
                         WHERE id = $2 AND {OWNER_IS_1} AND revoked_at IS NULL RETURNING label"
                    ))
                    .bind(tenant)
                    .bind(key_id)
                    .bind(Utc::now())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    let Some(old) = old else {
                        let exists = sqlx::query(&format!(
                            "SELECT 1 FROM api_keys WHERE id = $2 AND {OWNER_IS_1}"
                        ))
                        .bind(tenant)
                        .bind(key_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                        return Err(match exists {
                            Some(_) => StoreError::Conflict {
                                constraint: KEY_REVOKED_CONSTRAINT.into(),
                            },
                            None => StoreError::NotFound,
                        });
                    };
                    let label: Option<String> = old.get(0);
                    let key = insert_key(&mut *tx, self, tenant, label.as_deref()).await?;
                    tx.commit().await.map_err(|e| self.err(e))?;
                    Ok(key)
                }

                async fn list_api_keys(
                    &self,
                    tenant: Option<TenantId>,
                ) -> StoreResult<Vec<ApiKeyInfo>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {KEY_COLUMNS} FROM api_keys WHERE {OWNER_IS_1} ORDER BY id"
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
                            label: r.get(3),
                            created_at: r.get(4),
                            last_used_at: r.get(5),
                            revoked_at: r.get(6),
                        })
                        .collect())
                }
            }

            /// Inserts a new key of `tenant` (`None`: admin) on `db` (the
            /// pool, or a rotation's transaction).
            /// Inserts a tenant named `name` (trimmed; 1 to 200 characters).
            async fn insert_tenant<'e, E>(db: E, store: &$store, name: &str) -> StoreResult<TenantId>
            where
                E: sqlx::Executor<'e, Database = <$store as $crate::store::portable::accounts::HasDb>::Db>,
            {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 200 {
                    return Err(StoreError::invalid("name", "must be 1 to 200 characters"));
                }
                let row = sqlx::query(
                    "INSERT INTO businesses (name, created_at) VALUES ($1, $2) RETURNING id",
                )
                .bind(name)
                .bind(Utc::now())
                .fetch_one(db)
                .await
                .map_err(|e| match store.err(e) {
                    // The name is checked above: only the unique index remains.
                    StoreError::Conflict { .. } => StoreError::Conflict {
                        constraint: TENANT_NAME_CONSTRAINT.into(),
                    },
                    e => e,
                })?;
                Ok(row.get(0))
            }

            async fn insert_key<'e, E>(
                db: E,
                store: &$store,
                tenant: Option<TenantId>,
                label: Option<&str>,
            ) -> StoreResult<CreatedKey>
            where
                E: sqlx::Executor<'e, Database = <$store as $crate::store::portable::accounts::HasDb>::Db>,
            {
                let kind = if tenant.is_some() { "tenant" } else { "admin" };
                let s = secret::generate(if tenant.is_some() { "key" } else { "admin" });
                let row = sqlx::query(
                    "INSERT INTO api_keys (business_id, kind, key_hash, prefix, label, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(tenant)
                .bind(kind)
                .bind(&s.hash)
                .bind(&s.prefix)
                .bind(label)
                .bind(Utc::now())
                .fetch_one(db)
                .await
                .map_err(|e| match store.err(e) {
                    // The only foreign key: the tenant does not exist.
                    StoreError::Conflict { .. } => StoreError::NotFound,
                    e => e,
                })?;
                Ok(CreatedKey {
                    id: row.get(0),
                    plaintext: s.plaintext,
                    prefix: s.prefix,
                    label: label.map(str::to_string),
                })
            }
        };
    };
}
pub(crate) use impl_account_store;

/// The sqlx database of a driver type (for code generic over the executor).
pub trait HasDb {
    type Db: sqlx::Database;
}

impl HasDb for crate::store::postgres::PgStore {
    type Db = sqlx::Postgres;
}

impl HasDb for crate::store::sqlite::SqliteStore {
    type Db = sqlx::Sqlite;
}

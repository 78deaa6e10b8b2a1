use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::Row;
use sqlx::postgres::{PgListener, PgRow};

use super::PgStore;
use crate::model::TenantId;
use crate::runtime::PluginKind;
use crate::store::secret::sha256_hex;
use crate::store::{
    PLUGIN_ACTIVATED_CHANNEL, PluginBlob, PluginStore, PluginVersion, StoreError, StoreResult,
    check_plugin_name, plugin_kind_from_str,
};

const VERSION_COLUMNS: &str =
    "id, kind, business_id, name, version, sha256, size, active, created_at";
/// Matches one (kind, owner, name); owner NULL = platform.
const SAME_PLUGIN: &str =
    "kind = $1 AND COALESCE(business_id, 0) = COALESCE($2::bigint, 0) AND name = $3";
/// Concurrent uploads of the same name may pick the same number; the unique
/// index rejects all but one, and the others try again.
const INSERT_ATTEMPTS: usize = 8;

fn version_from_row(r: &PgRow) -> StoreResult<PluginVersion> {
    Ok(PluginVersion {
        id: r.get(0),
        kind: plugin_kind_from_str(r.get(1))?,
        tenant: r.get(2),
        name: r.get(3),
        version: r.get(4),
        sha256: r.get(5),
        size: r.get(6),
        active: r.get(7),
        created_at: r.get(8),
    })
}

fn blob_from_row(r: &PgRow) -> StoreResult<PluginBlob> {
    Ok(PluginBlob {
        version: version_from_row(r)?,
        bytes: r.get(9),
    })
}

#[async_trait]
impl PluginStore for PgStore {
    async fn insert_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        bytes: &[u8],
    ) -> StoreResult<PluginVersion> {
        check_plugin_name(name)?;
        let sha = sha256_hex(bytes);
        let mut last = None;
        for _ in 0..INSERT_ATTEMPTS {
            let r = sqlx::query(&format!(
                "INSERT INTO plugins (kind, business_id, name, version, sha256, size, bytes, active, created_at) \
                 SELECT $1, $2, $3, COALESCE(MAX(version), 0) + 1, $4, $5, $6, FALSE, $7 \
                 FROM plugins WHERE {SAME_PLUGIN} \
                 RETURNING {VERSION_COLUMNS}"
            ))
            .bind(kind.as_str())
            .bind(owner)
            .bind(name)
            .bind(&sha)
            .bind(bytes.len() as i64)
            .bind(bytes)
            .bind(Utc::now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e));
            match r {
                Ok(row) => return version_from_row(&row),
                Err(e @ StoreError::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(StoreError::Other("plugin insert retries exhausted".into())))
    }

    async fn list_plugin_versions(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
    ) -> StoreResult<Vec<PluginVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM plugins WHERE {SAME_PLUGIN} ORDER BY version DESC"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(version_from_row).collect()
    }

    async fn list_plugins(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
    ) -> StoreResult<Vec<PluginVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM plugins p \
             WHERE kind = $1 AND COALESCE(business_id, 0) = COALESCE($2::bigint, 0) \
             AND version = (SELECT MAX(version) FROM plugins q WHERE q.kind = p.kind \
                 AND COALESCE(q.business_id, 0) = COALESCE(p.business_id, 0) AND q.name = p.name) \
             ORDER BY name"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(version_from_row).collect()
    }

    async fn active_plugin_versions(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
    ) -> StoreResult<Vec<PluginVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM plugins \
             WHERE kind = $1 AND COALESCE(business_id, 0) = COALESCE($2::bigint, 0) AND active \
             ORDER BY name"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(version_from_row).collect()
    }

    async fn activation_notices(&self) -> StoreResult<BoxStream<'static, ()>> {
        let mut listener = PgListener::connect_with(self.pool.inner())
            .await
            .map_err(|e| self.err(e))?;
        listener
            .listen(PLUGIN_ACTIVATED_CHANNEL)
            .await
            .map_err(|e| self.err(e))?;
        // `recv` reconnects after the server went away; back off between
        // failed attempts instead of spinning.
        let stream = futures::stream::unfold(listener, |mut l| async move {
            loop {
                match l.recv().await {
                    Ok(_) => return Some(((), l)),
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn get_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        version: i64,
    ) -> StoreResult<PluginBlob> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS}, bytes FROM plugins WHERE {SAME_PLUGIN} AND version = $4"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)?;
        blob_from_row(&row)
    }

    async fn get_active_plugin(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
    ) -> StoreResult<PluginBlob> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS}, bytes FROM plugins WHERE {SAME_PLUGIN} AND active"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)?;
        blob_from_row(&row)
    }

    async fn activate_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        version: i64,
    ) -> StoreResult<PluginVersion> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        // Lock every version of this name: concurrent activations serialise.
        let locked = sqlx::query(&format!(
            "SELECT version FROM plugins WHERE {SAME_PLUGIN} ORDER BY version FOR UPDATE"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if !locked.iter().any(|r| r.get::<i64, _>(0) == version) {
            return Err(StoreError::NotFound);
        }
        sqlx::query(&format!(
            "UPDATE plugins SET active = FALSE WHERE {SAME_PLUGIN} AND active AND version <> $4"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row = sqlx::query(&format!(
            "UPDATE plugins SET active = TRUE WHERE {SAME_PLUGIN} AND version = $4 \
             RETURNING {VERSION_COLUMNS}"
        ))
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(version)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        // Delivered at commit, to every listening worker.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(PLUGIN_ACTIVATED_CHANNEL)
            .bind(format!(
                "{}:{}:{name}:{version}",
                kind.as_str(),
                owner.map_or(0, TenantId::get)
            ))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        version_from_row(&row)
    }
}

//! The SQLite driver: the embedded default (demo, single node).
//! One file per concern where the engines differ, mirroring
//! [`crate::store::postgres`]; the rest is instantiated from
//! `crate::store::portable` below.
//!
//! - `leads`: `LeadStore` (JSON tags via `json_each`).
//! - `plugins`: `PluginStore` (activation announced in process).
//! - `runs`: `ApiRunStore` and `WorkerRunStore` (`BEGIN IMMEDIATE`
//!   writes, per-row batches, in-process cancel notices).
//!
//! WAL journal, foreign keys on, and a busy timeout so writers queue for the
//! single write lock instead of failing.

mod leads;
mod plugins;
mod runs;

use std::str::FromStr;

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::config::{
    DATABASE_ACQUIRE_TIMEOUT_DEFAULT, DATABASE_MAX_CONNECTIONS_DEFAULT, SQLITE_BUSY_TIMEOUT_DEFAULT,
};
use crate::store::timed_pool::TimedPool;
use crate::store::{
    Engine, MigrationReport, StoreError, StoreInfo, StoreResult, migrate, redact_url,
};

/// A [`crate::store::Store`] on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    /// Timed: `/metrics` reports how long queries waited for it.
    pub(crate) pool: TimedPool<sqlx::Sqlite>,
    pub(crate) url: String,
}

// Tenants, keys, kv, dnc, audit, dialer configs: the same SQL on both engines.
crate::store::portable::impl_portable_stores!(SqliteStore, sqlite);

impl SqliteStore {
    /// Opens (creating the file if needed) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<(SqliteStore, MigrationReport)> {
        let redacted = redact_url(url);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("database-url", format!("{redacted}: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT_DEFAULT);
        if !in_memory {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        // An in-memory database exists once per connection: keep exactly one.
        let max = if in_memory {
            1
        } else {
            DATABASE_MAX_CONNECTIONS_DEFAULT
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(DATABASE_ACQUIRE_TIMEOUT_DEFAULT)
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable {
                url: redacted.clone(),
                cause: e.to_string(),
            })?;
        let store = SqliteStore {
            pool: pool.into(),
            url: redacted,
        };
        let report = store.migrate().await?;
        Ok((store, report))
    }

    /// Applies pending migrations (see [`migrate`]).
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        migrate::apply_sqlite(self.pool.inner(), &self.url).await
    }

    /// The pool, for the lifecycle's own queries.
    pub fn pool(&self) -> &SqlitePool {
        self.pool.inner()
    }

    pub(crate) fn err(&self, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(e, &self.url)
    }
}

impl StoreInfo for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    fn redacted_url(&self) -> &str {
        &self.url
    }
    fn pool_probe(&self) -> std::sync::Arc<dyn crate::store::timed_pool::PoolProbe> {
        self.pool.probe()
    }
    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
            Ok(())
        }
        .boxed()
    }
    fn schema_version(&self) -> BoxFuture<'_, StoreResult<i64>> {
        async move {
            let (v,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(version) FROM dialplane_migrations")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
            Ok(v.unwrap_or(0))
        }
        .boxed()
    }
}

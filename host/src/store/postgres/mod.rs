//! The PostgreSQL driver: production engine, shared by many hosts.
//! One file per concern where the engines differ, mirroring
//! [`crate::store::sqlite`]; the rest is instantiated from
//! `crate::store::portable` below.
//!
//! - `leads`: `LeadStore` (JSONB tags, row locks for tag merges).
//! - `plugins`: `PluginStore` (activation announced with `NOTIFY`).
//! - `runs`: `ApiRunStore` and `WorkerRunStore` (`SKIP LOCKED` claims,
//!   `UNNEST` batches, cancel notices with `LISTEN/NOTIFY`).

mod leads;
mod plugins;
mod runs;

use futures::FutureExt;
use futures::future::BoxFuture;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::{
    DATABASE_ACQUIRE_TIMEOUT_DEFAULT, DATABASE_MAX_CONNECTIONS_DEFAULT,
    POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT,
};
use crate::store::timed_pool::TimedPool;
use crate::store::{
    Engine, MigrationReport, StoreError, StoreInfo, StoreResult, migrate, redact_url,
};

/// A [`crate::store::Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    /// Timed: `/metrics` reports how long queries waited for it.
    pub(crate) pool: TimedPool<sqlx::Postgres>,
    pub(crate) url: String,
}

// Tenants, keys, kv, dnc, audit, dialer configs: the same SQL on both engines.
crate::store::portable::impl_portable_stores!(PgStore, postgres);

impl PgStore {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<(PgStore, MigrationReport)> {
        let (opts, redacted) = connect_options(url)?;
        // One direct connection first: a pool would retry until its timeout
        // and then only say "timed out", hiding the cause (refused, auth, …).
        PgConnection::connect_with(&opts)
            .await
            .map_err(|e| unavailable(e, &redacted))?
            .close()
            .await
            .ok();
        let pool = PgPoolOptions::new()
            .max_connections(DATABASE_MAX_CONNECTIONS_DEFAULT)
            .acquire_timeout(DATABASE_ACQUIRE_TIMEOUT_DEFAULT)
            .connect_with(opts)
            .await
            .map_err(|e| unavailable(e, &redacted))?;
        let store = PgStore {
            pool: pool.into(),
            url: redacted,
        };
        let report = store.migrate().await?;
        Ok((store, report))
    }

    /// Applies pending migrations (see [`migrate`]).
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        migrate::apply_postgres(self.pool.inner(), &self.url).await
    }

    /// The pool, for the lifecycle's own queries (LISTEN/NOTIFY).
    pub fn pool(&self) -> &PgPool {
        self.pool.inner()
    }

    pub(crate) fn err(&self, e: sqlx::Error) -> StoreError {
        StoreError::from_sqlx(e, &self.url)
    }
}

/// Parses `url` into connect options for every pool of ours (the store's
/// and the API's RLS pool), with the redacted URL for error messages.
///
/// Adds `idle_in_transaction_session_timeout` (see
/// [`POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT`] for why) unless the URL's
/// `options` already set it.
pub(crate) fn connect_options(url: &str) -> StoreResult<(PgConnectOptions, String)> {
    let redacted = redact_url(url);
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::invalid("database-url", format!("{redacted}: {e}")))?;
    let already_set = opts
        .get_options()
        .is_some_and(|o| o.contains("idle_in_transaction_session_timeout"));
    let opts = match already_set {
        true => opts,
        false => opts.options([(
            "idle_in_transaction_session_timeout",
            POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT
                .as_millis()
                .to_string(),
        )]),
    };
    Ok((opts, redacted))
}

/// Any failure to open the database is "unavailable", naming the URL and cause.
fn unavailable(e: sqlx::Error, url: &str) -> StoreError {
    match StoreError::from_sqlx(e, url) {
        u @ StoreError::Unavailable { .. } => u,
        other => StoreError::Unavailable {
            url: url.to_string(),
            cause: other.to_string(),
        },
    }
}

impl StoreInfo for PgStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
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

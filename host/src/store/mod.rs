//! The store: the only place with SQL.
//!
//! Design:
//! - Traits split by concern (tenants and keys, leads, plugins, tenant
//!   key-value store, do-not-call list, audit log, dialer configuration and
//!   callback tokens, runs), each in its own file so a reader finds "where
//!   are leads stored" by file name.
//! - Traits split by audience, like the database roles: [`ApiStore`] is what
//!   the API may call (every tenant method takes the tenant; on PostgreSQL it
//!   runs as the RLS role), [`WorkerRunStore`] is the workers' lease-fenced
//!   side of runs, and [`Store`] is their union, which [`connect`] returns.
//!   The API gets its part by trait upcasting and cannot call the other.
//! - Two drivers: [`postgres`] (production, many hosts) and [`sqlite`]
//!   (embedded default, demo, single node), one file per concern where the
//!   engines truly differ (plugins' notify, leads' JSON, the run store's
//!   claims and batch writes). The concerns whose SQL differs only by casts
//!   are written once for both in `portable`, and so are the run store's
//!   row mappers. Both drivers pass the same
//!   [`conformance`] and [`conformance_runs`] suites.
//! - Queries are built at run time (`sqlx::query` + `bind`), never with the
//!   compile-time-checked macros: no database is needed to build.
//! - **Every tenant query takes the tenant and filters by it.** A row of
//!   another tenant is [`StoreError::NotFound`], exactly like a missing row, so
//!   the API answers 404 and existence does not leak.
//! - Ids are typed ([`crate::model::ids`]): a tenant is a
//!   [`TenantId`](crate::model::TenantId), an API key an
//!   [`ApiKeyId`](crate::model::ApiKeyId), a run, job and lead a
//!   [`RunId`](crate::model::RunId), [`JobId`](crate::model::JobId) and
//!   [`LeadId`](crate::model::LeadId), and a worker's fenced write presents
//!   its [`Lease`](crate::model::Lease), so they cannot be swapped silently.
//! - **`business_id` is the schema's name for the tenant id**, kept from the
//!   original system's schema: every tenant table's `business_id` column (and
//!   the RLS setting `dialplane.business_id`) holds a `TenantId`. The Rust
//!   code and the docs say "tenant" (fields and parameters `tenant`); only
//!   SQL text says `business_id`, and `#[serde(rename = "business_id")]`
//!   where a serialized row keeps its JSON name.
//! - Secrets (API keys, callback tokens) are stored as sha256 only; dialer
//!   configurations are write-only except on the worker path.
//! - [`connect`] picks the driver from the URL scheme and applies the
//!   migrations ([`migrate`]) before returning, so every process that opens the
//!   database sees the current schema; concurrent starts do not race.
//!
//! PostgreSQL Row-Level Security is the second wall (migration 0003,
//! [`tenant_scope`]): the API's connections run as the non-superuser role
//! `dialplane_tenant`, whose policies on every tenant table admit only the
//! tenant named in `dialplane.business_id`, set for the request's task
//! whenever a connection is handed out. Workers connect as the owner.
//!
//! Module map:
//! - [`accounts`]: [`AccountStore`], tenants (accounts) and API keys; not the
//!   plugins' `tenant-store`, which is [`KvStore`].
//! - [`leads`]: [`LeadStore`], a tenant's leads (the people to call).
//! - [`plugins`]: [`PluginStore`], plugin versions, activation, notices.
//! - [`kv`]: [`KvStore`], the plugins' tenant key-value store, and [`StoreKv`].
//! - [`dnc`]: [`DncStore`], the do-not-call list.
//! - [`audit`]: [`AuditStore`], the tenant and platform audit logs.
//! - [`dialer_config`]: [`DialerConfigStore`], dialer configs, callback tokens.
//! - [`runs`]: [`ApiRunStore`] and [`WorkerRunStore`], the run lifecycle.
//! - [`run_counts`]: a run's live job counts (`run_job_counts`, migration 0011).
//! - [`run_pause`]: [`ApiRunPause`] and [`WorkerRunPause`], pausing and
//!   resuming a run.
//! - [`job_reads`]: [`ApiJobReads`], a run's jobs filtered and paged, and one
//!   job with its lead and attempts (the dashboard's reads).
//! - [`platform_reads`]: [`PlatformReads`], the API's cross-tenant reads.
//! - [`retention`]: [`RetentionStore`] (a tenant's retention, erasing a
//!   person's data) and [`CleanerStore`] (deleting finished runs' rows).
//! - `portable`: the stores and run-row mappers written once for both
//!   engines (macros).
//! - [`postgres`]: the PostgreSQL driver.
//! - [`sqlite`]: the SQLite driver.
//! - [`tenant_scope`]: the API's RLS role and per-task tenant scope.
//! - [`timed_pool`]: the drivers' connection pool, every acquire timed
//!   (for `/metrics`).
//! - [`migrate`]: schema migrations, applied by [`connect`].
//! - [`error`]: [`StoreError`], and URLs with the password removed.
//! - [`secret`]: bearer secrets (API keys, callback tokens), stored hashed.
//! - [`conformance`]: the cases every driver must pass.
//! - [`conformance_runs`]: the run store's cases.

pub mod accounts;
pub mod audit;
#[cfg(feature = "test-support")]
pub mod conformance;
#[cfg(feature = "test-support")]
pub mod conformance_runs;
pub mod dialer_config;
pub mod dnc;
pub mod error;
pub mod job_reads;
pub mod kv;
pub mod leads;
pub mod migrate;
pub mod platform_reads;
pub mod plugins;
mod portable;
pub mod postgres;
pub mod retention;
pub mod run_counts;
pub mod run_pause;
pub mod runs;
pub mod secret;
pub mod sqlite;
pub mod tenant_scope;
pub mod timed_pool;

use std::sync::Arc;

pub use accounts::*;
pub use audit::*;
pub use dialer_config::*;
pub use dnc::*;
pub use error::{StoreError, redact_url};
pub use job_reads::ApiJobReads;
pub use kv::*;
pub use leads::*;
pub use migrate::MigrationReport;
pub use platform_reads::PlatformReads;
pub use plugins::*;
pub use retention::{CleanerStore, LeadErasure, PurgeBatch, RetentionStore};
pub use run_pause::*;
pub use runs::*;

/// Result of a store method.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a store is and whether it answers: for logs, `/readyz`
/// and error messages, on either side.
pub trait StoreInfo {
    /// `postgres` or `sqlite` (for logs, `/readyz` and tests).
    fn engine(&self) -> Engine;
    /// The URL it was opened with, password removed.
    fn redacted_url(&self) -> &str;
    /// Cheap reachability check (`SELECT 1`), for `/readyz`.
    fn ping(&self) -> futures::future::BoxFuture<'_, StoreResult<()>>;
    /// Highest applied migration version (for `/readyz`: "migrations current").
    fn schema_version(&self) -> futures::future::BoxFuture<'_, StoreResult<i64>>;
    /// The connection pool's occupancy and acquire waits (for `/metrics`).
    fn pool_probe(&self) -> std::sync::Arc<dyn timed_pool::PoolProbe>;
}

/// A connection pool's occupancy, read from sqlx when asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle or in use).
    pub size: u32,
    pub idle: usize,
    /// The pool's limit.
    pub max: u32,
}

/// What the API may call: the tenant-scoped stores and nothing that claims a
/// run or writes under a lease. The API holds an `Arc<dyn ApiStore>`
/// (upcast from a [`Store`]), so a handler cannot reach
/// [`WorkerRunStore`] even by mistake; on PostgreSQL its connections run as
/// the RLS role `dialplane_tenant` ([`tenant_scope`]).
///
/// ```compile_fail,E0599
/// # async fn handler(api: std::sync::Arc<dyn dialplane::store::ApiStore>) {
/// // A lease method through the API's handle does not compile.
/// let _ = api.claim_runs("worker", 1, 30_000).await;
/// # }
/// ```
pub trait ApiStore:
    StoreInfo
    + AccountStore
    + LeadStore
    + PluginStore
    + KvStore
    + DncStore
    + AuditStore
    + DialerConfigStore
    + ApiRunStore
    + ApiRunPause
    + RetentionStore
    + ApiJobReads
    + Send
    + Sync
{
}

impl<T> ApiStore for T where
    T: StoreInfo
        + AccountStore
        + LeadStore
        + PluginStore
        + KvStore
        + DncStore
        + AuditStore
        + DialerConfigStore
        + ApiRunStore
        + ApiRunPause
        + RetentionStore
        + ApiJobReads
        + Send
        + Sync
{
}

/// Everything dialplane keeps in its database: the API's side plus the
/// workers' leases. What [`connect`] returns, workers and the CLI hold, and
/// tests use; hand the API only its [`ApiStore`] part.
pub trait Store: ApiStore + WorkerRunStore + WorkerRunPause + CleanerStore {}

impl<T: ApiStore + WorkerRunStore + WorkerRunPause + CleanerStore> Store for T {}

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    /// Whether transactions on several connections can write at once.
    /// SQLite has one writer at a time: splitting a write only adds
    /// transactions there.
    pub fn concurrent_writers(self) -> bool {
        match self {
            Engine::Postgres => true,
            Engine::Sqlite => false,
        }
    }

    /// Chooses the driver by URL scheme.
    pub fn from_url(url: &str) -> StoreResult<Engine> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else {
            Err(StoreError::invalid(
                "database-url",
                format!(
                    "{}: expected a postgres://, postgresql:// or sqlite: URL",
                    redact_url(url)
                ),
            ))
        }
    }
}

/// Opens the database at `url`, applies pending migrations, and returns the store.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(connect_with_report(url).await?.0)
}

/// Like [`connect`], also saying which migrations it applied (`dialplane migrate`).
pub async fn connect_with_report(url: &str) -> StoreResult<(Arc<dyn Store>, MigrationReport)> {
    match Engine::from_url(url)? {
        Engine::Postgres => {
            let (s, r) = postgres::PgStore::connect(url).await?;
            Ok((Arc::new(s), r))
        }
        Engine::Sqlite => {
            let (s, r) = sqlite::SqliteStore::connect(url).await?;
            Ok((Arc::new(s), r))
        }
    }
}

/// One page of a listing: rows with `id > after`, at most `limit` of them.
/// Keyset paging: stable under concurrent inserts, cheap at any depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<i64>,
    pub limit: u32,
}

/// Largest page any listing returns, whatever is asked.
pub const PAGE_LIMIT_MAX: u32 = 1000;

impl Page {
    pub fn first(limit: u32) -> Page {
        Page { after: None, limit }
    }
    /// The limit clamped to 1..=[`PAGE_LIMIT_MAX`], as SQL wants it.
    pub fn sql_limit(&self) -> i64 {
        self.limit.clamp(1, PAGE_LIMIT_MAX) as i64
    }
    pub fn sql_after(&self) -> i64 {
        self.after.unwrap_or(0)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::first(100)
    }
}

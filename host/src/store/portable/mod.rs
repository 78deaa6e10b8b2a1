//! Store code written once for both engines: the concerns whose SQL is the
//! same on PostgreSQL and SQLite but for a few casts. Each file holds one
//! `macro_rules!` that implements a store trait for a driver type, and each
//! driver instantiates them all with [`impl_portable_stores!`].
//!
//! - `accounts`: [`super::AccountStore`], tenants and API keys.
//! - [`kv`]: [`super::KvStore`], the plugins' tenant key-value store.
//! - [`dnc`]: [`super::DncStore`], the do-not-call list.
//! - [`audit`]: [`super::AuditStore`], the audit log.
//! - [`call_events`]: the per-call state machine and the inbox of provider
//!   events that arrive before their call is recorded.
//! - [`dialer_config`]: [`super::DialerConfigStore`], dialer configurations
//!   and callback tokens.
//! - [`job_reads`]: [`super::ApiJobReads`], a run's jobs filtered and paged,
//!   and one job with its lead and attempts (the dashboard's reads).
//! - [`platform_reads`]: [`super::PlatformReads`], the API's cross-tenant
//!   reads (owner lookups, `/metrics`, job details).
//! - [`retention`]: [`super::RetentionStore`] and [`super::CleanerStore`],
//!   a tenant's retention, erasing a lead, the cleaner's batches.
//! - [`run_pause`]: [`super::ApiRunPause`] and [`super::WorkerRunPause`],
//!   instantiated by each driver's `runs` module (which supplies its write
//!   transaction and owner notice).
//! - [`run_rows`]: the run store's column lists and row mappers (runs,
//!   jobs, attempts, a worker's jobs and leads), declared by each driver's
//!   `runs` module, whose statements stay per engine.
//!
//! Macros rather than code generic over `sqlx::Database`: the bodies only
//! need the driver's `pool` and `err`, which a macro takes as they are, where
//! generic code would need a trait bound per bound type and per executor.
//! Both engines accept `$1`-style placeholders (sqlx-sqlite binds `$NNN` to
//! argument NNN, in any order), so the SQL text differs only where
//! PostgreSQL needs a cast: [`pg_cast!`] keeps it there and drops it on
//! SQLite. Connections are the driver's own, so the API's PostgreSQL store
//! still runs these queries as the RLS role ([`super::tenant_scope`]).

pub mod accounts;
pub mod audit;
pub mod call_events;
pub mod dialer_config;
pub mod dnc;
pub mod job_reads;
pub mod kv;
pub mod platform_reads;
pub mod retention;
pub mod run_pause;
pub mod run_rows;

/// A PostgreSQL cast in SQL text shared by both engines: the cast itself on
/// `postgres`, nothing on `sqlite` (its columns are dynamically typed).
macro_rules! pg_cast {
    (postgres, $cast:literal) => {
        $cast
    };
    (sqlite, $cast:literal) => {
        ""
    };
}
pub(crate) use pg_cast;

/// Implements every portable store trait for a driver type: `$store` has
/// `pool` and `err`, `$engine` is `postgres` or `sqlite`.
macro_rules! impl_portable_stores {
    ($store:ty, $engine:ident) => {
        $crate::store::portable::accounts::impl_account_store!($store, $engine);
        $crate::store::portable::kv::impl_kv_store!($store, $engine);
        $crate::store::portable::dnc::impl_dnc_store!($store, $engine);
        $crate::store::portable::audit::impl_audit_store!($store, $engine);
        $crate::store::portable::call_events::impl_call_events!($store, $engine);
        $crate::store::portable::dialer_config::impl_dialer_config_store!($store, $engine);
        $crate::store::portable::platform_reads::impl_platform_reads!($store, $engine);
        $crate::store::portable::retention::impl_retention_store!($store, $engine);
        $crate::store::portable::job_reads::impl_job_reads!($store, $engine);
    };
}
pub(crate) use impl_portable_stores;

//! The API's second wall on PostgreSQL: Row-Level Security.
//!
//! Every store method already filters by `business_id`. On top of that, the
//! API's connections run as the role `dialplane_tenant` (`SET ROLE` at
//! connect; created by migration 0003), whose policies on every tenant table
//! admit only rows of the tenant in the setting `dialplane.business_id`:
//!
//! - a request authenticated by a tenant key runs inside [`scoped`]`(Some(id))`;
//!   whenever its task takes a connection from the pool (fresh or idle), the
//!   pool hooks below set `dialplane.business_id` to that id, so even a query
//!   that forgot its `business_id` filter cannot see another tenant's rows;
//! - platform work of the API (key lookup, callback-token lookup, admin
//!   endpoints, security events written to the owner's log) runs with the
//!   setting `platform`, which the policies admit explicitly;
//! - anything else (no scope known) sets the empty string: the policies fail
//!   closed and show nothing.
//!
//! Workers connect as the schema owner, to which these policies do not apply
//! (no `FORCE ROW LEVEL SECURITY`): their SQL filters by `business_id` and is
//! fenced by the lease; they never run a tenant's request.

use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection};

use super::postgres::PgStore;
use super::{ApiStore, Engine, StoreError, StoreResult, redact_url};
use crate::config::{DATABASE_ACQUIRE_TIMEOUT_DEFAULT, DATABASE_MAX_CONNECTIONS_DEFAULT};
use crate::model::TenantId;

/// The role API connections take (see migration 0003).
pub const TENANT_ROLE: &str = "dialplane_tenant";
/// The setting the policies read.
pub const TENANT_SETTING: &str = "dialplane.business_id";
/// Value of [`TENANT_SETTING`] for the API's platform work.
pub const PLATFORM_SCOPE: &str = "platform";

/// Whose data the current task may touch in the database (the RLS setting).
/// Not to be confused with [`crate::runtime::PluginScope`], the tenant a
/// plugin instance is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbScope {
    Tenant(TenantId),
    Platform,
}

tokio::task_local! {
    static SCOPE: DbScope;
}

/// Runs `f` with `scope` as the current task's scope.
pub async fn scoped<F: Future>(scope: DbScope, f: F) -> F::Output {
    SCOPE.scope(scope, f).await
}

/// The current task's scope, if any.
pub fn current() -> Option<DbScope> {
    SCOPE.try_with(|s| *s).ok()
}

fn setting_value() -> String {
    match current() {
        Some(DbScope::Tenant(id)) => id.to_string(),
        Some(DbScope::Platform) => PLATFORM_SCOPE.to_string(),
        None => String::new(),
    }
}

async fn apply(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config($1, $2, false)")
        .bind(TENANT_SETTING)
        .bind(setting_value())
        .execute(conn)
        .await?;
    Ok(())
}

/// Opens the API's store, typed [`ApiStore`] (no lease methods): on
/// PostgreSQL, a pool whose connections run as [`TENANT_ROLE`] with the
/// scope hooks ([`api_pool`]); on SQLite, the plain store (one process, the
/// `business_id` filter is the wall).
pub async fn connect_api(url: &str) -> StoreResult<Arc<dyn ApiStore>> {
    // Opens (and migrates) with the owner's rights first.
    let owner = super::connect(url).await?;
    if owner.engine() == Engine::Sqlite {
        return Ok(owner);
    }
    drop(owner);
    let pool = api_pool(url).await?;
    Ok(Arc::new(PgStore {
        pool: pool.into(),
        url: redact_url(url),
    }))
}

/// The API's PostgreSQL pool: `SET ROLE` [`TENANT_ROLE`] at connect, and the
/// current task's [`DbScope`] written to [`TENANT_SETTING`] whenever a
/// connection is handed out (fresh or idle). Public so tests can show that
/// raw SQL through it cannot cross tenants.
pub async fn api_pool(url: &str) -> StoreResult<sqlx::PgPool> {
    let (opts, redacted) = super::postgres::connect_options(url)?;
    PgPoolOptions::new()
        .max_connections(DATABASE_MAX_CONNECTIONS_DEFAULT)
        .acquire_timeout(DATABASE_ACQUIRE_TIMEOUT_DEFAULT)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(format!("SET ROLE {TENANT_ROLE}").as_str())
                    .await?;
                apply(conn).await
            })
        })
        .before_acquire(|conn, _| {
            Box::pin(async move {
                apply(conn).await?;
                Ok(true)
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| StoreError::from_sqlx(e, &redacted))
}

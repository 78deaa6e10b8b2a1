//! `/healthz` (the process answers) and `/readyz` (the database is reachable
//! and its migrations are the ones this binary expects).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::store::migrate::latest_version;
use crate::store::tenant_scope::{DbScope, scoped};

/// The probes' routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// `{"status": "ok"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// Fields in alphabetical order, the order the JSON had when it was built
/// as a `serde_json` map.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `postgres` or `sqlite`.
    pub database: String,
    pub schema_version: i64,
    /// `ready`.
    pub status: String,
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "The process answers",
    responses((status = 200, description = "Alive", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "Database reachable and migrations current",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "The database is unreachable or its schema is not this binary's", body = ErrorBody),
    ),
)]
async fn readyz(State(s): State<AppState>) -> ApiResult<Json<Ready>> {
    scoped(DbScope::Platform, async {
        s.store.ping().await?;
        let have = s.store.schema_version().await?;
        let want = latest_version();
        if have != want {
            return Err(ApiError::Unavailable(format!(
                "database schema is at version {have}, this binary expects {want}"
            )));
        }
        Ok(Json(Ready {
            database: format!("{:?}", s.store.engine()).to_lowercase(),
            schema_version: have,
            status: "ready".to_string(),
        }))
    })
    .await
}

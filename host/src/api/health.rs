//! `/healthz` (the process answers) and `/readyz` (the database is reachable
//! and its migrations are the ones this binary expects).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::store::migrate::latest_version;
use crate::store::tenant_scope::{DbScope, scoped};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    scoped(DbScope::Platform, async {
        s.store.ping().await?;
        let have = s.store.schema_version().await?;
        let want = latest_version();
        if have != want {
            return Err(ApiError::Unavailable(format!(
                "database schema is at version {have}, this binary expects {want}"
            )));
        }
        Ok(Json(serde_json::json!({
            "status": "ready",
            "database": format!("{:?}", s.store.engine()).to_lowercase(),
            "schema_version": have,
        })))
    })
    .await
}

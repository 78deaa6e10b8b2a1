//! Pause and resume: `POST /api/outbound/runs/{id}/pause` (returns once no
//! new call can start; calls in flight end, the cursor stays) and
//! `POST /api/outbound/runs/{id}/resume` (carries on where it stopped).
//! The operations are the lifecycle's ([`crate::lifecycle::pauser`]).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::{or_not_found, record};
use super::auth::TenantAuth;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::params::ApiPath;
use super::runs::run_for;
use super::views::{RunJson, parse_id};
use crate::model::RunId;
use crate::store::platform_reads::Resource;

/// The routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pause))
        .routes(routes!(resume))
}

/// A run in the wrong state for the operation (the store's `Invalid {
/// field: "status" }`) conflicts with its current state: 409, not 422.
fn conflict_or(e: ApiError) -> ApiError {
    match e {
        ApiError::Unprocessable { message, field } if field.as_deref() == Some("status") => {
            ApiError::Conflict { message, field }
        }
        other => other,
    }
}

#[utoipa::path(
    post,
    path = "/api/outbound/runs/{id}/pause",
    operation_id = "pause_run",
    tag = "runs",
    summary = "Pause a run; returns once no new call can start (calls in flight end, the cursor stays)",
    params(("id" = i64, Path, description = "The run's id", minimum = 1)),
    responses(
        (status = 200, description = "The run after the pause: `paused`, or `running` with `pause_requested` while calls in flight end", body = RunJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        (status = 409, description = "The run is finished or being cancelled (`field`: `status`)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn pause(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunJson>> {
    let id = parse_id("id", &id)?;
    let endpoint = "POST /api/outbound/runs/{id}/pause";
    let r = crate::lifecycle::pause_run(&*s.store, t.tenant, RunId(id), s.config.cancel_wait).await;
    let done = or_not_found(&s, &t, Resource::Run, id, endpoint, r)
        .await
        .map_err(conflict_or)?;
    record(
        &s,
        &t,
        "run.paused",
        serde_json::json!({"run_id": id, "status": done.status.as_str(),
                           "latency_ms": done.latency.as_millis() as u64}),
    )
    .await?;
    Ok(Json(run_for(&s, &t, id, endpoint).await?))
}

#[utoipa::path(
    post,
    path = "/api/outbound/runs/{id}/resume",
    operation_id = "resume_run",
    tag = "runs",
    summary = "Resume a paused run where it stopped",
    params(("id" = i64, Path, description = "The run's id", minimum = 1)),
    responses(
        (status = 200, description = "The run after the resume: `queued` until a worker claims it (or `running`, if it was still pausing)", body = RunJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        (status = 409, description = "The run is not paused (`field`: `status`)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn resume(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunJson>> {
    let id = parse_id("id", &id)?;
    let endpoint = "POST /api/outbound/runs/{id}/resume";
    let r = crate::lifecycle::resume_run(&*s.store, t.tenant, RunId(id)).await;
    let status = or_not_found(&s, &t, Resource::Run, id, endpoint, r)
        .await
        .map_err(conflict_or)?;
    record(
        &s,
        &t,
        "run.resumed",
        serde_json::json!({"run_id": id, "status": status.as_str()}),
    )
    .await?;
    Ok(Json(run_for(&s, &t, id, endpoint).await?))
}

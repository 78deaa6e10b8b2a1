//! The original system's endpoints, same meaning:
//! - `GET /api/outbound/runs/{run_id}`: served by [`super::runs`] (same path);
//! - `POST /api/outbound/stop-queue` with `{"run_id": N}`: cancel the run
//!   (same operation and guarantee as `POST /api/outbound/runs/{id}/cancel`);
//! - `POST /api/outbound_calls/jobs/{job_id}/cancel`: cancel one queued job.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::{or_not_found, record};
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::{ApiResult, ErrorBody, KeyedErrors};
use super::params::ApiPath;
use super::runs::cancel_and_wait;
use super::views::{JobJson, RunJson, parse_id};
use crate::model::JobId;
use crate::store::platform_reads::Resource;

/// The original endpoints and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stop_queue))
        .routes(routes!(cancel_job))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StopQueue {
    #[schema(minimum = 1)]
    run_id: i64,
}

#[utoipa::path(
    post,
    path = "/api/outbound/stop-queue",
    operation_id = "stop_queue",
    tag = "legacy",
    summary = "Original endpoint: cancel the run `{\"run_id\": N}`",
    request_body = StopQueue,
    responses(
        (status = 200, description = "The run after the cancel", body = RunJson),
        (status = 400, description = "Malformed JSON or a bad run_id", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Not `{\"run_id\": N}`", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn stop_queue(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<StopQueue>,
) -> ApiResult<Json<RunJson>> {
    let id = parse_id("run_id", &req.run_id.to_string())?;
    Ok(Json(
        cancel_and_wait(&s, &t, id, None, "POST /api/outbound/stop-queue").await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/outbound_calls/jobs/{job_id}/cancel",
    operation_id = "cancel_job",
    tag = "legacy",
    summary = "Original endpoint: cancel one queued job",
    params(("job_id" = i64, Path, description = "The job's id", minimum = 1)),
    responses(
        (status = 200, description = "The job after the cancel", body = JobJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such job (or another tenant's)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn cancel_job(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(job_id): ApiPath<String>,
) -> ApiResult<Json<JobJson>> {
    let id = parse_id("job_id", &job_id)?;
    let endpoint = "POST /api/outbound_calls/jobs/{job_id}/cancel";
    let r = s.store.cancel_job(t.tenant, JobId(id)).await;
    let job = or_not_found(&s, &t, Resource::Job, id, endpoint, r).await?;
    record(
        &s,
        &t,
        "job.cancelled",
        serde_json::json!({"job_id": id, "run_id": job.run_id}),
    )
    .await?;
    Ok(Json(job.into()))
}

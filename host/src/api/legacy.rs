//! The original system's endpoints, same meaning:
//! - `GET /api/outbound/runs/{run_id}`: served by [`super::runs`] (same path);
//! - `POST /api/outbound/stop-queue` with `{"run_id": N}`: cancel the run
//!   (same operation and guarantee as `POST /api/outbound/runs/{id}/cancel`);
//! - `POST /api/outbound_calls/jobs/{job_id}/cancel`: cancel one queued job.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::audit::{or_not_found, record};
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::ApiResult;
use super::params::ApiPath;
use super::runs::cancel_and_wait;
use super::views::{JobJson, RunJson, parse_id};
use crate::model::JobId;
use crate::store::platform_reads::Resource;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/outbound/stop-queue", post(stop_queue))
        .route("/api/outbound_calls/jobs/{job_id}/cancel", post(cancel_job))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StopQueue {
    run_id: i64,
}

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

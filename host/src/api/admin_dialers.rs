//! Dialer adapters (platform keys only): `PUT /api/admin/dialers/{name}`,
//! `GET /api/admin/dialers`, `GET /api/admin/dialers/{name}`,
//! `POST /api/admin/dialers/{name}/activate` `{"version": N}`,
//! `POST /api/admin/dialers/{name}/rollback`.
//!
//! Activation is the hot swap: the store flips the active row in one
//! transaction and announces it (`NOTIFY` on PostgreSQL); workers resolve the
//! active adapter version per new call, so new calls use it at once while
//! calls in flight finish on the instance they started with.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::AppState;
use super::audit::record_platform;
use super::auth::AdminAuth;
use super::body::{ApiJson, RawBody};
use super::error::ApiResult;
use super::params::ApiPath;
use super::plugins::{
    ActivateReq, activate_version, list_versions, rollback_version, store_upload,
};
use super::views::PluginVersionJson;
use crate::runtime::PluginKind;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/dialers", get(list))
        .route("/api/admin/dialers/{name}", get(versions).put(upload))
        .route("/api/admin/dialers/{name}/activate", post(activate))
        .route("/api/admin/dialers/{name}/rollback", post(rollback))
}

async fn upload(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(name): ApiPath<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<PluginVersionJson>)> {
    let v = store_upload(&s, PluginKind::Dialer, None, &name, body).await?;
    record_platform(&s, a.key_id, "plugin.uploaded", serde_json::json!({"kind": "dialer", "name": name, "version": v.version, "sha256": v.sha256})).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

async fn list(State(s): State<AppState>, _a: AdminAuth) -> ApiResult<Json<serde_json::Value>> {
    let v = s.store.list_plugins(PluginKind::Dialer, None).await?;
    let items: Vec<PluginVersionJson> = v.into_iter().map(Into::into).collect();
    Ok(Json(
        serde_json::json!({"items": items, "next_cursor": null}),
    ))
}

async fn versions(
    State(s): State<AppState>,
    _a: AdminAuth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let v = list_versions(&s, PluginKind::Dialer, None, &name).await?;
    let items: Vec<PluginVersionJson> = v.into_iter().map(Into::into).collect();
    Ok(Json(
        serde_json::json!({"items": items, "next_cursor": null}),
    ))
}

async fn activate(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<ActivateReq>,
) -> ApiResult<Json<PluginVersionJson>> {
    let v = activate_version(&s, PluginKind::Dialer, None, &name, req.version).await?;
    record_platform(
        &s,
        a.key_id,
        "plugin.activated",
        serde_json::json!({"kind": "dialer", "name": name, "version": v.version}),
    )
    .await?;
    Ok(Json(v.into()))
}

async fn rollback(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<PluginVersionJson>> {
    let v = rollback_version(&s, PluginKind::Dialer, None, &name).await?;
    record_platform(
        &s,
        a.key_id,
        "plugin.rolled_back",
        serde_json::json!({"kind": "dialer", "name": name, "version": v.version}),
    )
    .await?;
    Ok(Json(v.into()))
}

//! Dialer adapters (platform keys only): `PUT /api/admin/dialers/{name}`,
//! `GET /api/admin/dialers`, `GET /api/admin/dialers/{name}`,
//! `POST /api/admin/dialers/{name}/activate` `{"version": N}`,
//! `POST /api/admin/dialers/{name}/rollback`.
//!
//! Activation is the hot swap: the store flips the active row in one
//! transaction and announces it (`NOTIFY` on PostgreSQL); workers resolve the
//! active adapter version per new call, so new calls use it at once while
//! calls in flight finish on the instance they started with.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::record_platform;
use super::auth::AdminAuth;
use super::body::{ApiJson, RawBody};
use super::error::{ApiResult, ErrorBody, KeyedErrors};
use super::openapi::RawBytes;
use super::paging::Paged;
use super::params::ApiPath;
use super::plugins::{
    ActivateReq, activate_version, list_versions, one_page, rollback_version, store_upload,
};
use super::views::PluginVersionJson;
use crate::runtime::PluginKind;

/// The dialer adapters' routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(versions, upload))
        .routes(routes!(activate))
        .routes(routes!(rollback))
}

#[utoipa::path(
    put,
    path = "/api/admin/dialers/{name}",
    operation_id = "upload_dialer",
    tag = "admin",
    summary = "Upload a dialer adapter component; the first version of a name is activated",
    params(("name" = String, Path, description = "The adapter's name")),
    request_body(content = inline(RawBytes), content_type = "application/wasm", description = "The component (.wasm)"),
    responses(
        (status = 201, description = "The new version", body = PluginVersionJson),
        (status = 400, description = "A bad name, or not a dialer-adapter component", body = ErrorBody),
        (status = 413, description = "Over the plugin body limit", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/admin/dialers",
    operation_id = "list_dialers",
    tag = "admin",
    summary = "Dialer adapters (newest version of each), in one page",
    responses(
        (status = 200, description = "Adapters", body = Paged<PluginVersionJson>),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> ApiResult<Json<Paged<PluginVersionJson>>> {
    let v = s.store.list_plugins(PluginKind::Dialer, None).await?;
    Ok(Json(one_page(v)))
}

#[utoipa::path(
    get,
    path = "/api/admin/dialers/{name}",
    operation_id = "list_dialer_versions",
    tag = "admin",
    summary = "Versions of a dialer adapter, newest first, in one page",
    params(("name" = String, Path, description = "The adapter's name")),
    responses(
        (status = 200, description = "Versions", body = Paged<PluginVersionJson>),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 404, description = "No such adapter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn versions(
    State(s): State<AppState>,
    _a: AdminAuth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Paged<PluginVersionJson>>> {
    let v = list_versions(&s, PluginKind::Dialer, None, &name).await?;
    Ok(Json(one_page(v)))
}

#[utoipa::path(
    post,
    path = "/api/admin/dialers/{name}/activate",
    operation_id = "activate_dialer",
    tag = "admin",
    summary = "Activate (hot-swap) a version on every worker",
    params(("name" = String, Path, description = "The adapter's name")),
    request_body = ActivateReq,
    responses(
        (status = 200, description = "The version, now active", body = PluginVersionJson),
        (status = 400, description = "A bad name or malformed JSON", body = ErrorBody),
        (status = 404, description = "No such adapter", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "No such version", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
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

#[utoipa::path(
    post,
    path = "/api/admin/dialers/{name}/rollback",
    operation_id = "rollback_dialer",
    tag = "admin",
    summary = "Activate the previous version",
    params(("name" = String, Path, description = "The adapter's name")),
    responses(
        (status = 200, description = "The version, now active", body = PluginVersionJson),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 404, description = "No such adapter", body = ErrorBody),
        (status = 409, description = "No version to roll back to", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
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

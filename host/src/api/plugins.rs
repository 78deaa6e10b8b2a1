//! Flow plugins of a tenant: `PUT /api/plugins/flows/{name}` (the component
//! as the body; validated on the real linker before anything is stored),
//! `GET /api/plugins/flows`, `GET /api/plugins/flows/{name}` (versions),
//! `POST /api/plugins/flows/{name}/activate` `{"version": N}`,
//! `POST /api/plugins/flows/{name}/rollback`.
//!
//! Each upload is a new version with its sha256; the first version of a name
//! becomes active at once (a fresh name is usable without a second call),
//! later ones only when activated. Runs pin the version they start with.
//! The upload/activate/rollback logic here is shared with
//! [`super::admin_dialers`] (same rules, platform-owned dialers).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::{Reference, audit_reference, record};
use super::auth::TenantAuth;
use super::body::{ApiJson, RawBody};
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::openapi::RawBytes;
use super::paging::Paged;
use super::views::PluginVersionJson;
use crate::model::TenantId;
use crate::runtime::{PluginFailure, PluginKind, PluginMeta};
use crate::store::{PluginVersion, StoreError, check_plugin_name};

/// The flow plugins' routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(versions, upload))
        .routes(routes!(activate))
        .routes(routes!(rollback))
}

/// `{"version": N}`: the version to make active.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ActivateVersion)]
pub struct ActivateReq {
    pub version: i64,
}

fn check_name(name: &str) -> ApiResult<()> {
    check_plugin_name(name).map_err(|e| match e {
        StoreError::Invalid { reason, .. } => ApiError::bad_request(
            "invalid_name",
            Some("name"),
            format!("plugin name: {reason}"),
        ),
        other => other.into(),
    })
}

/// Validates `bytes` as a component of `kind`'s world, then stores it as the
/// next version; the first version of a name is activated.
pub async fn store_upload(
    s: &AppState,
    kind: PluginKind,
    owner: Option<TenantId>,
    name: &str,
    body: RawBody,
) -> ApiResult<PluginVersion> {
    check_name(name)?;
    if body.bytes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_component",
            None,
            "the body is empty: send the component (.wasm) bytes",
        ));
    }
    let host = Arc::clone(&s.plugins);
    let meta = PluginMeta {
        kind,
        name: name.to_string(),
        version: 0,
    };
    let bytes = body.bytes.clone();
    // Compiling takes tens of milliseconds of CPU: off the async threads.
    let checked = tokio::task::spawn_blocking(move || host.prepare(meta, &bytes).map(|_| ()))
        .await
        .map_err(|e| ApiError::Internal(format!("validation task: {e}")))?;
    if let Err(e) = checked {
        s.metrics.plugin_error(e.cause.label());
        return Err(match e.cause {
            PluginFailure::NotAComponent(m) => ApiError::bad_request(
                "not_a_component",
                None,
                format!("not a WebAssembly component: {m}"),
            ),
            PluginFailure::WrongWorld { world, detail } => ApiError::bad_request(
                "wrong_world",
                None,
                format!("does not implement the {world} world: {detail}"),
            ),
            other => ApiError::bad_request("invalid_component", None, other.to_string()),
        });
    }
    let v = s
        .store
        .insert_plugin_version(kind, owner, name, &body.bytes)
        .await?;
    if v.version == 1 {
        return Ok(s
            .store
            .activate_plugin_version(kind, owner, name, 1)
            .await?);
    }
    Ok(v)
}

/// Versions of `name`, newest first; none → 404.
pub async fn list_versions(
    s: &AppState,
    kind: PluginKind,
    owner: Option<TenantId>,
    name: &str,
) -> ApiResult<Vec<PluginVersion>> {
    check_name(name)?;
    let v = s.store.list_plugin_versions(kind, owner, name).await?;
    if v.is_empty() {
        return Err(ApiError::NotFound("plugin"));
    }
    Ok(v)
}

/// Activates `version` (rollback = activating an older one).
pub async fn activate_version(
    s: &AppState,
    kind: PluginKind,
    owner: Option<TenantId>,
    name: &str,
    version: i64,
) -> ApiResult<PluginVersion> {
    list_versions(s, kind, owner, name).await?;
    s.store
        .activate_plugin_version(kind, owner, name, version)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::invalid("version", format!("{name} has no version {version}"))
            }
            other => other.into(),
        })
}

/// Activates the newest version older than the active one.
pub async fn rollback_version(
    s: &AppState,
    kind: PluginKind,
    owner: Option<TenantId>,
    name: &str,
) -> ApiResult<PluginVersion> {
    let versions = list_versions(s, kind, owner, name).await?;
    let active = versions.iter().find(|v| v.active).map(|v| v.version);
    let Some(active) = active else {
        return Err(ApiError::Conflict {
            message: format!("{name} has no active version to roll back from"),
            field: None,
        });
    };
    let Some(prev) = versions
        .iter()
        .filter(|v| v.version < active)
        .map(|v| v.version)
        .max()
    else {
        return Err(ApiError::Conflict {
            message: format!("{name} version {active} is the oldest: nothing to roll back to"),
            field: None,
        });
    };
    activate_version(s, kind, owner, name, prev).await
}

/// A tenant asked for a flow name it does not have: 404, and a security
/// event (off the response path) if the name is another tenant's.
async fn flow_not_found(s: &AppState, t: &TenantAuth, name: &str, endpoint: &str) -> ApiError {
    audit_reference(s, t, Reference::Flow(name.to_string()), endpoint).await;
    ApiError::NotFound("plugin")
}

async fn or_flow_not_found<T>(
    s: &AppState,
    t: &TenantAuth,
    name: &str,
    endpoint: &str,
    r: ApiResult<T>,
) -> ApiResult<T> {
    match r {
        Err(ApiError::NotFound(_)) => Err(flow_not_found(s, t, name, endpoint).await),
        other => other,
    }
}

#[utoipa::path(
    put,
    path = "/api/plugins/flows/{name}",
    operation_id = "upload_flow",
    tag = "plugins",
    summary = "Upload a flow component (validated before it is stored); the first version of a name is activated",
    params(("name" = String, Path, description = "The flow's name")),
    request_body(content = inline(RawBytes), content_type = "application/wasm", description = "The component (.wasm)"),
    responses(
        (status = 201, description = "The new version", body = PluginVersionJson),
        (status = 400, description = "A bad name, or not a call-flow component (`not_a_component`, `wrong_world`, `invalid_component`)", body = ErrorBody),
        (status = 413, description = "Over the plugin body limit", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn upload(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(name): Path<String>,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<PluginVersionJson>)> {
    let v = store_upload(&s, PluginKind::Flow, Some(t.tenant), &name, body).await?;
    record(
        &s,
        &t,
        "plugin.uploaded",
        serde_json::json!({"kind": "flow", "name": name, "version": v.version, "sha256": v.sha256}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// All of `versions` in one page (a tenant has few): `next_cursor` is null.
pub fn one_page(versions: Vec<PluginVersion>) -> Paged<PluginVersionJson> {
    Paged {
        items: versions.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }
}

#[utoipa::path(
    get,
    path = "/api/plugins/flows",
    operation_id = "list_flows",
    tag = "plugins",
    summary = "The tenant's flow plugins (newest version of each), in one page",
    responses(
        (status = 200, description = "Flows", body = Paged<PluginVersionJson>),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
) -> ApiResult<Json<Paged<PluginVersionJson>>> {
    let v = s
        .store
        .list_plugins(PluginKind::Flow, Some(t.tenant))
        .await?;
    Ok(Json(one_page(v)))
}

#[utoipa::path(
    get,
    path = "/api/plugins/flows/{name}",
    operation_id = "list_flow_versions",
    tag = "plugins",
    summary = "Versions of a flow, newest first, in one page",
    params(("name" = String, Path, description = "The flow's name")),
    responses(
        (status = 200, description = "Versions", body = Paged<PluginVersionJson>),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn versions(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(name): Path<String>,
) -> ApiResult<Json<Paged<PluginVersionJson>>> {
    let r = list_versions(&s, PluginKind::Flow, Some(t.tenant), &name).await;
    let v = or_flow_not_found(&s, &t, &name, "GET /api/plugins/flows/{name}", r).await?;
    Ok(Json(one_page(v)))
}

#[utoipa::path(
    post,
    path = "/api/plugins/flows/{name}/activate",
    operation_id = "activate_flow",
    tag = "plugins",
    summary = "Activate a version `{\"version\": N}`",
    params(("name" = String, Path, description = "The flow's name")),
    request_body = ActivateReq,
    responses(
        (status = 200, description = "The version, now active", body = PluginVersionJson),
        (status = 400, description = "A bad name or malformed JSON", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "No such version", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn activate(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ActivateReq>,
) -> ApiResult<Json<PluginVersionJson>> {
    let r = activate_version(&s, PluginKind::Flow, Some(t.tenant), &name, req.version).await;
    let v = or_flow_not_found(&s, &t, &name, "POST /api/plugins/flows/{name}/activate", r).await?;
    record(
        &s,
        &t,
        "plugin.activated",
        serde_json::json!({"kind": "flow", "name": name, "version": v.version}),
    )
    .await?;
    Ok(Json(v.into()))
}

#[utoipa::path(
    post,
    path = "/api/plugins/flows/{name}/rollback",
    operation_id = "rollback_flow",
    tag = "plugins",
    summary = "Activate the previous version",
    params(("name" = String, Path, description = "The flow's name")),
    responses(
        (status = 200, description = "The version, now active", body = PluginVersionJson),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
        (status = 409, description = "No version to roll back to", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn rollback(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginVersionJson>> {
    let r = rollback_version(&s, PluginKind::Flow, Some(t.tenant), &name).await;
    let v = or_flow_not_found(&s, &t, &name, "POST /api/plugins/flows/{name}/rollback", r).await?;
    record(
        &s,
        &t,
        "plugin.rolled_back",
        serde_json::json!({"kind": "flow", "name": name, "version": v.version}),
    )
    .await?;
    Ok(Json(v.into()))
}

//! Tenants and keys for an operator (platform key only):
//!
//! - `GET /api/admin/keys`, `POST /api/admin/keys`, `DELETE
//!   /api/admin/keys/{id}`, `POST /api/admin/keys/{id}/rotate`: the platform's
//!   own keys, under the tenant routes' rule (not the last active one: 409).
//! - `POST /api/admin/tenants` `{"name": ...}` (the tenant and its first
//!   key; a name taken, compared case-insensitively and trimmed, is 409
//!   naming `name`), `GET /api/admin/tenants`.
//! - `GET|POST /api/admin/tenants/{id}/keys`, `DELETE
//!   /api/admin/tenants/{id}/keys/{key_id}`, `POST
//!   /api/admin/tenants/{id}/keys/{key_id}/rotate`: a tenant's keys, to
//!   rescue it: here even its last key may be revoked.
//!
//! Every write goes to the platform's audit log; one on a tenant's keys
//! goes to that tenant's log too, so it sees what the operator did.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::record_platform;
use super::auth::AdminAuth;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::keys::{
    ApiKeyJson, CreateKeyReq, CreatedKeyJson, create_key, key_detail, key_id, list_keys,
    revoke_key, rotate_key,
};
use super::paging::Paged;
use super::params::ApiPath;
use super::views::{parse_id, rfc3339_dt};
use crate::model::TenantId;
use crate::store::{AuditEntry, Revoke, StoreError, TENANT_NAME_CONSTRAINT, Tenant};

/// The operator's tenant and key routes (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_admin_keys, create_admin_key))
        .routes(routes!(revoke_admin_key))
        .routes(routes!(rotate_admin_key))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(list_tenant_keys, create_tenant_key))
        .routes(routes!(revoke_tenant_key))
        .routes(routes!(rotate_tenant_key))
}

/// `{"name": "Acme Plumbing"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TenantCreate)]
struct CreateTenantReq {
    name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Tenant)]
pub struct TenantJson {
    pub id: i64,
    pub name: String,
    pub created_at: String,
}

impl From<Tenant> for TenantJson {
    fn from(t: Tenant) -> Self {
        TenantJson {
            id: t.id.get(),
            name: t.name,
            created_at: rfc3339_dt(&t.created_at),
        }
    }
}

/// A tenant just made, and its first key (the plaintext shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TenantCreated)]
pub struct TenantCreatedJson {
    pub tenant: TenantJson,
    pub api_key: CreatedKeyJson,
}

/// Writes an operator's action on tenant `t`'s keys to both logs.
async fn record_both(
    s: &AppState,
    a: &AdminAuth,
    t: TenantId,
    action: &str,
    mut detail: serde_json::Value,
) -> ApiResult<()> {
    s.store
        .append_audit(&AuditEntry {
            tenant: Some(t),
            actor_key_id: Some(a.key_id),
            action: action.to_string(),
            detail: detail.clone(),
            security: false,
        })
        .await?;
    detail["business_id"] = t.get().into();
    record_platform(s, a.key_id, action, detail).await
}

/// The tenant of the path, which must exist (else 404 `tenant`).
async fn path_tenant(s: &AppState, raw: &str) -> ApiResult<TenantId> {
    let id = TenantId(parse_id("id", raw)?);
    s.store.get_tenant(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("tenant"),
        e => e.into(),
    })?;
    Ok(id)
}

#[utoipa::path(
    get,
    path = "/api/admin/keys",
    operation_id = "list_admin_keys",
    tag = "admin",
    summary = "The platform's (admin) keys, revoked ones included, in one page",
    responses(
        (status = 200, description = "Keys, oldest first", body = Paged<ApiKeyJson>),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn list_admin_keys(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> ApiResult<Json<Paged<ApiKeyJson>>> {
    Ok(Json(list_keys(&s, None).await?))
}

#[utoipa::path(
    post,
    path = "/api/admin/keys",
    operation_id = "create_admin_key",
    tag = "admin",
    summary = "Create an admin key `{\"label\": ...}`; its plaintext is in this answer only",
    request_body = CreateKeyReq,
    responses(
        (status = 201, description = "The key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A bad label", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn create_admin_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiJson(req): ApiJson<CreateKeyReq>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let k = create_key(&s, None, req).await?;
    record_platform(&s, a.key_id, "admin_key.created", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(
    delete,
    path = "/api/admin/keys/{id}",
    operation_id = "revoke_admin_key",
    tag = "admin",
    summary = "Revoke an admin key; not the last active one",
    params(("id" = i64, Path, description = "The key's id", minimum = 1)),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such admin key", body = ErrorBody),
        (status = 409, description = "The last active admin key", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn revoke_admin_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = key_id("id", &id)?;
    revoke_key(&s, None, "id", id, Revoke::KeepOneActive).await?;
    record_platform(
        &s,
        a.key_id,
        "admin_key.revoked",
        serde_json::json!({"key_id": id.get()}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/admin/keys/{id}/rotate",
    operation_id = "rotate_admin_key",
    tag = "admin",
    summary = "Replace an admin key: a new one with the same label, the old one revoked",
    params(("id" = i64, Path, description = "The key's id", minimum = 1)),
    responses(
        (status = 201, description = "The new key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such admin key", body = ErrorBody),
        (status = 409, description = "The key is already revoked", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn rotate_admin_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let id = key_id("id", &id)?;
    let k = rotate_key(&s, None, "id", id).await?;
    record_platform(&s, a.key_id, "admin_key.rotated", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(
    get,
    path = "/api/admin/tenants",
    operation_id = "list_tenants",
    tag = "admin",
    summary = "Every tenant, by id, in one page",
    responses(
        (status = 200, description = "Tenants", body = Paged<TenantJson>),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn list_tenants(
    State(s): State<AppState>,
    _a: AdminAuth,
) -> ApiResult<Json<Paged<TenantJson>>> {
    let tenants = s.store.list_tenants().await?;
    Ok(Json(Paged {
        items: tenants.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/tenants",
    operation_id = "create_tenant",
    tag = "admin",
    summary = "Create a tenant `{\"name\": ...}` and its first key (plaintext in this answer only)",
    request_body = CreateTenantReq,
    responses(
        (status = 201, description = "The tenant and its key", body = TenantCreatedJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The name is taken (case-insensitive, trimmed)", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A bad name", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn create_tenant(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiJson(req): ApiJson<CreateTenantReq>,
) -> ApiResult<(StatusCode, Json<TenantCreatedJson>)> {
    let (id, created) = s
        .store
        .create_tenant_with_key(&req.name)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == TENANT_NAME_CONSTRAINT => {
                ApiError::Conflict {
                    message: format!("name: a tenant named {:?} exists", req.name.trim()),
                    field: Some("name".into()),
                }
            }
            e => e.into(),
        })?;
    let tenant = s.store.get_tenant(id).await?;
    let key = CreatedKeyJson::new(created, None);
    record_both(
        &s,
        &a,
        id,
        "tenant.created",
        serde_json::json!({"name": tenant.name, "key_id": key.id, "prefix": key.prefix}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantCreatedJson {
            tenant: tenant.into(),
            api_key: key,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/admin/tenants/{id}/keys",
    operation_id = "list_tenant_keys",
    tag = "admin",
    summary = "A tenant's keys, revoked ones included, in one page",
    params(("id" = i64, Path, description = "The tenant's id", minimum = 1)),
    responses(
        (status = 200, description = "Keys, oldest first", body = Paged<ApiKeyJson>),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn list_tenant_keys(
    State(s): State<AppState>,
    _a: AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Paged<ApiKeyJson>>> {
    let t = path_tenant(&s, &id).await?;
    Ok(Json(list_keys(&s, Some(t)).await?))
}

#[utoipa::path(
    post,
    path = "/api/admin/tenants/{id}/keys",
    operation_id = "create_tenant_key",
    tag = "admin",
    summary = "Create a key for a tenant `{\"label\": ...}` (plaintext in this answer only)",
    params(("id" = i64, Path, description = "The tenant's id", minimum = 1)),
    request_body = CreateKeyReq,
    responses(
        (status = 201, description = "The key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "A bad id or malformed JSON", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A bad label", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn create_tenant_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateKeyReq>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let t = path_tenant(&s, &id).await?;
    let k = create_key(&s, Some(t), req).await?;
    record_both(&s, &a, t, "api_key.created", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(
    delete,
    path = "/api/admin/tenants/{id}/keys/{key_id}",
    operation_id = "revoke_tenant_key",
    tag = "admin",
    summary = "Revoke a tenant's key, even its last one (a rescue)",
    params(
        ("id" = i64, Path, description = "The tenant's id", minimum = 1),
        ("key_id" = i64, Path, description = "The key's id", minimum = 1),
    ),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 400, description = "An id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such tenant, or no such key of it", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn revoke_tenant_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath((id, key)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let t = path_tenant(&s, &id).await?;
    let key = key_id("key_id", &key)?;
    revoke_key(&s, Some(t), "key_id", key, Revoke::Any).await?;
    record_both(
        &s,
        &a,
        t,
        "api_key.revoked",
        serde_json::json!({"key_id": key.get()}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/admin/tenants/{id}/keys/{key_id}/rotate",
    operation_id = "rotate_tenant_key",
    tag = "admin",
    summary = "Replace a tenant's key: a new one with the same label, the old one revoked",
    params(
        ("id" = i64, Path, description = "The tenant's id", minimum = 1),
        ("key_id" = i64, Path, description = "The key's id", minimum = 1),
    ),
    responses(
        (status = 201, description = "The new key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "An id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such tenant, or no such key of it", body = ErrorBody),
        (status = 409, description = "The key is already revoked", body = ErrorBody),
        KeyedErrors,
    ),
    security(("adminKey" = [])),
)]
async fn rotate_tenant_key(
    State(s): State<AppState>,
    a: AdminAuth,
    ApiPath((id, key)): ApiPath<(String, String)>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let t = path_tenant(&s, &id).await?;
    let key = key_id("key_id", &key)?;
    let k = rotate_key(&s, Some(t), "key_id", key).await?;
    record_both(&s, &a, t, "api_key.rotated", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

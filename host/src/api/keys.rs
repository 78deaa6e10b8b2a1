//! A tenant's own API keys: `GET /api/keys`, `POST /api/keys`
//! `{"label": "ci"}` (the plaintext is in this answer only),
//! `DELETE /api/keys/{id}` (revoke), `POST /api/keys/{id}/rotate` (a new
//! key with the same label; the old one revoked in the same transaction).
//!
//! A tenant may revoke any of its keys, the one it is using included, but
//! not its last active one (409 `conflict`, field `id`): it could not make
//! another. An operator can ([`super::admin_keys`]).
//!
//! The views and helpers here serve the admin routes too, which manage the
//! platform's keys and any tenant's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::record;
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::Paged;
use super::params::ApiPath;
use super::views::{parse_id, rfc3339_dt};
use crate::model::{ApiKeyId, TenantId};
use crate::store::{
    ApiKeyInfo, CreatedKey, KEY_REVOKED_CONSTRAINT, LAST_ACTIVE_KEY_CONSTRAINT, Revoke, StoreError,
};

/// The tenant's key routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
        .routes(routes!(rotate))
}

/// `{"label": "ci"}`; the label is optional (1 to 100 characters).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyCreate)]
pub struct CreateKeyReq {
    #[serde(default)]
    pub label: Option<String>,
}

/// A key as listed: never the secret nor its hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyJson {
    pub id: i64,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: String,
    /// Approximate: recorded at most once a minute.
    pub last_used_at: Option<String>,
    /// Null while the key works.
    pub revoked_at: Option<String>,
}

impl From<ApiKeyInfo> for ApiKeyJson {
    fn from(k: ApiKeyInfo) -> Self {
        ApiKeyJson {
            id: k.id.get(),
            prefix: k.prefix,
            label: k.label,
            created_at: rfc3339_dt(&k.created_at),
            last_used_at: k.last_used_at.as_ref().map(rfc3339_dt),
            revoked_at: k.revoked_at.as_ref().map(rfc3339_dt),
        }
    }
}

/// A key just made: the only answer that holds its plaintext.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyCreated)]
pub struct CreatedKeyJson {
    pub id: i64,
    pub prefix: String,
    pub label: Option<String>,
    /// The key itself, shown this once (only its sha256 is stored).
    pub api_key: String,
    /// On a rotation: the key it replaced (now revoked).
    pub replaces: Option<i64>,
}

impl CreatedKeyJson {
    pub fn new(k: CreatedKey, replaces: Option<ApiKeyId>) -> Self {
        CreatedKeyJson {
            id: k.id.get(),
            prefix: k.prefix,
            label: k.label,
            api_key: k.plaintext,
            replaces: replaces.map(ApiKeyId::get),
        }
    }
}

/// A key id from the path (`field` names the parameter).
pub fn key_id(field: &str, raw: &str) -> ApiResult<ApiKeyId> {
    parse_id(field, raw).map(ApiKeyId)
}

/// The store's refusals of a key operation, in the API's words.
fn key_error(field: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("key"),
        StoreError::Conflict { constraint } if constraint == LAST_ACTIVE_KEY_CONSTRAINT => {
            ApiError::Conflict {
                message: format!(
                    "{field}: this is the last active key; create another before revoking it"
                ),
                field: Some(field.into()),
            }
        }
        StoreError::Conflict { constraint } if constraint == KEY_REVOKED_CONSTRAINT => {
            ApiError::Conflict {
                message: format!("{field}: the key is revoked; rotate an active key"),
                field: Some(field.into()),
            }
        }
        e => e.into(),
    }
}

/// The keys of `owner` (`None`: the platform's), oldest first, in one page.
pub async fn list_keys(s: &AppState, owner: Option<TenantId>) -> ApiResult<Paged<ApiKeyJson>> {
    let keys = s.store.list_api_keys(owner).await?;
    Ok(Paged {
        items: keys.into_iter().map(Into::into).collect(),
        next_cursor: None,
    })
}

/// Creates a key of `owner`.
pub async fn create_key(
    s: &AppState,
    owner: Option<TenantId>,
    req: CreateKeyReq,
) -> ApiResult<CreatedKeyJson> {
    let key = s
        .store
        .create_labelled_api_key(owner, req.label.as_deref())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound("tenant"),
            e => e.into(),
        })?;
    Ok(CreatedKeyJson::new(key, None))
}

/// Revokes key `id` of `owner` under `rule`.
pub async fn revoke_key(
    s: &AppState,
    owner: Option<TenantId>,
    field: &str,
    id: ApiKeyId,
    rule: Revoke,
) -> ApiResult<()> {
    s.store
        .revoke_api_key_guarded(owner, id, rule)
        .await
        .map_err(|e| key_error(field, e))
}

/// Replaces key `id` of `owner` by a new one with the same label.
pub async fn rotate_key(
    s: &AppState,
    owner: Option<TenantId>,
    field: &str,
    id: ApiKeyId,
) -> ApiResult<CreatedKeyJson> {
    let key = s
        .store
        .rotate_api_key(owner, id)
        .await
        .map_err(|e| key_error(field, e))?;
    Ok(CreatedKeyJson::new(key, Some(id)))
}

/// The audit detail of a key operation.
pub fn key_detail(k: &CreatedKeyJson) -> serde_json::Value {
    serde_json::json!({"key_id": k.id, "prefix": k.prefix, "label": k.label, "replaces": k.replaces})
}

#[utoipa::path(
    get,
    path = "/api/keys",
    operation_id = "list_keys",
    tag = "keys",
    summary = "The tenant's API keys, revoked ones included (never the secrets), in one page",
    responses(
        (status = 200, description = "Keys, oldest first", body = Paged<ApiKeyJson>),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(State(s): State<AppState>, t: TenantAuth) -> ApiResult<Json<Paged<ApiKeyJson>>> {
    Ok(Json(list_keys(&s, Some(t.tenant)).await?))
}

#[utoipa::path(
    post,
    path = "/api/keys",
    operation_id = "create_key",
    tag = "keys",
    summary = "Create a key `{\"label\": \"ci\"}`; its plaintext is in this answer only",
    request_body = CreateKeyReq,
    responses(
        (status = 201, description = "The key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A bad label", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn create(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<CreateKeyReq>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let k = create_key(&s, Some(t.tenant), req).await?;
    record(&s, &t, "api_key.created", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

#[utoipa::path(
    delete,
    path = "/api/keys/{id}",
    operation_id = "revoke_key",
    tag = "keys",
    summary = "Revoke a key (at once, on every node); not the last active one",
    params(("id" = i64, Path, description = "The key's id", minimum = 1)),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such key (or another tenant's)", body = ErrorBody),
        (status = 409, description = "The tenant's last active key", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn revoke(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = key_id("id", &id)?;
    revoke_key(&s, Some(t.tenant), "id", id, Revoke::KeepOneActive).await?;
    record(
        &s,
        &t,
        "api_key.revoked",
        serde_json::json!({"key_id": id.get()}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/keys/{id}/rotate",
    operation_id = "rotate_key",
    tag = "keys",
    summary = "Replace a key: a new one with the same label, the old one revoked",
    params(("id" = i64, Path, description = "The key's id", minimum = 1)),
    responses(
        (status = 201, description = "The new key, with its plaintext", body = CreatedKeyJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such key (or another tenant's)", body = ErrorBody),
        (status = 409, description = "The key is already revoked", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn rotate(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    let id = key_id("id", &id)?;
    let k = rotate_key(&s, Some(t.tenant), "id", id).await?;
    record(&s, &t, "api_key.rotated", key_detail(&k)).await?;
    Ok((StatusCode::CREATED, Json(k)))
}

//! Read-only inspection of the tenant's `tenant-store` (what its plugins
//! saved): `GET /api/tenant-store` (`?namespace=`, paged) and
//! `GET /api/tenant-store/{namespace}/{key}`. Values are shown as text when
//! they are UTF-8, else as hex.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::TenantAuth;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::{PageQuery, Paged};
use super::params::{ApiPath, ApiQuery};
use crate::store::{KvEntry, Page};

/// The tenant-store's routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
}

/// One entry (`TenantStoreEntry` in the document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TenantStoreEntry)]
pub struct KvJson {
    pub namespace: String,
    pub key: String,
    /// The value as text, when it is UTF-8.
    pub value: Option<String>,
    /// The value in hex, when it is not UTF-8.
    pub value_hex: Option<String>,
    pub size: usize,
}

fn view(namespace: String, key: String, value: Vec<u8>) -> KvJson {
    let size = value.len();
    match String::from_utf8(value) {
        Ok(text) => KvJson {
            namespace,
            key,
            value: Some(text),
            value_hex: None,
            size,
        },
        Err(e) => KvJson {
            namespace,
            key,
            value: None,
            value_hex: Some(hex::encode(e.into_bytes())),
            size,
        },
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only entries of this namespace.
    namespace: Option<String>,
    /// Items per page, 1..=500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Cursor: `k` + hex of `namespace \0 key`.
fn decode(c: &str) -> Option<(String, String)> {
    let bytes = hex::decode(c.strip_prefix('k')?).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ns, key) = text.split_once('\0')?;
    Some((ns.to_string(), key.to_string()))
}

#[utoipa::path(
    get,
    path = "/api/tenant-store",
    operation_id = "list_tenant_store",
    tag = "tenant-store",
    summary = "The plugins' tenant-store entries (read-only, paged)",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of entries", body = Paged<KvJson>),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<KvJson>>> {
    let limit = PageQuery {
        limit: q.limit,
        cursor: None,
    }
    .parse()?
    .limit;
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(decode(c).ok_or_else(|| {
            ApiError::bad_request("invalid_paging", Some("cursor"), "not a cursor of this API")
        })?),
    };
    let mut rows: Vec<KvEntry> = s
        .store
        .kv_list(
            t.tenant,
            q.namespace.as_deref(),
            after.as_ref().map(|(n, k)| (n.as_str(), k.as_str())),
            Page::first(limit + 1),
        )
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last()
            .map(|e| format!("k{}", hex::encode(format!("{}\0{}", e.namespace, e.key))))
    } else {
        None
    };
    let items: Vec<KvJson> = rows
        .into_iter()
        .map(|e| view(e.namespace, e.key, e.value))
        .collect();
    Ok(Json(Paged {
        items,
        next_cursor: next,
    }))
}

#[utoipa::path(
    get,
    path = "/api/tenant-store/{namespace}/{key}",
    operation_id = "get_tenant_store_entry",
    tag = "tenant-store",
    summary = "One tenant-store entry",
    params(
        ("namespace" = String, Path, description = "The entry's namespace"),
        ("key" = String, Path, description = "The entry's key"),
    ),
    responses(
        (status = 200, description = "The entry", body = KvJson),
        (status = 400, description = "A bad path parameter", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn get_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
) -> ApiResult<Json<KvJson>> {
    match s.store.kv_get(t.tenant, &namespace, &key).await? {
        Some(v) => Ok(Json(view(namespace, key, v))),
        None => Err(ApiError::NotFound("tenant-store entry")),
    }
}

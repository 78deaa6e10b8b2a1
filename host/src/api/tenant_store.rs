//! Read-only inspection of the tenant's `tenant-store` (what its plugins
//! saved): `GET /api/tenant-store` (`?namespace=`, paged) and
//! `GET /api/tenant-store/{namespace}/{key}`. Values are shown as text when
//! they are UTF-8, else as hex.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::TenantAuth;
use super::error::{ApiError, ApiResult};
use super::paging::PageQuery;
use super::params::{ApiPath, ApiQuery};
use crate::store::{KvEntry, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tenant-store", get(list))
        .route("/api/tenant-store/{namespace}/{key}", get(get_one))
}

#[derive(Debug, Serialize)]
pub struct KvJson {
    pub namespace: String,
    pub key: String,
    pub value: Option<String>,
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

#[derive(Debug, Deserialize)]
struct ListQuery {
    namespace: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Cursor: `k` + hex of `namespace \0 key`.
fn decode(c: &str) -> Option<(String, String)> {
    let bytes = hex::decode(c.strip_prefix('k')?).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ns, key) = text.split_once('\0')?;
    Some((ns.to_string(), key.to_string()))
}

async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
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
    Ok(Json(
        serde_json::json!({"items": items, "next_cursor": next}),
    ))
}

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

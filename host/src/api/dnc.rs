//! The tenant's do-not-call list: `GET /api/dnc` (paged), `POST /api/dnc`
//! `{"phones": [...]}` (each E.164; bad ones reported one by one),
//! `GET /api/dnc/{phone}`, `DELETE /api/dnc/{phone}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::audit::record;
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::paging::PageQuery;
use super::params::{ApiPath, ApiQuery};
use crate::leads_file::validate_phone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dnc", get(list).post(add))
        .route("/api/dnc/{phone}", get(get_one).delete(remove))
}

/// Most phones in one request.
const DNC_BATCH_MAX: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddReq {
    phones: Vec<String>,
}

#[derive(Serialize)]
struct PhoneError {
    index: usize,
    phone: String,
    reason: String,
}

async fn add(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<AddReq>,
) -> ApiResult<Json<serde_json::Value>> {
    if req.phones.len() > DNC_BATCH_MAX {
        return Err(ApiError::invalid(
            "phones",
            format!("at most {DNC_BATCH_MAX} per request"),
        ));
    }
    let (mut added, mut already, mut errors) = (0, 0, Vec::new());
    for (index, phone) in req.phones.into_iter().enumerate() {
        if let Err(reason) = validate_phone(&phone) {
            errors.push(PhoneError {
                index,
                phone,
                reason,
            });
            continue;
        }
        if s.store.dnc_add(t.tenant, &phone).await? {
            added += 1;
        } else {
            already += 1;
        }
    }
    // Nothing usable at all is a bad request, not a 200 that added nothing.
    if let (0, 0, Some(first)) = (added, already, errors.first()) {
        let field = format!("phones[{}]", first.index);
        return Err(ApiError::invalid(
            &field,
            format!(
                "{field}: {} (no phone in the request is valid)",
                first.reason
            ),
        ));
    }
    if added > 0 {
        record(&s, &t, "dnc.added", serde_json::json!({"added": added})).await?;
    }
    Ok(Json(
        serde_json::json!({"added": added, "already_listed": already, "errors": errors}),
    ))
}

fn phone_param(raw: &str) -> ApiResult<String> {
    validate_phone(raw).map_err(|m| ApiError::bad_request("invalid_path", Some("phone"), m))?;
    Ok(raw.to_string())
}

async fn get_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(phone): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let phone = phone_param(&phone)?;
    if s.store.dnc_contains(t.tenant, &phone).await? {
        Ok(Json(serde_json::json!({"phone": phone, "listed": true})))
    } else {
        Err(ApiError::NotFound("phone on the do-not-call list"))
    }
}

async fn remove(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(phone): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let phone = phone_param(&phone)?;
    if s.store.dnc_remove(t.tenant, &phone).await? {
        record(&s, &t, "dnc.removed", serde_json::json!({"phone": phone})).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("phone on the do-not-call list"))
    }
}

async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    // Keyed by phone: the cursor is `p` + the last phone's digits.
    let limit = PageQuery {
        limit: q.limit.clone(),
        cursor: None,
    }
    .parse()?
    .limit;
    let after = match &q.cursor {
        None => None,
        Some(c) => Some(
            c.strip_prefix('p')
                .filter(|d| !d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()))
                .map(|d| format!("+{d}"))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_paging",
                        Some("cursor"),
                        "not a cursor of this API",
                    )
                })?,
        ),
    };
    let mut rows = s
        .store
        .dnc_list(t.tenant, after.as_deref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last()
            .map(|p| format!("p{}", p.trim_start_matches('+')))
    } else {
        None
    };
    let items: Vec<_> = rows
        .into_iter()
        .map(|p| serde_json::json!({"phone": p}))
        .collect();
    Ok(Json(
        serde_json::json!({"items": items, "next_cursor": next}),
    ))
}

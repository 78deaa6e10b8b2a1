//! The tenant's do-not-call list: `GET /api/dnc` (paged), `POST /api/dnc`
//! `{"phones": [...]}` (each E.164; bad ones reported one by one),
//! `GET /api/dnc/{phone}`, `DELETE /api/dnc/{phone}`.

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
use super::paging::{PageQuery, Paged};
use super::params::{ApiPath, ApiQuery};
use crate::leads_file::validate_phone;

/// The do-not-call list's routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(get_one, remove))
}

/// Most phones in one request.
const DNC_BATCH_MAX: usize = 10_000;

/// `{"phones": [...]}`, each E.164.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DncAdd)]
struct AddReq {
    phones: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PhoneError {
    index: usize,
    phone: String,
    reason: String,
}

/// What an add did. Fields of these views are in alphabetical order, the
/// order the JSON had when it was built as a `serde_json` map.
#[derive(Serialize, utoipa::ToSchema)]
struct DncAdded {
    added: usize,
    already_listed: usize,
    /// The phones refused, by index in the request.
    errors: Vec<PhoneError>,
}

/// A listed phone (`GET /api/dnc/{phone}` answers 404 for one not listed).
#[derive(Serialize, utoipa::ToSchema)]
struct DncListed {
    listed: bool,
    phone: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DncPhone {
    phone: String,
}

#[utoipa::path(
    post,
    path = "/api/dnc",
    operation_id = "add_dnc",
    tag = "dnc",
    summary = "Add phones `{\"phones\": [...]}`; bad ones reported one by one",
    request_body = AddReq,
    responses(
        (status = 200, description = "How many were added, already listed, refused", body = DncAdded),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "No phone is valid, or too many", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn add(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<AddReq>,
) -> ApiResult<Json<DncAdded>> {
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
    Ok(Json(DncAdded {
        added,
        already_listed: already,
        errors,
    }))
}

fn phone_param(raw: &str) -> ApiResult<String> {
    validate_phone(raw).map_err(|m| ApiError::bad_request("invalid_path", Some("phone"), m))?;
    Ok(raw.to_string())
}

#[utoipa::path(
    get,
    path = "/api/dnc/{phone}",
    operation_id = "get_dnc",
    tag = "dnc",
    summary = "Is a phone listed",
    params(("phone" = String, Path, description = "E.164, e.g. `+14155550100` (URL-encode the `+` as `%2B`)")),
    responses(
        (status = 200, description = "Listed", body = DncListed),
        (status = 400, description = "Not an E.164 phone", body = ErrorBody),
        (status = 404, description = "Not listed", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn get_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(phone): ApiPath<String>,
) -> ApiResult<Json<DncListed>> {
    let phone = phone_param(&phone)?;
    if s.store.dnc_contains(t.tenant, &phone).await? {
        Ok(Json(DncListed {
            listed: true,
            phone,
        }))
    } else {
        Err(ApiError::NotFound("phone on the do-not-call list"))
    }
}

#[utoipa::path(
    delete,
    path = "/api/dnc/{phone}",
    operation_id = "remove_dnc",
    tag = "dnc",
    summary = "Remove a phone",
    params(("phone" = String, Path, description = "E.164, e.g. `+14155550100` (URL-encode the `+` as `%2B`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not an E.164 phone", body = ErrorBody),
        (status = 404, description = "Not listed", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/dnc",
    operation_id = "list_dnc",
    tag = "dnc",
    summary = "The do-not-call list (paged, by phone)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of phones", body = Paged<DncPhone>),
        (status = 400, description = "Bad paging parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<DncPhone>>> {
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
    Ok(Json(Paged {
        items: rows.into_iter().map(|phone| DncPhone { phone }).collect(),
        next_cursor: next,
    }))
}

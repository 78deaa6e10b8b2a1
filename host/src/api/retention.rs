//! Retention and erasure: `GET/PUT /api/settings/retention` (how long the
//! tenant's finished runs keep their jobs and attempts; the cleaner in
//! [`crate::lifecycle::cleaner`] deletes them after), `DELETE
//! /api/leads/{id}` and `POST /api/leads/erase` (by phone): erase a
//! person's data everywhere the host stores it, keeping rows and counts
//! (what exactly: [`crate::store::retention`]). Each erasure writes the
//! audit event `lead.erased` with the lead's id, never the phone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::{not_found, record};
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::params::ApiPath;
use super::views::parse_id;
use crate::leads_file::validate_phone;
use crate::model::LeadId;
use crate::store::platform_reads::Resource;
use crate::store::retention::{RETENTION_DAYS_MAX, RETENTION_DAYS_MIN, check_retention_days};
use crate::store::{LeadErasure, StoreError};

/// The routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_retention, set_retention))
        .routes(routes!(erase_one))
        .routes(routes!(erase_by_phone))
}

/// The tenant's retention (`days: null` = the platform default,
/// `--retention-days`, 90 unless the operator changed it).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Retention {
    /// Whole days from 0 to 3650 a finished run keeps its jobs and
    /// attempts; `null` = the platform default. Required.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(minimum = 0, maximum = 3650)]
    days: Option<i64>,
}

/// Whose data to erase (`POST /api/leads/erase`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EraseByPhone {
    /// E.164, e.g. `+14155550100`: every lead of the tenant with it.
    phone: String,
}

/// The leads an erasure by phone erased (none when no lead has it any more).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Erased {
    erased: Vec<i64>,
}

#[utoipa::path(
    get,
    path = "/api/settings/retention",
    operation_id = "get_retention",
    tag = "settings",
    summary = "How long finished runs keep their jobs and attempts (`days: null`: the platform default)",
    responses(
        (status = 200, description = "The tenant's retention", body = Retention),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn get_retention(State(s): State<AppState>, t: TenantAuth) -> ApiResult<Json<Retention>> {
    let days = s.store.retention_days(t.tenant).await?;
    Ok(Json(Retention {
        days: days.map(i64::from),
    }))
}

#[utoipa::path(
    put,
    path = "/api/settings/retention",
    operation_id = "set_retention",
    tag = "settings",
    summary = "Set the retention `{\"days\": 30}` (whole days, 0 to 3650; `null` restores the platform default)",
    request_body = Retention,
    responses(
        (status = 200, description = "The retention now", body = Retention),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "`days` missing, not a whole number, or out of range", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn set_retention(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<Retention>,
) -> ApiResult<Json<Retention>> {
    let days = req
        .days
        .map(check_retention_days)
        .transpose()
        .map_err(|_| {
            ApiError::invalid(
                "days",
                format!(
                    "days: must be a whole number of days from {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}, or null for the platform default"
                ),
            )
        })?;
    s.store.set_retention_days(t.tenant, days).await?;
    record(
        &s,
        &t,
        "retention.set",
        serde_json::json!({ "days": req.days }),
    )
    .await?;
    Ok(Json(Retention { days: req.days }))
}

#[utoipa::path(
    delete,
    path = "/api/leads/{id}",
    operation_id = "erase_lead",
    tag = "leads",
    summary = "Erase a lead's personal data everywhere (the row stays as a tombstone; counts hold); again: 204",
    params(("id" = i64, Path, description = "The lead's id", minimum = 1)),
    responses(
        (status = 204, description = "Erased (or erased before)"),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such lead (or another tenant's)", body = ErrorBody),
        (status = 409, description = "A call to the lead is in flight; erase it once the call ends", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn erase_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id("id", &id)?;
    match erase(&s, &t, LeadId(id)).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(ApiError::NotFound(_)) => {
            Err(not_found(&s, &t, Resource::Lead, id, "DELETE /api/leads/{id}").await)
        }
        Err(e) => Err(e),
    }
}

#[utoipa::path(
    post,
    path = "/api/leads/erase",
    operation_id = "erase_leads_by_phone",
    tag = "leads",
    summary = "Erase the personal data of every lead with this phone `{\"phone\": \"+1…\"}`; none left: `erased: []`",
    request_body = EraseByPhone,
    responses(
        (status = 200, description = "The ids of the leads erased", body = Erased),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "A call to one of the leads is in flight (the ones before it are erased); retry once it ends", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "`phone` missing or not E.164", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn erase_by_phone(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiJson(req): ApiJson<EraseByPhone>,
) -> ApiResult<Json<Erased>> {
    validate_phone(&req.phone)
        .map_err(|why| ApiError::invalid("phone", format!("phone: {why}")))?;
    let mut erased = Vec::new();
    for lead in s.store.leads_with_phone(t.tenant, &req.phone).await? {
        match erase(&s, &t, lead).await {
            Ok(_) => erased.push(lead.0),
            // Erased meanwhile by another request: nothing left to do.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Json(Erased { erased }))
}

/// Erases `lead` and records `lead.erased` (once: not for a lead erased before).
async fn erase(s: &AppState, t: &TenantAuth, lead: LeadId) -> Result<LeadErasure, ApiError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let done = match s.store.erase_lead(t.tenant, lead, now_ms).await {
        Err(StoreError::Conflict { constraint }) if constraint == "dialing" => {
            return Err(ApiError::Conflict {
                message: format!("lead {lead} has a call in flight; erase it once the call ends"),
                field: None,
            });
        }
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("lead")),
        other => other?,
    };
    if !done.already_erased {
        record(
            s,
            t,
            "lead.erased",
            serde_json::json!({
                "lead_id": lead.0,
                "jobs_skipped": done.jobs_skipped,
                "attempts_scrubbed": done.attempts_scrubbed,
                "tenant_store_entries_deleted": done.tenant_store_entries_deleted,
            }),
        )
        .await?;
    }
    Ok(done)
}

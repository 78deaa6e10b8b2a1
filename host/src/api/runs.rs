//! Runs: `POST /api/outbound/runs` → 201, `GET /api/outbound/runs` (paged),
//! `GET /api/outbound/runs/{id}`, `POST /api/outbound/runs/{id}/cancel`
//! (returns once no further call can start). A run's jobs are in
//! [`super::run_jobs`], its events (SSE) in [`super::events`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::{Reference, audit_reference, or_not_found, record};
use super::auth::TenantAuth;
use super::body::{RawBody, parse_json};
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::{PageQuery, Paged, paged};
use super::params::{ApiPath, ApiQuery};
use super::strict::{object, opt_object};
use super::views::{RunJson, parse_id};
use crate::lifecycle::compliance::CallingWindow;
use crate::lifecycle::settings::{CancelMode, RunSettings};
use crate::model::{LeadId, RunId};
use crate::store::platform_reads::Resource;
use crate::store::{LeadFilter, PAGE_LIMIT_MAX, Page, RunSpec, StoreError};

/// The runs' routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one))
        .routes(routes!(super::run_jobs::jobs))
        .routes(routes!(super::run_jobs::job))
        .routes(routes!(cancel))
        .routes(routes!(super::events::stream))
}

/// Most leads one run takes.
pub const RUN_LEADS_MAX: usize = 1_000_000;
/// Longest `settings.retry_delay_secs` (a week).
pub const RUN_RETRY_DELAY_SECS_MAX: u32 = 7 * 24 * 3600;

/// The body of `POST /api/outbound/runs`: `lead_ids` or `filter` (one of
/// the two), the flow and the dialer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    /// Plain JSON numbers ([`LeadId`] is transparent).
    #[schema(value_type = Option<Vec<i64>>)]
    pub lead_ids: Option<Vec<LeadId>>,
    #[serde(default, deserialize_with = "opt_object")]
    pub filter: Option<FilterReq>,
    pub flow: String,
    /// The flow version to pin; the active one when absent.
    pub flow_version: Option<i64>,
    pub dialer: String,
    #[serde(default, deserialize_with = "object")]
    pub settings: SettingsReq,
}

/// Selects the leads of a run by tag and status.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LeadFilter)]
pub struct FilterReq {
    pub tag: Option<String>,
    pub status: Option<String>,
}

/// A run's settings; every one optional (`RunSettings` in the document).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RunSettings)]
pub struct SettingsReq {
    pub concurrency: Option<u32>,
    pub max_attempts: Option<u32>,
    #[serde(default, deserialize_with = "opt_object")]
    pub calling_window: Option<WindowReq>,
    pub retry_delay_secs: Option<u32>,
    /// `hangup` (default) or `drain`.
    #[schema(value_type = Option<String>)]
    pub cancel_mode: Option<CancelMode>,
    pub daily_attempt_cap: Option<u32>,
    pub call_timeout_secs: Option<u32>,
    pub calls_per_second: Option<f64>,
    #[serde(default)]
    pub flow: BTreeMap<String, String>,
}

/// The local calling window, `HH:MM` to `HH:MM` in each lead's time zone.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallingWindow)]
pub struct WindowReq {
    pub start: String,
    pub end: String,
}

impl SettingsReq {
    fn into_settings(self) -> ApiResult<RunSettings> {
        let mut s = RunSettings::default();
        if let Some(v) = self.concurrency {
            s.concurrency = v;
        }
        if let Some(v) = self.max_attempts {
            s.max_attempts = v;
        }
        if let Some(w) = self.calling_window {
            s.calling_window = CallingWindow::parse(&format!("{}-{}", w.start, w.end))
                .map_err(|e| ApiError::invalid("settings.calling_window", e))?;
        }
        if let Some(v) = self.cancel_mode {
            s.cancel_mode = v;
        }
        if let Some(v) = self.daily_attempt_cap {
            s.daily_attempt_cap = v;
        }
        if let Some(v) = self.call_timeout_secs {
            s.call_timeout_secs = v;
        }
        s.calls_per_second = self.calls_per_second;
        let mut flow = self.flow;
        if let Some(d) = self.retry_delay_secs {
            if d > RUN_RETRY_DELAY_SECS_MAX {
                return Err(ApiError::invalid(
                    "settings.retry_delay_secs",
                    format!(
                        "settings.retry_delay_secs: must be 0..={RUN_RETRY_DELAY_SECS_MAX}, got {d}"
                    ),
                ));
            }
            flow.insert("retry_delay_secs".into(), d.to_string());
        }
        s.flow = flow.into_iter().collect();
        s.validate()
            .map_err(|(f, r)| ApiError::invalid(&format!("settings.{f}"), r))?;
        Ok(s)
    }
}

async fn select_leads(s: &AppState, t: &TenantAuth, f: FilterReq) -> ApiResult<Vec<LeadId>> {
    let filter = LeadFilter {
        tag: f.tag,
        status: f.status,
    };
    let mut ids = Vec::new();
    let mut page = Page::first(PAGE_LIMIT_MAX);
    loop {
        let rows = s.store.list_leads(t.tenant, &filter, page).await?;
        let Some(last) = rows.last() else { break };
        page.after = Some(last.id.get());
        let n = rows.len();
        ids.extend(rows.into_iter().map(|l| l.id));
        if ids.len() > RUN_LEADS_MAX {
            return Err(ApiError::invalid(
                "filter",
                format!("matches more than {RUN_LEADS_MAX} leads"),
            ));
        }
        if n < PAGE_LIMIT_MAX as usize {
            break;
        }
    }
    if ids.is_empty() {
        return Err(ApiError::invalid("filter", "matches no lead"));
    }
    Ok(ids)
}

#[utoipa::path(
    post,
    path = "/api/outbound/runs",
    operation_id = "create_run",
    tag = "runs",
    summary = "Create a run",
    request_body = CreateRun,
    responses(
        (status = 201, description = "The run, queued", body = RunJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field is invalid (`field` names it), or names a lead or flow the tenant does not have", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn create(
    State(s): State<AppState>,
    t: TenantAuth,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<RunJson>)> {
    if !matches!(body.content_type.as_str(), "application/json" | "") {
        return Err(ApiError::UnsupportedMediaType(
            "expected application/json".into(),
        ));
    }
    let req: CreateRun = parse_json(&body.bytes)?;
    let settings = req.settings.into_settings()?;
    let lead_ids = match (req.lead_ids, req.filter) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "lead_ids",
                "give lead_ids or filter, not both",
            ));
        }
        (None, None) => return Err(ApiError::invalid("lead_ids", "give lead_ids or filter")),
        (Some(ids), None) => {
            if ids.len() > RUN_LEADS_MAX {
                return Err(ApiError::invalid(
                    "lead_ids",
                    format!("at most {RUN_LEADS_MAX} leads"),
                ));
            }
            // A repeat would hit the jobs' unique key in SQL (409 naming a
            // constraint, worded per engine); name its index instead.
            let mut seen = std::collections::HashMap::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                if let Some(first) = seen.insert(*id, i) {
                    return Err(ApiError::invalid(
                        &format!("lead_ids[{i}]"),
                        format!(
                            "lead_ids[{i}]: lead {} is already at lead_ids[{first}]",
                            id.get()
                        ),
                    ));
                }
            }
            ids
        }
        (None, Some(f)) => select_leads(&s, &t, f).await?,
    };
    let spec = RunSpec {
        lead_ids,
        flow: req.flow,
        flow_version: req.flow_version,
        dialer: req.dialer,
        settings,
    };
    let id = match s.store.create_run(t.tenant, &spec).await {
        Ok(id) => id,
        Err(e) => {
            if let Some(r) = body_reference(&e, &spec) {
                audit_reference(&s, &t, r, "POST /api/outbound/runs").await;
            }
            return Err(e.into());
        }
    };
    record(
        &s,
        &t,
        "run.created",
        serde_json::json!({"run_id": id, "flow": spec.flow, "flow_version": spec.flow_version,
                           "dialer": spec.dialer, "total_leads": spec.lead_ids.len()}),
    )
    .await?;
    let run = s.store.get_run(t.tenant, id).await?;
    Ok((StatusCode::CREATED, Json(s.run_json(run).await?)))
}

#[utoipa::path(
    get,
    path = "/api/outbound/runs",
    operation_id = "list_runs",
    tag = "runs",
    summary = "List runs (paged, newest first)",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of runs", body = Paged<RunJson>),
        (status = 400, description = "Bad paging parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<RunJson>>> {
    let req = q.parse()?;
    let rows = s.store.list_runs(t.tenant, req.store_page()).await?;
    let page = paged(req, rows, |r| r.id.0, |r| r);
    let mut items = Vec::with_capacity(page.items.len());
    for r in page.items {
        // Listings carry counts too (the dashboard shows progress per run).
        let full = s.store.get_run(t.tenant, r.id).await?;
        items.push(s.run_json(full).await?);
    }
    Ok(Json(Paged {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// The run JSON of `id` for tenant `t`; another tenant's → 404 + security event.
pub async fn run_for(s: &AppState, t: &TenantAuth, id: i64, endpoint: &str) -> ApiResult<RunJson> {
    let r = s.store.get_run(t.tenant, RunId(id)).await;
    let run = or_not_found(s, t, Resource::Run, id, endpoint, r).await?;
    s.run_json(run).await
}

#[utoipa::path(
    get,
    path = "/api/outbound/runs/{id}",
    operation_id = "get_run",
    tag = "runs",
    summary = "A run: status, cursor, total, counts, last call placed at",
    params(("id" = i64, Path, description = "The run's id", minimum = 1)),
    responses(
        (status = 200, description = "The run", body = RunJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn get_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunJson>> {
    let id = parse_id("id", &id)?;
    Ok(Json(
        run_for(&s, &t, id, "GET /api/outbound/runs/{id}").await?,
    ))
}

/// The optional body of a cancel: empty, or `{"mode": ...}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelRun)]
pub struct CancelReq {
    /// `hangup` or `drain`; the run's `cancel_mode` when absent.
    #[schema(value_type = Option<String>)]
    pub mode: Option<CancelMode>,
}

/// Cancels through the lifecycle's cancel operation
/// ([`crate::lifecycle::cancel_run`]): returns once no worker can place
/// another call for the run (the owner acknowledged, or it has no live owner).
pub async fn cancel_and_wait(
    s: &AppState,
    t: &TenantAuth,
    id: i64,
    mode: Option<CancelMode>,
    endpoint: &str,
) -> ApiResult<RunJson> {
    let r =
        crate::lifecycle::cancel_run(&*s.store, t.tenant, RunId(id), mode, s.config.cancel_wait)
            .await;
    let done = or_not_found(s, t, Resource::Run, id, endpoint, r).await?;
    s.metrics.observe_cancel(done.latency);
    record(
        s,
        t,
        "run.cancelled",
        serde_json::json!({"run_id": id, "mode": mode.map(|m| m.as_str()),
                           "jobs_cancelled": done.jobs_cancelled, "endpoint": endpoint}),
    )
    .await?;
    run_for(s, t, id, endpoint).await
}

#[utoipa::path(
    post,
    path = "/api/outbound/runs/{id}/cancel",
    operation_id = "cancel_run",
    tag = "runs",
    summary = "Cancel a run; returns once no further call can start",
    params(("id" = i64, Path, description = "The run's id", minimum = 1)),
    request_body(content = Option<CancelReq>, description = "Optional: an empty body cancels in the run's `cancel_mode`"),
    responses(
        (status = 200, description = "The run after the cancel", body = RunJson),
        (status = 400, description = "Bad id or malformed JSON", body = ErrorBody),
        (status = 404, description = "No such run (or another tenant's)", body = ErrorBody),
        (status = 422, description = "An unknown `mode`", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn cancel(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
    body: RawBody,
) -> ApiResult<Json<RunJson>> {
    let id = parse_id("id", &id)?;
    let req: CancelReq = if body.bytes.iter().all(u8::is_ascii_whitespace) {
        CancelReq::default()
    } else {
        parse_json(&body.bytes)?
    };
    let endpoint = "POST /api/outbound/runs/{id}/cancel";
    Ok(Json(cancel_and_wait(&s, &t, id, req.mode, endpoint).await?))
}

/// The lead or flow a refused run names that the tenant does not have: it
/// may be another tenant's (see [`audit_reference`]).
fn body_reference(e: &StoreError, spec: &RunSpec) -> Option<Reference> {
    let StoreError::Invalid { field, .. } = e else {
        return None;
    };
    if field == "flow" {
        return Some(Reference::Flow(spec.flow.clone()));
    }
    let i: usize = field
        .strip_prefix("lead_ids[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let lead = spec.lead_ids.get(i)?;
    Some(Reference::Row(Resource::Lead, lead.get()))
}

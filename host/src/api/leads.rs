//! Leads: `POST /api/leads` (JSON array or CSV, upsert by external id, one
//! error per bad row while good rows are stored), `GET /api/leads` (paged,
//! `?tag=`, `?status=`), `GET /api/leads/{id}`.
//!
//! Phone (E.164) and time zone (IANA) use the same rules as lead files
//! ([`crate::leads_file`]). A row object accepts `external_id` (or `id`),
//! `phone`, `name`, `timezone`, `attributes`, `status`, `tags`; CSV takes the
//! same columns (tags separated by `;`) and any other column as an attribute.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::or_not_found;
use super::auth::TenantAuth;
use super::body::RawBody;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::openapi::RawBytes;
use super::paging::{PageQuery, Paged, paged};
use super::params::{ApiPath, ApiQuery};
use super::views::{LeadJson, parse_id};
use crate::leads_file::{validate_phone, validate_timezone};
use crate::model::LeadId;
use crate::store::platform_reads::Resource;
use crate::store::{LeadFilter, LeadInput, LeadUpsert, StoreError, check_lead_input};

/// The leads' routes and their OpenAPI operations (one `routes!` per path).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, import))
        .routes(routes!(get_one))
}

/// One lead in a JSON import (`LeadImportRow` in the document).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LeadImportRow)]
struct LeadRow {
    /// Also accepted as `id`.
    #[serde(alias = "id")]
    external_id: String,
    /// E.164, e.g. `+14155550100`.
    phone: String,
    #[serde(default)]
    name: Option<String>,
    /// IANA, e.g. `Europe/Paris`.
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// A row that was not stored, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based: element index for JSON, line for CSV.
    pub row: u64,
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowStored {
    pub row: u64,
    pub id: i64,
    pub external_id: String,
    /// `created` or `updated`.
    #[schema(value_type = String)]
    pub result: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    pub created: usize,
    pub updated: usize,
    pub stored: Vec<RowStored>,
    pub errors: Vec<RowError>,
}

/// Largest number of rows one import takes.
const IMPORT_ROWS_MAX: usize = 50_000;

fn row_err(row: u64, field: Option<&str>, reason: impl Into<String>) -> RowError {
    RowError {
        row,
        field: field.map(str::to_string),
        reason: reason.into(),
    }
}

/// The first text of `l` PostgreSQL cannot store (a NUL), as a row error
/// naming the field; checked before anything else so both engines agree.
fn check_row_text(row: u64, l: &LeadRow) -> Result<(), RowError> {
    let nul = |f: &str| row_err(row, Some(f), super::strict::NUL_REASON);
    let has = |t: &str| t.contains('\0');
    let fields = [
        ("external_id", Some(&l.external_id)),
        ("phone", Some(&l.phone)),
        ("name", l.name.as_ref()),
        ("timezone", l.timezone.as_ref()),
        ("status", l.status.as_ref()),
    ];
    if let Some((f, _)) = fields.iter().find(|(_, v)| v.is_some_and(|t| has(t))) {
        return Err(nul(f));
    }
    if let Some(i) = l.tags.iter().position(|t| has(t)) {
        return Err(nul(&format!("tags[{i}]")));
    }
    for (k, v) in &l.attributes {
        if has(k) {
            return Err(nul("attributes"));
        }
        if has(v) {
            return Err(nul(&format!("attributes.{k}")));
        }
    }
    Ok(())
}

fn check_row(row: u64, l: LeadRow) -> Result<LeadInput, RowError> {
    check_row_text(row, &l)?;
    validate_phone(&l.phone).map_err(|m| row_err(row, Some("phone"), m))?;
    if let Some(tz) = &l.timezone {
        validate_timezone(tz).map_err(|m| row_err(row, Some("timezone"), m))?;
    }
    let input = LeadInput {
        external_id: l.external_id,
        phone: l.phone,
        name: l.name,
        timezone: l.timezone,
        attributes: l.attributes,
        status: l.status,
        tags: l.tags,
    };
    check_lead_input(&input).map_err(|e| match e {
        StoreError::Invalid { field, reason } => row_err(row, Some(&field), reason),
        other => row_err(row, None, other.to_string()),
    })?;
    Ok(input)
}

/// Parsed rows: position and the row or why it is unusable.
type Rows = Vec<(u64, Result<LeadRow, RowError>)>;

fn json_rows(bytes: &[u8]) -> Result<Rows, ApiError> {
    // Text is checked per row (check_row_text), like every other lead rule.
    let values: Vec<serde_json::Value> = super::body::parse_json_structure(bytes)?;
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let row = i as u64 + 1;
            let de = serde_path_to_error::deserialize::<_, LeadRow>(super::strict::ObjectOnly(v));
            (
                row,
                de.map_err(|e| {
                    let path = e.path().to_string();
                    let message = e.into_inner().to_string();
                    let field = super::body::error_field(&path, &message);
                    row_err(row, field.as_deref(), message)
                }),
            )
        })
        .collect())
}

fn csv_rows(bytes: &[u8]) -> Result<Rows, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request("invalid_csv", None, format!("CSV is not UTF-8: {e}"))
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::bad_request("invalid_csv", None, format!("header row: {e}")))?
        .clone();
    let col = |n: &[&str]| headers.iter().position(|h| n.contains(&h));
    let Some(id_col) = col(&["external_id", "id"]) else {
        return Err(ApiError::bad_request(
            "invalid_csv",
            Some("external_id"),
            "the header row has no `external_id` (or `id`) column",
        ));
    };
    let Some(phone_col) = col(&["phone"]) else {
        return Err(ApiError::bad_request(
            "invalid_csv",
            Some("phone"),
            "the header row has no `phone` column",
        ));
    };
    let known = [
        "external_id",
        "id",
        "phone",
        "name",
        "timezone",
        "status",
        "tags",
    ];
    let (name_col, tz_col, status_col, tags_col) = (
        col(&["name"]),
        col(&["timezone"]),
        col(&["status"]),
        col(&["tags"]),
    );
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.push((line, Err(row_err(line, None, e.to_string()))));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let attributes = headers
            .iter()
            .zip(rec.iter())
            .filter(|(h, _)| !known.contains(h))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        let tags = cell(tags_col)
            .map(|t| {
                t.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            line,
            Ok(LeadRow {
                external_id: rec.get(id_col).unwrap_or_default().to_string(),
                phone: rec.get(phone_col).unwrap_or_default().to_string(),
                name: cell(name_col),
                timezone: cell(tz_col),
                attributes,
                status: cell(status_col),
                tags,
            }),
        ));
    }
    Ok(out)
}

#[utoipa::path(
    post,
    path = "/api/leads",
    operation_id = "import_leads",
    tag = "leads",
    summary = "Import leads (upsert by external id); bad rows reported one by one",
    description = "A JSON array of rows, or CSV with the same columns (tags separated by `;`, any other column an attribute). Good rows are stored; `errors` lists the others.",
    request_body(content(
        (Vec<LeadRow> = "application/json"),
        (inline(RawBytes) = "text/csv"),
    )),
    responses(
        (status = 200, description = "Stored rows and the rows refused", body = ImportResult),
        (status = 422, description = "No row could be stored; `errors` says why", body = ImportResult),
        (status = 400, description = "Malformed JSON or CSV, or too many rows", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "Neither application/json nor text/csv", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn import(
    State(s): State<AppState>,
    t: TenantAuth,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    let rows = match body.content_type.as_str() {
        "text/csv" => csv_rows(&body.bytes)?,
        "application/json" | "" => json_rows(&body.bytes)?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "leads are imported as application/json or text/csv, not {other}"
            )));
        }
    };
    if rows.len() > IMPORT_ROWS_MAX {
        return Err(ApiError::bad_request(
            "too_many_rows",
            None,
            format!(
                "at most {IMPORT_ROWS_MAX} leads per request, got {}",
                rows.len()
            ),
        ));
    }
    let mut errors = Vec::new();
    let mut inputs = Vec::new();
    let mut input_rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (row, r) in rows {
        match r.and_then(|l| check_row(row, l)) {
            Ok(input) => {
                if let Some(first) = seen.get(&input.external_id) {
                    errors.push(row_err(
                        row,
                        Some("external_id"),
                        format!("duplicate external_id in this request (first at row {first})"),
                    ));
                    continue;
                }
                seen.insert(input.external_id.clone(), row);
                input_rows.push(row);
                inputs.push(input);
            }
            Err(e) => errors.push(e),
        }
    }
    let results = if inputs.is_empty() {
        Vec::new()
    } else {
        s.store.upsert_leads(t.tenant, &inputs).await?
    };
    let (mut created, mut updated, mut stored) = (0, 0, Vec::new());
    for ((row, input), r) in input_rows.into_iter().zip(inputs).zip(results) {
        match r {
            Ok(LeadUpsert::Created(id)) => {
                created += 1;
                stored.push(RowStored {
                    row,
                    id: id.get(),
                    external_id: input.external_id,
                    result: "created",
                });
            }
            Ok(LeadUpsert::Updated(id)) => {
                updated += 1;
                stored.push(RowStored {
                    row,
                    id: id.get(),
                    external_id: input.external_id,
                    result: "updated",
                });
            }
            Err(StoreError::Invalid { field, reason }) => {
                errors.push(row_err(row, Some(&field), reason))
            }
            Err(e) => errors.push(row_err(row, None, ApiError::from(e).to_string())),
        }
    }
    errors.sort_by_key(|e| e.row);
    // 200 when every row was stored; 207-like partial success is still 200
    // with `errors` listing the rows that were not (the contract: good rows
    // are stored, bad ones reported one by one).
    let status = if stored.is_empty() && !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ImportResult {
            created,
            updated,
            stored,
            errors,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only leads with this tag.
    tag: Option<String>,
    /// Only leads with this status.
    status: Option<String>,
    /// Items per page, 1..=500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/leads",
    operation_id = "list_leads",
    tag = "leads",
    summary = "List leads (paged; ?tag= ?status=)",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of leads", body = Paged<LeadJson>),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<LeadJson>>> {
    let req = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    let filter = LeadFilter {
        tag: q.tag,
        status: q.status,
    };
    let rows = s
        .store
        .list_leads(t.tenant, &filter, req.store_page())
        .await?;
    Ok(Json(paged(req, rows, |l| l.id.get(), LeadJson::from)))
}

#[utoipa::path(
    get,
    path = "/api/leads/{id}",
    operation_id = "get_lead",
    tag = "leads",
    summary = "One lead",
    params(("id" = i64, Path, description = "The lead's id", minimum = 1)),
    responses(
        (status = 200, description = "The lead", body = LeadJson),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 404, description = "No such lead (or another tenant's)", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn get_one(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LeadJson>> {
    let id = parse_id("id", &id)?;
    let r = s.store.get_lead(t.tenant, LeadId(id)).await;
    let lead = or_not_found(&s, &t, Resource::Lead, id, "GET /api/leads/{id}", r).await?;
    Ok(Json(lead.into()))
}

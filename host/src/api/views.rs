//! JSON views of stored rows, as the API returns them (no
//! `business_id`: the tenant is implied by the key), and path-id parsing.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::lifecycle::settings::RunSettings;
use crate::runtime::PluginKind;
use crate::store::{JobView, LeadRecord, PluginVersion, RunStatus, RunView, StoreError};

/// Epoch milliseconds → RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn rfc3339_dt(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A numeric id from the path; anything else is a 400 naming the parameter.
pub fn parse_id(field: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_path",
            Some(field),
            format!("{field} must be a positive integer"),
        )
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlowRef {
    pub name: String,
    pub version: i64,
}

/// A run, as every run operation returns it (`Run` in the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Run)]
pub struct RunJson {
    pub id: i64,
    /// `queued`, `running`, `paused`, `completed`, `cancelled` or `failed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub cursor_position: i64,
    pub total_leads: i64,
    /// Finished attempts by outcome.
    pub counts: BTreeMap<String, i64>,
    /// Jobs by state.
    pub jobs: BTreeMap<String, i64>,
    pub cancel_requested: bool,
    /// A pause is requested: the run is `paused`, or `running` until its
    /// calls in flight end and its worker parks it.
    pub pause_requested: bool,
    /// When the run was parked (RFC 3339, UTC); null unless `paused`.
    pub paused_at: Option<String>,
    /// `hangup` or `drain`.
    #[schema(value_type = String)]
    pub cancel_mode: &'static str,
    pub last_call_placed_at: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub failure: Option<String>,
    pub flow: FlowRef,
    pub dialer: String,
    /// As created: `calling_window` `{start, end}`, `flow` an object.
    #[schema(value_type = super::runs::SettingsReq)]
    pub settings: serde_json::Value,
}

impl AppState {
    /// Name and version of a pinned flow plugin row (immutable: cached).
    pub async fn flow_ref(&self, plugin_id: i64) -> Result<FlowRef, ApiError> {
        if let Some((name, version)) = self.flow_names.lock().unwrap().get(&plugin_id) {
            return Ok(FlowRef {
                name: name.clone(),
                version: *version,
            });
        }
        let (name, version) = self
            .platform
            .plugin_name_version(plugin_id)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("run pins missing plugin {plugin_id}")))?;
        self.flow_names
            .lock()
            .unwrap()
            .insert(plugin_id, (name.clone(), version));
        Ok(FlowRef { name, version })
    }

    pub async fn run_json(&self, r: RunView) -> Result<RunJson, ApiError> {
        let flow = self.flow_ref(r.flow_plugin_id).await?;
        Ok(RunJson {
            id: r.id.0,
            status: r.status.as_str(),
            cursor_position: r.cursor_position,
            total_leads: r.total_leads,
            counts: r.counts.by_outcome,
            jobs: r.counts.by_status,
            cancel_requested: r.cancel_requested,
            pause_requested: r.pause_requested,
            paused_at: r
                .paused_at
                .filter(|_| r.status == RunStatus::Paused)
                .map(rfc3339),
            cancel_mode: r.cancel_mode.unwrap_or(r.settings.cancel_mode).as_str(),
            last_call_placed_at: r.last_call_placed_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            failure: r.failure,
            flow,
            dialer: r.dialer,
            settings: settings_json(&r.settings),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Lead)]
pub struct LeadJson {
    pub id: i64,
    pub external_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub status: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<LeadRecord> for LeadJson {
    fn from(l: LeadRecord) -> Self {
        LeadJson {
            id: l.id.get(),
            external_id: l.external_id,
            phone: l.phone,
            name: l.name,
            timezone: l.timezone,
            attributes: l.attributes,
            status: l.status,
            tags: l.tags,
            created_at: rfc3339_dt(&l.created_at),
            updated_at: rfc3339_dt(&l.updated_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PluginVersion)]
pub struct PluginVersionJson {
    /// `flow` or `dialer`.
    #[schema(value_type = String)]
    pub kind: PluginKind,
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub active: bool,
    pub created_at: String,
}

impl From<PluginVersion> for PluginVersionJson {
    fn from(p: PluginVersion) -> Self {
        PluginVersionJson {
            kind: p.kind,
            name: p.name,
            version: p.version,
            sha256: p.sha256,
            size: p.size,
            active: p.active,
            created_at: rfc3339_dt(&p.created_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Job)]
pub struct JobJson {
    pub id: i64,
    pub run_id: i64,
    pub lead_id: i64,
    pub state: String,
    pub attempt: i64,
    pub outcome: Option<String>,
    pub reason: Option<String>,
}

impl From<JobView> for JobJson {
    fn from(j: JobView) -> Self {
        JobJson {
            id: j.id.0,
            run_id: j.run_id.0,
            lead_id: j.lead_id.0,
            state: j.status,
            attempt: j.attempt,
            outcome: j.outcome,
            reason: j.reason,
        }
    }
}

/// NotFound → 404 naming `what`; everything else as usual.
pub fn not_found_as(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

/// A run's settings in the shape `POST /api/outbound/runs` takes them.
pub fn settings_json(s: &RunSettings) -> serde_json::Value {
    let window = s.calling_window.to_string();
    let (start, end) = window.split_once('-').unwrap_or((window.as_str(), ""));
    let flow: BTreeMap<&str, &str> = s
        .flow
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::json!({
        "concurrency": s.concurrency,
        "max_attempts": s.max_attempts,
        "calling_window": {"start": start, "end": end},
        "daily_attempt_cap": s.daily_attempt_cap,
        "call_timeout_secs": s.call_timeout_secs,
        "calls_per_second": s.calls_per_second,
        "cancel_mode": s.cancel_mode.as_str(),
        "flow": flow,
    })
}

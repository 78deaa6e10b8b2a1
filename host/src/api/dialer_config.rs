//! A tenant's dialer configuration (e.g. http-dialer account id and token):
//! **write-only**. `PUT /api/dialer-config/{dialer}` `{"config": {..}}` → 204;
//! `GET /api/dialer-config` lists which dialers are configured, never values.
//! Values are never logged (bodies are not traced) and never reach flow
//! plugins (only the worker hands them to the adapter).
//!
//! `POST /api/dialer-config/{dialer}/callback-token` creates the unguessable
//! token of the provider callback URL `/api/callbacks/{token}` (shown once).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::audit::record;
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use crate::store::{StoreError, check_plugin_name};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dialer-config", get(list))
        .route("/api/dialer-config/{dialer}", put(set))
        .route("/api/dialer-config/{dialer}/callback-token", post(token))
}

/// Most keys in one configuration, longest key and value.
const CONFIG_KEYS_MAX: usize = 64;
const CONFIG_TEXT_MAX: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetConfig {
    config: BTreeMap<String, String>,
}

fn check_dialer(name: &str) -> ApiResult<()> {
    check_plugin_name(name).map_err(|e| match e {
        StoreError::Invalid { reason, .. } => ApiError::bad_request(
            "invalid_name",
            Some("dialer"),
            format!("dialer name: {reason}"),
        ),
        other => other.into(),
    })
}

async fn set(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(dialer): Path<String>,
    ApiJson(req): ApiJson<SetConfig>,
) -> ApiResult<StatusCode> {
    check_dialer(&dialer)?;
    if req.config.len() > CONFIG_KEYS_MAX {
        return Err(ApiError::invalid(
            "config",
            format!("at most {CONFIG_KEYS_MAX} keys"),
        ));
    }
    if let Some((k, _)) = req
        .config
        .iter()
        .find(|(k, v)| k.is_empty() || k.len() > CONFIG_TEXT_MAX || v.len() > CONFIG_TEXT_MAX)
    {
        return Err(ApiError::invalid(
            &format!("config.{k}"),
            format!("keys must be 1..={CONFIG_TEXT_MAX} bytes, values at most {CONFIG_TEXT_MAX}"),
        ));
    }
    let config: Vec<(String, String)> = req.config.into_iter().collect();
    s.store
        .set_dialer_config(t.tenant, &dialer, &config)
        .await?;
    // The audit names the keys that were set, never the values.
    let keys: Vec<&String> = config.iter().map(|(k, _)| k).collect();
    record(
        &s,
        &t,
        "dialer_config.set",
        serde_json::json!({"dialer": dialer, "keys": keys}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list(State(s): State<AppState>, t: TenantAuth) -> ApiResult<Json<serde_json::Value>> {
    let names = s.store.list_dialer_configs(t.tenant).await?;
    let items: Vec<_> = names
        .into_iter()
        .map(|d| serde_json::json!({"dialer": d}))
        .collect();
    Ok(Json(
        serde_json::json!({"items": items, "next_cursor": null}),
    ))
}

async fn token(
    State(s): State<AppState>,
    t: TenantAuth,
    Path(dialer): Path<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    check_dialer(&dialer)?;
    let token = s.store.create_callback_token(t.tenant, &dialer).await?;
    record(
        &s,
        &t,
        "callback_token.created",
        serde_json::json!({"dialer": dialer}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            serde_json::json!({"dialer": dialer, "token": token, "path": format!("/api/callbacks/{token}")}),
        ),
    ))
}

//! A tenant's dialer configuration (e.g. http-dialer account id and token):
//! **write-only**. `PUT /api/dialer-config/{dialer}` `{"config": {..}}` → 204;
//! `GET /api/dialer-config` lists which dialers are configured, never values.
//! Values are never logged (bodies are not traced) and never reach flow
//! plugins (only the worker and the callback endpoint hand them to the
//! adapter).
//!
//! Before storing, the PUT asks the dialer's active adapter, in an instance
//! bound to the tenant, to `validate-config` (presence and form, no
//! network): a problem is 400 with `field: config.<key>` and nothing is
//! stored. With no adapter of that name installed the configuration is
//! stored unchecked (it may be set up before the adapter).
//!
//! `POST /api/dialer-config/{dialer}/callback-token` creates the unguessable
//! token of the provider callback URL and answers it with the full
//! `callback_url` (public URL + `/api/callbacks/{token}`), shown once: the
//! value to give the provider (http-dialer's `status_callback`).

use std::collections::BTreeMap;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::audit::record;
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::callbacks::public_url;
use super::error::{ApiError, ApiResult};
use super::params::ApiPath;
use crate::runtime::{PluginScope, Properties};
use crate::store::{StoreError, StoreKv, check_plugin_name};

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
    ApiPath(dialer): ApiPath<String>,
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
    validate(&s, &t, &dialer, &config).await?;
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

/// Asks the active adapter of `dialer` whether `config` is complete and
/// well-formed; no adapter installed is not an error.
async fn validate(
    s: &AppState,
    t: &TenantAuth,
    dialer: &str,
    config: &Properties,
) -> ApiResult<()> {
    let prepared = match s.adapters.get(s, dialer).await {
        Ok(p) => p,
        Err(ApiError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let kv = Arc::new(StoreKv(s.store.clone()));
    let scope = PluginScope::new(t.tenant, &prepared.meta, kv);
    let plugin_failed = |e: crate::runtime::PluginError| {
        s.metrics.plugin_error(e.cause.label());
        ApiError::Internal(e.to_string())
    };
    let mut inst = s
        .plugins
        .dialer(&prepared, scope)
        .await
        .map_err(plugin_failed)?;
    match inst.validate_config(config).await.map_err(plugin_failed)? {
        Ok(()) => Ok(()),
        Err(p) => Err(ApiError::bad_request(
            "invalid_dialer_config",
            Some(&format!("config.{}", p.key)),
            format!(
                "the {dialer} adapter refused the configuration: {}: {}",
                p.key, p.message
            ),
        )),
    }
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
    ApiPath(dialer): ApiPath<String>,
    headers: HeaderMap,
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
    let path = format!("/api/callbacks/{token}");
    let callback_url = format!("{}{path}", public_url(&s, &headers));
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "dialer": dialer,
            "token": token,
            "path": path,
            "callback_url": callback_url,
        })),
    ))
}

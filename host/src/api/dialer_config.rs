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

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::record;
use super::auth::TenantAuth;
use super::body::ApiJson;
use super::callbacks::public_url;
use super::error::{ApiError, ApiResult, ErrorBody, KeyedErrors};
use super::paging::Paged;
use super::params::ApiPath;
use crate::runtime::{PluginScope, Properties};
use crate::store::{StoreError, StoreKv, check_plugin_name};

/// The dialer configuration's routes and their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(set))
        .routes(routes!(token))
}

/// Most keys in one configuration, longest key and value.
const CONFIG_KEYS_MAX: usize = 64;
const CONFIG_TEXT_MAX: usize = 4096;

/// `{"config": {key: value}}`, the adapter's settings (write-only).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DialerConfig)]
struct SetConfig {
    config: BTreeMap<String, String>,
}

/// A configured dialer (never its values).
#[derive(Serialize, utoipa::ToSchema)]
pub struct DialerConfigured {
    pub dialer: String,
}

/// A new callback token, shown once. Fields in alphabetical order, the
/// order the JSON had when it was built as a `serde_json` map.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallbackToken {
    /// The public URL (serve --public-url) + path: what to give the
    /// provider, and what it signs.
    pub callback_url: String,
    pub dialer: String,
    /// `/api/callbacks/{token}`.
    pub path: String,
    /// Shown once; stored hashed.
    pub token: String,
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

#[utoipa::path(
    put,
    path = "/api/dialer-config/{dialer}",
    operation_id = "set_dialer_config",
    tag = "dialer-config",
    summary = "Set a dialer configuration (write-only), checked first by the active adapter's validate-config",
    params(("dialer" = String, Path, description = "The dialer adapter's name")),
    request_body = SetConfig,
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "`invalid_dialer_config`: the adapter refused the configuration; `field` is `config.<key>`. Nothing is stored. Also a bad dialer name or malformed JSON", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Too many keys, or a key or value too long", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/dialer-config",
    operation_id = "list_dialer_configs",
    tag = "dialer-config",
    summary = "Which dialers are configured (never the values), in one page",
    responses(
        (status = 200, description = "Configured dialers", body = Paged<DialerConfigured>),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn list(
    State(s): State<AppState>,
    t: TenantAuth,
) -> ApiResult<Json<Paged<DialerConfigured>>> {
    let names = s.store.list_dialer_configs(t.tenant).await?;
    Ok(Json(Paged {
        items: names
            .into_iter()
            .map(|dialer| DialerConfigured { dialer })
            .collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/dialer-config/{dialer}/callback-token",
    operation_id = "create_callback_token",
    tag = "dialer-config",
    summary = "Create a provider callback token (shown once) and the full callback URL to give the provider",
    params(("dialer" = String, Path, description = "The dialer adapter's name")),
    responses(
        (status = 201, description = "The token and its callback URL", body = CallbackToken),
        (status = 400, description = "A bad dialer name", body = ErrorBody),
        KeyedErrors,
    ),
    security(("tenantKey" = [])),
)]
async fn token(
    State(s): State<AppState>,
    t: TenantAuth,
    ApiPath(dialer): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<CallbackToken>)> {
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
        Json(CallbackToken {
            callback_url,
            dialer,
            path,
            token,
        }),
    ))
}

//! Provider callbacks: `POST /api/callbacks/{token}`. No API key: the
//! unguessable token (stored hashed) identifies the tenant and the dialer.
//! The request goes to the active adapter's `parse-callback`, in an instance
//! bound to that tenant, with the full public URL the provider posted to
//! ([`public_url`] + the path and query, what providers sign), the headers
//! and the body; the adapter authenticates it (e.g. `X-Twilio-Signature`)
//! and decodes it. The event goes into the call state machine
//! ([`crate::store::ApiRunStore::apply_call_event`]), which ignores
//! duplicates and out-of-order events.
//!
//! Answers 200 `{"result": "applied" | "ignored" | "held" | "no_event"}`
//! so providers do not retry events that were understood. `held`: no call of
//! the tenant has that provider id yet (the provider was faster than the
//! worker recording the call); the event is kept and applied once it is. An
//! unknown token is 404; a request the adapter finds malformed, or whose
//! decoded event is over the plugin output limit, is 400; one it
//! cannot authenticate is 403, applies nothing and writes a security event to
//! the tenant's and the platform's audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::audit::callback_security_event;
use super::body::RawBody;
use super::error::{ApiError, ApiResult};
use super::params::ApiPath;
use crate::runtime::{
    CallbackError, CallbackRequest, PluginFailure, PluginKind, PluginMeta, PluginScope, Prepared,
};
use crate::store::tenant_scope::{DbScope, scoped};
use crate::store::{CallEventApplied, StoreError, StoreKv};

/// The callback route and its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}

/// How long a resolved active adapter version is trusted before the store
/// is asked again (activation reaches callbacks within this time).
pub const ADAPTER_CACHE_TTL: Duration = Duration::from_millis(500);

/// The active version of each dialer, prepared (compiled once per sha256 by
/// the plugin host's cache), re-checked every [`ADAPTER_CACHE_TTL`].
#[derive(Default)]
pub struct AdapterCache {
    by_name: Mutex<HashMap<String, (Instant, Arc<Prepared>)>>,
}

impl AdapterCache {
    /// The prepared active version of `dialer`; `NotFound("dialer adapter")`
    /// when none is installed.
    pub async fn get(&self, s: &AppState, dialer: &str) -> ApiResult<Arc<Prepared>> {
        if let Some((at, p)) = self.by_name.lock().unwrap().get(dialer)
            && at.elapsed() < ADAPTER_CACHE_TTL
        {
            return Ok(Arc::clone(p));
        }
        let blob = s
            .store
            .get_active_plugin(PluginKind::Dialer, None, dialer)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::NotFound("dialer adapter"),
                other => other.into(),
            })?;
        let host = Arc::clone(&s.plugins);
        let meta = PluginMeta {
            kind: PluginKind::Dialer,
            name: dialer.to_string(),
            version: blob.version.version,
        };
        let prepared = tokio::task::spawn_blocking(move || host.prepare(meta, &blob.bytes))
            .await
            .map_err(|e| ApiError::Internal(format!("prepare task: {e}")))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        self.by_name
            .lock()
            .unwrap()
            .insert(dialer.to_string(), (Instant::now(), Arc::clone(&prepared)));
        Ok(prepared)
    }
}

/// The URL providers reach this API at, without a trailing slash: the
/// configured public URL (`serve --public-url`, which defaults to the bind
/// address), else `http://` + the request's `Host` header.
pub fn public_url(s: &AppState, headers: &HeaderMap) -> String {
    match &s.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/callbacks/{token}",
    operation_id = "post_callback",
    tag = "callbacks",
    summary = "Provider status callback, authenticated by the adapter (e.g. X-Twilio-Signature over the public URL)",
    params(("token" = String, Path, description = "The callback token (`POST /api/dialer-config/{dialer}/callback-token`)")),
    request_body(description = "As the provider sends it: form fields (Twilio-style) or JSON", content(
        (super::openapi::CallbackFields = "application/x-www-form-urlencoded"),
        (super::openapi::CallbackFields = "application/json"),
    )),
    responses(
        (status = 200, description = "Understood (providers do not retry it)", body = super::openapi::CallbackResult),
        (status = 400, description = "`invalid_callback`: the adapter could not decode the request", body = super::error::ErrorBody),
        (status = 403, description = "`unauthenticated_callback`: missing or wrong signature; nothing applied, a security event recorded", body = super::error::ErrorBody),
        (status = 404, description = "Unknown token, or no adapter of its dialer", body = super::error::ErrorBody),
        (status = 500, description = "The adapter failed", body = super::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = super::error::ErrorBody),
    ),
)]
async fn callback(
    State(s): State<AppState>,
    ApiPath(token): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: RawBody,
) -> ApiResult<Json<serde_json::Value>> {
    let target = scoped(DbScope::Platform, s.store.resolve_callback_token(&token))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound("callback token"),
            other => other.into(),
        })?;
    let tenant = target.tenant;
    scoped(DbScope::Tenant(tenant), async {
        let prepared = s.adapters.get(&s, &target.dialer).await?;
        let config = s
            .store
            .dialer_config_for_worker(tenant, &target.dialer)
            .await?
            .unwrap_or_default();
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let req = CallbackRequest {
            url: format!("{}{path}", public_url(&s, &headers)),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body: body.bytes.to_vec(),
        };
        let kv = Arc::new(StoreKv(s.store.clone()));
        let scope = PluginScope::new(tenant, &prepared.meta, kv);
        let mut inst = s.plugins.dialer(&prepared, scope).await.map_err(|e| {
            s.metrics.plugin_error(e.cause.label());
            ApiError::Internal(e.to_string())
        })?;
        let parsed = inst.parse_callback(&config, &req).await.map_err(|e| {
            s.metrics.plugin_error(e.cause.label());
            match e.cause {
                // The decoded event is over the plugin output limit: the
                // request's fields were too large, not the adapter's fault.
                PluginFailure::InvalidOutput(m) => {
                    s.metrics.callback("malformed");
                    ApiError::bad_request(
                        "invalid_callback",
                        None,
                        format!(
                            "the {} adapter's decoded callback is refused: {m}",
                            target.dialer
                        ),
                    )
                }
                _ => ApiError::Internal(e.to_string()),
            }
        })?;
        let event = match parsed {
            Err(CallbackError::Malformed(m)) => {
                s.metrics.callback("malformed");
                return Err(ApiError::bad_request(
                    "invalid_callback",
                    None,
                    format!("the {} adapter rejected the callback: {m}", target.dialer),
                ));
            }
            Err(CallbackError::Unauthenticated(m)) => {
                s.metrics.callback("unauthenticated");
                if let Err(e) = callback_security_event(&s, tenant, &target.dialer, &m).await {
                    tracing::error!(error = %e, "cannot record a security event");
                }
                return Err(ApiError::CallbackUnauthenticated(format!(
                    "the {} adapter could not authenticate the callback: {m}",
                    target.dialer
                )));
            }
            Ok(None) => return Ok(Json(serde_json::json!({"result": "no_event"}))),
            Ok(Some(e)) => e,
        };
        // Text the provider sent (a call id, a reason) that PostgreSQL
        // cannot store is the request's fault: 400 on both engines.
        let nul = serde_json::to_value(&event)
            .ok()
            .and_then(|v| super::strict::find_nul(&v));
        if let Some(path) = nul {
            s.metrics.callback("malformed");
            return Err(ApiError::bad_request(
                "invalid_callback",
                None,
                format!(
                    "the decoded callback's {path}: {}",
                    super::strict::NUL_REASON
                ),
            ));
        }
        let result = match s.store.apply_call_event(tenant, &event).await? {
            CallEventApplied::Applied => "applied",
            CallEventApplied::Ignored => "ignored",
            CallEventApplied::Held => "held",
        };
        s.metrics.callback(result);
        Ok(Json(serde_json::json!({"result": result})))
    })
    .await
}

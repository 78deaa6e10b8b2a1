//! The HTTP API: one axum router per resource, assembled here.
//!
//! - Auth ([`auth`]): every `/api/...` route except callbacks and the OpenAPI
//!   document needs `Authorization: Bearer <key>`; the tenant always comes
//!   from the key, and a tenant request runs in its tenant's database scope
//!   (Row-Level Security on PostgreSQL, see [`crate::store::tenant_scope`]).
//! - Errors ([`error`]): one [`error::ApiError`], one JSON shape.
//! - Bodies ([`body`]): strict JSON, size limits → 413.
//! - [`serve`]: runs the router on a listener until a shutdown future fires.
//!
//! Module map, one router (or piece of the router) per file:
//! - [`auth`]: the bearer key → tenant or platform principal.
//! - [`error`]: [`error::ApiError`], the one error shape and its status codes.
//! - [`body`]: strict JSON/CSV body extractors, size limits → 413.
//! - [`strict`]: objects only where objects are documented; no NUL in text.
//! - [`params`]: path and query extractors naming the bad parameter, and the
//!   layer that renders axum's own rejections (405, ...) in the error shape.
//! - [`paging`]: `?limit=&cursor=` keyset paging.
//! - [`views`]: the JSON shapes of stored rows; path-id parsing.
//! - [`leads`], [`dnc`], [`plugins`], [`dialer_config`], [`tenant_store`],
//!   [`audit`]: a tenant's resources, one router each.
//! - [`retention`]: the tenant's retention setting, erasing a lead's
//!   personal data (by id or by phone).
//! - [`runs`]: runs and cancel; [`run_jobs`]: a run's jobs (filtered, paged)
//!   and one job's timeline; [`run_pause`]: pause
//!   and resume; [`events`]: a run's SSE stream.
//! - [`legacy`]: the original system's endpoints, same meaning.
//! - [`callbacks`]: provider status callbacks (token in the path, no key).
//! - [`keys`]: a tenant's own API keys (list, create, revoke, rotate).
//! - [`admin_dialers`]: dialer adapter versions (platform key only).
//! - [`admin_keys`]: tenants, their keys and the platform's keys (platform key only).
//! - [`health`], [`metrics`], [`openapi`], [`dashboard`]: operations and docs;
//!   [`node_metrics`]: a worker's own `/metrics` listener (not the API).
//!
//! Every router but the dashboard's is a `utoipa_axum` `OpenApiRouter`: a
//! route and its OpenAPI operation are registered together, so the document
//! ([`openapi_document`], served at `/api/openapi.json`) lists exactly the
//! routes of [`router`].

pub mod admin_dialers;
pub mod admin_keys;
pub mod audit;
pub mod auth;
pub mod body;
pub mod callbacks;
pub mod dashboard;
pub mod dialer_config;
pub mod dnc;
pub mod error;
pub mod events;
pub mod health;
pub mod keys;
pub mod leads;
pub mod legacy;
pub mod metrics;
pub mod node_metrics;
pub mod openapi;
pub mod paging;
pub mod params;
pub mod plugins;
pub mod retention;
pub mod run_jobs;
pub mod run_pause;
pub mod runs;
pub mod strict;
pub mod tenant_store;
pub mod views;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

use crate::config;
use crate::runtime::PluginHost;
use crate::store::ApiStore;
use crate::store::platform_reads::{PlatformReads, connect_platform_reads};

/// Knobs of the API; each default is a `*_DEFAULT` in [`crate::config`].
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest JSON or CSV body.
    pub body_limit: usize,
    /// Largest plugin component upload.
    pub plugin_body_limit: usize,
    /// How long a cancel waits for the run's owner to acknowledge.
    pub cancel_wait: Duration,
    /// Interval of the SSE progress poll.
    pub events_interval: Duration,
    /// The URL providers reach this API at (`https://dialplane.example.com`):
    /// the base of callback URLs and of what providers sign. `serve` sets it
    /// (`--public-url`, default `http://<bind address>`); `None` takes
    /// `http://` + the request's `Host` header.
    pub public_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: config::API_BODY_LIMIT_DEFAULT,
            plugin_body_limit: config::API_PLUGIN_BODY_LIMIT_DEFAULT,
            cancel_wait: config::CANCEL_WAIT_DEFAULT,
            events_interval: config::API_EVENTS_INTERVAL_DEFAULT,
            public_url: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Tenant-scoped store (RLS role on PostgreSQL); typed so handlers
    /// cannot call the workers' lease methods.
    pub store: Arc<dyn ApiStore>,
    /// Cross-tenant reads for security events and metrics.
    pub platform: Arc<dyn PlatformReads>,
    /// Validates uploads on the real linker and runs `parse-callback`.
    pub plugins: Arc<PluginHost>,
    pub metrics: Arc<metrics::Metrics>,
    pub config: Arc<ApiConfig>,
    /// Pinned flow rows never change: their name and version, by row id.
    pub flow_names: Arc<Mutex<HashMap<i64, (String, i64)>>>,
    /// Active dialer adapters, prepared, for provider callbacks.
    pub adapters: Arc<callbacks::AdapterCache>,
    /// Security-event writes waiting or running off the response path
    /// ([`audit::audit_reference`]): a request waits for one only when
    /// this many are queued, so a flood of probes cannot queue unbounded work.
    pub audit_queue: Arc<tokio::sync::Semaphore>,
    /// Of those, the ones writing at once (owner lookup, audit inserts).
    pub audit_slots: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Opens the API's store and platform reads on `url`.
    pub async fn connect(
        url: &str,
        plugins: Arc<PluginHost>,
        config: ApiConfig,
    ) -> anyhow::Result<AppState> {
        let store = crate::store::tenant_scope::connect_api(url).await?;
        let platform = connect_platform_reads(url).await?;
        let metrics = Arc::new(metrics::Metrics::default());
        metrics.watch_pool(crate::process_metrics::API_POOL, store.pool_probe());
        let observed = Arc::clone(&metrics);
        plugins.observe_compiles(Box::new(move |took| observed.plugin_compiled(took)));
        Ok(AppState {
            store,
            platform,
            plugins,
            metrics,
            config: Arc::new(config),
            flow_names: Arc::default(),
            adapters: Arc::default(),
            audit_queue: Arc::new(tokio::sync::Semaphore::new(
                crate::config::API_AUDIT_WRITES_QUEUED,
            )),
            audit_slots: Arc::new(tokio::sync::Semaphore::new(
                crate::config::API_AUDIT_WRITES_IN_FLIGHT,
            )),
        })
    }
}

/// The routes behind a key (tenant or admin, told apart by [`auth`]).
fn keyed_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(leads::router())
        .merge(retention::router())
        .merge(runs::router())
        .merge(run_pause::router())
        .merge(legacy::router())
        .merge(plugins::router())
        .merge(dialer_config::router())
        .merge(dnc::router())
        .merge(tenant_store::router())
        .merge(audit::router())
        .merge(keys::router())
        .merge(admin_dialers::router())
        .merge(admin_keys::router())
}

/// The routes without a key: callbacks (their token authenticates),
/// probes, metrics and the document.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(callbacks::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
}

/// The OpenAPI document of [`router`], built from the same route list.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::finish(
        openapi::base()
            .merge(keyed_routes())
            .merge(public_routes())
            .into_openapi(),
    )
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let keyed = keyed_routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let (api, doc) = openapi::base()
        .merge(keyed)
        .merge(public_routes())
        .split_for_parts();
    Router::new()
        .merge(api)
        .merge(dashboard::router())
        .fallback(|| async { error::ApiError::NotFound("route") })
        .layer(Extension(openapi::Served::new(&openapi::finish(doc))))
        // The extractors apply the exact limits; this is the outer cap.
        .layer(DefaultBodyLimit::max(
            state.config.body_limit.max(state.config.plugin_body_limit),
        ))
        .layer(axum::middleware::from_fn(params::error_shape))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then lets
/// requests in progress finish (graceful shutdown).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

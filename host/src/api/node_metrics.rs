//! A `dialplane worker`'s own `/metrics` (`--metrics-listen`): the same
//! families and encoding as the API's `/metrics` ([`super::metrics`]), on a
//! listener of its own, because a worker node has no API. Not part of the
//! API router, so not in the OpenAPI document (like the dashboard).

use axum::http::header::CONTENT_TYPE;

use super::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};

/// Serves this process's `/metrics` (nothing else) on `listener` until
/// `shutdown` fires: a worker node's counters (calls, compliance decisions,
/// plugin latency, heartbeats, takeovers) are its own, and only it has them.
pub async fn serve_node_metrics(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { ([(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], metrics.encode()) }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

//! `dialplane serve`: the HTTP API and, unless `--no-workers`, an in-process
//! worker on the same database. SIGTERM / ctrl-c stops accepting requests,
//! lets requests in progress finish, and stops the worker (which finishes its
//! batch and releases its leases).
//!
//! Tests call [`crate::api::serve`] on a listener bound to port 0 directly.

use std::process::ExitCode;
use std::sync::Arc;

use super::compile_cache::CompileCacheArgs;
use crate::api::{ApiConfig, AppState};
use crate::config;
use crate::lifecycle::{Worker, WorkerConfig, stop_pair};
use crate::runtime::PluginHost;

use super::worker::{DeadlineArgs, RetentionArgs};
use crate::store;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = config::DATABASE_URL_DEFAULT)]
    pub database_url: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port; the address is printed).
    #[arg(long, env = "DIALPLANE_LISTEN", default_value = config::API_LISTEN_DEFAULT)]
    pub listen: String,
    /// Serve the API only (workers run elsewhere: `dialplane worker`).
    #[arg(long)]
    pub no_workers: bool,
    /// Largest JSON/CSV request body in bytes.
    #[arg(long, env = "DIALPLANE_BODY_LIMIT", default_value_t = config::API_BODY_LIMIT_DEFAULT)]
    pub body_limit: usize,
    /// Largest plugin upload in bytes.
    #[arg(long, env = "DIALPLANE_PLUGIN_BODY_LIMIT", default_value_t = config::API_PLUGIN_BODY_LIMIT_DEFAULT)]
    pub plugin_body_limit: usize,
    /// The URL providers reach this API at, e.g. `https://dialplane.example.com`
    /// (behind a proxy or load balancer): the base of callback URLs and of
    /// what providers sign. Default: `http://<bind address>`.
    #[arg(long, env = "DIALPLANE_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// For the in-process worker: a `host:port` dialers may be configured to
    /// reach (repeat, or comma-separate in the variable), as `worker
    /// --provider-host`. Unset: the `base_url` each tenant configured.
    #[arg(
        long = "provider-host",
        env = "DIALPLANE_PROVIDER_HOSTS",
        value_delimiter = ','
    )]
    pub provider_hosts: Vec<String>,
    #[command(flatten)]
    pub deadlines: DeadlineArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub compile_cache: CompileCacheArgs,
}

/// An `http://` or `https://` URL with a host, without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#']) {
        return Err(format!(
            "{s:?} must name a host (and may have a path, no query)"
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

pub async fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let plugins = Arc::new(PluginHost::with_options(
        a.deadlines.limits(),
        a.compile_cache.host_options(),
    )?);
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", a.listen))?;
    let public_url = match a.public_url {
        Some(url) => url,
        None => format!("http://{}", listener.local_addr()?),
    };
    let api_config = ApiConfig {
        body_limit: a.body_limit,
        plugin_body_limit: a.plugin_body_limit,
        public_url: Some(public_url),
        ..ApiConfig::default()
    };
    let state = AppState::connect(&a.database_url, Arc::clone(&plugins), api_config).await?;
    let (stop_handle, stop) = stop_pair();
    let worker = if a.no_workers {
        None
    } else {
        let db = store::connect(&a.database_url).await?;
        let w = Worker::reporting_to(
            db,
            plugins,
            None,
            {
                let mut cfg = WorkerConfig {
                    provider_hosts: a.provider_hosts.clone(),
                    ..WorkerConfig::new()
                };
                a.retention.apply(&mut cfg);
                cfg
            },
            stop.clone(),
            state.metrics.clone(),
        )
        .await?;
        super::notice::info(&format!("dialplane worker {} started", w.id()));
        Some(tokio::spawn(w.start()))
    };
    super::notice::info(&format!(
        "dialplane API listening on http://{}",
        listener.local_addr()?
    ));
    let shutdown = {
        let stop = stop.clone();
        async move { stop.wait().await }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        stop_handle.stop();
    });
    crate::api::serve(listener, state, shutdown).await?;
    if let Some(w) = worker {
        w.await??;
    }
    super::notice::info("dialplane serve stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or ctrl-c.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_public_url;

    #[test]
    fn public_urls() {
        assert_eq!(
            parse_public_url("https://dialplane.example.com/"),
            Ok("https://dialplane.example.com".into())
        );
        assert_eq!(
            parse_public_url("http://10.0.0.1:8080/dp"),
            Ok("http://10.0.0.1:8080/dp".into())
        );
        for bad in [
            "dialplane.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "http://h/?q=1",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}

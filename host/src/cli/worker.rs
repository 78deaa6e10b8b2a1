//! `dialplane worker`: claims and executes runs until SIGTERM or ctrl-c.
//!
//! Durations accept `250ms`, `5s`, `2m` (tests use milliseconds).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::compile_cache::CompileCacheArgs;
use crate::config;
use crate::lifecycle::{Worker, WorkerConfig, stop_pair};
use crate::process_metrics::Metrics;
use crate::runtime::{Limits, PluginHost};
use crate::store;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = config::DATABASE_URL_DEFAULT)]
    pub database_url: String,
    /// How often leases are refreshed (default 5s).
    #[arg(long, env = "DIALPLANE_HEARTBEAT_INTERVAL", value_parser = parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// A run whose heartbeat is older than this is taken over (default 30s).
    #[arg(long, env = "DIALPLANE_LEASE_TTL", value_parser = parse_duration)]
    pub lease_ttl: Option<Duration>,
    /// Serve this worker's Prometheus `/metrics` on this address (e.g.
    /// 0.0.0.0:9464); off by default. `serve` has them at its API's `/metrics`.
    #[arg(long, env = "DIALPLANE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Runs driven at once.
    #[arg(long, env = "DIALPLANE_MAX_RUNS", default_value_t = config::WORKER_MAX_RUNS_DEFAULT)]
    pub max_runs: u32,
    /// Jobs per claim/commit batch.
    #[arg(long, env = "DIALPLANE_BATCH_SIZE", default_value_t = config::WORKER_BATCH_SIZE_DEFAULT)]
    pub batch_size: u32,
    /// Calls of one tenant in flight at once across all workers (each worker
    /// takes the share of the tenant's live runs it drives).
    #[arg(long, env = "DIALPLANE_TENANT_MAX_CALLS", default_value_t = config::TENANT_MAX_CONCURRENT_CALLS_DEFAULT)]
    pub tenant_max_calls: u32,
    /// Calls per second of the whole adapter account across all workers
    /// (unlimited by default).
    #[arg(long, env = "DIALPLANE_ACCOUNT_CPS")]
    pub account_cps: Option<f64>,
    /// Calls per second of one tenant across all workers (unlimited by default).
    #[arg(long, env = "DIALPLANE_TENANT_CPS")]
    pub tenant_cps: Option<f64>,
    /// How often an idle worker looks for runs (default 200ms).
    #[arg(long, env = "DIALPLANE_POLL_INTERVAL", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// How often the worker re-reads which dialer versions are active, on
    /// top of activation notices (default 250ms).
    #[arg(long, env = "DIALPLANE_DIALER_WATCH_INTERVAL", value_parser = parse_duration)]
    pub dialer_watch_interval: Option<Duration>,
    /// A `host:port` dialers may be configured to reach (repeat, or
    /// comma-separate in the variable). Unset: the `base_url` each tenant
    /// configured, whatever it is.
    #[arg(
        long = "provider-host",
        env = "DIALPLANE_PROVIDER_HOSTS",
        value_delimiter = ','
    )]
    pub provider_hosts: Vec<String>,
    /// Worker id (default: hostname-pid-random).
    #[arg(long)]
    pub worker_id: Option<String>,
    #[command(flatten)]
    pub deadlines: DeadlineArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub compile_cache: CompileCacheArgs,
}

/// The cleaner's retention and pace, shared by `worker` and `serve`.
#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    /// Days a finished run's jobs and attempts are kept, for tenants that set
    /// no retention of their own.
    #[arg(long, env = "DIALPLANE_RETENTION_DAYS",
          default_value_t = config::RETENTION_DAYS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub retention_days: u32,
    /// How often the cleaner looks for finished runs past retention (default 5m).
    #[arg(long, env = "DIALPLANE_CLEANER_INTERVAL", value_parser = parse_duration)]
    pub cleaner_interval: Option<Duration>,
}

impl RetentionArgs {
    /// Sets the cleaner's part of `cfg`.
    pub fn apply(&self, cfg: &mut WorkerConfig) {
        cfg.retention_days = self.retention_days;
        if let Some(d) = self.cleaner_interval {
            cfg.cleaner_interval = d;
        }
    }
}

/// Plugin deadlines, shared by `worker` and `serve`.
#[derive(Debug, clap::Args)]
pub struct DeadlineArgs {
    /// Wall-clock deadline of one dialer-adapter call (place-call, hangup,
    /// lookup, …) in milliseconds; call flows keep their 500 ms.
    #[arg(long, env = "DIALPLANE_DIALER_DEADLINE_MS",
          default_value_t = config::DIALER_DEADLINE_DEFAULT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub dialer_deadline_ms: u64,
}

impl DeadlineArgs {
    /// The plugin host's limits: the defaults with these deadlines.
    pub fn limits(&self) -> Limits {
        Limits {
            dialer_deadline: Duration::from_millis(self.dialer_deadline_ms),
            ..Limits::default()
        }
    }
}

impl WorkerArgs {
    pub fn worker_config(&self) -> WorkerConfig {
        let mut cfg = WorkerConfig::new();
        if let Some(id) = &self.worker_id {
            cfg.worker_id = id.clone().into();
        }
        if let Some(d) = self.heartbeat_interval {
            cfg.heartbeat_interval = d;
        }
        if let Some(d) = self.lease_ttl {
            cfg.lease_ttl = d;
        }
        if let Some(d) = self.poll_interval {
            cfg.poll_interval = d;
        }
        if let Some(d) = self.dialer_watch_interval {
            cfg.dialer_watch_interval = d;
        }
        cfg.max_runs = self.max_runs;
        cfg.batch_size = self.batch_size;
        cfg.tenant_max_concurrent_calls = self.tenant_max_calls;
        cfg.account_calls_per_second = self.account_cps;
        cfg.tenant_calls_per_second = self.tenant_cps;
        cfg.provider_hosts = self.provider_hosts.clone();
        self.retention.apply(&mut cfg);
        cfg
    }
}

/// `250ms`, `5s`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, ""));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 250ms, 5s or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: the unit must be ms, s or m")),
    }
}

pub async fn run(a: WorkerArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.worker_config();
    cfg.validate()?;
    let db = store::connect(&a.database_url).await?;
    let plugins = Arc::new(PluginHost::with_options(
        a.deadlines.limits(),
        a.compile_cache.host_options(),
    )?);
    let metrics = Arc::new(Metrics::new());
    let observed = metrics.clone();
    plugins.observe_compiles(Box::new(move |took| observed.plugin_compiled(took)));
    let (stop_handle, stop) = stop_pair();
    if let Some(addr) = a.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("metrics-listen: cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr()?;
        let stop = stop.clone();
        tokio::spawn(crate::api::node_metrics::serve_node_metrics(
            listener,
            metrics.clone(),
            async move { stop.wait().await },
        ));
        super::notice::info(&format!("worker metrics on http://{bound}/metrics"));
    }
    let worker = Worker::reporting_to(db, plugins, None, cfg, stop, metrics).await?;
    super::notice::info(&format!("dialplane worker {} started", worker.id()));
    tokio::spawn(async move {
        shutdown_signal().await;
        stop_handle.stop();
    });
    worker.start().await?;
    super::notice::info("dialplane worker stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or ctrl-c.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
    }
}

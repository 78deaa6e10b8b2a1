//! Everything tunable about a worker, with its defaults from
//! [`crate::config`] and the check that they fit together.

use std::time::Duration;

use crate::config;
use crate::model::WorkerId;

/// Everything tunable about a worker (CLI flags / env in `dialplane worker`).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique per process; also the lease owner's name.
    pub worker_id: WorkerId,
    pub heartbeat_interval: Duration,
    pub lease_ttl: Duration,
    /// Runs driven at once.
    pub max_runs: u32,
    /// Jobs per claim/commit batch.
    pub batch_size: u32,
    /// Calls of one tenant in flight at once, fleet-wide (this worker takes
    /// its share: see [`super::fleet_share`]).
    pub tenant_max_concurrent_calls: u32,
    /// Calls per second of the whole adapter account, fleet-wide (outermost bucket).
    pub account_calls_per_second: Option<f64>,
    /// Calls per second of one tenant, fleet-wide (middle bucket).
    pub tenant_calls_per_second: Option<f64>,
    /// How often an idle worker looks for runs.
    pub poll_interval: Duration,
    /// How often the worker re-reads the active dialer versions (hot swap).
    pub dialer_watch_interval: Duration,
    /// The `host:port`s a dialer may be configured to reach (its `base_url`).
    /// Empty: whatever `base_url` the tenant configured. Set it so a tenant
    /// cannot point an adapter at the platform's own network.
    pub provider_hosts: Vec<String>,
    /// Days a finished run's jobs and attempts are kept when its tenant set
    /// no retention of its own ([`super::cleaner`]).
    pub retention_days: u32,
    /// How often the cleaner looks for finished runs past retention.
    pub cleaner_interval: Duration,
    /// Rows the cleaner deletes per transaction.
    pub cleaner_batch_size: u32,
}

impl WorkerConfig {
    /// Defaults from [`crate::config`], with a fresh worker id.
    pub fn new() -> Self {
        WorkerConfig {
            worker_id: new_worker_id().into(),
            heartbeat_interval: config::HEARTBEAT_INTERVAL_DEFAULT,
            lease_ttl: config::LEASE_TTL_DEFAULT,
            max_runs: config::WORKER_MAX_RUNS_DEFAULT,
            batch_size: config::WORKER_BATCH_SIZE_DEFAULT,
            tenant_max_concurrent_calls: config::TENANT_MAX_CONCURRENT_CALLS_DEFAULT,
            account_calls_per_second: None,
            tenant_calls_per_second: None,
            poll_interval: config::WORKER_POLL_INTERVAL_DEFAULT,
            dialer_watch_interval: config::DIALER_WATCH_INTERVAL_DEFAULT,
            provider_hosts: Vec::new(),
            retention_days: config::RETENTION_DAYS_DEFAULT,
            cleaner_interval: config::CLEANER_INTERVAL_DEFAULT,
            cleaner_batch_size: config::CLEANER_BATCH_SIZE_DEFAULT,
        }
    }

    /// The heartbeat must fit several times into the TTL, or a healthy
    /// worker would look dead.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat_interval.is_zero() || self.lease_ttl < self.heartbeat_interval * 2 {
            anyhow::bail!(
                "lease-ttl ({:?}) must be at least twice heartbeat-interval ({:?})",
                self.lease_ttl,
                self.heartbeat_interval
            );
        }
        if self.max_runs == 0 || self.batch_size == 0 || self.tenant_max_concurrent_calls == 0 {
            anyhow::bail!("max-runs, batch-size and tenant-max-calls must be at least 1");
        }
        if self.cleaner_interval.is_zero() || self.cleaner_batch_size == 0 {
            anyhow::bail!("cleaner-interval and the cleaner's batch size must be above 0");
        }
        Ok(())
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// `hostname-pid-random`: readable in the runs table, unique across restarts.
pub fn new_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

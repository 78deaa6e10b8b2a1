//! Every tunable of dialplane, with its default as a named constant.

use std::time::Duration;

/// How often a worker re-reads which dialer adapter versions are active,
/// on top of activation notices: the bound on how long a worker that missed
/// a notice keeps placing calls on a replaced version (the issue asks for
/// "within a second").
pub const DIALER_WATCH_INTERVAL_DEFAULT: Duration = Duration::from_millis(250);
/// How often a worker refreshes the lease of the runs it owns.
pub const HEARTBEAT_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);
/// A run whose heartbeat is older than this is taken over by another worker.
pub const LEASE_TTL_DEFAULT: Duration = Duration::from_secs(30);
/// Wall-clock deadline of one call-flow export call.
pub const PLUGIN_DEADLINE_DEFAULT: Duration = Duration::from_millis(500);
/// Wall-clock deadline of one dialer-adapter export call: a provider's HTTP
/// API may take seconds to answer (http-dialer's own HTTP timeout is 10 s).
pub const DIALER_DEADLINE_DEFAULT: Duration = Duration::from_secs(15);
/// Memory cap of one plugin instance (all memories and tables together).
pub const PLUGIN_MEMORY_DEFAULT: usize = 64 << 20;
/// Largest string or list a plugin may return.
pub const PLUGIN_MAX_OUTPUT_DEFAULT: usize = 64 << 10;
/// Database used when no `--database-url` is given.
pub const DATABASE_URL_DEFAULT: &str = "sqlite://dialplane.db?mode=rwc";
/// Period of the epoch ticker that enforces plugin deadlines; a deadline is
/// rounded up to whole ticks, and a running guest yields to tokio every tick.
pub const PLUGIN_EPOCH_TICK_DEFAULT: Duration = Duration::from_millis(2);
/// Extra time the tokio timeout around a plugin call allows beyond the
/// deadline: the epoch stops guest code; this stops a host call that hangs.
pub const PLUGIN_TIMEOUT_GRACE_DEFAULT: Duration = Duration::from_millis(250);
/// Instance slots of the pooling allocator (instances alive at once);
/// 0 selects on-demand allocation.
pub const PLUGIN_POOL_INSTANCES_DEFAULT: u32 = 256;
/// Plugin log lines (the `log` import, stdout, stderr) passed to the logs
/// per second per scope (a worker's run), the rest counted in one line.
pub const PLUGIN_LOG_LINES_PER_SECOND_DEFAULT: u32 = 20;
/// Variable naming the directory of compiled components (`.cwasm`) that
/// `serve`, `worker` and `plugin check|test` share (`--compile-cache-dir`).
pub const COMPILE_CACHE_DIR_ENV: &str = "DIALPLANE_CACHE_DIR";
/// Where compiled components go when [`COMPILE_CACHE_DIR_ENV`] is unset:
/// this path under `$XDG_CACHE_HOME`, else under `~/.cache`.
pub const COMPILE_CACHE_SUBDIR_DEFAULT: &str = "dialplane/components";
/// Connections in one process's database pool.
pub const DATABASE_MAX_CONNECTIONS_DEFAULT: u32 = 16;
/// How long to wait for a pooled connection (or to connect) before the
/// database counts as unavailable.
pub const DATABASE_ACQUIRE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// How long a PostgreSQL session may sit idle inside a transaction before
/// the server ends it. Every transaction of ours is a few statements with no
/// awaits on anything but the database, so an idle one means its process is
/// stalled (SIGSTOP, swapped out, debugger): ending it frees the run-row
/// locks a stalled owner holds, which `FOR UPDATE SKIP LOCKED` claims would
/// otherwise skip forever, so TTL reclaim could never take the run over.
/// Set `idle_in_transaction_session_timeout` in the URL's `options` to override.
pub const POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Jobs in newly claimed runs above which the PostgreSQL driver refreshes
/// the `jobs` table's planner statistics (see `refresh_job_statistics`):
/// below this, a stale estimate costs little.
pub const POSTGRES_ANALYZE_AFTER_JOBS: i64 = 10_000;
/// How long a SQLite writer waits for the write lock held by another.
pub const SQLITE_BUSY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

// ---- run lifecycle ----
// A run's own defaults are defined beside `RunSettings` (the model cannot
// depend on this file) and listed here with every other tunable.
pub use crate::model::calling_window::CALLING_WINDOW_DEFAULT;
pub use crate::model::settings::{
    CALL_TIMEOUT_DEFAULT, LEAD_DAILY_ATTEMPT_CAP_DEFAULT, RUN_CONCURRENCY_DEFAULT,
    RUN_MAX_ATTEMPTS_DEFAULT,
};
/// Calls a tenant may have in flight at once across the fleet (each worker
/// takes the share of the tenant's live runs it drives).
pub const TENANT_MAX_CONCURRENT_CALLS_DEFAULT: u32 = 50;
/// Runs one worker drives at once (fairness: each gets its own task).
pub const WORKER_MAX_RUNS_DEFAULT: u32 = 16;
/// Jobs claimed and committed per batch.
pub const WORKER_BATCH_SIZE_DEFAULT: u32 = 256;
/// How often an idle worker looks for runs to claim.
pub const WORKER_POLL_INTERVAL_DEFAULT: Duration = Duration::from_millis(200);
/// How long `cancel` waits for the owner to acknowledge before failing.
pub const CANCEL_WAIT_DEFAULT: Duration = Duration::from_secs(30);
/// How long a finished run's jobs and attempts are kept (days), unless its
/// tenant set its own (`PUT /api/settings/retention`).
pub const RETENTION_DAYS_DEFAULT: u32 = 90;
/// How often each worker's cleaner looks for finished runs past retention.
pub const CLEANER_INTERVAL_DEFAULT: Duration = Duration::from_secs(300);
/// Rows the cleaner deletes per transaction (attempts, then jobs, of one run).
pub const CLEANER_BATCH_SIZE_DEFAULT: u32 = 1000;

// ---- HTTP API ----
/// Address `dialplane serve` listens on.
pub const API_LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// Largest JSON or CSV request body (1 MiB): tens of thousands of leads.
pub const API_BODY_LIMIT_DEFAULT: usize = 1 << 20;
/// Security events being written off the response path at once (owner
/// lookup and two audit inserts each).
pub const API_AUDIT_WRITES_IN_FLIGHT: usize = 32;
/// Security events queued or being written; a request that finds this many
/// waits (back-pressure on a flood of probes, never lost events).
pub const API_AUDIT_WRITES_QUEUED: usize = 1024;
/// Largest plugin component upload (32 MiB: a componentize-js flow is ~12 MB,
/// a componentize-py one ~19 MB).
pub const API_PLUGIN_BODY_LIMIT_DEFAULT: usize = 32 << 20;
/// Page size when `?limit=` is not given.
pub const API_PAGE_LIMIT_DEFAULT: u32 = 50;
/// Largest `?limit=` accepted.
pub const API_PAGE_LIMIT_MAX: u32 = 500;
/// How often the SSE stream of a run checks for progress.
pub const API_EVENTS_INTERVAL_DEFAULT: Duration = Duration::from_millis(250);
/// A key's `last_used_at` is written at most once per this interval, so an
/// authenticated request costs no write (it is a "roughly when", not a log).
pub const API_KEY_LAST_USED_WRITE_INTERVAL: Duration = Duration::from_secs(60);
/// Longest label of an API key, in characters.
pub const API_KEY_LABEL_MAX: usize = 100;

//! The run lifecycle: a worker claims runs with a lease, heartbeats them,
//! drives each lead through flow → compliance → dialer → flow, commits
//! progress with the cursor, obeys cancel at once, and takes over runs whose
//! owner died. Services share one [`context`] and never import each other
//! in a circle (`import_graph` checks it).
//!
//! The worker and its services (each a `start()` loop over a `run_once()`,
//! unless it says why not):
//!
//! - [`worker`]: registers the worker, starts the services, drains and releases leases on stop.
//! - [`claimer`]: leases `queued` runs and runs whose lease expired; spawns their drivers.
//! - [`heartbeater`]: renews every lease of the worker in one statement, and the local lease.
//! - [`cancel_listener`]: applies cancel notices to the runs this worker drives, at once.
//! - [`deferral_tally`]: a run's deferred leads by rule, summarised in one log line a minute.
//! - [`canceller`]: the API's cancel operation (request, then wait for the owner); no loop.
//! - [`pauser`]: the API's pause and resume operations (pause waits for the owner as cancel does); no loop.
//! - [`dialer_watcher`]: hot swap: refreshes the dialer directory on activation notices.
//! - [`fleet_share`]: recomputes this worker's share of fleet-wide limits; run by the heartbeater.
//! - [`cleaner`]: deletes finished runs' jobs and attempts past retention, counts kept.
//! - [`reconciler`]: settles jobs left `dialing` through the adapter's `lookup`; one retry rule.
//!
//! One claimed run:
//!
//! - [`run_driver`]: one task per claimed run, batch by batch, from the cursor to the end.
//! - [`pipeline`]: a batch at a time: look-ahead, mark, place the batch, commit in halves.
//! - [`steps`]: what happens to one lead: flow `plan` + compliance, `place-call`, `on-result`.
//! - [`commit`]: fenced writes of results and pending calls, retried through short outages.
//! - [`run_state`]: a claimed run with its control and plugins, as the steps see it.
//! - [`run_plugins`]: the run's flow and current dialer instances, pooled per tenant.
//! - [`job_result`]: named ways an attempt ends (`requeue`, `interrupted`, …).
//! - [`dialer_health`]: dialer failures no retry fixes (config, refused destination): halt the run.
//!
//! Leaf state the services share (no service imports):
//!
//! - [`context`]: the worker context every service takes (store, config, limits, runs).
//! - [`worker_config`]: everything tunable about a worker, with its defaults.
//! - [`run_control`]: what the worker's loops tell a driver: cancel gate, lease lost, pending, halt.
//! - [`lease`]: the local lease deadline that keeps a stalled worker from dialing.
//! - [`shares`]: this worker's fractions of fleet-wide tenant and account limits.
//! - [`dialer_directory`]: the active version of each dialer adapter, prepared.
//! - [`compliance`]: calling window, DNC, attempt cap, call slots, rate limits.
//! - [`log_limiter`]: one log line per interval for a repeating condition, with a count.
//! - [`clock`]: injectable "now" for compliance and `not_before`.
//! - [`shutdown`]: the injectable stop signal.
//! - [`metrics`]: claim-to-finish latency and leads finished, in process.
//! - [`settings`]: the old path of [`crate::model::settings`], re-exported.
//!
//! Outside the worker:
//!
//! - [`call_events`]: provider callbacks into the per-call state machine (called by the API).
//! - `import_graph` (tests only): fails on an import cycle among these modules.

pub mod call_events;
pub mod cancel_listener;
pub mod canceller;
pub mod claimer;
pub mod cleaner;
pub mod clock;
pub mod commit;
pub mod compliance;
pub mod context;
pub mod deferral_tally;
pub mod dialer_directory;
pub mod dialer_health;
pub mod dialer_watcher;
pub mod fleet_share;
pub mod heartbeater;
#[cfg(test)]
mod import_graph;
pub mod job_result;
pub mod lease;
pub mod log_limiter;
pub mod metrics;
pub mod pauser;
pub mod pipeline;
pub mod reconciler;
pub mod run_control;
pub mod run_driver;
pub mod run_plugins;
pub mod run_state;
pub mod settings;
pub mod shares;
pub mod shutdown;
pub mod steps;
pub mod worker;
pub mod worker_config;

pub use call_events::apply_call_event;
pub use canceller::cancel_run;
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::WorkerCtx;
pub use pauser::{pause_run, resume_run};
pub use settings::{CancelMode, RunSettings};
pub use shutdown::{Stop, StopHandle, stop_pair};
pub use worker::Worker;
pub use worker_config::WorkerConfig;

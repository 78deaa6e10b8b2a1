//! The run lifecycle: a worker claims runs with a lease, heartbeats them,
//! drives each lead through flow → compliance → dialer → flow, commits
//! progress with the cursor, obeys cancel at once, and takes over runs whose
//! owner died. One file per moving part:
//!
//! - [`claimer`]: takes leases on runs (`queued`, or `running` with an expired lease).
//! - [`heartbeat`]: refreshes every lease of the worker in one statement and
//!   keeps the local "my lease is valid until" that zombie safety relies on.
//! - [`canceller`]: the cancel operation (request, then wait for the owner).
//! - [`dialer_directory`]: the active version of each dialer adapter, prepared.
//! - [`dialer_watcher`]: hot swap — refreshes the directory on activation notices.
//! - [`fleet_share`]: this worker's share of the fleet-wide tenant and account limits.
//! - [`reconciler`]: settles a dead owner's `dialing` jobs through the adapter's `lookup`.
//! - [`executor`]: one lead: flow `plan` → compliance → mark dialing → `place-call` → `on-result`,
//!   a batch at a time; a batch's results commit while the next batch is placed and the
//!   one after it is planned and marked.
//! - [`run_driver`]: one claimed run, batch by batch, from the cursor to the end.
//! - [`worker`]: the process-level loop: `start()` over a testable `run_once()`.
//! - [`compliance`]: calling window, DNC, attempt cap, rate limits.
//! - [`metrics`]: claim-to-finish latency and leads finished, in process.
//! - [`call_events`]: provider callbacks into the per-call state machine.

pub mod call_events;
pub mod cancel_listener;
pub mod canceller;
pub mod claimer;
pub mod clock;
pub mod commit;
pub mod compliance;
pub mod context;
pub mod dialer_directory;
pub mod dialer_watcher;
pub mod fleet_share;
pub mod heartbeater;
#[cfg(test)]
mod import_graph;
pub mod job_result;
pub mod lease;
pub mod metrics;
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
pub use settings::{CancelMode, RunSettings};
pub use shutdown::{Stop, StopHandle, stop_pair};
pub use worker::Worker;
pub use worker_config::WorkerConfig;

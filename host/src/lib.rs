//! dialplane: an orchestration host for outbound call campaigns.
//!
//! Module map (one folder per concern, one file per moving part; the layers
//! and invariants are in `ARCHITECTURE.md` at the repository root):
//!
//! - [`model`]: the domain's value types (ids, statuses, run settings, leads,
//!   call reports), a leaf every other module may use.
//! - [`config`]: every tunable, with its `*_DEFAULT` constant.
//! - [`runtime`]: the wasmtime host. One engine per process, components cached
//!   by sha256, a store per call bound to one tenant, limits on every call.
//!   [`runtime::types`] holds the host-side mirror of the WIT types.
//! - [`builtin`]: the example components, built from `plugins/` by `build.rs`
//!   and embedded in the binary.
//! - [`leads_file`]: lead files (JSON/CSV) and lead field validation.
//! - [`testing`]: helpers for plugin authors' own insta tests.
//! - [`store`]: the only place with SQL. Traits split by audience (the API's
//!   tenant-scoped `ApiStore`, the workers' lease-fenced `WorkerRunStore`), a
//!   PostgreSQL and a SQLite driver, and (with the `test-support` feature)
//!   the conformance suites both must pass.
//! - [`lifecycle`]: the worker and its services (claimer, heartbeater,
//!   cancel listener, reconciler, dialer watcher), and the pipeline that
//!   drives leads through the plugins.
//! - [`api`]: axum routers per resource, auth, the one error type.
//! - [`process_metrics`]: counters shared by the API and in-process workers.
//! - [`process_stats`]: the process's memory, CPU and file descriptors, for
//!   `/metrics`.
//! - [`demo`]: the `dialplane demo` campaign (lead generator, sim ledger,
//!   progress bar, summary table).
//! - [`cli`]: the `dialplane` subcommands.

pub mod api;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod demo;
pub mod leads_file;
pub mod lifecycle;
pub mod model;
pub mod process_metrics;
pub mod process_stats;
pub mod runtime;
pub mod store;
pub mod testing;

//! dialplane's end-to-end tests: one test binary, one module per area, so
//! `cargo test` links all of wasmtime once instead of once per file. Run one
//! area with `cargo test -p dialplane-tests --test e2e <module>::`.
//!
//! All modules share one process, hence one throwaway PostgreSQL cluster
//! (`dialplane_tests::pg::shared_cluster`) and one `dialplane` binary build
//! (`dialplane_tests::dialplane_bin`).
//!
//! - [`api_common`]: an in-process API server and worker on PostgreSQL, with
//!   a tenant-aware client (shared by the `api_*` and dashboard modules).
//! - [`api_bad_input`]: malformed requests get a precise 4xx and write nothing.
//! - [`api_bad_text`]: NUL text, positional arrays, axum rejections: the same
//!   precise 4xx on both engines, nothing written.
//! - [`api_fuzz`]: generated bad bodies on every write route: no 5xx, no change on 4xx.
//! - [`api_callback_auth`]: dialer config validation and callback signatures.
//! - [`api_callback_fuzz`]: generated bad callbacks: no 5xx, no change on 4xx.
//! - [`api_callbacks`]: provider status callbacks, end to end.
//! - [`api_flow`]: the API with a real worker: auth, leads, plugins, runs.
//! - [`api_keys`]: API keys and tenants via the API and the CLI; a revoked
//!   key is refused by every node within a second.
//! - [`api_isolation`]: tenant isolation for every endpoint and resource.
//! - [`api_openapi`]: the OpenAPI document matches the routes and validates.
//! - [`api_run_jobs`]: a run's jobs filtered and paged, and one job's
//!   timeline, through the API with a worker, on both engines.
//! - [`api_rls`]: PostgreSQL Row-Level Security as the second wall.
//! - [`api_snapshots`]: insta snapshots of API responses.
//! - [`builtin_components`]: the embedded components behave as documented.
//! - [`cli_help`]: the command line's help and errors, via the real binary.
//! - [`cli_json`]: `--json` on every command that prints a result; plugin
//!   log lines (debug, masked phones, typed fields, rate-limited).
//! - [`dashboard_e2e`]: the dashboard in headless Chromium.
//! - [`demo_cli`]: `dialplane demo` as the real binary.
//! - [`example_flows`]: `plugin test` transcript snapshots of the example flows.
//! - [`http_dialer`]: http-dialer against a fake Twilio-style provider.
//! - [`lead_file_format`]: `plugin test` and `POST /api/leads` read the same lead files.
//! - [`lifecycle_hot_swap`]: dialer hot swap under load, real worker processes.
//! - [`lifecycle_logs`]: a worker's lifecycle events at `info` with tenant and run.
//! - [`lifecycle_processes`]: the lifecycle with real worker processes.
//! - [`lifecycle_store`]: the run store conformance cases on both engines.
//! - [`lifecycle_worker`]: the worker end to end, in process.
//! - [`migrations`]: migrations are idempotent and safe to run concurrently.
//! - [`openapi_client`]: a Python client generated from the OpenAPI document
//!   covers every operation and runs the README's tour against `serve`.
//! - [`pg_harness_urls`]: the PostgreSQL harness's URL helper.
//! - [`plugin_cli`]: `plugin check` / `plugin test` via the real binary.
//! - [`plugin_new`]: `plugin new --lang rust|js|python` projects build outside the repo.
//! - [`plugin_limits`]: every limit of the plugin runtime, via hostile components.
//! - [`provider_path`]: http-dialer and the Twilio simulator through the API and a worker.
//! - [`provider_takeover`]: SIGKILL of a run's owner mid-`place-call` on the
//!   real provider path: no call lost, doubled or left `interrupted`.
//! - [`provider_health`]: a run whose dialer cannot work fails at once, with the reason.
//! - [`readme_tour`]: the README's tour, run as written by bash and curl.
//! - [`retention`]: the cleaner keeps run counts; erasure leaves a phone in
//!   no table (both engines, the real binary).
//! - [`run_fidelity`]: a run persists what `plugin test` shows the flow
//!   returned (lead status and tags, notes, retries), on both engines.
//! - [`run_pause`]: pause and resume through the API and with worker
//!   processes (races, SIGKILL of the owner).
//! - [`sim_dialer`]: the built-in sim-dialer's outcome table and ledger.
//! - [`store_cli`]: `tenant create` / `admin-key create`.
//! - [`store_conformance`]: the store conformance suite on both engines.
//! - [`store_pg_cluster`]: a dedicated PostgreSQL cluster can stop and restart.
//! - [`tenant_store_counters`]: atomic `tenant-store.increment` from two workers.
//! - [`tenant_store_isolation`]: `tenant-store` is bound to the instance's tenant.
//! - [`twilio_sim`]: the Twilio simulator: ledger, auth, signed callbacks, quirks, faults.
//! - [`wit_versions`]: components built against the pinned 0.1.0 WIT still run.

mod api_common;

mod api_bad_input;
mod api_bad_text;
mod api_callback_auth;
mod api_callback_fuzz;
mod api_callbacks;
mod api_flow;
mod api_fuzz;
mod api_isolation;
mod api_keys;
mod api_openapi;
mod api_rls;
mod api_run_jobs;
mod api_snapshots;
mod builtin_components;
mod cli_help;
mod cli_json;
mod dashboard_e2e;
mod demo_cli;
mod example_flows;
mod http_dialer;
mod lead_file_format;
mod lifecycle_hot_swap;
mod lifecycle_logs;
mod lifecycle_processes;
mod lifecycle_store;
mod lifecycle_worker;
mod metrics;
mod migrations;
mod openapi_client;
mod pg_harness_urls;
mod plugin_cli;
mod plugin_limits;
mod plugin_new;
mod provider_health;
mod provider_path;
mod provider_takeover;
mod readme_tour;
mod retention;
mod run_fidelity;
mod run_pause;
mod sim_dialer;
mod store_cli;
mod store_conformance;
mod store_pg_cluster;
mod tenant_store_counters;
mod tenant_store_isolation;
mod twilio_sim;
mod wit_versions;

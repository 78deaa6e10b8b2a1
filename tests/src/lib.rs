//! Shared helpers for dialplane end-to-end tests. The tests themselves are
//! the modules of one test binary, `tests/e2e.rs` (`cargo test -p
//! dialplane-tests --test e2e <module>::`); this crate turns on dialplane's
//! `test-support` feature (conformance suites, hostile components).
//!
//! - [`pg`]: real PostgreSQL (throwaway cluster or `DATABASE_URL`).
//! - [`fake_provider`]: a fake Twilio-style provider for http-dialer (one
//!   scripted answer per request).
//! - [`twilio_sim`]: a Twilio-compatible provider simulator: the Calls API,
//!   signed status callbacks, seeded outcomes, faults and a ledger.
//! - [`callback_signing`]: provider callbacks signed as Twilio signs them.
//! - [`lifecycle`]: run-lifecycle fixtures: databases, seeded runs, workers
//!   in and out of process, the sim dialer's ledger.
//! - [`sqlite_url`]: a fresh SQLite file per test.
//! - a plugin host with small, test-friendly limits, lead/run fixtures;
//! - [`dialplane_bin`]: the real `dialplane` binary for CLI and process tests.
//! - [`serve_process`]: a real `dialplane serve` process on a free port.
//! - [`openapi_tools`]: the pinned Python OpenAPI validator and client
//!   generator, in a virtual environment under `target/`.

pub mod callback_signing;
pub mod fake_provider;
pub mod serve_process;
pub mod twilio_sim;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dialplane::runtime::{
    Lead, Limits, MemoryKv, PluginHost, PluginKind, PluginMeta, PluginScope, Prepared, RunContext,
    TenantKv,
};

/// Deadline of one plugin call in these tests: short, so a runaway loop
/// costs little, but far above what any well-behaved call needs.
pub const TEST_DEADLINE: Duration = Duration::from_millis(300);
/// Deadline of one dialer-adapter call in these tests: longer than a
/// flow's (adapters wait on providers), still short enough that a stuck one
/// fails a test quickly.
pub const TEST_DIALER_DEADLINE: Duration = Duration::from_secs(2);
/// Memory cap of one instance in these tests.
pub const TEST_MEMORY: usize = 16 << 20;
/// Output cap in these tests.
pub const TEST_MAX_OUTPUT: usize = 64 << 10;

pub fn test_limits() -> Limits {
    Limits {
        deadline: TEST_DEADLINE,
        dialer_deadline: TEST_DIALER_DEADLINE,
        memory_bytes: TEST_MEMORY,
        fuel: None,
        max_output_bytes: TEST_MAX_OUTPUT,
    }
}

/// A host with [`test_limits`].
pub fn host() -> PluginHost {
    PluginHost::new(test_limits()).expect("plugin host")
}

pub fn meta(kind: PluginKind, name: &str) -> PluginMeta {
    PluginMeta {
        kind,
        name: name.into(),
        version: 1,
    }
}

/// Prepares a built-in component (panics with the error if it is refused).
pub fn prepare(host: &PluginHost, kind: PluginKind, name: &str, wasm: &[u8]) -> Arc<Prepared> {
    host.prepare(meta(kind, name), wasm)
        .unwrap_or_else(|e| panic!("prepare {name}: {e}"))
}

/// A scope for `tenant` with a fresh or shared in-memory tenant store.
pub fn scope(tenant: i64, p: &Prepared, kv: Arc<dyn TenantKv>) -> PluginScope {
    PluginScope::new(tenant, &p.meta, kv)
}

/// The report of a `lookup` that found an ended call; panics on anything
/// else (never placed, still under way).
pub fn ended(found: Option<dialplane::runtime::Placement>) -> dialplane::runtime::CallReport {
    match found {
        Some(dialplane::runtime::Placement::Finished(r)) => r,
        other => panic!("lookup: expected an ended call, got {other:?}"),
    }
}

pub fn memory_kv() -> Arc<MemoryKv> {
    Arc::new(MemoryKv::new())
}

pub fn lead(id: &str, phone: &str) -> Lead {
    Lead {
        id: id.into(),
        phone: phone.into(),
        name: None,
        timezone: None,
        attributes: Vec::new(),
    }
}

pub fn ctx(settings: &[(&str, &str)]) -> RunContext {
    RunContext {
        run_id: "run-1".into(),
        attempt: 1,
        max_attempts: 3,
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Polls `cond` every few milliseconds until it holds or `within` passes.
pub async fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub mod lifecycle;
pub mod openapi_tools;
pub mod pg;

/// URL of a new SQLite database file in a fresh temp directory (kept until
/// the returned guard is dropped).
pub fn sqlite_url() -> anyhow::Result<(String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    Ok((url, dir))
}

/// Path of the `dialplane` binary, built (once per test process) if needed,
/// for tests that run real processes (`dialplane migrate`, workers).
///
/// `cargo test` does not build it (it is another package's binary), so this
/// asks cargo for it with the same package and target selection as
/// `cargo test --workspace` (both packages, a test target, so dev-dependency
/// features too): every crate then resolves to the features the e2e binary
/// was built with, and cargo only compiles `main.rs` and links, instead of
/// compiling tokio, wasmtime-wasi, sqlx and the dialplane library a second
/// time (which `-p dialplane` alone would).
pub fn dialplane_bin() -> anyhow::Result<std::path::PathBuf> {
    use std::sync::OnceLock;
    static BIN: OnceLock<Result<std::path::PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/<test>-<hash> → target/<profile>/dialplane
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let profile_dir = exe
            .parent()
            .and_then(|p| p.parent())
            .ok_or("unexpected test binary location")?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "-q",
            "--workspace",
            "--bin",
            "dialplane",
            "--test",
            "e2e",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --bin dialplane failed: {status}"));
        }
        let bin = profile_dir.join("dialplane");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("{} was not built", bin.display()))
        }
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

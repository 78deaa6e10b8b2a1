//! Fixtures for the run-lifecycle tests: a database of either engine, a
//! tenant with leads and the built-in `default-flow` + `sim-dialer`, runs,
//! in-process and out-of-process workers, and the sim dialer's ledger — the
//! count of calls actually placed, kept by the dialer in the tenant store,
//! independent of the worker's own bookkeeping.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use dialplane::builtin;
use dialplane::lifecycle::{
    Clock, RunSettings, StopHandle, Worker, WorkerConfig, compliance::CallingWindow, stop_pair,
};
use dialplane::model::LeadId;
use dialplane::runtime::PluginHost;
use dialplane::store::{self, Page, RunView, Store, conformance_runs};

pub const FLOW: &str = "default-flow";
pub const DIALER: &str = "sim-dialer";

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// An open database; the guard keeps a SQLite temp dir alive.
pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    _guard: Option<tempfile::TempDir>,
}

pub async fn open(db: Db) -> TestDb {
    match db {
        Db::Sqlite => {
            let (url, dir) = crate::sqlite_url().unwrap();
            TestDb {
                store: store::connect(&url).await.unwrap(),
                url,
                _guard: Some(dir),
            }
        }
        Db::Postgres => {
            let url = crate::pg::fresh_database().await.unwrap();
            TestDb {
                store: store::connect(&url).await.unwrap(),
                url,
                _guard: None,
            }
        }
    }
}

/// Settings for tests: open all day (so the real time of day does not
/// matter), one attempt, calls in flight at once = `concurrency`.
pub fn settings(concurrency: u32) -> RunSettings {
    RunSettings {
        concurrency,
        max_attempts: 1,
        calling_window: CallingWindow {
            start_minute: 0,
            end_minute: 1440,
        },
        ..RunSettings::default()
    }
}

/// `n` phone numbers whose last digit is 6–9 (the sim answers: human), so
/// no lead asks for a retry.
pub fn human_phones(n: usize, salt: u32) -> Vec<String> {
    (0..n)
        .map(|i| format!("+33{:03}{:05}{}", salt % 1000, i, 6 + (i % 4)))
        .collect()
}

/// A tenant with these leads (time zone `tz`), the built-in flow and sim
/// dialer (configured with `dialer_config`), and a run over all leads.
pub async fn seed_run(
    store: &Arc<dyn Store>,
    phones: &[String],
    tz: Option<&str>,
    settings: RunSettings,
    dialer_config: &[(&str, &str)],
) -> (i64, i64, Vec<LeadId>) {
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let (b, leads) = conformance_runs::seed(
        store,
        &phones,
        tz,
        (FLOW, builtin::DEFAULT_FLOW),
        (DIALER, builtin::SIM_DIALER),
    )
    .await;
    let config: Vec<(String, String)> = dialer_config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store.set_dialer_config(b, DIALER, &config).await.unwrap();
    let run_id = store
        .create_run(b, &conformance_runs::spec(&leads, FLOW, DIALER, settings))
        .await
        .unwrap()
        .0;
    (b.get(), run_id, leads)
}

/// One placement in the sim dialer's ledger.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LedgerEntry {
    #[serde(skip)]
    pub key: String,
    pub to: String,
    pub placed_at_unix_ms: i64,
    pub hung_up: bool,
    #[serde(default)]
    pub repeats: u32,
}

/// Every call the sim dialer placed for tenant `b`.
pub async fn ledger(store: &Arc<dyn Store>, b: i64) -> Vec<LedgerEntry> {
    let ns = format!("dialer:{DIALER}");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .kv_list(
                b.into(),
                Some(&ns),
                after.as_deref().map(|k| (ns.as_str(), k)),
                Page::first(1000),
            )
            .await
            .unwrap();
        if page.is_empty() {
            return out;
        }
        after = page.last().map(|e| e.key.clone());
        for e in page {
            if let Some(key) = e.key.strip_prefix("call/") {
                let mut entry: LedgerEntry = serde_json::from_slice(&e.value).unwrap();
                entry.key = key.to_string();
                out.push(entry);
            }
        }
    }
}

/// Asserts every phone was called exactly once (one ledger entry per
/// number, no repeated placement of a key).
pub fn assert_each_called_once(ledger: &[LedgerEntry], phones: &[String]) {
    let mut by_phone = std::collections::BTreeMap::<&str, usize>::new();
    for e in ledger {
        *by_phone.entry(e.to.as_str()).or_default() += 1;
        assert_eq!(
            e.repeats, 0,
            "key {} was placed again {} times",
            e.key, e.repeats
        );
    }
    for p in phones {
        assert_eq!(
            by_phone.get(p.as_str()).copied().unwrap_or(0),
            1,
            "{p} must be called exactly once"
        );
    }
    assert_eq!(ledger.len(), phones.len(), "no call to anyone else");
}

/// Polls `f` until it returns `Some` or `within` passes.
pub async fn wait_for<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn run_view(store: &Arc<dyn Store>, b: i64, run_id: i64) -> RunView {
    store.get_run(b.into(), run_id.into()).await.unwrap()
}

/// Worker settings for tests: fast heartbeat, short TTL, quick polling.
pub fn fast_worker_config() -> WorkerConfig {
    WorkerConfig {
        heartbeat_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_millis(1000),
        poll_interval: Duration::from_millis(20),
        batch_size: 32,
        ..WorkerConfig::new()
    }
}

/// An in-process worker; stop it with the handle.
pub async fn start_worker(
    store: &Arc<dyn Store>,
    cfg: WorkerConfig,
    clock: Option<Arc<dyn Clock>>,
) -> (StopHandle, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let host = Arc::new(PluginHost::new(crate::test_limits()).unwrap());
    let (handle, stop) = stop_pair();
    let worker = Worker::new(store.clone(), host, clock, cfg, stop)
        .await
        .unwrap();
    (handle, tokio::spawn(worker.start()))
}

/// A `dialplane worker` process on `url` with a fast heartbeat and short TTL.
pub fn spawn_worker_process(url: &str, id: &str) -> tokio::process::Child {
    tokio::process::Command::new(crate::dialplane_bin().unwrap())
        .args([
            "worker",
            "--database-url",
            url,
            "--heartbeat-interval",
            "100ms",
            "--lease-ttl",
            "1000ms",
            "--poll-interval",
            "20ms",
            "--batch-size",
            "16",
            "--worker-id",
            id,
        ])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dialplane worker")
}

/// Sends a signal (`KILL`, `STOP`, `CONT`) to a process.
pub fn signal(child: &tokio::process::Child, sig: &str) {
    let pid = child.id().expect("process still running");
    let st = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The same component with a custom section appended: behaves identically,
/// but has its own sha256 — a distinct "new version" for hot-swap tests.
pub fn component_variant(component: &[u8], tag: &str) -> Vec<u8> {
    dialplane::runtime::custom_section::append_custom_section(
        component,
        "dialplane-test-variant",
        tag.as_bytes(),
    )
}

/// When worker `id` last heartbeat (its row in `workers`, epoch ms).
pub async fn worker_last_seen(db: &TestDb, id: &str) -> i64 {
    // The store exposes no worker listing; read the row directly.
    match db.url.starts_with("postgres") {
        true => {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            let (v,): (i64,) = sqlx::query_as("SELECT last_seen FROM workers WHERE id = $1")
                .bind(id)
                .fetch_one(&mut c)
                .await
                .unwrap();
            v
        }
        false => {
            let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap();
            let (v,): (i64,) = sqlx::query_as("SELECT last_seen FROM workers WHERE id = $1")
                .bind(id)
                .fetch_one(&mut c)
                .await
                .unwrap();
            v
        }
    }
}

//! `dialplane bench lifecycle`: the run lifecycle end to end on a real
//! database (SQLite temp file without `--database-url`), with the built-in
//! `default-flow` and `sim-dialer`. Prints one JSON line with `--json`:
//!
//! - `leads_per_sec`: one run of `--leads` leads, worker start → run completed;
//! - `claim_to_finish_p50_ms` / `_p99_ms`: per lead, from the batch claim to
//!   the commit of its result;
//! - `hot_swap_ms`: a new sim-dialer version (same code, new bytes, so it is
//!   compiled afresh) is activated while a run dials; time until the worker
//!   places new calls on it (notice, fetch, compile, swap);
//! - `cancel_latency_ms`: cancel request → owner stopped dialing (acknowledged);
//! - `reclaim_after_sigkill_ms`: a `dialplane worker` process is SIGKILLed
//!   mid-run; time until another worker owns the run (≈ the lease TTL).
//!
//! The calling window is opened to 00:00–24:00 by the run's settings so the
//! benchmark dials at any hour; every lead's number ends in 6–9 (answered,
//! no retries). The sim dialer's ledger is off for the throughput run (it
//! is a tenant-store write per call, i.e. a database round trip per lead;
//! the tests keep it on to count calls).

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::builtin;
use crate::lifecycle::compliance::CallingWindow;
use crate::lifecycle::{RunSettings, Worker, WorkerConfig, cancel_run, stop_pair};
use crate::model::{LeadId, TenantId};
use crate::runtime::{Limits, PluginHost, PluginKind};
use crate::store::{self, LeadInput, LeadUpsert, Page, RunSpec, Store};

#[derive(Debug, clap::Args)]
pub struct LifecycleBenchArgs {
    /// postgres://… (default: a SQLite file in a temp directory).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Leads in the measured run.
    #[arg(long, default_value_t = 100_000)]
    pub leads: usize,
    /// Calls in flight at once for the run.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
    /// Jobs per claim/commit batch.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: u32,
    /// Lease TTL of the SIGKILL reclaim measurement.
    #[arg(long, default_value = "2s", value_parser = super::worker::parse_duration)]
    pub reclaim_ttl: Duration,
    /// Skip the SIGKILL reclaim measurement (it spawns a worker process).
    #[arg(long)]
    pub no_reclaim: bool,
    /// Print one JSON object (otherwise the same, indented).
    #[arg(long)]
    pub json: bool,
}

fn settings(concurrency: u32) -> RunSettings {
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

/// A tenant with `n` leads, the built-in flow and sim dialer; returns
/// (tenant, lead ids).
async fn seed(
    db: &Arc<dyn Store>,
    n: usize,
    ledger: bool,
) -> anyhow::Result<(TenantId, Vec<LeadId>)> {
    let b = db
        .create_tenant(&format!("bench-{:08x}", rand::random::<u32>()))
        .await?;
    let mut ids = Vec::with_capacity(n);
    let leads: Vec<LeadInput> = (0..n)
        .map(|i| LeadInput {
            external_id: format!("lead-{i}"),
            phone: format!("+3361{:07}{}", i, 6 + i % 4),
            name: None,
            timezone: Some("Europe/Paris".into()),
            attributes: Default::default(),
            status: None,
            tags: vec![],
        })
        .collect();
    for chunk in leads.chunks(1000) {
        for r in db.upsert_leads(b, chunk).await? {
            match r? {
                LeadUpsert::Created(id) | LeadUpsert::Updated(id) => ids.push(id),
            }
        }
    }
    for (kind, owner, name, bytes) in [
        (
            PluginKind::Flow,
            Some(b),
            "default-flow",
            builtin::DEFAULT_FLOW,
        ),
        (PluginKind::Dialer, None, "sim-dialer", builtin::SIM_DIALER),
    ] {
        let active = db.get_active_plugin(kind, owner, name).await.ok();
        if active.is_none_or(|a| a.bytes != bytes) {
            let v = db.insert_plugin_version(kind, owner, name, bytes).await?;
            db.activate_plugin_version(kind, owner, name, v.version)
                .await?;
        }
    }
    db.set_dialer_config(
        b,
        "sim-dialer",
        &vec![(
            "ledger".to_string(),
            if ledger { "on" } else { "off" }.to_string(),
        )],
    )
    .await?;
    Ok((b, ids))
}

async fn create_run(
    db: &Arc<dyn Store>,
    b: TenantId,
    leads: &[LeadId],
    concurrency: u32,
) -> anyhow::Result<i64> {
    Ok(db
        .create_run(
            b,
            &RunSpec {
                lead_ids: leads.to_vec(),
                flow: "default-flow".into(),
                flow_version: None,
                dialer: "sim-dialer".into(),
                settings: settings(concurrency),
            },
        )
        .await?
        .0)
}

/// The run's row without its job counts. The benchmark polls this every
/// few milliseconds: `get_run` also counts the run's jobs by status (a scan
/// of all of them), and polling that would compete with the worker for the
/// database and measure the observer rather than the lifecycle.
async fn run_row(db: &Arc<dyn Store>, b: TenantId, run_id: i64) -> anyhow::Result<store::RunView> {
    let page = Page {
        after: Some(run_id - 1),
        limit: 1,
    };
    db.list_runs(b, page)
        .await?
        .into_iter()
        .find(|r| r.id.0 == run_id)
        .ok_or_else(|| anyhow::anyhow!("run {run_id} not found"))
}

/// How often the benchmark looks at what it waits for. The observer runs in
/// the worker's process and queries the worker's database, so it polls no
/// more often than its figures need: 10 ms is 0.2% of a five-second run
/// (at 2 ms it made 500 queries a second against the run it measured).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

async fn wait_until<F, Fut>(within: Duration, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let end = Instant::now() + within;
    while !f().await? {
        if Instant::now() > end {
            anyhow::bail!("benchmark condition not reached within {within:?}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

pub async fn run(a: LifecycleBenchArgs) -> anyhow::Result<ExitCode> {
    let tmp = std::env::temp_dir().join(format!("dialplane-bench-{}", std::process::id()));
    let url = match &a.database_url {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&tmp)?;
            format!("sqlite://{}?mode=rwc", tmp.join("bench.db").display())
        }
    };
    let result = measure(&a, &url).await;
    if a.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let out = result?;
    if a.json {
        super::json_output::print(&out)?;
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(a: &LifecycleBenchArgs, url: &str) -> anyhow::Result<serde_json::Value> {
    let db = store::connect(url).await?;
    let host = Arc::new(PluginHost::new(Limits::default())?);
    let cfg = WorkerConfig {
        batch_size: a.batch_size,
        tenant_max_concurrent_calls: a.concurrency.max(1),
        poll_interval: Duration::from_millis(5),
        ..WorkerConfig::new()
    };

    // 1. Throughput and claim-to-finish latency.
    let (b, leads) = seed(&db, a.leads, false).await?;
    let run_id = create_run(&db, b, &leads, a.concurrency).await?;
    let (stop, rx) = stop_pair();
    let worker = Worker::new(db.clone(), host.clone(), None, cfg.clone(), rx).await?;
    let metrics_ctx = worker.ctx.clone();
    // A normal worker only counts; the percentiles below need every batch.
    metrics_ctx.metrics.enable_latency_samples();
    let t0 = Instant::now();
    let w = tokio::spawn(worker.start());
    wait_until(Duration::from_secs(3600), || async {
        Ok(run_row(&db, b, run_id).await?.status.is_terminal())
    })
    .await?;
    let elapsed = t0.elapsed();
    let run = db.get_run(b, run_id.into()).await?;
    anyhow::ensure!(
        run.cursor_position == run.total_leads,
        "run ended {} with cursor {} of {}",
        run.status.as_str(),
        run.cursor_position,
        run.total_leads
    );
    let p50 = metrics_ctx.metrics.claim_to_finish(0.5);
    let p99 = metrics_ctx.metrics.claim_to_finish(0.99);

    // 2. Hot swap under load, then cancel latency: request → the owner
    // acknowledged (no new call can start).
    let cancel_leads = (a.leads / 5).max(2000);
    let (cb, cleads) = seed(&db, cancel_leads, false).await?;
    let crun = create_run(&db, cb, &cleads, a.concurrency.max(1)).await?;
    wait_until(Duration::from_secs(600), || async {
        Ok(run_row(&db, cb, crun).await?.cursor_position >= 500)
    })
    .await?;
    let hot_swap = measure_hot_swap(&db, &metrics_ctx).await?;
    let cancelled = cancel_run(&*db, cb, crun.into(), None, Duration::from_secs(30)).await?;
    stop.stop();
    w.await??;

    // 3. Reclaim after SIGKILL of a worker process.
    let reclaim = if a.no_reclaim {
        None
    } else {
        Some(measure_reclaim(a, url, &db, &host, &cfg).await?)
    };

    Ok(serde_json::json!({
        "bench": "lifecycle",
        "engine": match db.engine() { store::Engine::Postgres => "postgres", store::Engine::Sqlite => "sqlite" },
        "leads": a.leads,
        "seconds": elapsed.as_secs_f64(),
        "leads_per_sec": (a.leads as f64 / elapsed.as_secs_f64()).round(),
        "claim_to_finish_p50_ms": p50.map(|d| d.as_secs_f64() * 1e3),
        "claim_to_finish_p99_ms": p99.map(|d| d.as_secs_f64() * 1e3),
        "hot_swap_ms": hot_swap.as_secs_f64() * 1e3,
        "cancel_latency_ms": cancelled.latency.as_secs_f64() * 1e3,
        "reclaim_after_sigkill_ms": reclaim.map(|d: Duration| d.as_secs_f64() * 1e3),
        "reclaim_lease_ttl_ms": a.reclaim_ttl.as_millis() as u64,
        "concurrency": a.concurrency,
        "batch_size": a.batch_size,
        "sim_ledger": "off",
    }))
}

/// Activates a new sim-dialer version while the worker dials and waits
/// until the worker's directory holds it (every call after that uses it).
async fn measure_hot_swap(
    db: &Arc<dyn Store>,
    worker: &Arc<crate::lifecycle::WorkerCtx>,
) -> anyhow::Result<Duration> {
    let stamp = format!("bench-{}", rand::random::<u64>());
    let bytes = crate::runtime::custom_section::append_custom_section(
        builtin::SIM_DIALER,
        "dialplane-build",
        stamp.as_bytes(),
    );
    let v = db
        .insert_plugin_version(PluginKind::Dialer, None, "sim-dialer", &bytes)
        .await?;
    let t = Instant::now();
    db.activate_plugin_version(PluginKind::Dialer, None, "sim-dialer", v.version)
        .await?;
    wait_until(Duration::from_secs(60), || async {
        Ok(worker
            .dialers
            .current("sim-dialer")
            .is_some_and(|d| d.version == v.version))
    })
    .await?;
    Ok(t.elapsed())
}

async fn measure_reclaim(
    a: &LifecycleBenchArgs,
    url: &str,
    db: &Arc<dyn Store>,
    host: &Arc<PluginHost>,
    cfg: &WorkerConfig,
) -> anyhow::Result<Duration> {
    let (b, leads) = seed(db, 20_000, false).await?;
    // Concurrency 1 keeps the run going long enough to kill it mid-way.
    let run_id = create_run(db, b, &leads, 1).await?;
    let exe = std::env::current_exe()?;
    let ttl = format!("{}ms", a.reclaim_ttl.as_millis());
    let hb = format!("{}ms", (a.reclaim_ttl / 5).as_millis().max(1));
    let mut child = tokio::process::Command::new(exe)
        .args([
            "worker",
            "--database-url",
            url,
            "--lease-ttl",
            &ttl,
            "--heartbeat-interval",
            &hb,
            "--worker-id",
            "bench-doomed",
        ])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    wait_until(Duration::from_secs(120), || async {
        Ok(run_row(db, b, run_id).await?.cursor_position >= 200)
    })
    .await?;
    child.start_kill()?;
    let killed = Instant::now();
    let _ = child.wait().await;
    let (stop, rx) = stop_pair();
    let mut cfg = cfg.clone();
    cfg.worker_id = format!("bench-heir-{}", std::process::id()).into();
    cfg.poll_interval = Duration::from_millis(5);
    cfg.lease_ttl = a.reclaim_ttl;
    cfg.heartbeat_interval = a.reclaim_ttl / 5;
    let worker = Worker::new(db.clone(), host.clone(), None, cfg.clone(), rx).await?;
    let w = tokio::spawn(worker.start());
    wait_until(Duration::from_secs(120), || async {
        Ok(run_row(db, b, run_id).await?.owner_worker.as_deref() == Some(cfg.worker_id.as_str()))
    })
    .await?;
    let reclaim = killed.elapsed();
    // Stop once the run completes, to leave the database tidy.
    wait_until(Duration::from_secs(600), || async {
        Ok(run_row(db, b, run_id).await?.status.is_terminal())
    })
    .await?;
    stop.stop();
    w.await??;
    Ok(reclaim)
}

//! `dialplane demo`: a complete campaign on a fresh database, no server.
//!
//! Creates a tenant, installs the built-in `sim-dialer` and `default-flow`,
//! imports generated leads ([`crate::demo::lead_generator`]), runs one
//! campaign to its end through the real worker (in this process), runs a
//! second one and cancels it half-way, then prints what happened
//! ([`crate::demo::summary`]). "Calls after cancel" is counted from the sim
//! dialer's own ledger, not from the host's bookkeeping. Any failure, and
//! any call placed after a cancel returned, exits non-zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::json_output::{self, Human};
use crate::builtin;
use crate::config;
use crate::demo::lead_generator::{self, DemoLeads, LocalWindow};
use crate::demo::progress::Progress;
use crate::demo::run_report::{count_decisions, report};
use crate::demo::summary::{self, RunReport};
use crate::lifecycle::canceller;
use crate::lifecycle::settings::{CancelMode, RunSettings};
use crate::lifecycle::shutdown::stop_pair;
use crate::lifecycle::{Worker, WorkerConfig};
use crate::model::{LeadId, TenantId};
use crate::runtime::{Limits, PluginHost, PluginKind, PluginMeta};
use crate::store::{self, LeadUpsert, RunSpec, RunStatus, Store};

/// Leads imported when `--leads` is not given.
pub const DEMO_LEADS_DEFAULT: usize = 1000;
/// Fewest leads that still make a meaningful demo (both runs, a cancel half-way).
pub const DEMO_LEADS_MIN: usize = 20;
/// Calls in flight at once in the demo's runs.
pub const DEMO_CONCURRENCY_DEFAULT: u32 = 16;
/// `default-flow` retries busy / no-answer after this many seconds in the
/// demo (300 s in production), so retries happen while you watch.
pub const DEMO_RETRY_DELAY_SECS: u32 = 1;
/// Attempts per lead in the demo's campaign (first call plus one retry).
pub const DEMO_MAX_ATTEMPTS: u32 = 2;
/// The cancelled run is paced to take about this long, so the cancel lands
/// half-way instead of after the run already finished.
pub const DEMO_CANCEL_RUN_TARGET: Duration = Duration::from_secs(4);
/// A run that has not finished after this long fails the demo.
pub const DEMO_RUN_DEADLINE: Duration = Duration::from_secs(600);
/// How often the demo looks at a run's progress.
const WATCH_INTERVAL: Duration = Duration::from_millis(50);
/// Jobs per worker batch in the demo: the cursor (and so the progress bar)
/// advances once per committed batch, so small batches make progress and
/// "half-way" visible at the price of some throughput.
pub const DEMO_BATCH_SIZE: u32 = 32;
/// Leads per upsert transaction.
const IMPORT_CHUNK: usize = 500;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Runs a complete campaign end to end with no server: creates a tenant, installs the \
built-in sim-dialer and default-flow plugins, imports generated leads (every sim outcome, several \
time zones, a few on the do-not-call list), runs one campaign through the real worker with a live \
progress bar, cancels a second run half-way, and prints a summary. Uses an embedded SQLite database \
in a temporary directory unless --dir or --database-url is given."
)]
pub struct DemoArgs {
    /// Database to use instead of the embedded SQLite file (e.g.
    /// postgres://user:pass@host/db); the demo adds its own tenant.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Keep the SQLite database in this directory (created if missing)
    /// instead of a temporary one, e.g. to look at it with `dialplane serve`.
    #[arg(long, conflicts_with = "database_url")]
    pub dir: Option<PathBuf>,
    /// Leads per run (at least 20).
    #[arg(long, default_value_t = DEMO_LEADS_DEFAULT)]
    pub leads: usize,
    /// Calls in flight at once per run.
    #[arg(long, default_value_t = DEMO_CONCURRENCY_DEFAULT)]
    pub concurrency: u32,
    /// Print the summary as one JSON object (`runs`: per run its id,
    /// status, totals, outcome and job counts, elapsed); progress and notes
    /// go to stderr.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    if a.leads < DEMO_LEADS_MIN {
        bail!("--leads must be at least {DEMO_LEADS_MIN}, got {}", a.leads);
    }
    // The temp dir lives until the end of `run`.
    let (url, _temp, kept_dir) = database_url(&a)?;
    let store = store::connect(&url).await?;
    let human = Human::new(a.json);
    human.line(&format!("database: {}", store.redacted_url()));

    // Tenant names are unique and a kept database sees many demos: a fresh
    // name per run (time and a random suffix) never takes another's.
    let tenant = store
        .create_tenant(&format!(
            "demo-{}-{:08x}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S%.3f"),
            rand::random::<u32>()
        ))
        .await?;
    let key = store.create_api_key(Some(tenant)).await?;
    let plugins = Arc::new(PluginHost::new(Limits::default())?);
    install_plugins(store.as_ref(), &plugins, tenant).await?;
    human.line(&format!(
        "tenant #{tenant} created; plugins sim-dialer and default-flow installed"
    ));

    let now = chrono::Utc::now();
    let window = config::CALLING_WINDOW_DEFAULT;
    let zones = lead_generator::plan_zones(
        now,
        LocalWindow {
            start_minute: window.start_minute,
            end_minute: window.end_minute,
        },
    );
    let campaign = lead_generator::generate("A", a.leads, 0, &zones, true);
    let cancelled = lead_generator::generate("B", a.leads, a.leads as u64, &zones, false);
    let campaign_ids = import(store.as_ref(), tenant, &campaign).await?;
    let cancelled_ids = import(store.as_ref(), tenant, &cancelled).await?;
    let zones_used: std::collections::BTreeSet<&str> = campaign
        .leads
        .iter()
        .chain(&cancelled.leads)
        .filter_map(|l| l.timezone.as_deref())
        .collect();
    human.line(&format!(
        "imported {} leads in {} time zones; it is now inside the {window} calling window in {}; \
         {} campaign leads live where it is not; {} number(s) on the do-not-call list",
        2 * a.leads,
        zones_used.len(),
        zones.open.join(", "),
        campaign.in_closed_zones,
        campaign.dnc.len(),
    ));

    // The real worker, in this process.
    let (stop_handle, stop) = stop_pair();
    let worker = Worker::new(
        store.clone(),
        plugins.clone(),
        None,
        WorkerConfig {
            batch_size: DEMO_BATCH_SIZE,
            ..WorkerConfig::new()
        },
        stop,
    )
    .await?;
    let worker_task = tokio::spawn(worker.start());

    let result = async {
        let mut reports = Vec::new();
        reports.push(
            run_campaign(
                store.as_ref(),
                tenant,
                campaign_ids,
                campaign.in_closed_zones,
                a.concurrency,
                human,
            )
            .await?,
        );
        reports.push(
            run_cancelled(store.as_ref(), tenant, cancelled_ids, a.concurrency, human).await?,
        );
        anyhow::Ok(reports)
    }
    .await;

    stop_handle.stop();
    match tokio::time::timeout(config::LEASE_TTL_DEFAULT, worker_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!("worker stopped with an error: {e:#}"),
        Ok(Err(e)) => tracing::warn!("worker task failed: {e}"),
        Err(_) => tracing::warn!("worker did not stop within {:?}", config::LEASE_TTL_DEFAULT),
    }
    let reports = result?;

    if a.json {
        json_output::print(&summary::to_json(
            store.redacted_url(),
            tenant.0,
            &reports,
            kept_dir
                .as_ref()
                .map(|dir| (dir.as_path(), key.plaintext.as_str())),
        ))?;
    } else {
        println!();
        print!("{}", summary::render(&reports));
        println!(
            "(throughput includes default-flow's {DEMO_RETRY_DELAY_SECS} s retry delay for busy and \
             unanswered calls; `dialplane bench lifecycle` measures the worker alone)"
        );
        println!();
    }
    if let Some(dir) = kept_dir {
        human.line(&format!(
            "The database is kept in {}. Watch it in the dashboard:\n  dialplane serve --database-url {url}\n  then open http://127.0.0.1:8080/ and log in with the API key {}",
            dir.display(),
            key.plaintext
        ));
    }

    let cancel = &reports[1];
    if cancel.calls_after_cancel != Some(0) {
        bail!(
            "{} call(s) were placed after the cancel of run #{} returned",
            cancel.calls_after_cancel.unwrap_or(0),
            cancel.run_id
        );
    }
    if cancel.status != "cancelled" {
        bail!(
            "run #{} ended {} instead of cancelled",
            cancel.run_id,
            cancel.status
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The URL to use, the temp dir to keep alive, and the kept directory.
fn database_url(
    a: &DemoArgs,
) -> anyhow::Result<(String, Option<tempfile::TempDir>, Option<PathBuf>)> {
    if let Some(url) = &a.database_url {
        return Ok((url.clone(), None, None));
    }
    let (dir, temp) = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .with_context(|| format!("cannot create --dir {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("dialplane-demo-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let path = dir.join("demo.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let kept = a.dir.clone();
    Ok((url, temp, kept))
}

/// Validates the built-in components on the real linker (as an upload
/// would be), stores them and activates them. The platform's sim-dialer is
/// reused if its active version is this binary's.
async fn install_plugins(
    store: &dyn Store,
    plugins: &PluginHost,
    tenant: TenantId,
) -> anyhow::Result<()> {
    for (kind, name, wasm, owner) in [
        (PluginKind::Dialer, "sim-dialer", builtin::SIM_DIALER, None),
        (
            PluginKind::Flow,
            "default-flow",
            builtin::DEFAULT_FLOW,
            Some(tenant),
        ),
    ] {
        plugins
            .prepare(
                PluginMeta {
                    kind,
                    name: name.into(),
                    version: 0,
                },
                wasm,
            )
            .with_context(|| format!("built-in {name} does not validate"))?;
        if owner.is_none()
            && let Ok(active) = store.get_active_plugin(kind, owner, name).await
            && active.bytes == wasm
        {
            continue;
        }
        let v = store.insert_plugin_version(kind, owner, name, wasm).await?;
        store
            .activate_plugin_version(kind, owner, name, v.version)
            .await?;
    }
    Ok(())
}

/// Imports a batch and its DNC numbers; returns the lead ids in order.
async fn import(
    store: &dyn Store,
    tenant: TenantId,
    batch: &DemoLeads,
) -> anyhow::Result<Vec<LeadId>> {
    let mut ids = Vec::with_capacity(batch.leads.len());
    for chunk in batch.leads.chunks(IMPORT_CHUNK) {
        for (lead, r) in chunk.iter().zip(store.upsert_leads(tenant, chunk).await?) {
            match r {
                Ok(LeadUpsert::Created(id) | LeadUpsert::Updated(id)) => ids.push(id),
                Err(e) => bail!("lead {}: {e}", lead.external_id),
            }
        }
    }
    for phone in &batch.dnc {
        store.dnc_add(tenant, phone).await?;
    }
    Ok(ids)
}

fn settings(concurrency: u32, calls_per_second: Option<f64>) -> RunSettings {
    RunSettings {
        concurrency,
        max_attempts: DEMO_MAX_ATTEMPTS,
        calling_window: config::CALLING_WINDOW_DEFAULT,
        calls_per_second,
        flow: vec![(
            "retry_delay_secs".to_string(),
            DEMO_RETRY_DELAY_SECS.to_string(),
        )],
        ..RunSettings::default()
    }
}

async fn create(
    store: &dyn Store,
    tenant: TenantId,
    lead_ids: Vec<LeadId>,
    settings: RunSettings,
) -> anyhow::Result<i64> {
    Ok(store
        .create_run(
            tenant,
            &RunSpec {
                lead_ids,
                flow: "default-flow".into(),
                flow_version: None,
                dialer: "sim-dialer".into(),
                settings,
            },
        )
        .await?
        .0)
}

/// Run 1: every lead to its end. Leads in zones outside the calling window
/// are deferred by the platform to the window's next opening; once only
/// they are left (and each has its deferral recorded), the demo stops the
/// run with a `drain` cancel instead of waiting hours, and says so.
async fn run_campaign(
    store: &dyn Store,
    tenant: TenantId,
    lead_ids: Vec<LeadId>,
    deferred_expected: usize,
    concurrency: u32,
    human: Human,
) -> anyhow::Result<RunReport> {
    let total = lead_ids.len() as i64;
    let run_id = create(store, tenant, lead_ids, settings(concurrency, None)).await?;
    human.blank();
    human.line(&format!(
        "run #{run_id}: campaign over {total} leads (default-flow + sim-dialer)"
    ));
    let t0 = Instant::now();
    let mut progress = Progress::for_run("campaign", total as u64, human.json());
    let expect_left = deferred_expected as i64;
    loop {
        let run = store.get_run(tenant, run_id.into()).await?;
        progress.update(run.cursor_position as u64, run.status.as_str());
        if is_terminal(run.status) {
            progress.finish(run.cursor_position as u64, run.status.as_str());
            if run.status == RunStatus::Failed {
                bail!(
                    "run #{run_id} failed: {}",
                    run.failure.unwrap_or_else(|| "no reason recorded".into())
                );
            }
            break;
        }
        if expect_left > 0
            && run.cursor_position == total - expect_left
            && count_decisions(store, tenant, run_id)
                .await?
                .deferred_window
                >= deferred_expected as u64
        {
            progress.finish(
                run.cursor_position as u64,
                &format!("{expect_left} deferred by the calling window"),
            );
            human.line(&format!(
                "run #{run_id}: {expect_left} leads are outside their calling window and wait for \
                 it to open; stopping the run here (drain)"
            ));
            canceller::cancel_run(
                store,
                tenant,
                run_id.into(),
                Some(CancelMode::Drain),
                config::CANCEL_WAIT_DEFAULT,
            )
            .await?;
            wait_terminal(store, tenant, run_id).await?;
            break;
        }
        check_deadline(t0, run_id)?;
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    let elapsed = t0.elapsed();
    report(store, tenant, run_id, "campaign", elapsed, None).await
}

/// Run 2: paced, cancelled once half of it is done.
async fn run_cancelled(
    store: &dyn Store,
    tenant: TenantId,
    lead_ids: Vec<LeadId>,
    concurrency: u32,
    human: Human,
) -> anyhow::Result<RunReport> {
    let total = lead_ids.len() as i64;
    let cps = (total as f64 / DEMO_CANCEL_RUN_TARGET.as_secs_f64()).max(5.0);
    let run_id = create(store, tenant, lead_ids, settings(concurrency, Some(cps))).await?;
    human.blank();
    human.line(&format!(
        "run #{run_id}: {total} leads at {cps:.0} calls/s, cancelled half-way"
    ));
    let t0 = Instant::now();
    let mut progress = Progress::for_run("cancelled", total as u64, human.json());
    loop {
        let run = store.get_run(tenant, run_id.into()).await?;
        progress.update(run.cursor_position as u64, run.status.as_str());
        if is_terminal(run.status) {
            progress.finish(run.cursor_position as u64, run.status.as_str());
            bail!(
                "run #{run_id} ended {} before the demo could cancel it half-way",
                run.status.as_str()
            );
        }
        if run.cursor_position * 2 >= total {
            break;
        }
        check_deadline(t0, run_id)?;
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
    let cancelled = canceller::cancel_run(
        store,
        tenant,
        run_id.into(),
        Some(CancelMode::Hangup),
        config::CANCEL_WAIT_DEFAULT,
    )
    .await?;
    let acknowledged_at_ms = chrono::Utc::now().timestamp_millis();
    let run = wait_terminal(store, tenant, run_id).await?;
    progress.finish(run.cursor_position as u64, run.status.as_str());
    human.line(&format!(
        "run #{run_id}: cancel acknowledged in {:.1} ms; {} queued jobs cancelled",
        cancelled.latency.as_secs_f64() * 1000.0,
        cancelled.jobs_cancelled
    ));
    let elapsed = t0.elapsed();
    let mut r = report(
        store,
        tenant,
        run_id,
        "cancelled",
        elapsed,
        Some(acknowledged_at_ms),
    )
    .await?;
    r.cancel_latency = Some(cancelled.latency);
    Ok(r)
}

fn is_terminal(s: RunStatus) -> bool {
    matches!(
        s,
        RunStatus::Completed | RunStatus::Cancelled | RunStatus::Failed
    )
}

fn check_deadline(t0: Instant, run_id: i64) -> anyhow::Result<()> {
    if t0.elapsed() > DEMO_RUN_DEADLINE {
        bail!("run #{run_id} did not finish within {DEMO_RUN_DEADLINE:?}");
    }
    Ok(())
}

async fn wait_terminal(
    store: &dyn Store,
    tenant: TenantId,
    run_id: i64,
) -> anyhow::Result<store::RunView> {
    let t0 = Instant::now();
    loop {
        let run = store.get_run(tenant, run_id.into()).await?;
        if is_terminal(run.status) {
            return Ok(run);
        }
        check_deadline(t0, run_id)?;
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

//! The plugin benchmark behind `dialplane bench plugin`: what one lead costs
//! in the runtime (flow `plan` + sim-dialer `place-call` + flow `on-result`).
//!
//! How instantiation is amortised: leads are processed in tenant batches of
//! `batch` leads. Each batch creates one flow instance and one dialer
//! instance in fresh stores bound to that batch's tenant (as a worker does
//! for one run's batch), and reuses them for every lead of the batch;
//! instances are never shared across tenants. The instantiation time is
//! charged to the first lead of its batch, so it is inside the per-lead
//! distribution (it shows in p99, and in the median only if batches are tiny).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{
    Decision, Lead, Limits, MemoryKv, Placement, PluginHost, PluginKind, PluginMeta, PluginScope,
    Prepared, RunContext, TenantKv,
};

/// Leads measured when not told otherwise.
pub const BENCH_LEADS_DEFAULT: usize = 20_000;
/// Leads per tenant batch (one pair of instances each).
pub const BENCH_BATCH_DEFAULT: usize = 500;

#[derive(Debug, Clone, Serialize)]
pub struct PluginBenchReport {
    pub bench: &'static str,
    pub leads: usize,
    pub batch: usize,
    pub median_us_per_lead: f64,
    pub p99_us_per_lead: f64,
    /// Median time to create the flow + dialer instance pair of a batch.
    pub instantiate_us_median: f64,
    pub leads_per_sec_one_core: f64,
    pub leads_per_sec_all_cores: f64,
    pub cores: usize,
    /// Cold compile (and world check) time of each example component.
    pub compile_ms: std::collections::BTreeMap<String, f64>,
    pub peak_rss_mb: f64,
    pub pooling_allocator: bool,
    pub build: &'static str,
    /// Flows given with `--flow NAME=PATH` (e.g. JavaScript and Python).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub flows: std::collections::BTreeMap<String, FlowBench>,
}

/// One more flow, measured like default-flow (one core, tenant batches),
/// and its compile time cold and from the on-disk cache.
#[derive(Debug, Clone, Serialize)]
pub struct FlowBench {
    pub size_bytes: usize,
    pub leads: usize,
    pub median_us_per_lead: f64,
    pub p99_us_per_lead: f64,
    pub instantiate_us_median: f64,
    /// Compile (and world check) in a fresh host with no cache.
    pub compile_cold_ms: f64,
    /// The same from the compiled-component cache, as `serve` and `worker`
    /// start after the first time.
    pub compile_cached_ms: f64,
}

/// Measures `wasm` (a flow that dials every lead) over `leads` leads.
pub async fn flow(
    name: &str,
    wasm: &[u8],
    dialer_wasm: &[u8],
    leads: usize,
    batch: usize,
) -> anyhow::Result<FlowBench> {
    let batch = batch.max(1);
    let ms = |t: Instant| (t.elapsed().as_secs_f64() * 1e4).round() / 10.0;
    let cache = std::env::temp_dir().join(format!(
        "dialplane-bench-cache-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&cache)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700))?;
    }
    let cached_host = || {
        PluginHost::with_options(
            Limits::default(),
            super::HostOptions {
                compiled_cache_dir: Some(cache.clone()),
                ..Default::default()
            },
        )
    };
    let t = Instant::now();
    cached_host()?.prepare(meta(PluginKind::Flow, name), wasm)?;
    let compile_cold_ms = ms(t);
    let host = cached_host()?;
    let t = Instant::now();
    let flow = host.prepare(meta(PluginKind::Flow, name), wasm)?;
    let compile_cached_ms = ms(t);
    let _ = std::fs::remove_dir_all(&cache);
    let p = BenchPlugins {
        flow,
        dialer: host.prepare(meta(PluginKind::Dialer, "sim-dialer"), dialer_wasm)?,
    };
    run_batches(&host, &p, 1, batch.min(50), 0).await?;
    let (mut samples, mut inst) = run_batches(&host, &p, leads.div_ceil(batch), batch, 1).await?;
    samples.truncate(leads);
    samples.sort_unstable();
    inst.sort_unstable();
    Ok(FlowBench {
        size_bytes: wasm.len(),
        leads: samples.len(),
        median_us_per_lead: micros(percentile(&samples, 0.50)),
        p99_us_per_lead: micros(percentile(&samples, 0.99)),
        instantiate_us_median: micros(percentile(&inst, 0.50)),
        compile_cold_ms,
        compile_cached_ms,
    })
}

struct BenchPlugins {
    flow: Arc<Prepared>,
    dialer: Arc<Prepared>,
}

/// Runs the benchmark; `flow_wasm` is the flow measured (default-flow).
pub async fn run(
    leads: usize,
    batch: usize,
    components: &[(&str, PluginKind, &[u8])],
    flow_wasm: &[u8],
    dialer_wasm: &[u8],
) -> anyhow::Result<PluginBenchReport> {
    let batch = batch.max(1);
    let host = Arc::new(PluginHost::new(Limits::default())?);

    let mut compile_ms = std::collections::BTreeMap::new();
    for (name, kind, wasm) in components {
        // A fresh host each time, so nothing is cached.
        let cold = PluginHost::new(Limits::default())?;
        let t = Instant::now();
        cold.prepare(meta(*kind, name), wasm)?;
        compile_ms.insert(
            name.to_string(),
            (t.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        );
    }
    let p = BenchPlugins {
        flow: host.prepare(meta(PluginKind::Flow, "default-flow"), flow_wasm)?,
        dialer: host.prepare(meta(PluginKind::Dialer, "sim-dialer"), dialer_wasm)?,
    };
    let p = Arc::new(p);

    // Warm-up (page faults, lazy init), not measured.
    run_batches(&host, &p, 1, batch.min(200), 0).await?;

    // One core: one task, sequential.
    let t = Instant::now();
    let (mut samples, inst) = run_batches(&host, &p, leads.div_ceil(batch), batch, 1).await?;
    let one_core_secs = t.elapsed().as_secs_f64();
    samples.truncate(leads);

    // All cores: one task per core, each its own tenant.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_task = leads.div_ceil(cores);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..cores {
        let (host, p) = (host.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            run_batches(&host, &p, per_task.div_ceil(batch), batch, 1000 + c as i64).await
        }));
    }
    let mut all_leads = 0;
    for task in tasks {
        all_leads += task.await??.0.len();
    }
    let all_cores_secs = t.elapsed().as_secs_f64();

    samples.sort_unstable();
    let mut inst = inst;
    inst.sort_unstable();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(PluginBenchReport {
        bench: "plugin",
        leads: samples.len(),
        batch,
        median_us_per_lead: micros(percentile(&samples, 0.50)),
        p99_us_per_lead: micros(percentile(&samples, 0.99)),
        instantiate_us_median: micros(percentile(&inst, 0.50)),
        leads_per_sec_one_core: round(samples.len() as f64 / one_core_secs),
        leads_per_sec_all_cores: round(all_leads as f64 / all_cores_secs),
        cores,
        compile_ms,
        peak_rss_mb: round(peak_rss_kb().map_or(0.0, |kb| kb as f64 / 1024.0)),
        pooling_allocator: crate::config::PLUGIN_POOL_INSTANCES_DEFAULT > 0,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        flows: Default::default(),
    })
}

fn meta(kind: PluginKind, name: &str) -> PluginMeta {
    PluginMeta {
        kind,
        name: name.into(),
        version: 1,
    }
}

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// `batches` tenant batches of `batch` leads; returns per-lead times (the
/// first lead of a batch includes instantiation) and instantiation times.
async fn run_batches(
    host: &PluginHost,
    p: &BenchPlugins,
    batches: usize,
    batch: usize,
    tenant_base: i64,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let kv: Arc<dyn TenantKv> = Arc::new(MemoryKv::new());
    let config = vec![];
    let mut samples = Vec::with_capacity(batches * batch);
    let mut inst_times = Vec::with_capacity(batches);
    for b in 0..batches {
        let tenant = tenant_base * 1_000_000 + b as i64;
        let t0 = Instant::now();
        let mut flow = host
            .flow(&p.flow, PluginScope::new(tenant, &p.flow.meta, kv.clone()))
            .await?;
        let mut dialer = host
            .dialer(
                &p.dialer,
                PluginScope::new(tenant, &p.dialer.meta, kv.clone()),
            )
            .await?;
        let inst = t0.elapsed();
        inst_times.push(inst);
        let ctx = RunContext {
            run_id: format!("bench-{tenant}"),
            attempt: 1,
            max_attempts: 1,
            settings: vec![],
        };
        for i in 0..batch {
            let lead = Lead {
                id: format!("l{i}"),
                phone: format!("+1415555{:04}", i % 10_000),
                name: None,
                timezone: None,
                attributes: vec![],
            };
            let t = Instant::now();
            let Decision::Dial(mut req) = flow.plan(&ctx, &lead).await? else {
                anyhow::bail!("{} skipped a lead", p.flow.meta.name);
            };
            req.idempotency_key = format!("{}-{i}-1", ctx.run_id);
            let report = match dialer.place_call(&config, &req).await? {
                Ok(Placement::Finished(r)) => r,
                other => anyhow::bail!("sim-dialer answered {other:?}"),
            };
            flow.on_result(&ctx, &lead, &report).await?;
            let _ = flow.take_logs();
            let _ = dialer.take_logs();
            let mut took = t.elapsed();
            if i == 0 {
                took += inst;
            }
            samples.push(took);
        }
    }
    Ok((samples, inst_times))
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

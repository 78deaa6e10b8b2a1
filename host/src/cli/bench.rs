//! `dialplane bench …`: benchmarks that print one JSON object with `--json`
//! (through [`super::json_output`]; each names itself under `bench`).
//! Measure with `cargo run --release -- bench <name> --json`.

use std::process::ExitCode;

use crate::builtin;
use crate::runtime::PluginKind;
use crate::runtime::bench::{BENCH_BATCH_DEFAULT, BENCH_LEADS_DEFAULT};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// HTTP load check of the API on loopback (64 connections).
    Api(super::bench_api::ApiBenchArgs),
    /// Per-lead cost of the plugin runtime: flow plan + sim dial + on-result.
    Plugin(PluginBenchArgs),
    /// The run lifecycle end to end on a real database (see `bench_lifecycle.rs`).
    Lifecycle(super::bench_lifecycle::LifecycleBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct PluginBenchArgs {
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    pub json: bool,
    /// Leads to measure (on one core; the all-cores run does as many in total).
    #[arg(long, default_value_t = BENCH_LEADS_DEFAULT)]
    pub leads: usize,
    /// Leads per tenant batch: one flow + one dialer instance per batch.
    #[arg(long, default_value_t = BENCH_BATCH_DEFAULT)]
    pub batch: usize,
    /// Also measure this flow (repeatable), e.g. `--flow js=my_flow.wasm`
    /// from `plugin new --lang js`: per-lead cost, and compile time cold and
    /// from the compiled-component cache. It must dial every lead.
    #[arg(long = "flow", value_name = "NAME=PATH", value_parser = parse_flow)]
    pub flows: Vec<(String, std::path::PathBuf)>,
    /// Leads measured for each `--flow` (JavaScript and Python are slower).
    #[arg(long, default_value_t = BENCH_FLOW_LEADS_DEFAULT)]
    pub flow_leads: usize,
}

/// Leads measured for each `--flow`.
pub const BENCH_FLOW_LEADS_DEFAULT: usize = 2_000;

fn parse_flow(s: &str) -> Result<(String, std::path::PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), path.into()))
        }
        _ => Err(format!("`{s}` is not NAME=PATH (e.g. js=my_flow.wasm)")),
    }
}

pub async fn run(c: BenchCommand) -> anyhow::Result<ExitCode> {
    match c {
        BenchCommand::Api(a) => super::bench_api::run(a).await,
        BenchCommand::Plugin(a) => plugin(a).await,
        BenchCommand::Lifecycle(a) => super::bench_lifecycle::run(a).await,
    }
}

async fn plugin(a: PluginBenchArgs) -> anyhow::Result<ExitCode> {
    let components: [(&str, PluginKind, &[u8]); 5] = [
        ("default-flow", PluginKind::Flow, builtin::DEFAULT_FLOW),
        (
            "business-rules-flow",
            PluginKind::Flow,
            builtin::BUSINESS_RULES_FLOW,
        ),
        ("template-flow", PluginKind::Flow, builtin::TEMPLATE_FLOW),
        ("sim-dialer", PluginKind::Dialer, builtin::SIM_DIALER),
        ("http-dialer", PluginKind::Dialer, builtin::HTTP_DIALER),
    ];
    let mut r = crate::runtime::bench::run(
        a.leads,
        a.batch,
        &components,
        builtin::DEFAULT_FLOW,
        builtin::SIM_DIALER,
    )
    .await?;
    for (name, path) in &a.flows {
        let wasm = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("--flow {name}: cannot read {}: {e}", path.display()))?;
        let f =
            crate::runtime::bench::flow(name, &wasm, builtin::SIM_DIALER, a.flow_leads, a.batch)
                .await
                .map_err(|e| anyhow::anyhow!("--flow {name} ({}): {e:#}", path.display()))?;
        r.flows.insert(name.clone(), f);
    }
    if a.json {
        super::json_output::print(&r)?;
    } else {
        println!(
            "plugin bench ({} build, {} leads, batches of {}):",
            r.build, r.leads, r.batch
        );
        println!(
            "  per lead (plan + sim dial + on-result): median {} µs, p99 {} µs",
            r.median_us_per_lead, r.p99_us_per_lead
        );
        println!(
            "  instantiation (flow + dialer, once per batch): median {} µs",
            r.instantiate_us_median
        );
        println!(
            "  throughput: {} leads/s on one core, {} leads/s on {} cores",
            r.leads_per_sec_one_core, r.leads_per_sec_all_cores, r.cores
        );
        for (name, ms) in &r.compile_ms {
            println!("  compile {name}: {ms} ms");
        }
        for (name, f) in &r.flows {
            println!(
                "  {name} ({} bytes): median {} µs, p99 {} µs per lead; compile {} ms cold, {} ms from cache",
                f.size_bytes,
                f.median_us_per_lead,
                f.p99_us_per_lead,
                f.compile_cold_ms,
                f.compile_cached_ms
            );
        }
        println!("  peak RSS: {} MiB", r.peak_rss_mb);
    }
    Ok(ExitCode::SUCCESS)
}

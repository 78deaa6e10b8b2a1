//! `dialplane plugin check|test`.
//!
//! `check` validates a component exactly as an upload is validated (same
//! engine configuration, same linker), so "passes check" means "will be
//! accepted". `test` plays a flow over a lead file against the built-in
//! simulated dialer and prints the YAML transcript of
//! [`crate::testing`]; with `--expect FILE` it compares the transcript with
//! that file instead (`--update` rewrites it), see [`super::plugin_expect`].

use std::path::PathBuf;
use std::process::ExitCode;

use super::compile_cache::CompileCacheArgs;
use crate::runtime::{Limits, PluginFailure, PluginHost, PluginKind, PluginMeta, export_names};
use crate::testing::{TRANSCRIPT_MAX_ATTEMPTS_DEFAULT, TranscriptOptions};

#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Validate a component against its world and print its imports and exports.
    Check(CheckArgs),
    /// Run a call flow over a lead file against the simulated dialer; prints a YAML transcript.
    Test(TestArgs),
    /// Create a standalone call-flow project (template, SDK, WIT, toolchain,
    /// sample leads and the expected transcript) in a new directory.
    New(super::plugin_new::NewArgs),
    /// Write a component embedded in this binary (sim-dialer, http-dialer,
    /// the example flows) to stdout or a file; without a name, list them.
    Builtin(super::plugin_builtin::BuiltinArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Flow,
    Dialer,
}

impl From<KindArg> for PluginKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Flow => PluginKind::Flow,
            KindArg::Dialer => PluginKind::Dialer,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The component (`.wasm`).
    pub component: PathBuf,
    /// Which world to check against; detected from the exports when omitted.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    #[command(flatten)]
    pub compile_cache: CompileCacheArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DialerArg {
    /// The built-in deterministic simulator (outcome from the number's last digit).
    Sim,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The call-flow component (`.wasm`).
    pub flow: PathBuf,
    /// Leads as a JSON array or CSV (`id,phone,name,timezone,<attributes…>`).
    #[arg(long)]
    pub leads: PathBuf,
    /// Dialer to place the calls with.
    #[arg(long, value_enum, default_value_t = DialerArg::Sim)]
    pub dialer: DialerArg,
    /// A run setting handed to the flow (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub settings: Vec<(String, String)>,
    /// A configuration entry for the dialer, e.g. `mode=pending` (repeatable).
    #[arg(long = "dialer-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub dialer_config: Vec<(String, String)>,
    /// Cap on attempts per lead (retries the flow asks for are played at once).
    #[arg(long, default_value_t = TRANSCRIPT_MAX_ATTEMPTS_DEFAULT)]
    pub max_attempts: u32,
    /// Compare the transcript with this YAML file instead of printing it:
    /// exit 1 with a diff naming lead and field when it changed.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// With --expect: write the transcript to the file (creating it the
    /// first time) instead of comparing.
    #[arg(long, requires = "expect")]
    pub update: bool,
    #[command(flatten)]
    pub compile_cache: CompileCacheArgs,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

pub async fn run(c: PluginCommand) -> anyhow::Result<ExitCode> {
    match c {
        PluginCommand::Check(a) => check(a),
        PluginCommand::Test(a) => test(a).await,
        PluginCommand::Builtin(a) => super::plugin_builtin::run(a),
        PluginCommand::New(a) => super::plugin_new::run(a).await,
    }
}

fn read_component(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

fn file_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into())
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let wasm = read_component(&a.component)?;
    let host = PluginHost::with_options(Limits::default(), a.compile_cache.host_options())?;
    let shown = a.component.display();
    let info = match host.inspect(&wasm) {
        Ok(info) => info,
        Err(e) => {
            super::notice::error(&format!("{shown}: {e}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{shown}");
    println!("imports:");
    for i in &info.imports {
        println!("  - {i}");
    }
    println!("exports:");
    for e in &info.exports {
        println!("  - {e}");
    }
    let kind = match a.kind.map(PluginKind::from).or_else(|| info.detect_kind()) {
        Some(k) => k,
        None => {
            super::notice::error(&format!(
                "{shown}: cannot tell the kind: it exports neither {} (a call flow) nor {} (a dialer adapter); pass --kind to see what is missing",
                export_names(PluginKind::Flow),
                export_names(PluginKind::Dialer)
            ));
            return Ok(ExitCode::FAILURE);
        }
    };
    let meta = PluginMeta {
        kind,
        name: file_name(&a.component),
        version: 0,
    };
    match host.prepare(meta, &wasm) {
        Ok(p) => {
            for (import, why) in info.inert_imports() {
                super::notice::warn(&format!(
                    "{shown}: warning: imports {import}, which links but does nothing here: {why}"
                ));
            }
            println!("ok: implements {} ({})", p.world(), kind.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            match &e.cause {
                PluginFailure::WrongWorld { world, detail } => {
                    super::notice::error(&format!("{shown}: does not implement {world}: {detail}"))
                }
                other => super::notice::error(&format!("{shown}: {other}")),
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let DialerArg::Sim = a.dialer;
    let wasm = read_component(&a.flow)?;
    let leads = crate::leads_file::read(&a.leads)?;
    let opts = TranscriptOptions {
        settings: a.settings,
        max_attempts: a.max_attempts,
        dialer_config: a.dialer_config,
        limits: Limits::default(),
        flow_name: file_name(&a.flow),
        compiled_cache_dir: a.compile_cache.dir(),
    };
    let t = match crate::testing::run(&wasm, &leads, &opts).await {
        Ok(t) => t,
        Err(e) => match e.downcast_ref::<crate::runtime::PluginError>() {
            Some(pe) => {
                super::notice::error(&format!("{}: {}", a.flow.display(), pe.cause));
                return Ok(ExitCode::FAILURE);
            }
            None => return Err(e),
        },
    };
    if let Some(expect) = &a.expect {
        if t.failures > 0 {
            super::notice::error(&format!(
                "{}: {} lead(s) stopped on a plugin failure (kept in the transcript as `error:`)",
                a.flow.display(),
                t.failures
            ));
        }
        return super::plugin_expect::check(expect, &t.to_yaml(), a.update);
    }
    print!("{}", t.to_yaml());
    if t.failures > 0 {
        super::notice::error(&format!(
            "{}: {} lead(s) stopped on a plugin failure (see `error:` in the transcript)",
            a.flow.display(),
            t.failures
        ));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

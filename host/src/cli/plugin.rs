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
use super::json_output;
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
    /// Print the verdict as one JSON object (`ok`, `kind`, `world`,
    /// `wit_version`, `imports`, `exports`, `warnings`, `error`).
    #[arg(long)]
    pub json: bool,
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
    /// Print one JSON object: `ok`, `failures`, the `transcript`, and with
    /// --expect the comparison (`expect.action`, `expect.changes`).
    #[arg(long)]
    pub json: bool,
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

/// What `plugin check` found; printed as lines, or as the `--json` document.
#[derive(serde::Serialize)]
struct CheckReport {
    component: String,
    /// Whether the component implements its world (what an upload needs).
    ok: bool,
    kind: Option<&'static str>,
    /// The world it implements, e.g. `dialplane:plugin/call-flow@0.2.0`.
    world: Option<&'static str>,
    wit_version: Option<&'static str>,
    imports: Vec<String>,
    exports: Vec<String>,
    warnings: Vec<CheckWarning>,
    /// Why it does not check (`ok` false).
    error: Option<String>,
}

#[derive(serde::Serialize)]
struct CheckWarning {
    import: String,
    message: String,
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let wasm = read_component(&a.component)?;
    let host = PluginHost::with_options(Limits::default(), a.compile_cache.host_options())?;
    let shown = a.component.display().to_string();
    let mut r = CheckReport {
        component: shown.clone(),
        ok: false,
        kind: None,
        world: None,
        wit_version: None,
        imports: Vec::new(),
        exports: Vec::new(),
        warnings: Vec::new(),
        error: None,
    };
    // With --json the document holds the lists; stderr keeps the verdicts.
    let lists = |r: &CheckReport| {
        println!("{shown}");
        println!("imports:");
        for i in &r.imports {
            println!("  - {i}");
        }
        println!("exports:");
        for e in &r.exports {
            println!("  - {e}");
        }
    };
    match host.inspect(&wasm) {
        Err(e) => r.error = Some(e.to_string()),
        Ok(info) => {
            r.imports = info.imports.clone();
            r.exports = info.exports.clone();
            if !a.json {
                lists(&r);
            }
            check_world(&a, &host, &wasm, &info, &mut r);
        }
    }
    if let Some(error) = &r.error {
        super::notice::error(&format!("{shown}: {error}"));
    }
    for w in &r.warnings {
        super::notice::warn(&format!(
            "{shown}: warning: imports {}, which links but does nothing here: {}",
            w.import, w.message
        ));
    }
    if a.json {
        json_output::print(&r)?;
    } else if let (true, Some(world), Some(kind)) = (r.ok, r.world, r.kind) {
        println!("ok: implements {world} ({kind})");
    }
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Fills in the kind, world and verdict of an inspected component.
fn check_world(
    a: &CheckArgs,
    host: &PluginHost,
    wasm: &[u8],
    info: &crate::runtime::ComponentInfo,
    r: &mut CheckReport,
) {
    let Some(kind) = a.kind.map(PluginKind::from).or_else(|| info.detect_kind()) else {
        r.error = Some(format!(
            "cannot tell the kind: it exports neither {} (a call flow) nor {} (a dialer adapter); pass --kind to see what is missing",
            export_names(PluginKind::Flow),
            export_names(PluginKind::Dialer)
        ));
        return;
    };
    r.kind = Some(kind.as_str());
    let meta = PluginMeta {
        kind,
        name: file_name(&a.component),
        version: 0,
    };
    match host.prepare(meta, wasm) {
        Ok(p) => {
            r.ok = true;
            r.world = Some(p.world());
            r.wit_version = Some(p.wit_version().as_str());
            r.warnings = info
                .inert_imports()
                .into_iter()
                .map(|(import, why)| CheckWarning {
                    import,
                    message: why.to_string(),
                })
                .collect();
        }
        Err(e) => {
            r.error = Some(match &e.cause {
                PluginFailure::WrongWorld { world, detail } => {
                    format!("does not implement {world}: {detail}")
                }
                other => other.to_string(),
            })
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
    let shown = a.flow.display().to_string();
    if t.failures > 0 {
        let where_ = if a.expect.is_some() || a.json {
            "kept in the transcript as `error:`"
        } else {
            "see `error:` in the transcript"
        };
        super::notice::error(&format!(
            "{shown}: {} lead(s) stopped on a plugin failure ({where_})",
            t.failures
        ));
    }
    let expected = match &a.expect {
        Some(expect) => Some(super::plugin_expect::check(expect, &t.to_yaml(), a.update)?),
        None => None,
    };
    if let Some(outcome) = &expected {
        outcome.report(a.json);
    } else if !a.json {
        print!("{}", t.to_yaml());
    }
    // With --expect, a plugin failure recorded in a matching transcript is
    // what the author expects: only a changed transcript fails.
    let ok = match &expected {
        Some(outcome) => outcome.ok(),
        None => t.failures == 0,
    };
    if a.json {
        json_output::print(&serde_json::json!({
            "flow": shown,
            "ok": ok,
            "failures": t.failures,
            "transcript": t,
            "expect": expected,
        }))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

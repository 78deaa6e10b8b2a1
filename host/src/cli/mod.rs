//! The `dialplane` command line: one file per subcommand.
//!
//! `main` parses flags with clap, sets up logging, builds a tokio runtime and
//! hands over to the subcommand's `run`. Errors are printed as one clear line
//! (with their causes) and exit non-zero; nothing here panics on bad input.
//!
//! Module map: [`serve`], [`worker`], [`migrate`], [`tenant`] (tenant and
//! admin keys), [`demo`], [`plugin`] (`check`, `test`) with
//! [`plugin_expect`] (`test --expect/--update`) and [`transcript_diff`] (the
//! diff it prints), [`plugin_builtin`] (`builtin`: the embedded components), [`plugin_new`]
//! (`new`: a standalone flow project), and the benchmarks
//! [`bench`](mod@bench) (the `bench` command and `bench plugin`), [`bench_lifecycle`],
//! [`bench_api`]. [`compile_cache`] holds the compiled-component cache flags
//! that `serve`, `worker` and `plugin check|test` share; [`notice`] writes the
//! command line's own stderr lines in the chosen log format; [`json_output`]
//! prints the one JSON document of a command's `--json` (every command that
//! prints a result has it; `serve` and `worker` only log).

pub mod bench;
pub mod bench_api;
pub mod bench_lifecycle;
pub mod compile_cache;
pub mod demo;
pub mod json_output;
pub mod migrate;
pub mod notice;
pub mod plugin;
pub mod plugin_builtin;
pub mod plugin_expect;
pub mod plugin_new;
pub mod serve;
pub mod tenant;
pub mod transcript_diff;
pub mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Orchestration host for outbound call campaigns with sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "dialplane", version, about, long_about = None)]
pub struct Cli {
    /// Log output: readable lines for people, or JSON for machines.
    #[arg(long, global = true, env = "DIALPLANE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a complete campaign end to end on an embedded database (no server needed).
    Demo(demo::DemoArgs),
    /// Serve the HTTP API, the dashboard and (unless --no-workers) workers.
    Serve(serve::ServeArgs),
    /// Run a worker that claims and executes runs.
    Worker(worker::WorkerArgs),
    /// Apply database migrations.
    Migrate(migrate::MigrateArgs),
    /// Check and test plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Manage platform (admin) keys.
    #[command(subcommand, name = "admin-key")]
    AdminKey(tenant::AdminKeyCommand),
    /// Benchmarks; each prints one JSON object with --json.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Services log their lifecycle at `info` (an operator's record: runs
    // claimed, paused, cancelled, finished, taken over); one-shot commands
    // print their results, so only warnings and errors by default.
    let service = matches!(cli.command, Command::Serve(_) | Command::Worker(_));
    init_logging(
        cli.log_format,
        if service {
            SERVICE_LOG_FILTER_DEFAULT
        } else {
            COMMAND_LOG_FILTER_DEFAULT
        },
    );
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            notice::fatal(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Demo(a) => demo::run(a).await,
            Command::Serve(a) => serve::run(a).await,
            Command::Worker(a) => worker::run(a).await,
            Command::Migrate(a) => migrate::run(a).await,
            Command::Plugin(c) => plugin::run(c).await,
            Command::Tenant(c) => tenant::run(c).await,
            Command::AdminKey(c) => tenant::run_admin(c).await,
            Command::Bench(c) => bench::run(c).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            notice::fatal(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// `serve` and `worker`'s log filter when `DIALPLANE_LOG` is unset.
pub const SERVICE_LOG_FILTER_DEFAULT: &str = "info";
/// Every other command's log filter when `DIALPLANE_LOG` is unset.
pub const COMMAND_LOG_FILTER_DEFAULT: &str = "warn";

fn init_logging(format: LogFormat, default_filter: &str) {
    notice::set_format(format);
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("DIALPLANE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colours only for a person at a terminal: a redirected file or a log
    // collector gets plain text (and `NO_COLOR` is honoured).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        // The enclosing spans are listed once (`spans`), not again as `span`.
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => builder.init(),
    }
}

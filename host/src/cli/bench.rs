//! `dialplane bench …`: benchmarks that print one JSON line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// HTTP load check of the API on loopback (64 connections).
    Api(super::bench_api::ApiBenchArgs),
}

pub async fn run(c: BenchCommand) -> anyhow::Result<ExitCode> {
    match c {
        BenchCommand::Api(a) => super::bench_api::run(a).await,
    }
}

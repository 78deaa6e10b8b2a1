//! `dialplane bench …`: benchmarks that print one JSON line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {}

pub async fn run(c: BenchCommand) -> anyhow::Result<ExitCode> {
    match c {}
}

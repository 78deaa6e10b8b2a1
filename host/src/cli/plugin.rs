//! `dialplane plugin check|test`.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {}

pub async fn run(c: PluginCommand) -> anyhow::Result<ExitCode> {
    match c {}
}

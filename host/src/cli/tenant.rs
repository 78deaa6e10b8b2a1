//! `dialplane tenant create` and `dialplane admin-key create`.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {}

#[derive(Debug, clap::Subcommand)]
pub enum AdminKeyCommand {}

pub async fn run(c: TenantCommand) -> anyhow::Result<ExitCode> {
    match c {}
}

pub async fn run_admin(c: AdminKeyCommand) -> anyhow::Result<ExitCode> {
    match c {}
}

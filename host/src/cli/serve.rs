//! `dialplane serve`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub async fn run(_a: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialplane serve` is not implemented yet")
}

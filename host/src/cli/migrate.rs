//! `dialplane migrate`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

pub async fn run(_a: MigrateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialplane migrate` is not implemented yet")
}

//! `dialplane worker`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {}

pub async fn run(_a: WorkerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialplane worker` is not implemented yet")
}

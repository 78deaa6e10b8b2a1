//! `dialplane demo`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

pub async fn run(_a: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`dialplane demo` is not implemented yet")
}

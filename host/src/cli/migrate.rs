//! `dialplane migrate`: apply pending database migrations and say what was applied.

use std::process::ExitCode;

use crate::config::DATABASE_URL_DEFAULT;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    pub database_url: String,
}

pub async fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (db, report) = store::connect_with_report(&a.database_url).await?;
    for (version, description) in &report.applied {
        println!("applied {version:04} {description}");
    }
    if report.applied.is_empty() {
        println!(
            "{}: up to date (version {})",
            db.redacted_url(),
            db.schema_version().await?
        );
    } else {
        println!(
            "{}: now at version {}",
            db.redacted_url(),
            db.schema_version().await?
        );
    }
    Ok(ExitCode::SUCCESS)
}

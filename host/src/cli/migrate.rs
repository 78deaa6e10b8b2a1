//! `dialplane migrate`: apply pending database migrations and say what was applied.

use std::process::ExitCode;

use super::json_output;
use crate::config::DATABASE_URL_DEFAULT;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    pub database_url: String,
    /// Print one JSON object (`database`, `applied`, `already_applied`,
    /// `schema_version`) instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Applied<'a> {
    version: i64,
    description: &'a str,
}

pub async fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (db, report) = store::connect_with_report(&a.database_url).await?;
    let version = db.schema_version().await?;
    if a.json {
        let applied: Vec<Applied> = report
            .applied
            .iter()
            .map(|(version, description)| Applied {
                version: *version,
                description,
            })
            .collect();
        json_output::print(&serde_json::json!({
            "database": db.redacted_url(),
            "applied": applied,
            "already_applied": report.already_applied,
            "schema_version": version,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    for (version, description) in &report.applied {
        println!("applied {version:04} {description}");
    }
    if report.applied.is_empty() {
        println!("{}: up to date (version {version})", db.redacted_url());
    } else {
        println!("{}: now at version {version}", db.redacted_url());
    }
    Ok(ExitCode::SUCCESS)
}

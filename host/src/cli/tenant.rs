//! `dialplane tenant create` and `dialplane admin-key create`: the only way a
//! key's plaintext is ever shown (once; the database keeps its sha256).

use std::process::ExitCode;

use crate::config::DATABASE_URL_DEFAULT;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    pub database_url: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and API key (shown only this once).
    Create {
        /// Display name of the business.
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminKeyCommand {
    /// Create a platform (admin) key and print it (shown only this once).
    Create {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub async fn run(c: TenantCommand) -> anyhow::Result<ExitCode> {
    match c {
        TenantCommand::Create { name, db } => {
            let store = store::connect(&db.database_url).await?;
            let id = store.create_tenant(&name).await?;
            let key = store.create_api_key(Some(id)).await?;
            println!("tenant_id: {id}");
            println!("api_key: {}", key.plaintext);
            super::notice::warn("Store the key now: it cannot be shown again.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn run_admin(c: AdminKeyCommand) -> anyhow::Result<ExitCode> {
    match c {
        AdminKeyCommand::Create { db } => {
            let store = store::connect(&db.database_url).await?;
            let key = store.create_api_key(None).await?;
            println!("admin_key: {}", key.plaintext);
            super::notice::warn("Store the key now: it cannot be shown again.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

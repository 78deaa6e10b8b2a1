//! `dialplane tenant create|list`, `dialplane tenant key list|create|revoke|rotate`
//! and `dialplane admin-key create|list|revoke|rotate`: tenants and keys,
//! straight on the database (the API's `/api/keys` and `/api/admin/...` do
//! the same over HTTP). A key's plaintext is printed only by `create` and
//! `rotate`, once; the database keeps its sha256.
//!
//! Text mode prints `name: value` lines (`tenant_id: …`, `api_key: …`,
//! `admin_key: …`) or a table; `--json` prints exactly one JSON document on
//! stdout, shaped like the API's answers (a list is `{"items": [...]}`).
//! The CLI is the operator's: it may revoke an owner's last key.

use std::process::ExitCode;

use serde::Serialize;

use crate::api::admin_keys::{TenantCreatedJson, TenantJson};
use crate::api::keys::{ApiKeyJson, CreatedKeyJson};
use crate::config::DATABASE_URL_DEFAULT;
use crate::model::{ApiKeyId, TenantId};
use crate::store::{self, Store, StoreError, TENANT_NAME_CONSTRAINT};

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// postgres://… or sqlite:… (SQLite file by default).
    #[arg(long, env = "DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    pub database_url: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and API key (shown only this once).
    /// Names are unique (case-insensitive, ignoring surrounding spaces).
    Create {
        /// Display name of the business.
        name: String,
        /// Print one JSON document instead of `name: value` lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List tenants.
    List {
        /// Print one JSON document (`{"items": [...]}`) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// A tenant's API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// One key operation; `--tenant` picks whose keys (tenant keys only).
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// List the tenant's keys (prefix, label, created, last used, revoked).
    List {
        #[arg(long)]
        tenant: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Create a key and print it (shown only this once).
    Create {
        #[arg(long)]
        tenant: i64,
        /// What the key is for (`ci`, `dashboard`).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Revoke a key (effective at once on every node); even the last one.
    Revoke {
        #[arg(long)]
        tenant: i64,
        /// The key's id (see `list`).
        key_id: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Replace a key: a new one with the same label, the old one revoked.
    Rotate {
        #[arg(long)]
        tenant: i64,
        /// The key's id (see `list`).
        key_id: i64,
        #[command(flatten)]
        out: Output,
    },
}

/// `--json` and the database, shared by the key commands.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminKeyCommand {
    /// Create a platform (admin) key and print it (shown only this once).
    Create {
        /// What the key is for.
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// List the platform's keys.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Revoke an admin key; even the last one.
    Revoke {
        /// The key's id (see `list`).
        key_id: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Replace an admin key: a new one with the same label, the old one revoked.
    Rotate {
        /// The key's id (see `list`).
        key_id: i64,
        #[command(flatten)]
        out: Output,
    },
}

/// A list as `--json` prints it.
#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Serialize)]
struct Revoked {
    id: i64,
    revoked: bool,
}

fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    super::json_output::print(v)
}

fn warn_store_now() {
    super::notice::warn("Store the key now: it cannot be shown again.");
}

async fn connect(db: &DatabaseArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    Ok(store::connect(&db.database_url).await?)
}

/// The tenant, which must exist.
async fn existing_tenant(store: &dyn Store, id: i64) -> anyhow::Result<TenantId> {
    let tenant = TenantId(id);
    match store.get_tenant(tenant).await {
        Ok(_) => Ok(tenant),
        Err(StoreError::NotFound) => anyhow::bail!("--tenant: no tenant {id}"),
        Err(e) => Err(e.into()),
    }
}

fn key_error(owner: &str, key_id: i64, e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFound => anyhow::anyhow!("key_id: {owner} has no key {key_id}"),
        StoreError::Conflict { .. } => {
            anyhow::anyhow!("key_id: key {key_id} is revoked; rotate an active key")
        }
        e => e.into(),
    }
}

pub async fn run(c: TenantCommand) -> anyhow::Result<ExitCode> {
    match c {
        TenantCommand::Create { name, json, db } => {
            let store = connect(&db).await?;
            let (id, key) = match store.create_tenant_with_key(&name).await {
                Ok(created) => created,
                Err(StoreError::Conflict { constraint })
                    if constraint == TENANT_NAME_CONSTRAINT =>
                {
                    anyhow::bail!(
                        "name: a tenant named {:?} exists (names are unique, ignoring case \
                         and surrounding spaces); see `dialplane tenant list`",
                        name.trim()
                    )
                }
                Err(e) => return Err(e.into()),
            };
            let tenant = store.get_tenant(id).await?;
            if json {
                print_json(&TenantCreatedJson {
                    tenant: tenant_json(tenant),
                    api_key: CreatedKeyJson::new(key, None),
                })?;
            } else {
                println!("tenant_id: {id}");
                println!("key_id: {}", key.id);
                println!("api_key: {}", key.plaintext);
            }
            warn_store_now();
        }
        TenantCommand::List { json, db } => {
            let tenants = connect(&db).await?.list_tenants().await?;
            let items: Vec<TenantJson> = tenants.into_iter().map(tenant_json).collect();
            if json {
                print_json(&Items { items })?;
            } else {
                println!("{:>8}  {:<24}  NAME", "ID", "CREATED");
                for t in items {
                    println!("{:>8}  {:<24}  {}", t.id, t.created_at, t.name);
                }
            }
        }
        TenantCommand::Key(k) => return run_key(k).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn tenant_json(t: store::Tenant) -> TenantJson {
    TenantJson {
        id: t.id.get(),
        name: t.name,
        created_at: crate::api::views::rfc3339_dt(&t.created_at),
    }
}

async fn run_key(c: KeyCommand) -> anyhow::Result<ExitCode> {
    match c {
        KeyCommand::List { tenant, out } => {
            let store = connect(&out.db).await?;
            let t = existing_tenant(&*store, tenant).await?;
            list(&*store, Some(t), out.json).await?;
        }
        KeyCommand::Create { tenant, label, out } => {
            let store = connect(&out.db).await?;
            let t = existing_tenant(&*store, tenant).await?;
            let key = store
                .create_labelled_api_key(Some(t), label.as_deref())
                .await?;
            print_created("api_key", CreatedKeyJson::new(key, None), out.json)?;
        }
        KeyCommand::Revoke {
            tenant,
            key_id,
            out,
        } => {
            let store = connect(&out.db).await?;
            let t = existing_tenant(&*store, tenant).await?;
            store
                .revoke_api_key(Some(t), ApiKeyId(key_id))
                .await
                .map_err(|e| key_error(&format!("tenant {tenant}"), key_id, e))?;
            print_revoked(key_id, out.json)?;
        }
        KeyCommand::Rotate {
            tenant,
            key_id,
            out,
        } => {
            let store = connect(&out.db).await?;
            let t = existing_tenant(&*store, tenant).await?;
            let key = store
                .rotate_api_key(Some(t), ApiKeyId(key_id))
                .await
                .map_err(|e| key_error(&format!("tenant {tenant}"), key_id, e))?;
            let key = CreatedKeyJson::new(key, Some(ApiKeyId(key_id)));
            print_created("api_key", key, out.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_admin(c: AdminKeyCommand) -> anyhow::Result<ExitCode> {
    match c {
        AdminKeyCommand::Create { label, out } => {
            let store = connect(&out.db).await?;
            let key = store
                .create_labelled_api_key(None, label.as_deref())
                .await?;
            print_created("admin_key", CreatedKeyJson::new(key, None), out.json)?;
        }
        AdminKeyCommand::List { out } => {
            list(&*connect(&out.db).await?, None, out.json).await?;
        }
        AdminKeyCommand::Revoke { key_id, out } => {
            connect(&out.db)
                .await?
                .revoke_api_key(None, ApiKeyId(key_id))
                .await
                .map_err(|e| key_error("the platform", key_id, e))?;
            print_revoked(key_id, out.json)?;
        }
        AdminKeyCommand::Rotate { key_id, out } => {
            let key = connect(&out.db)
                .await?
                .rotate_api_key(None, ApiKeyId(key_id))
                .await
                .map_err(|e| key_error("the platform", key_id, e))?;
            let key = CreatedKeyJson::new(key, Some(ApiKeyId(key_id)));
            print_created("admin_key", key, out.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a new key: `key_id:`, `<name>:` (the plaintext), `replaces:`.
fn print_created(name: &str, key: CreatedKeyJson, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&key)?;
    } else {
        println!("key_id: {}", key.id);
        println!("{name}: {}", key.api_key);
        if let Some(old) = key.replaces {
            println!("replaces: {old}");
        }
    }
    warn_store_now();
    Ok(())
}

fn print_revoked(id: i64, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&Revoked { id, revoked: true })
    } else {
        println!("revoked: {id}");
        Ok(())
    }
}

async fn list(store: &dyn Store, owner: Option<TenantId>, json: bool) -> anyhow::Result<()> {
    let items: Vec<ApiKeyJson> = store
        .list_api_keys(owner)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    if json {
        return print_json(&Items { items });
    }
    println!(
        "{:>8}  {:<20}  {:<24}  {:<24}  {:<24}  LABEL",
        "ID", "PREFIX", "CREATED", "LAST_USED", "REVOKED"
    );
    for k in items {
        println!(
            "{:>8}  {:<20}  {:<24}  {:<24}  {:<24}  {}",
            k.id,
            k.prefix,
            k.created_at,
            k.last_used_at.as_deref().unwrap_or("-"),
            k.revoked_at.as_deref().unwrap_or("-"),
            k.label.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

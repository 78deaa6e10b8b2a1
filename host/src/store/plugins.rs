//! [`PluginStore`]: versions of flow plugins (owned by a tenant) and dialer
//! adapters (owned by the platform: `owner = None`).
//!
//! Versions are numbered 1, 2, 3… per (kind, owner, name), allocated in the
//! insert itself; the database keeps at most one active version per name
//! (partial unique index), so activation is "deactivate all, activate one" in
//! one transaction. Validation (is it a component of the right world?) happens
//! before insert, in the runtime.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use super::StoreResult;
use crate::model::TenantId;
use crate::runtime::PluginKind;

/// Channel on which PostgreSQL announces an activation (payload
/// `kind:owner:name:version`, owner `0` for the platform). Workers LISTEN to
/// hot-swap adapters; SQLite announces in-process (see
/// [`PluginStore::activation_notices`]) and workers also poll.
pub const PLUGIN_ACTIVATED_CHANNEL: &str = "dialplane_plugin_activated";

/// Longest plugin name.
pub const PLUGIN_NAME_MAX: usize = 64;

/// One stored version (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginVersion {
    pub id: i64,
    pub kind: PluginKind,
    /// `None` = the platform's (dialer adapters).
    #[serde(rename = "business_id")]
    pub tenant: Option<TenantId>,
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub size: i64,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A version with its component bytes.
#[derive(Debug, Clone)]
pub struct PluginBlob {
    pub version: PluginVersion,
    pub bytes: Vec<u8>,
}

/// Names are `[a-z0-9][a-z0-9-_.]*`, at most [`PLUGIN_NAME_MAX`]: they appear in URLs and logs.
pub fn check_plugin_name(name: &str) -> Result<(), super::StoreError> {
    let ok = !name.is_empty()
        && name.len() <= PLUGIN_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(super::StoreError::invalid(
            "name",
            "1 to 64 characters from a-z, 0-9, '-', '_', '.', starting with a letter or digit",
        ))
    }
}

#[async_trait]
pub trait PluginStore {
    /// Stores a new version (next number for this kind/owner/name), inactive.
    async fn insert_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        bytes: &[u8],
    ) -> StoreResult<PluginVersion>;
    /// Newest first. Unknown name (or another owner's) → empty.
    async fn list_plugin_versions(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
    ) -> StoreResult<Vec<PluginVersion>>;
    /// One row per name: its newest version (for listings).
    async fn list_plugins(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
    ) -> StoreResult<Vec<PluginVersion>>;
    async fn get_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        version: i64,
    ) -> StoreResult<PluginBlob>;
    /// The active version; NotFound if none is active.
    async fn get_active_plugin(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
    ) -> StoreResult<PluginBlob>;
    /// The active version of every plugin of this kind and owner, without
    /// bytes: what a worker polls to notice a hot swap.
    async fn active_plugin_versions(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
    ) -> StoreResult<Vec<PluginVersion>>;
    /// A notice after each activation committed: from every host on
    /// PostgreSQL (`LISTEN`), from this process on SQLite. Notices can be
    /// missed (a reconnect, another SQLite process), so listeners also poll.
    async fn activation_notices(&self) -> StoreResult<BoxStream<'static, ()>>;
    /// Makes `version` the only active one (rollback = activate an older one).
    async fn activate_plugin_version(
        &self,
        kind: PluginKind,
        owner: Option<TenantId>,
        name: &str,
        version: i64,
    ) -> StoreResult<PluginVersion>;
}

/// `flow` / `dialer` as stored in the `kind` column.
pub fn plugin_kind_from_str(s: &str) -> Result<PluginKind, super::StoreError> {
    match s {
        "flow" => Ok(PluginKind::Flow),
        "dialer" => Ok(PluginKind::Dialer),
        other => Err(super::StoreError::Other(format!(
            "unknown plugin kind {other:?} in the database"
        ))),
    }
}

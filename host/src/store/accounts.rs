//! [`AccountStore`]: tenants and their API keys (the accounts the API authenticates; not the plugins' `tenant-store`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::{ApiKeyId, TenantId};

/// A business on the platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Who an API key speaks for. The API takes the tenant from here, never from
/// the URL or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Tenant { tenant: TenantId, key_id: ApiKeyId },
    Admin { key_id: ApiKeyId },
}

impl Principal {
    pub fn key_id(&self) -> ApiKeyId {
        match *self {
            Principal::Tenant { key_id, .. } | Principal::Admin { key_id } => key_id,
        }
    }
}

/// A key just created: the plaintext exists only in this value.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: ApiKeyId,
    pub plaintext: String,
    pub prefix: String,
    pub label: Option<String>,
}

/// A key as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    /// `None` = a platform (admin) key.
    #[serde(rename = "business_id")]
    pub tenant: Option<TenantId>,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Approximate: written at most once per
    /// [`crate::config::API_KEY_LAST_USED_WRITE_INTERVAL`].
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The unique index on tenant names (case-insensitive, trimmed): a
/// [`super::StoreError::Conflict`] naming it means the name is taken.
pub const TENANT_NAME_CONSTRAINT: &str = "businesses_name_key";

/// What a revoke guards against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoke {
    /// Any key of the owner (an operator's rescue).
    Any,
    /// Refuse (Conflict) when it is the owner's last active key, so an owner
    /// revoking through the API cannot lock itself out.
    KeepOneActive,
}

/// The conflict [`Revoke::KeepOneActive`] reports.
pub const LAST_ACTIVE_KEY_CONSTRAINT: &str = "last_active_key";

/// The conflict of rotating a revoked key.
pub const KEY_REVOKED_CONSTRAINT: &str = "key_revoked";

#[async_trait]
pub trait AccountStore {
    /// Creates a tenant; returns its id. A name already taken (compared
    /// case-insensitively, trimmed) → Conflict [`TENANT_NAME_CONSTRAINT`].
    async fn create_tenant(&self, name: &str) -> StoreResult<TenantId>;
    /// Creates a tenant and its first API key in one transaction, so a
    /// failure leaves neither (a tenant nobody can use is a half-written state).
    async fn create_tenant_with_key(&self, name: &str) -> StoreResult<(TenantId, CreatedKey)>;
    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant>;
    /// Every tenant, by id (platform work only).
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Creates a key for a tenant (`Some`) or the platform (`None`: admin key).
    /// Only sha256 of the plaintext is stored.
    async fn create_api_key(&self, tenant: Option<TenantId>) -> StoreResult<CreatedKey> {
        self.create_labelled_api_key(tenant, None).await
    }
    /// [`Self::create_api_key`] with a label (1 to
    /// [`crate::config::API_KEY_LABEL_MAX`] characters, else Invalid `label`).
    async fn create_labelled_api_key(
        &self,
        tenant: Option<TenantId>,
        label: Option<&str>,
    ) -> StoreResult<CreatedKey>;
    /// Unknown or revoked key → NotFound (the API answers 401). Records the
    /// use when the last record is older than
    /// [`crate::config::API_KEY_LAST_USED_WRITE_INTERVAL`].
    async fn resolve_api_key(&self, plaintext: &str) -> StoreResult<Principal>;
    /// Revokes a key of that owner (`None` = platform). Another owner's key → NotFound.
    /// Revoking a revoked key is harmless.
    async fn revoke_api_key(&self, tenant: Option<TenantId>, key_id: ApiKeyId) -> StoreResult<()> {
        self.revoke_api_key_guarded(tenant, key_id, Revoke::Any)
            .await
    }
    /// [`Self::revoke_api_key`] under a [`Revoke`] rule, atomically.
    async fn revoke_api_key_guarded(
        &self,
        tenant: Option<TenantId>,
        key_id: ApiKeyId,
        rule: Revoke,
    ) -> StoreResult<()>;
    /// In one transaction: a new key of the same owner and label, and the old
    /// one revoked. Another owner's key → NotFound; a revoked one → Conflict
    /// [`KEY_REVOKED_CONSTRAINT`].
    async fn rotate_api_key(
        &self,
        tenant: Option<TenantId>,
        key_id: ApiKeyId,
    ) -> StoreResult<CreatedKey>;
    async fn list_api_keys(&self, tenant: Option<TenantId>) -> StoreResult<Vec<ApiKeyInfo>>;
}

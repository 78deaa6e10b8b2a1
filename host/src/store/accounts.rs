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
}

/// A key as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    /// `None` = a platform (admin) key.
    #[serde(rename = "business_id")]
    pub tenant: Option<TenantId>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AccountStore {
    /// Creates a tenant; returns its id.
    async fn create_tenant(&self, name: &str) -> StoreResult<TenantId>;
    async fn get_tenant(&self, tenant: TenantId) -> StoreResult<Tenant>;
    /// Creates a key for a tenant (`Some`) or the platform (`None`: admin key).
    /// Only sha256 of the plaintext is stored.
    async fn create_api_key(&self, tenant: Option<TenantId>) -> StoreResult<CreatedKey>;
    /// Unknown or revoked key → NotFound (the API answers 401).
    async fn resolve_api_key(&self, plaintext: &str) -> StoreResult<Principal>;
    /// Revokes a key of that owner (`None` = platform). Another owner's key → NotFound.
    async fn revoke_api_key(&self, tenant: Option<TenantId>, key_id: ApiKeyId) -> StoreResult<()>;
    async fn list_api_keys(&self, tenant: Option<TenantId>) -> StoreResult<Vec<ApiKeyInfo>>;
}

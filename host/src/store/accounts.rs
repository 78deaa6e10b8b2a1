//! [`AccountStore`]: tenants and their API keys (the accounts the API authenticates; not the plugins' `tenant-store`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// A business on the platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Who an API key speaks for. The API takes the tenant from here, never from
/// the URL or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Tenant { business_id: i64, key_id: i64 },
    Admin { key_id: i64 },
}

impl Principal {
    pub fn key_id(&self) -> i64 {
        match *self {
            Principal::Tenant { key_id, .. } | Principal::Admin { key_id } => key_id,
        }
    }
}

/// A key just created: the plaintext exists only in this value.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: i64,
    pub plaintext: String,
    pub prefix: String,
}

/// A key as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub business_id: Option<i64>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AccountStore {
    /// Creates a tenant; returns its id.
    async fn create_tenant(&self, name: &str) -> StoreResult<i64>;
    async fn get_tenant(&self, business_id: i64) -> StoreResult<Tenant>;
    /// Creates a key for a tenant (`Some`) or the platform (`None`: admin key).
    /// Only sha256 of the plaintext is stored.
    async fn create_api_key(&self, business_id: Option<i64>) -> StoreResult<CreatedKey>;
    /// Unknown or revoked key → NotFound (the API answers 401).
    async fn resolve_api_key(&self, plaintext: &str) -> StoreResult<Principal>;
    /// Revokes a key of that owner (`None` = platform). Another owner's key → NotFound.
    async fn revoke_api_key(&self, business_id: Option<i64>, key_id: i64) -> StoreResult<()>;
    async fn list_api_keys(&self, business_id: Option<i64>) -> StoreResult<Vec<ApiKeyInfo>>;
}

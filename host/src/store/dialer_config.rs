//! [`DialerConfigStore`]: a tenant's per-dialer configuration (provider
//! account, token) and the callback tokens that identify tenant + dialer in
//! provider callback URLs.
//!
//! Configurations are **write-only**: the API can set them and list which
//! dialers are configured, but only [`DialerConfigStore::dialer_config_for_worker`]
//! returns values, and only the worker (handing them to the adapter) calls it.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::TenantId;
use crate::runtime::Properties;

/// What a callback token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTarget {
    pub tenant: TenantId,
    pub dialer: String,
}

#[async_trait]
pub trait DialerConfigStore {
    /// Creates or replaces the configuration of `dialer` for the tenant.
    async fn set_dialer_config(
        &self,
        tenant: TenantId,
        dialer: &str,
        config: &Properties,
    ) -> StoreResult<()>;
    /// Names of the configured dialers (no values).
    async fn list_dialer_configs(&self, tenant: TenantId) -> StoreResult<Vec<String>>;
    /// WORKER PATH ONLY: the values, to pass to the adapter. None if unset.
    async fn dialer_config_for_worker(
        &self,
        tenant: TenantId,
        dialer: &str,
    ) -> StoreResult<Option<Properties>>;
    /// A new unguessable token (plaintext returned once; sha256 stored).
    async fn create_callback_token(&self, tenant: TenantId, dialer: &str) -> StoreResult<String>;
    /// Unknown token → NotFound.
    async fn resolve_callback_token(&self, token: &str) -> StoreResult<CallbackTarget>;
}

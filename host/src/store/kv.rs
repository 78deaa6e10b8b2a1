//! [`KvStore`]: the plugins' `tenant-store`, keyed by (tenant, namespace,
//! key); and [`StoreKv`], the adapter that backs the runtime's
//! [`crate::runtime::TenantKv`] with it so plugin state persists.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::model::TenantId;

/// One entry, for read-only inspection through the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KvEntry {
    pub namespace: String,
    pub key: String,
    pub value: Vec<u8>,
}

#[async_trait]
pub trait KvStore {
    async fn kv_get(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
    ) -> StoreResult<Option<Vec<u8>>>;
    async fn kv_set(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        value: &[u8],
    ) -> StoreResult<()>;
    /// Writes `value` only if the stored value is `expected` (`None`: only
    /// if absent), in one statement; `false` when it was not.
    async fn kv_compare_and_swap(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> StoreResult<bool>;
    /// Deleting a missing key is not an error.
    async fn kv_delete(&self, tenant: TenantId, namespace: &str, key: &str) -> StoreResult<()>;
    /// Entries ordered by (namespace, key); `after` is not used (offset-free
    /// listing by key: pass the last key seen in `after_key`).
    async fn kv_list(
        &self,
        tenant: TenantId,
        namespace: Option<&str>,
        after_key: Option<(&str, &str)>,
        page: Page,
    ) -> StoreResult<Vec<KvEntry>>;
}

/// [`crate::runtime::TenantKv`] on top of a [`KvStore`] (the API's store or
/// a worker's). The runtime passes the tenant from the instance's scope,
/// never from the guest.
#[derive(Clone)]
pub struct StoreKv(pub Arc<dyn KvStore + Send + Sync>);

#[async_trait]
impl crate::runtime::TenantKv for StoreKv {
    async fn get(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.0.kv_get(tenant, namespace, key).await?)
    }
    async fn set(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        value: &[u8],
    ) -> anyhow::Result<()> {
        Ok(self.0.kv_set(tenant, namespace, key, value).await?)
    }
    async fn delete(&self, tenant: TenantId, namespace: &str, key: &str) -> anyhow::Result<()> {
        Ok(self.0.kv_delete(tenant, namespace, key).await?)
    }
    async fn compare_and_swap(
        &self,
        tenant: TenantId,
        namespace: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> anyhow::Result<bool> {
        Ok(self
            .0
            .kv_compare_and_swap(tenant, namespace, key, expected, value)
            .await?)
    }
}

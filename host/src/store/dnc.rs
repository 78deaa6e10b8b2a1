//! [`DncStore`]: a tenant's do-not-call list (phones in E.164, validated by the caller).

use async_trait::async_trait;

use super::StoreResult;
use crate::model::TenantId;

#[async_trait]
pub trait DncStore {
    /// Idempotent; returns true if the phone was not listed before.
    async fn dnc_add(&self, tenant: TenantId, phone: &str) -> StoreResult<bool>;
    /// Returns true if the phone was listed.
    async fn dnc_remove(&self, tenant: TenantId, phone: &str) -> StoreResult<bool>;
    async fn dnc_contains(&self, tenant: TenantId, phone: &str) -> StoreResult<bool>;
    /// Phones in order, after `after` (keyset paging), at most `limit`.
    async fn dnc_list(
        &self,
        tenant: TenantId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
}

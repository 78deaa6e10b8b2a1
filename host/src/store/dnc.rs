//! [`DncStore`]: a tenant's do-not-call list (phones in E.164, validated by the caller).

use async_trait::async_trait;

use super::StoreResult;

#[async_trait]
pub trait DncStore {
    /// Idempotent; returns true if the phone was not listed before.
    async fn dnc_add(&self, business_id: i64, phone: &str) -> StoreResult<bool>;
    /// Returns true if the phone was listed.
    async fn dnc_remove(&self, business_id: i64, phone: &str) -> StoreResult<bool>;
    async fn dnc_contains(&self, business_id: i64, phone: &str) -> StoreResult<bool>;
    /// Phones in order, after `after` (keyset paging), at most `limit`.
    async fn dnc_list(
        &self,
        business_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
}

//! [`AuditStore`]: who did what, per tenant and for the platform.
//!
//! A tenant's log holds rows of that tenant (column `business_id`); the
//! platform's log holds rows without one (`business_id = NULL`). A security
//! event (e.g. a cross-tenant access) is appended to both: the API writes one
//! row for the owner of the resource and one for the platform.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, StoreResult};
use crate::model::{ApiKeyId, TenantId};

/// A row to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `None` = the platform's log.
    pub tenant: Option<TenantId>,
    pub actor_key_id: Option<ApiKeyId>,
    pub action: String,
    pub detail: serde_json::Value,
    pub security: bool,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    /// `None` = the platform's log.
    #[serde(rename = "business_id")]
    pub tenant: Option<TenantId>,
    pub actor_key_id: Option<ApiKeyId>,
    pub action: String,
    pub detail: serde_json::Value,
    pub security: bool,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait AuditStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<i64>;
    /// One log (`None` = the platform's), oldest first, keyset-paged by id.
    async fn list_audit(
        &self,
        tenant: Option<TenantId>,
        page: Page,
    ) -> StoreResult<Vec<AuditRecord>>;
}

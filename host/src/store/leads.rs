//! [`LeadStore`]: a tenant's people to call. Values arrive validated (E.164
//! phone, IANA time zone) by the lead parser; the store enforces identity
//! (`UNIQUE (business_id, external_id)`) and tenancy.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, StoreError, StoreResult};
use crate::model::{LeadId, TenantId};

/// Status of a lead nobody has touched yet.
pub const LEAD_STATUS_NEW: &str = "new";

/// One lead to create or update, keyed by the tenant's own id.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct LeadInput {
    pub external_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// `None` keeps the current status (new leads: [`LEAD_STATUS_NEW`]).
    pub status: Option<String>,
    /// Replaces the lead's tags.
    pub tags: Vec<String>,
}

/// A stored lead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeadRecord {
    pub id: LeadId,
    #[serde(rename = "business_id")]
    pub tenant: TenantId,
    pub external_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub status: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LeadRecord {
    /// The lead as plugins see it (`id` is the stored id, as a string).
    pub fn to_plugin_lead(&self) -> crate::runtime::Lead {
        crate::runtime::Lead {
            id: self.id.to_string(),
            phone: self.phone.clone(),
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// What an upsert did to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", content = "id", rename_all = "snake_case")]
pub enum LeadUpsert {
    Created(LeadId),
    Updated(LeadId),
}

/// Filters of [`LeadStore::list_leads`]; `None` = any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadFilter {
    pub tag: Option<String>,
    pub status: Option<String>,
}

/// Longest external id, name, status or tag the store accepts.
pub const LEAD_TEXT_MAX: usize = 256;

/// Checks what the store itself relies on (non-empty ids, sane lengths); the
/// phone/time-zone rules belong to the lead parser.
pub fn check_lead_input(l: &LeadInput) -> Result<(), StoreError> {
    if l.external_id.trim().is_empty() {
        return Err(StoreError::invalid("external_id", "must not be empty"));
    }
    if l.phone.trim().is_empty() {
        return Err(StoreError::invalid("phone", "must not be empty"));
    }
    let long = |s: &str| s.chars().count() > LEAD_TEXT_MAX;
    if long(&l.external_id) {
        return Err(StoreError::invalid(
            "external_id",
            "longer than 256 characters",
        ));
    }
    if l.name.as_deref().is_some_and(long) {
        return Err(StoreError::invalid("name", "longer than 256 characters"));
    }
    if l.status.as_deref().is_some_and(|s| s.is_empty() || long(s)) {
        return Err(StoreError::invalid("status", "must be 1 to 256 characters"));
    }
    if l.tags.iter().any(|t| t.is_empty() || long(t)) {
        return Err(StoreError::invalid(
            "tags",
            "each tag must be 1 to 256 characters",
        ));
    }
    Ok(())
}

#[async_trait]
pub trait LeadStore {
    /// Creates or updates each lead by `(tenant, external_id)`, in one
    /// transaction. Rows failing [`check_lead_input`] get their own error and
    /// are skipped; the others are stored. The outer error is a database failure
    /// (nothing stored).
    async fn upsert_leads(
        &self,
        tenant: TenantId,
        leads: &[LeadInput],
    ) -> StoreResult<Vec<Result<LeadUpsert, StoreError>>>;
    /// Another tenant's lead → NotFound.
    async fn get_lead(&self, tenant: TenantId, lead: LeadId) -> StoreResult<LeadRecord>;
    async fn get_lead_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> StoreResult<LeadRecord>;
    /// Leads in id order, keyset-paged.
    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        page: Page,
    ) -> StoreResult<Vec<LeadRecord>>;
    /// A flow's follow-up: set the status (if given) and add tags (kept unique).
    async fn update_lead_outcome(
        &self,
        tenant: TenantId,
        lead: LeadId,
        status: Option<&str>,
        add_tags: &[String],
    ) -> StoreResult<()>;
}

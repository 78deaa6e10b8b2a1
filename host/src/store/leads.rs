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

/// Why a lead status or tag cannot be stored (it must be 1 to
/// [`LEAD_TEXT_MAX`] characters), or `None`.
pub fn lead_label_problem(s: &str) -> Option<&'static str> {
    (s.is_empty() || s.chars().count() > LEAD_TEXT_MAX).then_some("must be 1 to 256 characters")
}

/// Adds `add` to `tags`: each tag once, existing ones first, the new ones
/// in the order given.
pub fn merge_tags(tags: &mut Vec<String>, add: &[String]) {
    for t in add {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
}

/// What a flow's follow-up does to its lead: a new status (if any) and tags
/// to add to the lead's own ([`merge_tags`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LeadUpdate {
    pub status: Option<String>,
    pub add_tags: Vec<String>,
}

impl LeadUpdate {
    /// The part of a follow-up's `lead-status` and `tags` the store accepts
    /// (`None` when that is nothing), and a sentence naming what it refused.
    pub fn checked(status: Option<&str>, tags: &[String]) -> (Option<LeadUpdate>, Option<String>) {
        let mut refused = Vec::new();
        let status = status.and_then(|s| match lead_label_problem(s) {
            Some(why) => {
                refused.push(format!("lead-status {} {why}", shown(s)));
                None
            }
            None => Some(s.to_string()),
        });
        let mut add_tags = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            match lead_label_problem(t) {
                Some(why) => refused.push(format!("tags[{i}] {} {why}", shown(t))),
                None => merge_tags(&mut add_tags, std::slice::from_ref(t)),
            }
        }
        let update =
            (status.is_some() || !add_tags.is_empty()).then_some(LeadUpdate { status, add_tags });
        let refused =
            (!refused.is_empty()).then(|| format!("lead update refused: {}", refused.join("; ")));
        (update, refused)
    }
}

/// A label in a refusal: quoted when short, else its length only (a note
/// must stay readable).
fn shown(s: &str) -> String {
    const SHOWN_MAX: usize = 40;
    let n = s.chars().count();
    if n <= SHOWN_MAX {
        format!("{s:?}")
    } else {
        format!("({n} characters)")
    }
}

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
    if let Some(why) = l.status.as_deref().and_then(lead_label_problem) {
        return Err(StoreError::invalid("status", why));
    }
    if l.tags.iter().any(|t| lead_label_problem(t).is_some()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn merged_tags_keep_the_old_ones_first_and_each_once() {
        let mut t = tags(&["vip", "spring"]);
        merge_tags(&mut t, &tags(&["busy", "vip", "busy", "late"]));
        assert_eq!(t, tags(&["vip", "spring", "busy", "late"]));
    }

    #[test]
    fn a_follow_up_keeps_what_the_store_accepts_and_names_the_rest() {
        let long = "x".repeat(LEAD_TEXT_MAX + 1);
        let (u, refused) =
            LeadUpdate::checked(Some(""), &tags(&["ok", "", "ok", long.as_str(), "fine"]));
        assert_eq!(
            u,
            Some(LeadUpdate {
                status: None,
                add_tags: tags(&["ok", "fine"]),
            })
        );
        assert_eq!(
            refused.as_deref(),
            Some(
                "lead update refused: lead-status \"\" must be 1 to 256 characters; \
                 tags[1] \"\" must be 1 to 256 characters; \
                 tags[3] (257 characters) must be 1 to 256 characters"
            )
        );
        assert_eq!(LeadUpdate::checked(None, &[]), (None, None));
        let (u, refused) = LeadUpdate::checked(Some("contacted"), &[]);
        assert_eq!(u.unwrap().status.as_deref(), Some("contacted"));
        assert_eq!(refused, None);
    }
}

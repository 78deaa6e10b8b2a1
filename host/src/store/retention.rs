//! Retention and erasure: [`RetentionStore`] (the API's side: a tenant's
//! retention setting, erasing a person's data) and [`CleanerStore`] (the
//! workers' side: deleting finished runs' jobs and attempts in batches).
//!
//! What erasure touches, for one lead of one tenant (in one transaction):
//! - the lead row becomes a tombstone: phone empty, name, time zone and
//!   attributes cleared, external id `erased-<id>`, `erased_at` set; status
//!   and tags (the tenant's own labels) stay, and so do its jobs, so run
//!   counts hold;
//! - its queued jobs are skipped (`lead erased`), counted by the run's
//!   cursor like a cancelled job; marking a job `dialing` requires `queued`,
//!   so an erased lead is never dialed afterwards;
//! - its attempts lose their call report and note, and the phone is replaced
//!   by `[erased]` in compliance records and job reasons (the DNC and time
//!   zone rules name the number); outcomes and states stay;
//! - held provider events (`early_call_events`) of its calls are deleted;
//! - tenant-store entries in a platform dialer's namespace (`dialer:*`, the
//!   sim dialer's and http-dialer's ledgers) whose value carries the phone
//!   are deleted; a flow's own namespaces are the tenant's data, untouched;
//! - the phone is replaced by `[erased]` in the tenant's audit details,
//!   unless the number is on the do-not-call list: that list (and its audit
//!   records) is a suppression list kept on purpose, so the number is never
//!   called again.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{LeadId, RunId, TenantId};

/// Shortest retention a tenant may set, in days (0: purge as soon as the
/// cleaner sees a finished run).
pub const RETENTION_DAYS_MIN: u32 = 0;
/// Longest retention a tenant may set, in days (ten years).
pub const RETENTION_DAYS_MAX: u32 = 3650;
/// What replaces a phone number where text that carried it is kept.
pub const ERASED_MARK: &str = "[erased]";
/// Status and reason of a queued job whose lead was erased.
pub const ERASED_JOB_REASON: &str = "lead erased";

/// What one [`RetentionStore::erase_lead`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeadErasure {
    pub lead: LeadId,
    /// The lead was erased before: nothing was done.
    pub already_erased: bool,
    /// Queued jobs skipped so they are never dialed.
    pub jobs_skipped: u64,
    pub attempts_scrubbed: u64,
    pub held_events_deleted: u64,
    pub tenant_store_entries_deleted: u64,
}

/// What one [`CleanerStore::purge_batch`] did (all zero and `run: None`
/// when no finished run is past its retention).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeBatch {
    pub run: Option<RunId>,
    pub attempts: u64,
    pub jobs: u64,
    pub held_events: u64,
    /// The run's last rows went in this batch (`purged_at` is set).
    pub run_purged: bool,
}

/// The API's side.
#[async_trait]
pub trait RetentionStore {
    /// The tenant's own retention in days (`None`: the platform default).
    async fn retention_days(&self, tenant: TenantId) -> StoreResult<Option<u32>>;
    /// Sets (or with `None` clears) the tenant's retention. Out of
    /// [`RETENTION_DAYS_MIN`]..=[`RETENTION_DAYS_MAX`] → `Invalid { days }`.
    async fn set_retention_days(&self, tenant: TenantId, days: Option<u32>) -> StoreResult<()>;
    /// Erases the lead's personal data everywhere (see the module doc), in one
    /// transaction. Another tenant's lead → NotFound; an erased one →
    /// `already_erased`; a lead with a call in flight (a job `dialing`) →
    /// `Conflict { constraint: "dialing" }`, nothing changed.
    async fn erase_lead(
        &self,
        tenant: TenantId,
        lead: LeadId,
        now_ms: i64,
    ) -> StoreResult<LeadErasure>;
    /// The tenant's leads (not erased) with this phone, in id order.
    async fn leads_with_phone(&self, tenant: TenantId, phone: &str) -> StoreResult<Vec<LeadId>>;
}

/// The workers' side (cross-tenant, as the schema owner).
#[async_trait]
pub trait CleanerStore {
    /// One transaction: takes one finished run past its tenant's retention
    /// (`default_days` unless the tenant set its own) that no other cleaner
    /// holds, freezes its job counts onto the run (first time), and deletes
    /// at most `limit` of its rows: attempts (with their held events) first,
    /// then jobs. Marks the run purged when a batch comes back short.
    async fn purge_batch(
        &self,
        default_days: u32,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<PurgeBatch>;
    /// Deletes at most `limit` provider events held for calls never
    /// recorded, received longer ago than their tenant's retention; how many.
    async fn purge_held_events(
        &self,
        default_days: u32,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<u64>;
}

/// Validates a retention the tenant asks for.
pub fn check_retention_days(days: i64) -> StoreResult<u32> {
    if (RETENTION_DAYS_MIN as i64..=RETENTION_DAYS_MAX as i64).contains(&days) {
        Ok(days as u32)
    } else {
        Err(super::StoreError::invalid(
            "days",
            format!(
                "must be a whole number of days from {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}, got {days}"
            ),
        ))
    }
}

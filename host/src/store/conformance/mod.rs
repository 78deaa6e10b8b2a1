//! The conformance suite: the behaviour every [`Store`] driver must have.
//!
//! One `pub async fn` per case, each independent (it creates its own tenants
//! and uses fresh plugin names), so cases can share one database. A driver's
//! test file stamps them out as `#[tokio::test]`s with
//! [`crate::store_conformance_tests!`], or calls [`run_all`].
//!
//! Raw-row checks (e.g. "the key's plaintext is not stored") need SQL access
//! and live in `tests/tests/store_conformance.rs`. This file holds the macro
//! and the fixtures; the cases, by concern:
//!
//! - [`tenants`]: tenants and API keys.
//! - [`leads`]: upsert, validation, isolation, listing, outcomes.
//! - [`plugins`]: versions, activation, isolation between owners.
//! - [`tenant_data`]: the key-value store, the do-not-call list, constraint
//!   errors.
//! - [`audit_and_dialers`]: the audit log, dialer configurations, callback
//!   tokens.

pub mod audit_and_dialers;
pub mod leads;
pub mod plugins;
pub mod tenant_data;
pub mod tenants;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::model::TenantId;
use crate::runtime::{PluginKind, TenantKv};

pub use audit_and_dialers::*;
pub use leads::*;
pub use plugins::*;
pub use tenant_data::*;
pub use tenants::*;

/// Runs every case, in order, on one store.
pub async fn run_all(store: Arc<dyn Store>) {
    macro_rules! all {
        ($($case:ident),*) => { $( $case(store.clone()).await; )* };
    }
    all!(
        tenants_and_keys,
        revoked_key_is_rejected,
        tenant_names_are_unique,
        keys_have_labels_last_use_and_rotate,
        revoking_the_last_active_key_can_be_refused,
        leads_upsert_updates_rather_than_duplicates,
        leads_bad_rows_are_reported_and_good_rows_stored,
        leads_are_isolated_between_tenants,
        leads_list_filters_and_pages,
        lead_outcome_sets_status_and_merges_tags,
        plugin_versions_and_single_active,
        plugins_are_isolated_between_owners,
        plugin_concurrent_uploads_get_distinct_versions,
        plugin_activation_is_announced_and_listed,
        kv_is_isolated_between_tenants,
        store_kv_backs_the_runtime_tenant_kv,
        kv_compare_and_swap_and_concurrent_increments,
        dnc_add_remove_contains_list,
        audit_logs_are_per_tenant_and_platform,
        dialer_config_is_write_only_and_per_tenant,
        callback_tokens_resolve_to_tenant_and_dialer,
        constraint_violations_are_conflicts
    );
}

/// Stamps out one `#[tokio::test]` per conformance case. `$open` is an async
/// fn returning `(Arc<dyn Store>, guard)`; the guard (e.g. a temp dir) lives
/// until the case ends.
#[macro_export]
macro_rules! store_conformance_tests {
    ($open:path) => {
        $crate::store_conformance_tests!($open;
            tenants_and_keys,
            revoked_key_is_rejected,
            tenant_names_are_unique,
            keys_have_labels_last_use_and_rotate,
            revoking_the_last_active_key_can_be_refused,
            leads_upsert_updates_rather_than_duplicates,
            leads_bad_rows_are_reported_and_good_rows_stored,
            leads_are_isolated_between_tenants,
            leads_list_filters_and_pages,
            lead_outcome_sets_status_and_merges_tags,
            plugin_versions_and_single_active,
            plugins_are_isolated_between_owners,
            plugin_concurrent_uploads_get_distinct_versions,
        plugin_activation_is_announced_and_listed,
            kv_is_isolated_between_tenants,
            store_kv_backs_the_runtime_tenant_kv,
            kv_compare_and_swap_and_concurrent_increments,
            dnc_add_remove_contains_list,
            audit_logs_are_per_tenant_and_platform,
            dialer_config_is_write_only_and_per_tenant,
            callback_tokens_resolve_to_tenant_and_dialer,
            constraint_violations_are_conflicts
        );
    };
    ($open:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $open().await;
                $crate::store::conformance::$case(store).await;
            }
        )+
    };
}

fn unique(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}-{:08x}", rand::rng().next_u32())
}

async fn tenant(store: &Arc<dyn Store>) -> TenantId {
    store
        .create_tenant(&unique("acme"))
        .await
        .expect("create tenant")
}

fn lead(external_id: &str, phone: &str) -> LeadInput {
    LeadInput {
        external_id: external_id.into(),
        phone: phone.into(),
        name: Some(format!("Lead {external_id}")),
        timezone: Some("Europe/Paris".into()),
        attributes: BTreeMap::from([("plan".to_string(), "gold".to_string())]),
        status: None,
        tags: vec!["spring".into()],
    }
}

fn assert_not_found<T: std::fmt::Debug>(r: StoreResult<T>, what: &str) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

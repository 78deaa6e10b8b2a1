//! The conformance suite: the behaviour every [`Store`] driver must have.
//!
//! One `pub async fn` per case, each independent (it creates its own tenants
//! and uses fresh plugin names), so cases can share one database. A driver's
//! test file stamps them out as `#[tokio::test]`s with
//! [`crate::store_conformance_tests!`], or calls [`run_all`].
//!
//! Raw-row checks (e.g. "the key's plaintext is not stored") need SQL access
//! and live in `tests/tests/store_conformance.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::runtime::{PluginKind, TenantKv};

/// Runs every case, in order, on one store.
pub async fn run_all(store: Arc<dyn Store>) {
    macro_rules! all {
        ($($case:ident),*) => { $( $case(store.clone()).await; )* };
    }
    all!(
        tenants_and_keys,
        revoked_key_is_rejected,
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

async fn tenant(store: &Arc<dyn Store>) -> i64 {
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

pub async fn tenants_and_keys(store: Arc<dyn Store>) {
    let name = unique("Tenant");
    let id = store.create_tenant(&name).await.unwrap();
    let t = store.get_tenant(id).await.unwrap();
    assert_eq!((t.id, t.name.as_str()), (id, name.as_str()));
    assert_not_found(store.get_tenant(id + 1_000_000).await, "unknown tenant");
    assert!(matches!(
        store.create_tenant("  ").await,
        Err(StoreError::Invalid { ref field, .. }) if field == "name"
    ));

    let key = store.create_api_key(Some(id)).await.unwrap();
    assert!(key.plaintext.starts_with(&key.prefix));
    assert!(
        key.plaintext.len() > key.prefix.len() + 32,
        "prefix must not reveal the key"
    );
    assert_eq!(
        store.resolve_api_key(&key.plaintext).await.unwrap(),
        Principal::Tenant {
            business_id: id,
            key_id: key.id
        }
    );
    let admin = store.create_api_key(None).await.unwrap();
    assert_eq!(
        store.resolve_api_key(&admin.plaintext).await.unwrap(),
        Principal::Admin { key_id: admin.id }
    );
    assert_not_found(store.resolve_api_key("dp_key_0000").await, "unknown key");
    assert_not_found(store.resolve_api_key("").await, "empty key");
    // Listing never shows the secret.
    let keys = store.list_api_keys(Some(id)).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].prefix, key.prefix);
    assert_not_found(
        store.create_api_key(Some(id + 1_000_000)).await,
        "key for unknown tenant",
    );
}

pub async fn revoked_key_is_rejected(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let key = store.create_api_key(Some(a)).await.unwrap();
    // Another tenant cannot revoke it (and learns nothing: NotFound).
    assert_not_found(
        store.revoke_api_key(Some(b), key.id).await,
        "cross-tenant revoke",
    );
    assert_not_found(
        store.revoke_api_key(None, key.id).await,
        "platform revoke of tenant key",
    );
    assert!(store.resolve_api_key(&key.plaintext).await.is_ok());
    store.revoke_api_key(Some(a), key.id).await.unwrap();
    assert_not_found(store.resolve_api_key(&key.plaintext).await, "revoked key");
    // Revoking twice is harmless; the key stays revoked.
    store.revoke_api_key(Some(a), key.id).await.unwrap();
    let listed = store.list_api_keys(Some(a)).await.unwrap();
    assert!(listed[0].revoked_at.is_some());
}

pub async fn leads_upsert_updates_rather_than_duplicates(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let first = store
        .upsert_leads(b, &[lead("x1", "+33100000001"), lead("x2", "+33100000002")])
        .await
        .unwrap();
    let id1 = match first[0] {
        Ok(LeadUpsert::Created(id)) => id,
        ref o => panic!("x1 should be created: {o:?}"),
    };
    assert!(matches!(first[1], Ok(LeadUpsert::Created(_))));

    let mut changed = lead("x1", "+33100000009");
    changed.name = None;
    changed.tags = vec!["autumn".into()];
    changed.attributes = BTreeMap::from([("plan".to_string(), "silver".to_string())]);
    let second = store
        .upsert_leads(b, &[changed, lead("x3", "+33100000003")])
        .await
        .unwrap();
    assert!(
        matches!(second[0], Ok(LeadUpsert::Updated(id)) if id == id1),
        "{second:?}"
    );
    assert!(matches!(second[1], Ok(LeadUpsert::Created(_))));

    let all = store
        .list_leads(b, &LeadFilter::default(), Page::first(100))
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        3,
        "a duplicate external id must update, not add a row"
    );
    let x1 = store.get_lead(b, id1).await.unwrap();
    assert_eq!(x1.phone, "+33100000009");
    assert_eq!(x1.name, None);
    assert_eq!(x1.tags, vec!["autumn".to_string()]);
    assert_eq!(
        x1.attributes.get("plan").map(String::as_str),
        Some("silver")
    );
    assert_eq!(
        x1.status, LEAD_STATUS_NEW,
        "status kept when the input has none"
    );
    assert_eq!(
        store.get_lead_by_external_id(b, "x1").await.unwrap().id,
        id1
    );

    let mut with_status = lead("x1", "+33100000009");
    with_status.status = Some("contacted".into());
    store.upsert_leads(b, &[with_status]).await.unwrap();
    assert_eq!(store.get_lead(b, id1).await.unwrap().status, "contacted");
}

pub async fn leads_bad_rows_are_reported_and_good_rows_stored(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let mut no_id = lead("", "+33100000001");
    no_id.external_id = " ".into();
    let no_phone = lead("y2", "");
    let mut long_tag = lead("y3", "+33100000003");
    long_tag.tags = vec!["t".repeat(LEAD_TEXT_MAX + 1)];
    let results = store
        .upsert_leads(b, &[no_id, lead("ok", "+33100000004"), no_phone, long_tag])
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    let field = |r: &Result<LeadUpsert, StoreError>| match r {
        Err(StoreError::Invalid { field, .. }) => field.clone(),
        o => panic!("expected Invalid, got {o:?}"),
    };
    assert_eq!(field(&results[0]), "external_id");
    assert!(matches!(results[1], Ok(LeadUpsert::Created(_))));
    assert_eq!(field(&results[2]), "phone");
    assert_eq!(field(&results[3]), "tags");
    let all = store
        .list_leads(b, &LeadFilter::default(), Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|l| l.external_id.as_str())
            .collect::<Vec<_>>(),
        ["ok"]
    );
}

pub async fn leads_are_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let ra = store
        .upsert_leads(a, &[lead("same", "+33100000001")])
        .await
        .unwrap();
    let rb = store
        .upsert_leads(b, &[lead("same", "+44100000001")])
        .await
        .unwrap();
    let (Ok(LeadUpsert::Created(ia)), Ok(LeadUpsert::Created(ib))) = (&ra[0], &rb[0]) else {
        panic!("the same external id in two tenants is two leads: {ra:?} {rb:?}");
    };
    assert_ne!(ia, ib);
    assert_not_found(store.get_lead(b, *ia).await, "B reading A's lead");
    assert_not_found(
        store.update_lead_outcome(b, *ia, Some("x"), &[]).await,
        "B updating A's lead",
    );
    assert_eq!(store.get_lead(a, *ia).await.unwrap().phone, "+33100000001");
    assert_eq!(
        store
            .get_lead_by_external_id(b, "same")
            .await
            .unwrap()
            .phone,
        "+44100000001"
    );
    let c = tenant(&store).await;
    assert!(
        store
            .list_leads(c, &LeadFilter::default(), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store.get_lead_by_external_id(c, "same").await,
        "C by external id",
    );
}

pub async fn leads_list_filters_and_pages(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let rows: Vec<LeadInput> = (0..7)
        .map(|i| {
            let mut l = lead(&format!("p{i}"), &format!("+3310000000{i}"));
            l.tags = if i % 2 == 0 {
                vec!["even".into(), "all".into()]
            } else {
                vec!["all".into()]
            };
            l.status = Some(if i < 3 { "new".into() } else { "called".into() });
            l
        })
        .collect();
    store.upsert_leads(b, &rows).await.unwrap();
    let f = |tag: Option<&str>, status: Option<&str>| LeadFilter {
        tag: tag.map(Into::into),
        status: status.map(Into::into),
    };
    let ext = |v: Vec<LeadRecord>| v.into_iter().map(|l| l.external_id).collect::<Vec<_>>();
    assert_eq!(
        ext(store
            .list_leads(b, &f(Some("even"), None), Page::first(100))
            .await
            .unwrap()),
        ["p0", "p2", "p4", "p6"]
    );
    assert_eq!(
        ext(store
            .list_leads(b, &f(Some("even"), Some("called")), Page::first(100))
            .await
            .unwrap()),
        ["p4", "p6"]
    );
    assert!(
        store
            .list_leads(b, &f(Some("ev"), None), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    // Keyset paging walks every row exactly once.
    let mut seen = Vec::new();
    let mut page = Page::first(3);
    loop {
        let got = store
            .list_leads(b, &f(Some("all"), None), page)
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 3);
        page.after = got.last().map(|l| l.id);
        seen.extend(ext(got));
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    // Absurd limits are clamped, not errors.
    assert_eq!(
        store
            .list_leads(b, &f(None, None), Page::first(0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_leads(b, &f(None, None), Page::first(u32::MAX))
            .await
            .unwrap()
            .len(),
        7
    );
}

pub async fn lead_outcome_sets_status_and_merges_tags(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let r = store
        .upsert_leads(b, &[lead("o1", "+33100000001")])
        .await
        .unwrap();
    let Ok(LeadUpsert::Created(id)) = r[0] else {
        panic!("{r:?}")
    };
    store
        .update_lead_outcome(b, id, Some("answered"), &["vip".into(), "spring".into()])
        .await
        .unwrap();
    let l = store.get_lead(b, id).await.unwrap();
    assert_eq!(l.status, "answered");
    assert_eq!(l.tags, ["spring", "vip"]);
    store.update_lead_outcome(b, id, None, &[]).await.unwrap();
    assert_eq!(store.get_lead(b, id).await.unwrap().status, "answered");
}

pub async fn plugin_versions_and_single_active(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let name = unique("flow");
    let k = PluginKind::Flow;
    let mut versions = Vec::new();
    for i in 1..=3u8 {
        let v = store
            .insert_plugin_version(k, Some(b), &name, &[i; 10])
            .await
            .unwrap();
        assert_eq!(v.version, i64::from(i));
        assert!(!v.active, "a new upload is not active until activated");
        assert_eq!(v.size, 10);
        assert_eq!(v.sha256, secret::sha256_hex(&[i; 10]));
        versions.push(v);
    }
    assert_not_found(
        store.get_active_plugin(k, Some(b), &name).await,
        "nothing active yet",
    );
    store
        .activate_plugin_version(k, Some(b), &name, 2)
        .await
        .unwrap();
    store
        .activate_plugin_version(k, Some(b), &name, 3)
        .await
        .unwrap();
    let active = store.get_active_plugin(k, Some(b), &name).await.unwrap();
    assert_eq!(
        (active.version.version, active.bytes.clone()),
        (3, vec![3u8; 10])
    );
    let listed = store.list_plugin_versions(k, Some(b), &name).await.unwrap();
    assert_eq!(
        listed.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(
        listed.iter().filter(|v| v.active).count(),
        1,
        "exactly one active"
    );
    // Rollback: activate the previous version.
    store
        .activate_plugin_version(k, Some(b), &name, 2)
        .await
        .unwrap();
    let listed = store.list_plugin_versions(k, Some(b), &name).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|v| v.active)
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [2]
    );
    // Re-activating the active version keeps exactly one active.
    store
        .activate_plugin_version(k, Some(b), &name, 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_active_plugin(k, Some(b), &name)
            .await
            .unwrap()
            .version
            .version,
        2
    );
    assert_not_found(
        store.activate_plugin_version(k, Some(b), &name, 9).await,
        "unknown version",
    );
    assert_eq!(
        store
            .get_active_plugin(k, Some(b), &name)
            .await
            .unwrap()
            .version
            .version,
        2
    );
    let v1 = store
        .get_plugin_version(k, Some(b), &name, 1)
        .await
        .unwrap();
    assert_eq!(v1.bytes, vec![1u8; 10]);
    let names = store.list_plugins(k, Some(b)).await.unwrap();
    assert_eq!(
        names
            .iter()
            .map(|v| (v.name.as_str(), v.version))
            .collect::<Vec<_>>(),
        [(name.as_str(), 3)]
    );
    assert!(matches!(
        store.insert_plugin_version(k, Some(b), "Bad Name!", b"x").await,
        Err(StoreError::Invalid { ref field, .. }) if field == "name"
    ));
}

/// What a worker's hot swap relies on: an activation is announced to
/// listeners, and the active versions can be read without their bytes.
pub async fn plugin_activation_is_announced_and_listed(store: Arc<dyn Store>) {
    use futures::StreamExt;
    let k = PluginKind::Dialer;
    let name = unique("dialer");
    let b = tenant(&store).await;
    let tenant_flow = unique("flow");
    store
        .insert_plugin_version(PluginKind::Flow, Some(b), &tenant_flow, b"f")
        .await
        .unwrap();
    store
        .activate_plugin_version(PluginKind::Flow, Some(b), &tenant_flow, 1)
        .await
        .unwrap();
    for i in 1..=2u8 {
        store
            .insert_plugin_version(k, None, &name, &[i; 4])
            .await
            .unwrap();
    }
    let mut notices = store.activation_notices().await.unwrap();
    store
        .activate_plugin_version(k, None, &name, 1)
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), notices.next())
        .await
        .expect("an activation is announced")
        .expect("the notice stream stays open");
    let active = store.active_plugin_versions(k, None).await.unwrap();
    let mine: Vec<_> = active.iter().filter(|v| v.name == name).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].version, mine[0].active), (1, true));
    assert!(
        active
            .iter()
            .all(|v| v.kind == k && v.business_id.is_none()),
        "only platform dialers, never a tenant's flow: {active:?}"
    );
    store
        .activate_plugin_version(k, None, &name, 2)
        .await
        .unwrap();
    let active = store.active_plugin_versions(k, None).await.unwrap();
    let mine: Vec<_> = active.iter().filter(|v| v.name == name).collect();
    assert_eq!(mine.len(), 1, "one active version per name");
    assert_eq!(mine[0].version, 2);
}

pub async fn plugins_are_isolated_between_owners(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let name = unique("shared-name");
    store
        .insert_plugin_version(PluginKind::Flow, Some(a), &name, b"a1")
        .await
        .unwrap();
    store
        .activate_plugin_version(PluginKind::Flow, Some(a), &name, 1)
        .await
        .unwrap();
    assert!(
        store
            .list_plugin_versions(PluginKind::Flow, Some(b), &name)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_plugins(PluginKind::Flow, Some(b))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store
            .get_plugin_version(PluginKind::Flow, Some(b), &name, 1)
            .await,
        "B gets A's",
    );
    assert_not_found(
        store
            .get_active_plugin(PluginKind::Flow, Some(b), &name)
            .await,
        "B active",
    );
    assert_not_found(
        store
            .activate_plugin_version(PluginKind::Flow, Some(b), &name, 1)
            .await,
        "B activates A's",
    );
    // The same name under another owner or kind has its own numbering.
    let bv = store
        .insert_plugin_version(PluginKind::Flow, Some(b), &name, b"b1")
        .await
        .unwrap();
    assert_eq!(bv.version, 1);
    let pv = store
        .insert_plugin_version(PluginKind::Dialer, None, &name, b"p1")
        .await
        .unwrap();
    assert_eq!((pv.version, pv.business_id), (1, None));
    store
        .activate_plugin_version(PluginKind::Dialer, None, &name, 1)
        .await
        .unwrap();
    store
        .activate_plugin_version(PluginKind::Flow, Some(b), &name, 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_active_plugin(PluginKind::Flow, Some(a), &name)
            .await
            .unwrap()
            .bytes,
        b"a1"
    );
    assert_eq!(
        store
            .get_active_plugin(PluginKind::Flow, Some(b), &name)
            .await
            .unwrap()
            .bytes,
        b"b1"
    );
    assert_eq!(
        store
            .get_active_plugin(PluginKind::Dialer, None, &name)
            .await
            .unwrap()
            .bytes,
        b"p1"
    );
    assert_not_found(
        store
            .get_active_plugin(PluginKind::Dialer, Some(a), &name)
            .await,
        "tenant-owned dialer",
    );
}

pub async fn plugin_concurrent_uploads_get_distinct_versions(store: Arc<dyn Store>) {
    let name = unique("dialer");
    let tasks: Vec<_> = (0..6u8)
        .map(|i| {
            let store = store.clone();
            let name = name.clone();
            tokio::spawn(async move {
                store
                    .insert_plugin_version(PluginKind::Dialer, None, &name, &[i])
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().expect("concurrent upload").version);
    }
    versions.sort();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
}

pub async fn kv_is_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    store.kv_set(a, "flow:x", "k", b"from-a").await.unwrap();
    store.kv_set(b, "flow:x", "k", b"from-b").await.unwrap();
    assert_eq!(
        store.kv_get(a, "flow:x", "k").await.unwrap().as_deref(),
        Some(&b"from-a"[..])
    );
    assert_eq!(
        store.kv_get(b, "flow:x", "k").await.unwrap().as_deref(),
        Some(&b"from-b"[..])
    );
    assert_eq!(
        store.kv_get(a, "flow:y", "k").await.unwrap(),
        None,
        "namespaces are separate"
    );
    store.kv_set(a, "flow:x", "k", b"again").await.unwrap();
    assert_eq!(
        store.kv_get(a, "flow:x", "k").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
    store.kv_delete(b, "flow:x", "k").await.unwrap();
    assert_eq!(store.kv_get(b, "flow:x", "k").await.unwrap(), None);
    assert_eq!(
        store.kv_get(a, "flow:x", "k").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
    store.kv_delete(b, "flow:x", "missing").await.unwrap();
    store.kv_set(a, "flow:x", "j", b"").await.unwrap();
    store.kv_set(a, "dialer:sim", "z", b"1").await.unwrap();
    let all = store
        .kv_list(a, None, None, Page::first(100))
        .await
        .unwrap();
    let keys: Vec<_> = all
        .iter()
        .map(|e| (e.namespace.as_str(), e.key.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("dialer:sim", "z"), ("flow:x", "j"), ("flow:x", "k")]
    );
    let next = store
        .kv_list(a, None, Some(("flow:x", "j")), Page::first(100))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(
        store
            .kv_list(a, Some("flow:x"), None, Page::first(100))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .kv_list(b, None, None, Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn store_kv_backs_the_runtime_tenant_kv(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let kv = StoreKv(store.clone());
    kv.set(a, "flow:f", "visits", b"3").await.unwrap();
    assert_eq!(
        store
            .kv_get(a, "flow:f", "visits")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"3"[..])
    );
    assert_eq!(
        kv.get(a, "flow:f", "visits").await.unwrap().as_deref(),
        Some(&b"3"[..])
    );
    kv.delete(a, "flow:f", "visits").await.unwrap();
    assert_eq!(kv.get(a, "flow:f", "visits").await.unwrap(), None);
}

pub async fn dnc_add_remove_contains_list(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    assert!(store.dnc_add(a, "+33100000002").await.unwrap());
    assert!(
        !store.dnc_add(a, "+33100000002").await.unwrap(),
        "second add is a no-op"
    );
    assert!(store.dnc_add(a, "+33100000001").await.unwrap());
    assert!(store.dnc_contains(a, "+33100000002").await.unwrap());
    assert!(
        !store.dnc_contains(b, "+33100000002").await.unwrap(),
        "DNC is per tenant"
    );
    assert_eq!(
        store.dnc_list(a, None, 10).await.unwrap(),
        ["+33100000001", "+33100000002"]
    );
    assert_eq!(
        store.dnc_list(a, Some("+33100000001"), 10).await.unwrap(),
        ["+33100000002"]
    );
    assert!(store.dnc_list(b, None, 10).await.unwrap().is_empty());
    assert!(!store.dnc_remove(b, "+33100000002").await.unwrap());
    assert!(store.dnc_remove(a, "+33100000002").await.unwrap());
    assert!(!store.dnc_contains(a, "+33100000002").await.unwrap());
}

pub async fn audit_logs_are_per_tenant_and_platform(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let key = store.create_api_key(Some(a)).await.unwrap();
    let entry = |business_id, action: &str, security| AuditEntry {
        business_id,
        actor_key_id: Some(key.id),
        action: action.into(),
        detail: serde_json::json!({"run_id": 7, "note": "é ' ; --"}),
        security,
    };
    store
        .append_audit(&entry(Some(a), "run.created", false))
        .await
        .unwrap();
    store
        .append_audit(&entry(Some(a), "security.cross_tenant", true))
        .await
        .unwrap();
    let pid = store
        .append_audit(&entry(None, "security.cross_tenant", true))
        .await
        .unwrap();
    let la = store.list_audit(Some(a), Page::first(100)).await.unwrap();
    assert_eq!(
        la.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["run.created", "security.cross_tenant"]
    );
    assert!(la[1].security && !la[0].security);
    assert_eq!(la[0].detail["note"], "é ' ; --");
    assert_eq!(la[0].actor_key_id, Some(key.id));
    assert!(
        store
            .list_audit(Some(b), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    let platform = store.list_audit(None, Page::first(1000)).await.unwrap();
    assert!(
        platform
            .iter()
            .any(|r| r.id == pid && r.business_id.is_none())
    );
    assert!(platform.iter().all(|r| r.business_id.is_none()));
    let after = store
        .list_audit(
            Some(a),
            Page {
                after: Some(la[0].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
}

pub async fn dialer_config_is_write_only_and_per_tenant(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let cfg = vec![
        ("account".to_string(), "AC1".to_string()),
        ("token".to_string(), "s3cret".to_string()),
    ];
    store
        .set_dialer_config(a, "http-dialer", &cfg)
        .await
        .unwrap();
    assert_eq!(store.list_dialer_configs(a).await.unwrap(), ["http-dialer"]);
    assert_eq!(
        store
            .dialer_config_for_worker(a, "http-dialer")
            .await
            .unwrap(),
        Some(cfg)
    );
    assert_eq!(
        store
            .dialer_config_for_worker(b, "http-dialer")
            .await
            .unwrap(),
        None
    );
    assert!(store.list_dialer_configs(b).await.unwrap().is_empty());
    let cfg2 = vec![("account".to_string(), "AC2".to_string())];
    store
        .set_dialer_config(a, "http-dialer", &cfg2)
        .await
        .unwrap();
    assert_eq!(
        store
            .dialer_config_for_worker(a, "http-dialer")
            .await
            .unwrap(),
        Some(cfg2)
    );
    assert!(matches!(
        store.set_dialer_config(a, "../etc", &vec![]).await,
        Err(StoreError::Invalid { ref field, .. }) if field == "dialer"
    ));
}

pub async fn callback_tokens_resolve_to_tenant_and_dialer(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let t1 = store.create_callback_token(a, "sim-dialer").await.unwrap();
    let t2 = store.create_callback_token(a, "sim-dialer").await.unwrap();
    assert_ne!(t1, t2);
    assert!(t1.len() >= 64, "unguessable");
    let target = store.resolve_callback_token(&t1).await.unwrap();
    assert_eq!(
        target,
        CallbackTarget {
            business_id: a,
            dialer: "sim-dialer".into()
        }
    );
    assert_not_found(store.resolve_callback_token("nope").await, "unknown token");
}

pub async fn constraint_violations_are_conflicts(store: Arc<dyn Store>) {
    let missing = 9_000_000_000;
    for r in [
        store.kv_set(missing, "n", "k", b"v").await.err(),
        store.dnc_add(missing, "+33100000001").await.err(),
    ] {
        assert!(
            matches!(r, Some(StoreError::Conflict { .. })),
            "expected Conflict, got {r:?}"
        );
    }
    let r = store
        .upsert_leads(missing, &[lead("z", "+33100000001")])
        .await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
}

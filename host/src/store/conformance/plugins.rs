//! Plugins: versions, activation, isolation between owners.

use super::*;

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
        active.iter().all(|v| v.kind == k && v.tenant.is_none()),
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
    assert_eq!((pv.version, pv.tenant), (1, None));
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

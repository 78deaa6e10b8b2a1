//! Tenants and API keys.

use super::*;
use crate::model::ApiKeyId;

pub async fn tenants_and_keys(store: Arc<dyn Store>) {
    let name = unique("Tenant");
    let id = store.create_tenant(&name).await.unwrap();
    let t = store.get_tenant(id).await.unwrap();
    assert_eq!((t.id, t.name.as_str()), (id, name.as_str()));
    assert_not_found(
        store.get_tenant(TenantId(id.get() + 1_000_000)).await,
        "unknown tenant",
    );
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
            tenant: id,
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
        store
            .create_api_key(Some(TenantId(id.get() + 1_000_000)))
            .await,
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

pub async fn tenant_names_are_unique(store: Arc<dyn Store>) {
    let name = unique("Unique Co");
    let first = store.create_tenant(&name).await.unwrap();
    // The same name, in another case and with spaces around: taken.
    for taken in [name.clone(), format!("  {}  ", name.to_uppercase())] {
        match store.create_tenant(&taken).await {
            Err(StoreError::Conflict { constraint }) => {
                assert_eq!(constraint, TENANT_NAME_CONSTRAINT, "{taken:?}")
            }
            other => panic!("{taken:?}: expected Conflict, got {other:?}"),
        }
    }
    let listed = store.list_tenants().await.unwrap();
    let same: Vec<_> = listed
        .iter()
        .filter(|t| t.name.eq_ignore_ascii_case(&name))
        .collect();
    assert_eq!(same.len(), 1, "the refused creates wrote nothing");
    assert_eq!(same[0].id, first);

    // A tenant and its first key, in one transaction.
    let other = unique("Keyed Co");
    let (id, key) = store.create_tenant_with_key(&other).await.unwrap();
    assert_eq!(
        store.resolve_api_key(&key.plaintext).await.unwrap(),
        Principal::Tenant {
            tenant: id,
            key_id: key.id
        }
    );
    assert_eq!(store.list_api_keys(Some(id)).await.unwrap().len(), 1);
    assert!(matches!(
        store.create_tenant_with_key(&other.to_lowercase()).await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn keys_have_labels_last_use_and_rotate(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    assert!(matches!(
        store.create_labelled_api_key(Some(a), Some(" ")).await,
        Err(StoreError::Invalid { ref field, .. }) if field == "label"
    ));
    let long = "x".repeat(crate::config::API_KEY_LABEL_MAX + 1);
    assert!(matches!(
        store.create_labelled_api_key(Some(a), Some(&long)).await,
        Err(StoreError::Invalid { ref field, .. }) if field == "label"
    ));
    let key = store
        .create_labelled_api_key(Some(a), Some("ci"))
        .await
        .unwrap();
    let info = |keys: Vec<ApiKeyInfo>, id| keys.into_iter().find(|k| k.id == id).unwrap();
    let before = info(store.list_api_keys(Some(a)).await.unwrap(), key.id);
    assert_eq!(before.label.as_deref(), Some("ci"));
    assert_eq!(before.last_used_at, None, "never used yet");

    // A use is recorded; another within the interval writes nothing.
    store.resolve_api_key(&key.plaintext).await.unwrap();
    let used = info(store.list_api_keys(Some(a)).await.unwrap(), key.id);
    let first_use = used.last_used_at.expect("use recorded");
    store.resolve_api_key(&key.plaintext).await.unwrap();
    let again = info(store.list_api_keys(Some(a)).await.unwrap(), key.id);
    assert_eq!(again.last_used_at, Some(first_use), "throttled");

    // Rotation: another owner cannot; the owner gets a new key, same label.
    assert_not_found(
        store.rotate_api_key(Some(b), key.id).await,
        "cross-tenant rotate",
    );
    assert_not_found(store.rotate_api_key(None, key.id).await, "platform rotate");
    let new = store.rotate_api_key(Some(a), key.id).await.unwrap();
    assert_ne!(new.id, key.id);
    assert_not_found(
        store.resolve_api_key(&key.plaintext).await,
        "rotated-out key",
    );
    assert_eq!(
        store.resolve_api_key(&new.plaintext).await.unwrap(),
        Principal::Tenant {
            tenant: a,
            key_id: new.id
        }
    );
    let keys = store.list_api_keys(Some(a)).await.unwrap();
    assert_eq!(info(keys.clone(), new.id).label.as_deref(), Some("ci"));
    assert!(info(keys, key.id).revoked_at.is_some());
    // Rotating a revoked key is a conflict, not a second new key.
    match store.rotate_api_key(Some(a), key.id).await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, KEY_REVOKED_CONSTRAINT),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.list_api_keys(Some(a)).await.unwrap().len(), 2);
}

pub async fn revoking_the_last_active_key_can_be_refused(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let k1 = store.create_api_key(Some(a)).await.unwrap();
    let k2 = store.create_api_key(Some(a)).await.unwrap();
    assert_not_found(
        store
            .revoke_api_key_guarded(
                Some(a),
                ApiKeyId(k1.id.get() + 1_000_000),
                Revoke::KeepOneActive,
            )
            .await,
        "unknown key",
    );
    store
        .revoke_api_key_guarded(Some(a), k1.id, Revoke::KeepOneActive)
        .await
        .unwrap();
    match store
        .revoke_api_key_guarded(Some(a), k2.id, Revoke::KeepOneActive)
        .await
    {
        Err(StoreError::Conflict { constraint }) => {
            assert_eq!(constraint, LAST_ACTIVE_KEY_CONSTRAINT)
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(
        store.resolve_api_key(&k2.plaintext).await.is_ok(),
        "still active"
    );
    // Revoking an already revoked key stays harmless under the guard.
    store
        .revoke_api_key_guarded(Some(a), k1.id, Revoke::KeepOneActive)
        .await
        .unwrap();
    // Two guarded revokes of the last two keys at once: exactly one wins.
    let k3 = store.create_api_key(Some(a)).await.unwrap();
    let (r2, r3) = tokio::join!(
        store.revoke_api_key_guarded(Some(a), k2.id, Revoke::KeepOneActive),
        store.revoke_api_key_guarded(Some(a), k3.id, Revoke::KeepOneActive),
    );
    assert_eq!(
        [r2.is_ok(), r3.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{r2:?} {r3:?}"
    );
    let active = store
        .list_api_keys(Some(a))
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.revoked_at.is_none())
        .count();
    assert_eq!(active, 1);
    // Unguarded (an operator's rescue), the last key can go.
    let last = if r2.is_ok() { k3.id } else { k2.id };
    store.revoke_api_key(Some(a), last).await.unwrap();
}

//! Tenants and API keys.

use super::*;

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

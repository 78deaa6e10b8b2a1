//! The tenant's own data (key-value store, do-not-call list) and constraint
//! errors.

use super::*;

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

/// `compare_and_swap` writes only over the expected value (or absence), and
/// concurrent `increment`s on separate connections lose nothing.
pub async fn kv_compare_and_swap_and_concurrent_increments(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let kv = StoreKv(store.clone());
    assert!(
        kv.compare_and_swap(a, "flow:f", "k", None, b"1")
            .await
            .unwrap()
    );
    assert!(
        !kv.compare_and_swap(a, "flow:f", "k", None, b"2")
            .await
            .unwrap(),
        "absent was expected, the key exists"
    );
    assert!(
        !kv.compare_and_swap(a, "flow:f", "k", Some(b"0"), b"2")
            .await
            .unwrap(),
        "a stale expected value must not write"
    );
    assert!(
        kv.compare_and_swap(a, "flow:f", "k", Some(b"1"), b"2")
            .await
            .unwrap()
    );
    assert_eq!(
        kv.get(a, "flow:f", "k").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    assert!(
        kv.compare_and_swap(b, "flow:f", "k", None, b"9")
            .await
            .unwrap(),
        "another tenant's same key is another entry"
    );
    assert_eq!(
        kv.get(a, "flow:f", "k").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );

    assert_eq!(kv.increment(a, "flow:f", "k", 40).await.unwrap(), Ok(42));
    assert_eq!(kv.increment(a, "flow:f", "new", -3).await.unwrap(), Ok(-3));
    kv.set(a, "flow:f", "text", b"not a number").await.unwrap();
    assert!(kv.increment(a, "flow:f", "text", 1).await.unwrap().is_err());
    kv.set(a, "flow:f", "max", i64::MAX.to_string().as_bytes())
        .await
        .unwrap();
    assert!(kv.increment(a, "flow:f", "max", 1).await.unwrap().is_err());

    // 16 writers, 25 increments each, on the pool's separate connections.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let kv = kv.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    kv.increment(a, "flow:f", "count", 1)
                        .await
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        kv.get(a, "flow:f", "count").await.unwrap().as_deref(),
        Some(&b"400"[..])
    );
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

pub async fn constraint_violations_are_conflicts(store: Arc<dyn Store>) {
    let missing = 9_000_000_000;
    for r in [
        store.kv_set(missing.into(), "n", "k", b"v").await.err(),
        store.dnc_add(missing.into(), "+33100000001").await.err(),
    ] {
        assert!(
            matches!(r, Some(StoreError::Conflict { .. })),
            "expected Conflict, got {r:?}"
        );
    }
    let r = store
        .upsert_leads(missing.into(), &[lead("z", "+33100000001")])
        .await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
}

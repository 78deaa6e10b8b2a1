//! The audit log, dialer configurations and callback tokens.

use super::*;

pub async fn audit_logs_are_per_tenant_and_platform(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let key = store.create_api_key(Some(a)).await.unwrap();
    let entry = |tenant, action: &str, security| AuditEntry {
        tenant,
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
    assert!(platform.iter().any(|r| r.id == pid && r.tenant.is_none()));
    assert!(platform.iter().all(|r| r.tenant.is_none()));
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
            tenant: a,
            dialer: "sim-dialer".into()
        }
    );
    assert_not_found(store.resolve_callback_token("nope").await, "unknown token");
}

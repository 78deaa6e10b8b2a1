//! `tenant-store` is bound to the tenant of the instance's PluginScope: two tenants
//! using the same plugin and the same key names never see each other's data.

use dialplane::builtin;
use dialplane::runtime::{Decision, Placement, PluginKind, TenantKv};
use dialplane_tests::*;

/// business-rules-flow keeps a per-day call counter under the same key name
/// (`calls/<date>`) for every tenant; tenant A exhausting its cap must not
/// touch tenant B's counter, on the same host and the same backing store.
#[tokio::test]
async fn flow_counters_are_per_tenant() {
    let host = host();
    let kv = memory_kv();
    let p = prepare(
        &host,
        PluginKind::Flow,
        "business-rules-flow",
        builtin::BUSINESS_RULES_FLOW,
    );
    let (a, b) = (101, 202);
    let mut fa = host.flow(&p, scope(a, &p, kv.clone())).await.unwrap();
    let mut fb = host.flow(&p, scope(b, &p, kv.clone())).await.unwrap();
    let c = ctx(&[("daily_cap", "3")]);
    for i in 0..3 {
        let d = fa
            .plan(&c, &lead(&format!("a{i}"), "+14155550127"))
            .await
            .unwrap();
        assert!(matches!(d, Decision::Dial(_)), "{d:?}");
    }
    let d = fa.plan(&c, &lead("a3", "+14155550127")).await.unwrap();
    assert_eq!(d, Decision::Skip("daily cap of 3 calls reached".into()));
    // Same key name, other tenant: its own counter starts at zero.
    let d = fb.plan(&c, &lead("b0", "+14155550127")).await.unwrap();
    assert!(
        matches!(d, Decision::Dial(_)),
        "B was capped by A's counter: {d:?}"
    );

    let entries = kv.dump();
    let counter = |tenant: i64| {
        entries
            .iter()
            .find(|(t, ns, k, _)| {
                *t == tenant && ns == "flow:business-rules-flow" && k.starts_with("calls/")
            })
            .map(|(_, _, _, v)| String::from_utf8(v.clone()).unwrap())
    };
    assert_eq!(counter(a).as_deref(), Some("3"));
    assert_eq!(counter(b).as_deref(), Some("1"));
    // Both used the very same key name.
    let key_of = |tenant: i64| {
        entries
            .iter()
            .find(|(t, _, k, _)| *t == tenant && k.starts_with("calls/"))
            .map(|(_, _, k, _)| k.clone())
    };
    assert_eq!(key_of(a), key_of(b));
}

/// The sim dialer's ledger lives in tenant-store: a call tenant A placed is
/// unknown to tenant B's `lookup` for the very same idempotency key.
#[tokio::test]
async fn dialer_ledger_is_per_tenant() {
    let host = host();
    let kv = memory_kv();
    let p = prepare(&host, PluginKind::Dialer, "sim-dialer", builtin::SIM_DIALER);
    let mut da = host.dialer(&p, scope(1, &p, kv.clone())).await.unwrap();
    let mut db = host.dialer(&p, scope(2, &p, kv.clone())).await.unwrap();
    let req = dialplane::runtime::CallRequest {
        to: "+14155550127".into(),
        caller_id: None,
        timeout_secs: 30,
        idempotency_key: "run-1-job-1-1".into(),
        metadata: vec![],
    };
    let placed = da.place_call(&vec![], &req).await.unwrap().unwrap();
    assert!(matches!(placed, Placement::Finished(_)), "{placed:?}");
    let seen_by_a = da
        .lookup(&vec![], &req.idempotency_key)
        .await
        .unwrap()
        .unwrap();
    assert!(seen_by_a.is_some());
    let seen_by_b = db
        .lookup(&vec![], &req.idempotency_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen_by_b, None, "tenant B sees tenant A's call");
    // And B placing the same key is a new call for B, not a repeat of A's.
    db.place_call(&vec![], &req).await.unwrap().unwrap();
    let key = format!("call/{}", req.idempotency_key);
    let a_entry = kv
        .get(1.into(), "dialer:sim-dialer", &key)
        .await
        .unwrap()
        .unwrap();
    let b_entry = kv
        .get(2.into(), "dialer:sim-dialer", &key)
        .await
        .unwrap()
        .unwrap();
    let repeats =
        |v: &[u8]| serde_json::from_slice::<serde_json::Value>(v).unwrap()["repeats"].clone();
    assert_eq!(repeats(&a_entry), 0);
    assert_eq!(repeats(&b_entry), 0);
}

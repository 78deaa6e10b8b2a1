//! Components built against the pinned `dialplane:plugin@0.1.0` WIT
//! (`plugins/legacy/`, `wit/v0.1.0/`) still load and run beside 0.2.0 ones:
//! through the runtime (every export, the imports of 0.1.0, the 0.2.0-only
//! calls answered for them), and end to end through the API and a worker.

use std::time::Duration;

use dialplane::builtin;
use dialplane::runtime::{
    AnsweredBy, CallRequest, CallState, CallbackError, Decision, Outcome, Placement, PluginKind,
    Properties, TenantKv, WitVersion,
};
use dialplane_tests::callback_signing::callback_request;
use dialplane_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_common::Api;

const CALLBACK_URL: &str = "http://127.0.0.1:8080/api/callbacks/dp_cb_x";

#[tokio::test]
async fn a_0_1_0_flow_plans_logs_and_uses_the_tenant_store() {
    let host = host();
    let p = prepare(&host, PluginKind::Flow, "flow-v0-1", builtin::FLOW_V0_1);
    assert_eq!(p.wit_version(), WitVersion::V0_1_0);
    assert_eq!(p.world(), "dialplane:plugin/call-flow@0.1.0");
    let kv = memory_kv();
    let mut f = host.flow(&p, scope(7, &p, kv.clone())).await.unwrap();
    for n in 1..=2 {
        let d = f
            .plan(&ctx(&[]), &lead("L-1", "+14155550127"))
            .await
            .unwrap();
        match d {
            Decision::Dial(r) => assert_eq!((r.to.as_str(), r.timeout_secs), ("+14155550127", 20)),
            other => panic!("{other:?}"),
        }
        let plans = kv
            .get(7.into(), "flow:flow-v0-1", "plans")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(plans, n.to_string().into_bytes());
    }
    let logs = f.take_logs();
    assert!(
        logs.iter()
            .any(|l| l.level == "info" && l.message == "v0.1.0 plan L-1"),
        "{logs:?}"
    );
    let report = dialplane::runtime::CallReport {
        outcome: Outcome::Busy,
        provider_call_id: None,
        ring_secs: 3,
        talk_secs: 0,
        provider_code: None,
        detail: None,
    };
    let follow = f
        .on_result(&ctx(&[]), &lead("L-1", "+14155550127"), &report)
        .await
        .unwrap();
    assert_eq!(follow.tags, vec!["v0.1.0".to_string()]);

    // A 0.2.0 flow runs in the same host beside it.
    let current = prepare(
        &host,
        PluginKind::Flow,
        "default-flow",
        builtin::DEFAULT_FLOW,
    );
    assert_eq!(current.wit_version(), WitVersion::V0_2_0);
    let mut g = host.flow(&current, scope(7, &current, kv)).await.unwrap();
    assert!(matches!(
        g.plan(&ctx(&[]), &lead("L-2", "+14155550128"))
            .await
            .unwrap(),
        Decision::Dial(_)
    ));
}

#[tokio::test]
async fn a_0_1_0_dialer_runs_and_is_adapted_to_the_0_2_0_calls() {
    let host = host();
    let p = prepare(
        &host,
        PluginKind::Dialer,
        "dialer-v0-1",
        builtin::DIALER_V0_1,
    );
    assert_eq!(p.wit_version(), WitVersion::V0_1_0);
    assert_eq!(p.world(), "dialplane:plugin/dialer-adapter@0.1.0");
    let mut d = host.dialer(&p, scope(7, &p, memory_kv())).await.unwrap();
    let cfg: Properties = vec![("anything".into(), "goes".into())];

    let req = CallRequest {
        to: "+14155550127".into(),
        caller_id: None,
        timeout_secs: 30,
        idempotency_key: "run-1-job-1-1".into(),
        metadata: vec![],
    };
    match d.place_call(&cfg, &req).await.unwrap().unwrap() {
        Placement::Finished(r) => {
            assert_eq!(r.outcome, Outcome::Answered(AnsweredBy::Human));
            assert_eq!(r.provider_call_id.as_deref(), Some("v01-run-1-job-1-1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.hangup(&cfg, "v01-x").await.unwrap(), Ok(()));
    assert_eq!(d.lookup(&cfg, "k").await.unwrap(), Ok(None));
    // 0.1.0 has no validate-config: every configuration is accepted.
    assert_eq!(d.validate_config(&cfg).await.unwrap(), Ok(()));
    // Its parse-callback gets headers and body; its error is `malformed`.
    let ev = d
        .parse_callback(
            &cfg,
            &callback_request(CALLBACK_URL, b"CallSid=v01-k&CallStatus=completed", None),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.provider_call_id.as_str(), ev.state),
        ("v01-k", CallState::Ended)
    );
    let err = d
        .parse_callback(&cfg, &callback_request(CALLBACK_URL, b"garbage", None))
        .await
        .unwrap();
    assert_eq!(
        err,
        Err(CallbackError::Malformed("CallSid is required".into()))
    );
    assert!(!d.is_poisoned());
}

/// Uploaded through the API and run by a worker: a 0.1.0 flow with a 0.1.0
/// dialer, whose (unchecked) configuration is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_0_1_0_components_completes() {
    let mut api = Api::pg().await;
    let admin = api.admin_key().await;
    api.install_dialer(&admin, "dialer-v0-1", builtin::DIALER_V0_1)
        .await;
    let t = api.tenant("legacy").await;
    let (st, v) = api
        .raw(
            Method::PUT,
            "/api/plugins/flows/flow-v0-1",
            Some(&t.key),
            "application/wasm",
            builtin::FLOW_V0_1.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = api
        .call(
            Method::PUT,
            "/api/dialer-config/dialer-v0-1",
            Some(&t.key),
            Some(json!({"config": {"region": "eu"}})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");

    let leads = api.import_leads(&t, 3).await;
    api.worker(|_| {}).await;
    let (st, run) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": leads, "flow": "flow-v0-1", "dialer": "dialer-v0-1",
                   "settings": {"concurrency": 3, "max_attempts": 1,
                                "calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let done = api
        .wait_run(&t, id, Duration::from_secs(60), |v| {
            v["counts"]["answered-human"].as_i64() == Some(3)
        })
        .await;
    assert!(done["counts"].as_object().unwrap().len() == 1, "{done}");
}

//! A run whose dialer cannot work stops at once and says why: no retry
//! loop, no call placed, one reason in `GET /api/outbound/runs/{id}`.
//! Real API server, real worker, the real `http-dialer` component, and a
//! provider on 127.0.0.1 that counts what reaches it.

use std::time::Duration;

use dialplane_tests::fake_provider::{Answer, FakeProvider};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_common::{Api, Tenant};

/// How long a broken run may take to show it (it needs one placement).
const UNHEALTHY_WITHIN: Duration = Duration::from_secs(20);

/// Installs http-dialer (admin) and default-flow (tenant), imports `n`
/// leads and configures the dialer with `config` (none: not configured).
async fn setup(api: &Api, n: usize, config: Option<Value>) -> (Tenant, Vec<i64>) {
    let admin = api.admin_key().await;
    let (st, v) = api
        .raw(
            Method::PUT,
            "/api/admin/dialers/http-dialer",
            Some(&admin),
            "application/wasm",
            dialplane::builtin::HTTP_DIALER.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let t = api.tenant("acme").await;
    api.install_default_flow(&t).await;
    if let Some(config) = config {
        let (st, v) = api
            .call(
                Method::PUT,
                "/api/dialer-config/http-dialer",
                Some(&t.key),
                Some(json!({ "config": config })),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    }
    let leads = api.import_leads(&t, n).await;
    (t, leads)
}

fn config(base_url: &str) -> Value {
    json!({
        "base_url": base_url,
        "account_sid": "AC123",
        "auth_token": "s3cret",
        "from": "+15550001111",
        "twiml_url": "https://example.test/twiml",
        "status_callback": "https://dialplane.test/api/callbacks/x",
    })
}

async fn start_run(api: &Api, t: &Tenant, leads: &[i64]) -> i64 {
    let (st, v) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": leads, "flow": "default-flow", "dialer": "http-dialer",
                   "settings": {"concurrency": 4, "max_attempts": 1,
                                "calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Nothing was placed: every job ended with the run (`cancelled`, the
/// run's failure as its reason) and no attempt placed a call.
async fn assert_nothing_placed(api: &Api, t: &Tenant, run: i64, leads: usize) {
    let (st, v) = api
        .get(&format!("/api/outbound/runs/{run}/jobs?limit=500"), &t.key)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let jobs = v["items"].as_array().expect("jobs page");
    assert_eq!(jobs.len(), leads, "{v}");
    assert!(
        jobs.iter().all(|j| j["state"] == "cancelled"
            && j["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("run failed: dialer http-dialer"))
            && j["attempts"]
                .as_array()
                .is_some_and(|a| a.iter().all(|a| a["placed"] == false))),
        "no job was dialed: {v}"
    );
}

#[tokio::test]
async fn a_run_whose_dialer_is_not_configured_fails_with_the_reason_and_places_nothing() {
    let provider = FakeProvider::start(vec![]).await;
    let mut api = Api::sqlite().await;
    api.worker(|_| {}).await;
    let (t, leads) = setup(&api, 30, None).await;
    let run = start_run(&api, &t, &leads).await;

    let v = api
        .wait_run(&t, run, UNHEALTHY_WITHIN, |v| {
            v["status"] != "running" && v["status"] != "queued"
        })
        .await;
    assert_eq!(v["status"], "failed", "{v}");
    let why = v["failure"].as_str().unwrap_or_default();
    assert!(
        why.contains("http-dialer") && why.contains("base_url"),
        "the reason names the dialer and the key: {v}"
    );
    assert_nothing_placed(&api, &t, run, leads.len()).await;
    assert!(provider.seen().is_empty(), "no request reached a provider");
}

#[tokio::test]
async fn a_run_whose_provider_host_is_not_permitted_fails_and_places_nothing() {
    // Every placement would succeed, were it allowed out.
    let provider = FakeProvider::start(
        (0..50)
            .map(|i| Answer::json(201, &format!(r#"{{"sid":"CA{i:04}","status":"queued"}}"#)))
            .collect(),
    )
    .await;
    let mut api = Api::sqlite().await;
    api.worker(|c| c.provider_hosts = vec!["api.twilio.com:443".into()])
        .await;
    let (t, leads) = setup(&api, 30, Some(config(&provider.base_url()))).await;
    let run = start_run(&api, &t, &leads).await;

    let v = api
        .wait_run(&t, run, UNHEALTHY_WITHIN, |v| {
            v["status"] != "running" && v["status"] != "queued"
        })
        .await;
    assert_eq!(v["status"], "failed", "{v}");
    let why = v["failure"].as_str().unwrap_or_default();
    let dest = provider
        .base_url()
        .trim_start_matches("http://")
        .to_string();
    assert!(
        why.contains("http-dialer") && why.contains("refused") && why.contains(&dest),
        "the reason names the dialer and the refused destination: {v}"
    );
    assert!(
        why.contains("api.twilio.com:443"),
        "and what is permitted: {v}"
    );
    assert_nothing_placed(&api, &t, run, leads.len()).await;
    assert!(
        provider.seen().is_empty(),
        "no request reached the provider"
    );
}

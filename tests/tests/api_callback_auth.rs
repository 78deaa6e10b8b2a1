//! The provider path's checks through the real API on PostgreSQL, with the
//! real http-dialer: `PUT /api/dialer-config/http-dialer` asks the adapter's
//! `validate-config` (400 naming the key, nothing stored), the callback
//! token answers the full `callback_url`, and `POST /api/callbacks/{token}`
//! needs a valid `X-Twilio-Signature` over that URL: a missing or forged one
//! is 403, a security event in the tenant's and the platform's audit log,
//! and nothing applied; the right one is applied.
//!
//! The calls are placed by sim-dialer in `pending` mode (the call state
//! machine matches events by provider call id within the tenant), so the
//! test needs no outbound HTTP from the worker.

use std::time::Duration;

use crate::api_common::{Api, Tenant, error_code};
use dialplane_tests::callback_signing::twilio_signature;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AUTH_TOKEN: &str = "tw-auth-token-0123456789";

fn http_config(base_url: &str, auth_token: Option<&str>) -> Value {
    let mut c = json!({
        "base_url": base_url,
        "account_sid": "AC0123456789",
        "from": "+15550001111",
        "twiml_url": "https://example.test/twiml",
        "status_callback": "https://dialplane.example/api/callbacks/later",
    });
    if let Some(t) = auth_token {
        c["auth_token"] = json!(t);
    }
    json!({ "config": c })
}

async fn put_config(api: &Api, t: &Tenant, dialer: &str, body: Value) -> (StatusCode, Value) {
    api.call(
        Method::PUT,
        &format!("/api/dialer-config/{dialer}"),
        Some(&t.key),
        Some(body),
    )
    .await
}

/// POSTs a form callback to `path_and_query`, with `signature` if any.
async fn post_callback(
    api: &Api,
    path_and_query: &str,
    body: &str,
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut rb = api
        .http
        .post(format!("{}{path_and_query}", api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(sig) = signature {
        rb = rb.header("X-Twilio-Signature", sig);
    }
    let resp = rb.send().await.expect("callback request");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The security events of an audit log (`/api/audit` or `/api/admin/audit`).
async fn security_events(api: &Api, key: &str, path: &str) -> Vec<Value> {
    let (st, v) = api.get(path, key).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["security"] == true)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialer_config_is_validated_and_callbacks_are_authenticated() {
    let mut api = Api::pg().await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_dialer(&admin, "http-dialer", dialplane::builtin::HTTP_DIALER)
        .await;
    let t = api.tenant("acme").await;
    api.install_default_flow(&t).await;

    // validate-config: 400 naming the key, and nothing stored.
    let (st, v) = put_config(
        &api,
        &t,
        "http-dialer",
        http_config("https://api.twilio.com", None),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_dialer_config"),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "config.auth_token", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("auth_token"),
        "{v}"
    );
    let (st, v) = put_config(
        &api,
        &t,
        "http-dialer",
        http_config("ftp://api.twilio.com", Some(AUTH_TOKEN)),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "config.base_url", "{v}");
    assert!(
        !v.to_string().contains(AUTH_TOKEN),
        "the error echoes a secret: {v}"
    );
    let (_, listed) = api.get("/api/dialer-config", &t.key).await;
    assert_eq!(listed["items"], json!([]), "a refused config was stored");

    let (st, v) = put_config(
        &api,
        &t,
        "http-dialer",
        http_config("https://api.twilio.com", Some(AUTH_TOKEN)),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, v) = put_config(
        &api,
        &t,
        "sim-dialer",
        json!({"config": {"mode": "pending", "pending_secs": "3600"}}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    // sim-dialer validates its keys too.
    let (st, v) = put_config(&api, &t, "sim-dialer", json!({"config": {"mode": "async"}})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "config.mode", "{v}");

    // The token answers the URL to give the provider, in one step.
    let (st, tok) = api
        .call(
            Method::POST,
            "/api/dialer-config/http-dialer/callback-token",
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{tok}");
    let token = tok["token"].as_str().unwrap();
    let path = format!("/api/callbacks/{token}");
    assert_eq!(tok["path"], path.as_str());
    let callback_url = format!("{}{path}", api.base);
    assert_eq!(tok["callback_url"], callback_url.as_str(), "{tok}");

    // One pending call, placed by the sim-dialer.
    let leads = api.import_leads(&t, 1).await;
    api.worker(|_| {}).await;
    let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
    let call_id = api.placed_call_id(&t, run).await;
    let body = format!("CallSid={call_id}&CallStatus=completed&AnsweredBy=human&CallDuration=12");

    // Missing and forged signatures: 403, audited, nothing applied.
    let forged = twilio_signature("guessed-token", &callback_url, body.as_bytes());
    for signature in [None, Some(forged.as_str())] {
        let (st, v) = post_callback(&api, &path, &body, signature).await;
        assert_eq!(
            (st, error_code(&v).as_str()),
            (StatusCode::FORBIDDEN, "unauthenticated_callback"),
            "{signature:?}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("X-Twilio-Signature"),
            "{v}"
        );
    }
    // A signature over another URL (e.g. a proxy's) does not pass either.
    let elsewhere = twilio_signature(
        AUTH_TOKEN,
        &format!("https://elsewhere.test{path}"),
        body.as_bytes(),
    );
    let (st, v) = post_callback(&api, &path, &body, Some(&elsewhere)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");

    let (_, r) = api.get(&format!("/api/outbound/runs/{run}"), &t.key).await;
    assert!(r["counts"]["answered-human"].is_null(), "applied: {r}");
    let (_, j) = api
        .get(&format!("/api/outbound/runs/{run}/jobs"), &t.key)
        .await;
    assert!(j["items"][0]["outcome"].is_null(), "applied: {j}");

    let owner = security_events(&api, &t.key, "/api/audit").await;
    assert_eq!(owner.len(), 3, "{owner:?}");
    for e in &owner {
        assert_eq!(e["action"], "security.unauthenticated_callback", "{e}");
        assert_eq!(e["detail"]["dialer"], "http-dialer", "{e}");
        assert!(!e.to_string().contains(token), "the token was logged: {e}");
    }
    let platform = security_events(&api, &admin, "/api/admin/audit").await;
    assert_eq!(
        platform
            .iter()
            .filter(|e| e["action"] == "security.unauthenticated_callback")
            .count(),
        3,
        "{platform:?}"
    );
    let metrics = api.metrics().await;
    assert!(
        metrics.contains("dialplane_callbacks_total{result=\"unauthenticated\"} 3"),
        "{metrics}"
    );

    // The provider's real signature, over the full URL with its query: applied.
    let with_query = format!("{path}?attempt=1");
    let good = twilio_signature(
        AUTH_TOKEN,
        &format!("{}{with_query}", api.base),
        body.as_bytes(),
    );
    let (st, v) = post_callback(&api, &with_query, &body, Some(&good)).await;
    assert_eq!(
        (st, v["result"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    api.wait_run(&t, run, Duration::from_secs(30), |v| {
        v["counts"]["answered-human"].as_i64() == Some(1)
    })
    .await;
}

//! Provider callbacks end to end on PostgreSQL: a tenant's dialer config
//! (write-only) puts sim-dialer in `pending` mode, a worker places the calls,
//! and `POST /api/callbacks/{token}` feeds the adapter's `parse-callback`
//! into the call state machine (applied once; duplicates and older states
//! ignored). Unknown tokens are 404, bodies the adapter rejects 400.

use std::time::Duration;

use crate::api_common::{Api, error_code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_drive_the_call_state_machine() {
    let mut api = Api::pg().await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let t = api.tenant("acme").await;
    api.install_default_flow(&t).await;

    let (st, v) = api
        .call(
            Method::PUT,
            "/api/dialer-config/sim-dialer",
            Some(&t.key),
            Some(json!({"config": {"mode": "pending", "pending_secs": "3600"}})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (_, listed) = api.get("/api/dialer-config", &t.key).await;
    assert_eq!(listed["items"], json!([{"dialer": "sim-dialer"}]));
    let (_, audit) = api.get("/api/audit", &t.key).await;
    assert!(
        !audit.to_string().contains("3600") && !listed.to_string().contains("pending"),
        "config values leaked"
    );

    let (st, tok) = api
        .call(
            Method::POST,
            "/api/dialer-config/sim-dialer/callback-token",
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{tok}");
    let token = tok["token"].as_str().unwrap().to_string();

    let leads = api.import_leads(&t, 3).await;
    api.worker(|_| {}).await;
    let run = api.create_run(&t, &leads, 3).await["id"].as_i64().unwrap();

    // Wait until every call is placed (pending, with a provider call id).
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    let call_ids: Vec<String> = loop {
        let (_, j) = api
            .get(&format!("/api/outbound/runs/{run}/jobs"), &t.key)
            .await;
        let ids: Vec<String> = j["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|job| {
                job["attempts"]
                    .as_array()?
                    .iter()
                    .find_map(|a| a["provider_call_id"].as_str().map(str::to_string))
            })
            .collect();
        if ids.len() == 3 {
            break ids;
        }
        assert!(tokio::time::Instant::now() < end, "calls never placed: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let post = |body: String, token: String| {
        let api = &api;
        async move {
            api.raw(
                Method::POST,
                &format!("/api/callbacks/{token}"),
                None,
                "application/x-www-form-urlencoded",
                body.into_bytes(),
            )
            .await
        }
    };
    let result = |v: &Value| v["result"].as_str().unwrap_or("?").to_string();
    let done =
        |sid: &str| format!("CallSid={sid}&CallStatus=completed&AnsweredBy=human&CallDuration=12");

    let (st, v) = post(done(&call_ids[0]), token.clone()).await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "applied"),
        "{v}"
    );
    let (st, v) = post(done(&call_ids[0]), token.clone()).await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "ignored"),
        "duplicate: {v}"
    );
    let (st, v) = post(
        format!("CallSid={}&CallStatus=ringing", call_ids[0]),
        token.clone(),
    )
    .await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "ignored"),
        "older state: {v}"
    );
    let (st, v) = post(
        format!("CallSid={}&CallStatus=ringing", call_ids[1]),
        token.clone(),
    )
    .await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "applied"),
        "{v}"
    );
    let (st, v) = post("CallSid=CAnobody&CallStatus=busy".into(), token.clone()).await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "held"),
        "an event for a call not recorded (yet) is kept: {v}"
    );

    let (st, v) = post("CallStatus=completed".into(), token.clone()).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_callback"),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("CallSid"),
        "{v}"
    );
    let (st, v) = post(done(&call_ids[2]), "dp_cb_unknown".into()).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::NOT_FOUND, "not_found"),
        "{v}"
    );

    // The first call's outcome reached the job.
    api.wait_run(&t, run, Duration::from_secs(30), |v| {
        v["counts"]["answered-human"].as_i64() >= Some(1)
    })
    .await;

    // Another tenant's token space is separate: B's token cannot touch A's calls.
    let b = api.tenant("b").await;
    let (_, tb) = api
        .call(
            Method::POST,
            "/api/dialer-config/sim-dialer/callback-token",
            Some(&b.key),
            None,
        )
        .await;
    let (st, v) = post(
        done(&call_ids[2]),
        tb["token"].as_str().unwrap().to_string(),
    )
    .await;
    assert_eq!(
        (st, result(&v).as_str()),
        (StatusCode::OK, "held"),
        "held in B's own inbox, never applied to A's call: {v}"
    );
}

//! Generated bad provider callbacks (proptest, deterministic seed) against
//! `POST /api/callbacks/{token}` with the real http-dialer, on PostgreSQL and
//! SQLite: NUL and invalid UTF-8 in fields, values over the plugin output
//! limit, broken percent-encoding, odd statuses and numbers, missing and
//! repeated fields, raw bytes, JSON where a form is expected, missing or
//! forged signatures. Each body is signed as the provider would sign it.
//! Asserts: never a 5xx; a 4xx is in the error shape and changes nothing
//! (the tenant's data and the call's attempts are equal before and after).

use crate::api_bad_text::snapshot;
use crate::api_common::{Api, Tenant, error_code};
use dialplane_tests::callback_signing::twilio_signature;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Generated callbacks per engine (CI runs on 2 cores).
const CASES: u32 = 160;
const AUTH_TOKEN: &str = "tw-auth-token-fuzz-0123456789";
/// Over the plugin output limit (64 KiB), under the API body limit (1 MiB).
const OVERSIZED: usize = 70 << 10;

/// One way to spoil a valid callback; indices pick the field.
#[derive(Debug, Clone)]
enum Mutation {
    NulInValue(usize),
    Oversized(usize),
    BrokenPercent(usize, &'static str),
    InvalidUtf8(usize),
    OddValue(usize, String),
    Drop(usize),
    Repeat(usize),
    RawBytes(Vec<u8>),
    JsonBody,
    Unsigned,
    Forged,
    /// A valid callback for another status (may apply, be ignored or held).
    Status(&'static str),
}

const STATUSES: &[&str] = &[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let text =
        prop::collection::vec(any::<char>(), 0..16).prop_map(|c| c.into_iter().collect::<String>());
    prop_oneof![
        any::<usize>().prop_map(Mutation::NulInValue),
        any::<usize>().prop_map(Mutation::Oversized),
        (
            any::<usize>(),
            prop::sample::select(vec!["%", "%z", "%zz", "%%41"])
        )
            .prop_map(|(i, p)| Mutation::BrokenPercent(i, p)),
        any::<usize>().prop_map(Mutation::InvalidUtf8),
        (
            any::<usize>(),
            prop_oneof![
                text,
                Just("-1".to_string()),
                Just("99999999999999999999999".to_string()),
                Just("1e308".to_string()),
                Just("NaN".to_string()),
                Just(String::new()),
            ]
        )
            .prop_map(|(i, v)| Mutation::OddValue(i, v)),
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Repeat),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::RawBytes),
        Just(Mutation::JsonBody),
        Just(Mutation::Unsigned),
        Just(Mutation::Forged),
        prop::sample::select(STATUSES.to_vec()).prop_map(Mutation::Status),
    ]
}

/// `application/x-www-form-urlencoded` of already-encoded pairs.
fn form(fields: &[(String, String)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The body of a spoiled callback for `call_id`, and whether to sign it
/// (`Some(false)`: a forged signature; `None`: no signature).
fn spoil(call_id: &str, m: &Mutation) -> (Vec<u8>, Option<bool>) {
    let mut fields: Vec<(String, String)> = [
        ("CallSid", call_id),
        ("AccountSid", "AC0123456789"),
        ("CallStatus", "completed"),
        ("AnsweredBy", "human"),
        ("CallDuration", "12"),
        ("SipResponseCode", "200"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let n = fields.len();
    let mut sign = Some(true);
    match m {
        Mutation::NulInValue(i) => fields[i % n].1.push_str("%00x"),
        Mutation::Oversized(i) => fields[i % n].1 = "A".repeat(OVERSIZED),
        Mutation::BrokenPercent(i, p) => fields[i % n].1.push_str(p),
        Mutation::InvalidUtf8(i) => fields[i % n].1.push_str("%ff%fe"),
        Mutation::OddValue(i, v) => {
            fields[i % n].1 = form_urlencoded::byte_serialize(v.as_bytes()).collect()
        }
        Mutation::Drop(i) => {
            fields.remove(i % n);
        }
        Mutation::Repeat(i) => {
            let f = fields[i % n].clone();
            fields.push((f.0, format!("{}x", f.1)));
        }
        Mutation::RawBytes(b) => return (b.clone(), Some(true)),
        Mutation::JsonBody => {
            let v = json!({"CallSid": call_id, "CallStatus": "completed"});
            return (serde_json::to_vec(&v).unwrap(), Some(true));
        }
        Mutation::Unsigned => sign = None,
        Mutation::Forged => sign = Some(false),
        Mutation::Status(s) => fields[2].1 = s.to_string(),
    }
    (form(&fields), sign)
}

/// What a callback can change: the tenant's resources and the call's attempts.
async fn state(api: &Api, t: &Tenant, run: i64) -> Value {
    let (st, jobs) = api
        .get(&format!("/api/outbound/runs/{run}/jobs"), &t.key)
        .await;
    assert_eq!(st, StatusCode::OK, "{jobs}");
    json!({"resources": snapshot(api, t).await, "jobs": jobs["items"]})
}

async fn fuzz_callbacks(mut api: Api) {
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_dialer(&admin, "http-dialer", dialplane::builtin::HTTP_DIALER)
        .await;
    let t = api.tenant("fuzz").await;
    api.install_default_flow(&t).await;
    for (dialer, config) in [
        (
            "http-dialer",
            json!({"config": {
                "base_url": "https://api.twilio.com", "account_sid": "AC0123456789",
                "from": "+15550001111", "twiml_url": "https://example.test/twiml",
                "status_callback": "https://dialplane.example/api/callbacks/later",
                "auth_token": AUTH_TOKEN}}),
        ),
        (
            "sim-dialer",
            json!({"config": {"mode": "pending", "pending_secs": "3600"}}),
        ),
    ] {
        let (st, v) = api
            .call(
                reqwest::Method::PUT,
                &format!("/api/dialer-config/{dialer}"),
                Some(&t.key),
                Some(config),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{dialer}: {v}");
    }
    let (st, tok) = api
        .post(
            "/api/dialer-config/http-dialer/callback-token",
            &t.key,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{tok}");
    let path = tok["path"].as_str().unwrap().to_string();
    let url = tok["callback_url"].as_str().unwrap().to_string();

    // One call left pending by the sim-dialer: the callbacks' target.
    let leads = api.import_leads(&t, 1).await;
    api.worker(|_| {}).await;
    let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
    let call_id = api.placed_call_id(&t, run).await;
    // From here only callbacks change the call: a final event applied is
    // not settled by a worker behind the test's back.
    api.stop_workers().await;

    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: CASES,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = mutation();
    let mut before = state(&api, &t, run).await;
    let mut refused = 0;
    for _ in 0..CASES {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        let (body, sign) = spoil(&call_id, &m);
        let mut rb = api
            .http
            .post(format!("{}{path}", api.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        match sign {
            Some(true) => {
                rb = rb.header(
                    "X-Twilio-Signature",
                    twilio_signature(AUTH_TOKEN, &url, &body),
                )
            }
            Some(false) => {
                rb = rb.header(
                    "X-Twilio-Signature",
                    twilio_signature("guessed", &url, &body),
                )
            }
            None => {}
        }
        let resp = rb.send().await.expect("callback request");
        let st = resp.status();
        let text = resp.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let shown: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        let what = format!("{m:?} {shown}");
        assert!(!st.is_server_error(), "{what}: {st} {v}");
        if st.is_success() {
            let result = v["result"].as_str().unwrap_or_default();
            assert!(
                ["applied", "ignored", "held", "no_event"].contains(&result),
                "{what}: {v}"
            );
            before = state(&api, &t, run).await;
            continue;
        }
        refused += 1;
        assert!(st.is_client_error(), "{what}: {st} {v}");
        error_code(&v);
        if matches!(m, Mutation::Unsigned | Mutation::Forged) {
            assert_eq!(st, StatusCode::FORBIDDEN, "{what}: {v}");
        }
        assert_eq!(
            state(&api, &t, run).await,
            before,
            "{what}: {st} {v} changed data"
        );
    }
    // A call id over the plugin output limit: the request's fault, a 400
    // naming the WIT field, not a 500.
    let (body, _) = spoil(&call_id, &Mutation::Oversized(0));
    let resp = api
        .http
        .post(format!("{}{path}", api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            twilio_signature(AUTH_TOKEN, &url, &body),
        )
        .body(body)
        .send()
        .await
        .expect("callback request");
    let st = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_callback"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call-event.provider-call-id"),
        "{v}"
    );
    assert_eq!(state(&api, &t, run).await, before);
    // The generator spoils most callbacks: a corpus that never reached a
    // refusal would test nothing.
    assert!(refused > CASES / 4, "only {refused} of {CASES} refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_callbacks_on_postgres() {
    fuzz_callbacks(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_callbacks_on_sqlite() {
    fuzz_callbacks(Api::sqlite().await).await;
}

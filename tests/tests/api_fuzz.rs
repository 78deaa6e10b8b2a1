//! Generated bad bodies (proptest, deterministic seed) against every JSON
//! POST/PUT route, on PostgreSQL and SQLite: NUL in strings, arrays for
//! objects, wrong types, huge numbers, unknown fields, truncated JSON.
//! Asserts: never a 5xx; a 4xx is in the error shape and changes nothing
//! (the tenant's [`snapshot`] is equal before and after).

use crate::api_bad_text::snapshot;
use crate::api_common::{Api, error_code};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Generated bodies per route (CI runs on 2 cores).
const CASES_PER_ROUTE: u32 = 64;

/// One way to spoil a valid body; `pick` chooses the leaf or cut.
#[derive(Debug, Clone)]
enum Mutation {
    NulInString(usize, String),
    WholeAsArray,
    WrongType(usize, Value),
    UnknownField(String),
    Truncate(usize),
    Replace(Value),
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!(true)),
        Just(json!(1e308)),
        Just(json!(-1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(0.5)),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "x"])),
        Just(json!("x\u{0}")),
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|c| json!(c.into_iter().collect::<String>())),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text =
        prop::collection::vec(any::<char>(), 0..8).prop_map(|c| c.into_iter().collect::<String>());
    prop_oneof![
        (any::<usize>(), text.clone()).prop_map(|(i, s)| Mutation::NulInString(i, s)),
        Just(Mutation::WholeAsArray),
        (any::<usize>(), odd_value()).prop_map(|(i, v)| Mutation::WrongType(i, v)),
        text.prop_map(Mutation::UnknownField),
        any::<usize>().prop_map(Mutation::Truncate),
        odd_value().prop_map(Mutation::Replace),
    ]
}

/// Every leaf (scalar) of `v`, mutable, in document order.
fn leaves(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(a) => a.iter_mut().flat_map(leaves).collect(),
        Value::Object(o) => o.values_mut().flat_map(leaves).collect(),
        other => vec![other],
    }
}

/// The bytes of `valid` spoiled by `m`.
fn spoil(valid: &Value, m: &Mutation) -> Vec<u8> {
    let mut v = valid.clone();
    match m {
        Mutation::NulInString(i, s) => {
            let mut ls = leaves(&mut v);
            let n = ls.len();
            if n > 0 {
                *ls[i % n] = json!(format!("{s}\u{0}{s}"));
            }
        }
        Mutation::WholeAsArray => {
            v = match v {
                Value::Object(o) => Value::Array(o.into_iter().map(|(_, x)| x).collect()),
                Value::Array(a) => a.into_iter().next().unwrap_or(json!(null)),
                other => json!([other]),
            }
        }
        Mutation::WrongType(i, odd) => {
            let mut ls = leaves(&mut v);
            let n = ls.len();
            if n > 0 {
                *ls[i % n] = odd.clone();
            }
        }
        Mutation::UnknownField(k) => match &mut v {
            Value::Object(o) => {
                o.insert(format!("zz{k}"), json!(1));
            }
            Value::Array(a) => match a.first_mut() {
                Some(Value::Object(o)) => {
                    o.insert(format!("zz{k}"), json!(1));
                }
                _ => a.push(json!({"zz": k})),
            },
            _ => {}
        },
        Mutation::Truncate(at) => {
            let bytes = serde_json::to_vec(&v).unwrap();
            return bytes[..at % bytes.len()].to_vec();
        }
        Mutation::Replace(odd) => v = odd.clone(),
    }
    serde_json::to_vec(&v).unwrap()
}

async fn fuzz_every_write_route(api: Api) {
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 3).await;
    let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
    let routes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/outbound/runs".into(),
            json!({
            "lead_ids": leads, "flow": "default-flow", "dialer": "sim-dialer",
            "settings": {"concurrency": 1, "max_attempts": 1, "calls_per_second": 1.0,
                         "calling_window": {"start": "00:00", "end": "23:59"},
                         "retry_delay_secs": 60, "cancel_mode": "drain", "flow": {"k": "v"}}}),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            json!({
            "filter": {"tag": "t", "status": "new"}, "flow": "default-flow", "dialer": "sim-dialer"}),
        ),
        (
            Method::POST,
            format!("/api/outbound/runs/{run}/cancel"),
            json!({"mode": "drain"}),
        ),
        (
            Method::POST,
            "/api/outbound/stop-queue".into(),
            json!({"run_id": run}),
        ),
        (
            Method::POST,
            "/api/leads".into(),
            json!([{
            "external_id": "F-1", "phone": "+14155550123", "name": "n", "timezone": "America/New_York",
            "attributes": {"a": "b"}, "status": "new", "tags": ["t"]}]),
        ),
        (
            Method::POST,
            "/api/dnc".into(),
            json!({"phones": ["+14155550199", "+14155550198"]}),
        ),
        (
            Method::PUT,
            "/api/dialer-config/sim-dialer".into(),
            json!({"config": {"k": "v"}}),
        ),
        (
            Method::PUT,
            "/api/plugins/flows/fuzz-flow".into(),
            json!({"wasm": "AGFzbQ=="}),
        ),
        (
            Method::PUT,
            "/api/admin/dialers/fuzz-dialer".into(),
            json!({"wasm": "AGFzbQ=="}),
        ),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: CASES_PER_ROUTE,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = mutation();
    let mut before = snapshot(&api, &t).await;
    for (method, path, valid) in &routes {
        let key = if path.starts_with("/api/admin/") {
            &admin
        } else {
            &t.key
        };
        for _ in 0..CASES_PER_ROUTE {
            let m = strategy.new_tree(&mut runner).unwrap().current();
            let body = spoil(valid, &m);
            let what = format!("{method} {path} {m:?} {}", String::from_utf8_lossy(&body));
            let (st, v) = api
                .raw(method.clone(), path, Some(key), "application/json", body)
                .await;
            assert!(!st.is_server_error(), "{what}: {st} {v}");
            if st.is_success() {
                // A mutation that kept the body valid: the new state is the baseline.
                before = snapshot(&api, &t).await;
                continue;
            }
            assert!(st.is_client_error(), "{what}: {st} {v}");
            if path == "/api/leads"
                && st == StatusCode::UNPROCESSABLE_ENTITY
                && v.get("errors").is_some()
            {
                // Lead imports report row by row (their documented 422 shape).
                assert!(
                    v["errors"].as_array().is_some_and(|e| !e.is_empty()),
                    "{what}: {v}"
                );
            } else {
                error_code(&v);
            }
            assert_eq!(
                snapshot(&api, &t).await,
                before,
                "{what}: {st} {v} changed data"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_write_routes_on_postgres() {
    fuzz_every_write_route(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_write_routes_on_sqlite() {
    fuzz_every_write_route(Api::sqlite().await).await;
}

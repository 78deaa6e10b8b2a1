//! Generated bad bodies (proptest, deterministic seed) against every
//! POST/PUT route, on PostgreSQL and SQLite: NUL in strings, arrays for
//! objects, wrong types, huge numbers, unknown fields, truncated JSON; bodies
//! sent to the routes that take none; and broken CSV lead files. (Provider
//! callbacks have their own: `api_callback_fuzz`.)
//! Asserts: never a 5xx; a 4xx is in the error shape and changes nothing
//! (the tenant's [`snapshot`] is equal before and after).

use crate::api_bad_text::snapshot;
use crate::api_common::{Api, Tenant, error_code};
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

/// What a write can change: the tenant's resources, its flows, the
/// platform's dialers and the run's jobs.
async fn state(api: &Api, t: &Tenant, admin: &str, run: i64) -> Value {
    let mut out = snapshot(api, t).await;
    for (path, key) in [
        ("/api/plugins/flows".to_string(), t.key.as_str()),
        ("/api/admin/dialers".to_string(), admin),
        (format!("/api/outbound/runs/{run}/jobs"), t.key.as_str()),
    ] {
        let (st, v) = api.get(&path, key).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
        out[path] = v["items"].clone();
    }
    // Keys and tenants; a key's last use moves with every request, not a write.
    for (path, key) in [
        ("/api/keys", t.key.as_str()),
        ("/api/admin/keys", admin),
        ("/api/admin/tenants", admin),
    ] {
        let (st, mut v) = api.get(path, key).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
        for item in v["items"].as_array_mut().unwrap() {
            item.as_object_mut().unwrap().remove("last_used_at");
        }
        out[path] = v["items"].clone();
    }
    out
}

/// `text/csv` mutations of a valid lead file: NUL, broken quoting, ragged
/// rows, invalid UTF-8, missing header columns, cuts.
fn csv_mutation() -> impl Strategy<Value = (u8, usize, Vec<u8>)> {
    (
        0u8..8,
        any::<usize>(),
        prop::collection::vec(any::<u8>(), 0..12),
    )
}

fn spoil_csv(valid: &str, (kind, at, bytes): &(u8, usize, Vec<u8>)) -> Vec<u8> {
    let mut b = valid.as_bytes().to_vec();
    let i = at % b.len();
    match kind {
        0 => b.insert(i, 0),
        1 => b.insert(i, b'"'),
        2 => b.splice(i..i, b",extra".iter().copied()).for_each(drop),
        3 => b.splice(i..i, [0xff, 0xfe]).for_each(drop),
        4 => b.truncate(i),
        5 => b.splice(i..i, bytes.iter().copied()).for_each(drop),
        6 => b = valid.replacen("phone", "telephone", 1).into_bytes(),
        _ => b.extend(std::iter::repeat_n(b'9', 300)),
    }
    b
}

/// A refused request: a 4xx in the error shape, or for a lead import its
/// documented row-by-row 422.
fn assert_refused(what: &str, path: &str, st: StatusCode, v: &Value) {
    assert!(st.is_client_error(), "{what}: {st} {v}");
    if path == "/api/leads" && st == StatusCode::UNPROCESSABLE_ENTITY && v.get("errors").is_some() {
        assert!(
            v["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{what}: {v}"
        );
    } else {
        error_code(v);
    }
}

async fn fuzz_every_write_route(api: Api) {
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 3).await;
    let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
    let (_, jobs) = api
        .get(&format!("/api/outbound/runs/{run}/jobs"), &t.key)
        .await;
    let job = jobs["items"][0]["id"].as_i64().unwrap();
    // Keys to rotate (rotating the keys the fuzz uses would lock it out).
    let (_, spare) = api.post("/api/keys", &t.key, json!({})).await;
    let spare = spare["id"].as_i64().unwrap();
    let (_, spare_admin) = api.post("/api/admin/keys", &admin, json!({})).await;
    let spare_admin = spare_admin["id"].as_i64().unwrap();
    let routes: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/keys".into(), json!({"label": "ci"})),
        (
            Method::POST,
            "/api/admin/keys".into(),
            json!({"label": "ops"}),
        ),
        (
            Method::POST,
            "/api/admin/tenants".into(),
            json!({"name": "Fuzz Co"}),
        ),
        (
            Method::POST,
            format!("/api/admin/tenants/{}/keys", t.id),
            json!({"label": "rescue"}),
        ),
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
        // Pause and resume take no body (ignored); before the cancel, so
        // the first of each applies and later resumes are 409s.
        (
            Method::POST,
            format!("/api/outbound/runs/{run}/pause"),
            json!({"x": 1}),
        ),
        (
            Method::POST,
            format!("/api/outbound/runs/{run}/resume"),
            json!({"x": 1}),
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
            "/api/settings/retention".into(),
            json!({"days": 30}),
        ),
        (
            Method::POST,
            "/api/leads/erase".into(),
            json!({"phone": "+14155550177"}),
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
        (
            Method::POST,
            "/api/plugins/flows/default-flow/activate".into(),
            json!({"version": 1}),
        ),
        (
            Method::POST,
            "/api/admin/dialers/sim-dialer/activate".into(),
            json!({"version": 1}),
        ),
        // Routes that take no body: whatever is sent is refused or ignored.
        (
            Method::POST,
            "/api/plugins/flows/default-flow/rollback".into(),
            json!({"version": 1}),
        ),
        (
            Method::POST,
            "/api/admin/dialers/sim-dialer/rollback".into(),
            json!({"version": 1}),
        ),
        (
            Method::POST,
            "/api/dialer-config/sim-dialer/callback-token".into(),
            json!({"x": 1}),
        ),
        (
            Method::POST,
            format!("/api/outbound_calls/jobs/{job}/cancel"),
            json!({"x": 1}),
        ),
        (
            Method::POST,
            format!("/api/keys/{spare}/rotate"),
            json!({"x": 1}),
        ),
        (
            Method::POST,
            format!("/api/admin/keys/{spare_admin}/rotate"),
            json!({"x": 1}),
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
    let mut before = state(&api, &t, &admin, run).await;
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
                before = state(&api, &t, &admin, run).await;
                continue;
            }
            assert_refused(&what, path, st, &v);
            assert_eq!(
                state(&api, &t, &admin, run).await,
                before,
                "{what}: {st} {v} changed data"
            );
        }
    }

    // The lead import's other body type.
    let valid_csv = "external_id,phone,name,timezone,plan\nC-1,+14155550111,Ann,America/New_York,gold\nC-2,+14155550112,\"Bo, Jr\",Europe/London,\n";
    let strategy = csv_mutation();
    for _ in 0..CASES_PER_ROUTE {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        let body = spoil_csv(valid_csv, &m);
        let what = format!("CSV {m:?} {}", String::from_utf8_lossy(&body));
        let (st, v) = api
            .raw(Method::POST, "/api/leads", Some(&t.key), "text/csv", body)
            .await;
        assert!(!st.is_server_error(), "{what}: {st} {v}");
        if st.is_success() {
            before = state(&api, &t, &admin, run).await;
            continue;
        }
        assert_refused(&what, "/api/leads", st, &v);
        assert_eq!(
            state(&api, &t, &admin, run).await,
            before,
            "{what}: {st} {v} changed data"
        );
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

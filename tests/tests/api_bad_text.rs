//! Bad input the engines used to disagree on, on PostgreSQL and SQLite
//! alike: NUL in any text (JSON, CSV, path, query) → 422/400 naming the
//! field; arrays where objects are documented; axum's own rejections (405,
//! bad path, bad query) in the error shape; duplicate lead ids, absurd
//! rates, an all-invalid DNC post. Every refusal leaves the tenant's data
//! as it was ([`snapshot`]).

use crate::api_common::{Api, Tenant, error_code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What a tenant can see of its data: runs, leads, DNC, dialer configs and
/// tenant-store entries. Equal before and after a refused request.
pub async fn snapshot(api: &Api, t: &Tenant) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/api/outbound/runs?limit=500",
        "/api/leads?limit=500",
        "/api/dnc?limit=500",
        "/api/dialer-config",
        "/api/tenant-store?limit=500",
    ] {
        let (st, v) = api.get(path, &t.key).await;
        assert_eq!(st, StatusCode::OK, "{path}: {v}");
        out.insert(path.into(), v["items"].clone());
    }
    Value::Object(out)
}

/// The tenant `t` of a fresh API with sim-dialer, default-flow, two leads
/// and one (unstarted) run.
async fn setup(api: &Api) -> (Tenant, Vec<i64>, i64) {
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 2).await;
    let run = api.create_run(&t, &leads, 1).await["id"].as_i64().unwrap();
    (t, leads, run)
}

/// A JSON request and the refusal it must get: method, path, body, status,
/// error code, field.
type JsonCase = (
    Method,
    String,
    Value,
    u16,
    &'static str,
    Option<&'static str>,
);

/// Asserts `(status, error code, field)` of a refused request.
fn refused(what: &str, (st, v): (StatusCode, Value), status: u16, code: &str, field: Option<&str>) {
    assert_eq!(st.as_u16(), status, "{what}: {v}");
    assert_eq!(error_code(&v), code, "{what}: {v}");
    assert_eq!(v["error"]["field"].as_str(), field, "{what}: {v}");
}

async fn bad_text_and_shapes(api: Api) {
    let (t, leads, run) = setup(&api).await;
    let before = snapshot(&api, &t).await;
    let nul = "a\u{0}b";
    let run_body = json!({"lead_ids": leads, "flow": "default-flow", "dialer": "sim-dialer"});
    let patched = |k: &str, v: Value| {
        let mut b = run_body.clone();
        b[k] = v;
        b
    };
    let json_cases: Vec<JsonCase> = vec![
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("flow", json!(nul)),
            422,
            "invalid_value",
            Some("flow"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("dialer", json!(nul)),
            422,
            "invalid_value",
            Some("dialer"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("settings", json!({"flow": {"k": nul}})),
            422,
            "invalid_value",
            Some("settings.flow.k"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            json!({"filter": {"tag": nul}, "flow": "default-flow", "dialer": "sim-dialer"}),
            422,
            "invalid_value",
            Some("filter.tag"),
        ),
        (
            Method::PUT,
            "/api/dialer-config/sim-dialer".into(),
            json!({"config": {"k": nul}}),
            422,
            "invalid_value",
            Some("config.k"),
        ),
        (
            Method::PUT,
            "/api/dialer-config/sim-dialer".into(),
            json!({"config": {nul: "v"}}),
            422,
            "invalid_value",
            Some("config"),
        ),
        (
            Method::POST,
            "/api/dnc".into(),
            json!({"phones": ["+14155550100", nul]}),
            422,
            "invalid_value",
            Some("phones[1]"),
        ),
        // Positional arrays where objects are documented.
        (
            Method::POST,
            "/api/outbound/stop-queue".into(),
            json!([run]),
            422,
            "invalid_value",
            None,
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            json!([leads, null, "default-flow", null, "sim-dialer"]),
            422,
            "invalid_value",
            None,
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("settings", json!([4])),
            422,
            "invalid_value",
            Some("settings"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("settings", json!({"calling_window": ["00:00", "23:59"]})),
            422,
            "invalid_value",
            Some("settings.calling_window"),
        ),
        (
            Method::POST,
            format!("/api/outbound/runs/{run}/cancel"),
            json!(["drain"]),
            422,
            "invalid_value",
            None,
        ),
        (
            Method::PUT,
            "/api/dialer-config/sim-dialer".into(),
            json!([{"k": "v"}]),
            422,
            "invalid_value",
            None,
        ),
        (
            Method::POST,
            "/api/dnc".into(),
            json!([["+14155550100"]]),
            422,
            "invalid_value",
            None,
        ),
        // Duplicates, ranges, nothing valid.
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("lead_ids", json!([leads[0], leads[1], leads[0]])),
            422,
            "invalid_value",
            Some("lead_ids[2]"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("settings", json!({"calls_per_second": 1e308})),
            422,
            "invalid_value",
            Some("settings.calls_per_second"),
        ),
        (
            Method::POST,
            "/api/outbound/runs".into(),
            patched("settings", json!({"retry_delay_secs": 4_000_000_000u32})),
            422,
            "invalid_value",
            Some("settings.retry_delay_secs"),
        ),
        (
            Method::POST,
            "/api/dnc".into(),
            json!({"phones": ["nope", "+1"]}),
            422,
            "invalid_value",
            Some("phones[0]"),
        ),
    ];
    for (m, path, body, status, code, field) in json_cases {
        let what = format!("{m} {path} {body}");
        let r = api.call(m, &path, Some(&t.key), Some(body)).await;
        refused(&what, r, status, code, field);
    }

    // Trailing garbage after the document is malformed JSON.
    let r = api
        .raw(
            Method::POST,
            "/api/outbound/stop-queue",
            Some(&t.key),
            "application/json",
            format!("{{\"run_id\": {run}}} x").into_bytes(),
        )
        .await;
    refused("trailing garbage", r, 400, "invalid_json", None);

    // Lead imports report text per row, JSON and CSV alike; all rows bad → 422.
    let (st, v) = api
        .post(
            "/api/leads",
            &t.key,
            json!([{"external_id": "N-1", "phone": "+14155550100", "attributes": {"a": nul}}]),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "attributes.a", "{v}");
    let csv = b"external_id,phone,name\nN-2,+14155550100,a\0b\n".to_vec();
    let (st, v) = api
        .raw(Method::POST, "/api/leads", Some(&t.key), "text/csv", csv)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "name", "{v}");
    let (st, v) = api
        .post("/api/leads", &t.key, json!([["N-3", "+14155550100"]]))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Query and path parameters: 400 naming the parameter.
    let get_cases: Vec<(Method, &str, u16, &str, Option<&str>)> = vec![
        (
            Method::GET,
            "/api/leads?tag=a%00b",
            400,
            "invalid_query",
            Some("tag"),
        ),
        (
            Method::GET,
            "/api/leads?status=%00",
            400,
            "invalid_query",
            Some("status"),
        ),
        (
            Method::GET,
            "/api/tenant-store?namespace=ns%00",
            400,
            "invalid_query",
            Some("namespace"),
        ),
        (
            Method::GET,
            "/api/leads?limit=1&limit=2",
            400,
            "invalid_query",
            None,
        ),
        (
            Method::GET,
            "/api/tenant-store/ns%00/k",
            400,
            "invalid_path",
            Some("namespace"),
        ),
        (
            Method::GET,
            "/api/tenant-store/ns/%FF",
            400,
            "invalid_path",
            Some("key"),
        ),
        (
            Method::DELETE,
            "/api/dnc/%2B1415%00",
            400,
            "invalid_path",
            Some("phone"),
        ),
        (
            Method::PUT,
            "/api/dialer-config/sim%00dialer",
            400,
            "invalid_path",
            Some("dialer"),
        ),
        // axum's own 405, in the error shape.
        (
            Method::DELETE,
            "/api/outbound/runs",
            405,
            "method_not_allowed",
            None,
        ),
        (Method::PATCH, "/api/leads", 405, "method_not_allowed", None),
    ];
    for (m, path, status, code, field) in get_cases {
        let what = format!("{m} {path}");
        let r = api
            .call(m, path, Some(&t.key), Some(json!({"config": {}})))
            .await;
        refused(&what, r, status, code, field);
    }

    assert_eq!(
        snapshot(&api, &t).await,
        before,
        "a refused request changed data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_text_and_shapes_on_postgres() {
    bad_text_and_shapes(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_text_and_shapes_on_sqlite() {
    bad_text_and_shapes(Api::sqlite().await).await;
}

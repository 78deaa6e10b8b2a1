//! Bad input gets a precise 4xx in the error shape and writes nothing:
//! malformed JSON, wrong types, unknown fields, bodies over the limit (413),
//! uploads that are not components or implement the wrong world, SQL-like
//! and non-ASCII strings, absurd paging values, bad path ids.

use crate::api_common::{self, Api, error_code};
use dialplane::api::ApiConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn count_runs(api: &Api, t: &api_common::Tenant) -> usize {
    api.get("/api/outbound/runs?limit=500", &t.key).await.1["items"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_are_precise_and_nothing_is_written() {
    let api = Api::pg_with(ApiConfig {
        body_limit: 64 << 10,
        ..ApiConfig::default()
    })
    .await;
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 2).await;

    let raw = |body: &'static str| {
        api.raw(
            Method::POST,
            "/api/outbound/runs",
            Some(&t.key),
            "application/json",
            body.into(),
        )
    };
    let (st, v) = raw("{\"lead_ids\": [1,").await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{v}"
    );

    let base = json!({"lead_ids": leads, "flow": "default-flow", "dialer": "sim-dialer"});
    let with = |patch: Value| {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(json!({"lead_ids": "all"})), 422, "lead_ids"),
        (
            with(json!({"settings": {"concurrency": "four"}})),
            422,
            "settings.concurrency",
        ),
        (
            with(json!({"settings": {"concurrency": 0}})),
            422,
            "settings.concurrency",
        ),
        (
            with(json!({"settings": {"concurrency": -1}})),
            422,
            "settings.concurrency",
        ),
        (
            with(json!({"settings": {"max_attempts": 99}})),
            422,
            "settings.max_attempts",
        ),
        (
            with(json!({"settings": {"colour": "red"}})),
            422,
            "settings.colour",
        ),
        (
            with(json!({"settings": {"calling_window": {"start": "25:00", "end": "20:00"}}})),
            422,
            "settings.calling_window",
        ),
        (
            with(json!({"settings": {"cancel_mode": "explode"}})),
            422,
            "settings.cancel_mode",
        ),
        (with(json!({"business_id": 1})), 422, "business_id"),
        (with(json!({"flow": "'; DROP TABLE runs; --"})), 422, "flow"),
        (with(json!({"flow": "flöw-日本"})), 422, "flow"),
        (with(json!({"dialer": "nope"})), 422, "dialer"),
        (with(json!({"flow_version": 42})), 422, "flow"),
        (
            with(json!({"lead_ids": [leads[0], leads[0]]})),
            422,
            "lead_ids[1]",
        ),
        (with(json!({"lead_ids": [999999]})), 422, "lead_ids[0]"),
        (with(json!({"lead_ids": []})), 422, "lead_ids"),
        (with(json!({"filter": {"tag": "t"}})), 422, "lead_ids"),
    ];
    for (body, status, field) in cases {
        let (st, v) = api.post("/api/outbound/runs", &t.key, body.clone()).await;
        assert_eq!(st.as_u16(), status, "{body} → {v}");
        error_code(&v);
        if !field.is_empty() {
            assert!(
                v["error"]["field"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(field),
                "{body} → {v}"
            );
        }
    }
    assert_eq!(count_runs(&api, &t).await, 0, "nothing may be half-written");

    // Over the body limit → 413 in the error shape; nothing stored.
    let big: Vec<Value> = (0..5000)
        .map(|i| json!({"external_id": format!("big-{i}"), "phone": "+14155550100"}))
        .collect();
    let (st, v) = api.post("/api/leads", &t.key, Value::Array(big)).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{v}"
    );
    assert_eq!(
        v["error"]["message"],
        "request body is larger than the limit of 65536 bytes (64 KiB); \
         the server's --body-limit (DIALPLANE_BODY_LIMIT) raises it",
        "{v}"
    );
    let (_, l) = api.get("/api/leads?limit=500", &t.key).await;
    assert_eq!(l["items"].as_array().unwrap().len(), 2);

    // Wrong content type, an object instead of an array.
    let (st, v) = api
        .raw(
            Method::POST,
            "/api/leads",
            Some(&t.key),
            "application/xml",
            b"<a/>".to_vec(),
        )
        .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (st, v) = api
        .post("/api/leads", &t.key, json!({"external_id": "x"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Stop-queue: unknown field, wrong type.
    let (st, v) = api
        .post(
            "/api/outbound/stop-queue",
            &t.key,
            json!({"run_id": 1, "force": true}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("force")),
        "{v}"
    );
    let (st, v) = api
        .post(
            "/api/outbound/stop-queue",
            &t.key,
            json!({"run_id": "1; DROP TABLE runs"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("run_id")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_and_path_values() {
    let api = Api::pg().await;
    let t = api.tenant("t").await;
    for q in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=99999999999999999999",
        "limit=abc",
        "cursor=zzz",
        "cursor=c",
    ] {
        let (st, v) = api.get(&format!("/api/leads?{q}"), &t.key).await;
        assert_eq!(
            (st, error_code(&v).as_str()),
            (StatusCode::BAD_REQUEST, "invalid_paging"),
            "{q}: {v}"
        );
    }
    // A NUL in any query parameter is refused before paging looks at it.
    let (st, v) = api.get("/api/leads?cursor=%00", &t.key).await;
    assert_eq!(
        (st, error_code(&v).as_str(), v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, "invalid_query", Some("cursor")),
        "{v}"
    );
    for path in [
        "/api/leads/abc",
        "/api/leads/-1",
        "/api/outbound/runs/1%27%20OR%201=1",
        "/api/outbound/runs/99999999999999999999",
    ] {
        let (st, v) = api.get(path, &t.key).await;
        assert_eq!(
            (st, error_code(&v).as_str()),
            (StatusCode::BAD_REQUEST, "invalid_path"),
            "{path}: {v}"
        );
    }
    let (st, v) = api.get("/api/leads/999999", &t.key).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (st, v) = api.get("/api/nope", &t.key).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (st, v) = api.get("/api/dnc/not-a-phone", &t.key).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("phone"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_must_be_components_of_the_right_world() {
    let api = Api::pg().await;
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    let api = &api;
    let put = |path: &'static str, key: String, bytes: Vec<u8>| async move {
        api.raw(Method::PUT, path, Some(&key), "application/wasm", bytes)
            .await
    };

    let (st, v) = put(
        "/api/plugins/flows/f",
        t.key.clone(),
        b"not wasm at all".to_vec(),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "not_a_component"),
        "{v}"
    );
    // A core module (the 8-byte header of one) is not a component.
    let (st, v) = put(
        "/api/plugins/flows/f",
        t.key.clone(),
        b"\0asm\x01\0\0\0".to_vec(),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "not_a_component"),
        "{v}"
    );
    // A dialer uploaded as a flow: wrong world, naming what is missing.
    let (st, v) = put(
        "/api/plugins/flows/f",
        t.key.clone(),
        dialplane::builtin::SIM_DIALER.to_vec(),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "wrong_world"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call-flow"),
        "{v}"
    );
    let (st, v) = put(
        "/api/plugins/flows/f",
        t.key.clone(),
        dialplane::builtin::WRONG_WORLD.to_vec(),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "wrong_world"),
        "{v}"
    );
    // A flow uploaded as a dialer.
    let (st, v) = put(
        "/api/admin/dialers/d",
        admin.clone(),
        dialplane::builtin::DEFAULT_FLOW.to_vec(),
    )
    .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "wrong_world"),
        "{v}"
    );
    // Bad names.
    for name in ["UPPER", "a%20b", "-lead", "x%27%3B--", "%C3%A9t%C3%A9"] {
        let (st, v) = api
            .raw(
                Method::PUT,
                &format!("/api/plugins/flows/{name}"),
                Some(&t.key),
                "application/wasm",
                dialplane::builtin::DEFAULT_FLOW.to_vec(),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name}: {v}");
    }
    // Nothing stored.
    let (_, v) = api.get("/api/plugins/flows", &t.key).await;
    assert_eq!(v["items"], json!([]));
    let (_, v) = api.get("/api/admin/dialers", &admin).await;
    assert_eq!(v["items"], json!([]));
    let m = api.metrics().await;
    assert!(
        m.contains("dialplane_plugin_errors_total{cause=\"wrong-world\"} 3"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_versions_activate_and_rollback() {
    let api = Api::pg().await;
    let t = api.tenant("t").await;
    for bytes in [
        dialplane::builtin::DEFAULT_FLOW,
        dialplane::builtin::BUSINESS_RULES_FLOW,
    ] {
        let (st, v) = api
            .raw(
                Method::PUT,
                "/api/plugins/flows/f",
                Some(&t.key),
                "application/wasm",
                bytes.to_vec(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    }
    let (_, v) = api.get("/api/plugins/flows/f", &t.key).await;
    let versions: Vec<(i64, bool)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["version"].as_i64().unwrap(),
                x["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, vec![(2, false), (1, true)], "{v}");
    let (st, v) = api
        .post(
            "/api/plugins/flows/f/activate",
            &t.key,
            json!({"version": 2}),
        )
        .await;
    assert_eq!(
        (st, v["active"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (st, v) = api
        .post("/api/plugins/flows/f/rollback", &t.key, json!({}))
        .await;
    assert_eq!(
        (st, v["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{v}"
    );
    let (st, v) = api
        .post("/api/plugins/flows/f/rollback", &t.key, json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, v) = api
        .post(
            "/api/plugins/flows/f/activate",
            &t.key,
            json!({"version": 7}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("version")),
        "{v}"
    );
}

/// The default plugin upload limit takes a componentize-py flow (~19 MB);
/// over it, the 413 names the limit and the setting that raises it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_upload_over_the_default_limit_names_limit_and_setting() {
    let limit = dialplane::config::API_PLUGIN_BODY_LIMIT_DEFAULT;
    assert!(limit >= 32 << 20, "{limit}");
    let api = Api::pg_with(ApiConfig::default()).await;
    let t = api.tenant("t").await;
    // The server may answer 413 and close before the whole body is sent
    // (a client then sees a broken pipe, not the answer): write the body
    // on its own task, ignoring write errors, and read the answer.
    let (status, v) =
        put_ignoring_early_close(&api.base, &t.key, "/api/plugins/flows/huge", limit + 1).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (413, "payload_too_large"),
        "{v}"
    );
    assert_eq!(
        v["error"]["message"],
        "request body is larger than the limit of 33554432 bytes (32 MiB); \
         the server's --plugin-body-limit (DIALPLANE_PLUGIN_BODY_LIMIT) raises it",
        "{v}"
    );
    let (st, v) = api.get("/api/plugins/flows/huge", &t.key).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "nothing stored: {v}");
}

/// `PUT path` with a body of `len` zero bytes over a raw HTTP/1.1
/// connection; the status and JSON body of the answer, even when the server
/// answers and closes before it has read the whole body.
async fn put_ignoring_early_close(base: &str, key: &str, path: &str, len: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/wasm\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        let chunk = vec![0u8; 1 << 16];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            if wr.write_all(&chunk[..n]).await.is_err() {
                return; // closed after answering: expected
            }
            left -= n;
        }
    });
    let mut answer = Vec::new();
    // Until the server closes (Connection: close); a reset after the
    // answer arrived still leaves the answer in `answer`.
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json = body.find('{').map(|i| &body[i..]).unwrap_or("null");
    let end = json.rfind('}').map(|i| &json[..=i]).unwrap_or(json);
    (status, serde_json::from_str(end).unwrap_or(Value::Null))
}

//! The API end to end on real PostgreSQL with a real worker: auth, leads
//! import (JSON and CSV, per-row errors), plugins, runs to completion,
//! jobs with attempts, SSE events, cancel (new and original endpoints),
//! health, metrics, OpenAPI.

use std::time::Duration;

use crate::api_common::{Api, error_code};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_401_403_and_health() {
    let api = Api::pg().await;
    let t = api.tenant("acme").await;
    let admin = api.admin_key().await;

    let (st, v) = api.call(Method::GET, "/api/leads", None, None).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (st, _) = api.get("/api/leads", "dp_tenant_0000").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = api.get("/api/admin/dialers", &t.key).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (st, _) = api.get("/api/admin/dialers", &admin).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = api.get("/api/leads", &t.key).await;
    assert_eq!(st, StatusCode::OK);

    // Revoked key → 401.
    let k2 = api.db.create_api_key(Some(t.id.into())).await.unwrap();
    assert_eq!(api.get("/api/leads", &k2.plaintext).await.0, StatusCode::OK);
    api.db
        .revoke_api_key(Some(t.id.into()), k2.id)
        .await
        .unwrap();
    assert_eq!(
        api.get("/api/leads", &k2.plaintext).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (st, v) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (st, v) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        v["schema_version"],
        json!(dialplane::store::migrate::latest_version())
    );
    let (st, v) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        v["paths"]["/api/outbound/runs/{id}"]["get"].is_object(),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_import_json_and_csv_reports_bad_rows_and_stores_good_ones() {
    let api = Api::pg().await;
    let t = api.tenant("acme").await;
    let body = json!([
        {"external_id": "a", "phone": "+14155550100", "timezone": "Europe/Paris", "tags": ["vip"]},
        {"external_id": "b", "phone": "555-0100"},
        {"external_id": "c", "phone": "+14155550102", "timezone": "Mars/Olympus"},
        {"external_id": "d", "phone": "+14155550103", "colour": "red"},
        {"external_id": "Zoë ' OR 1=1 --", "phone": "+14155550104", "name": "Zoë Ñandú 山田"},
        {"external_id": "a", "phone": "+14155550105"}
    ]);
    let (st, v) = api.post("/api/leads", &t.key, body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 2, "{v}");
    let errs = v["errors"].as_array().unwrap();
    let fields: Vec<(i64, &str)> = errs
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            (2, "phone"),
            (3, "timezone"),
            (4, "colour"),
            (6, "external_id")
        ],
        "{v}"
    );
    assert!(
        errs[2]["reason"].as_str().unwrap().contains("colour"),
        "{v}"
    );

    // Upsert by external id; CSV with a bad line.
    let csv = "external_id,phone,timezone,tags,plan\na,+14155550199,Europe/Paris,vip;new,gold\ne,12345,,x,\n";
    let (st, v) = api
        .raw(
            Method::POST,
            "/api/leads",
            Some(&t.key),
            "text/csv",
            csv.into(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["created"].as_i64(), v["updated"].as_i64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"][0]["row"], 3, "{v}");
    assert_eq!(v["errors"][0]["field"], "phone", "{v}");

    let (st, v) = api.get("/api/leads?tag=vip", &t.key).await;
    assert_eq!(st, StatusCode::OK);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["phone"], "+14155550199");
    assert_eq!(items[0]["attributes"]["plan"], "gold");
    let id = items[0]["id"].as_i64().unwrap();
    let (st, v) = api.get(&format!("/api/leads/{id}"), &t.key).await;
    assert_eq!((st, v["external_id"].as_str()), (StatusCode::OK, Some("a")));

    // Paging walks every lead exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/leads?limit=1&cursor={c}"),
            None => "/api/leads?limit=1".into(),
        };
        let (_, v) = api.get(&path, &t.key).await;
        seen.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["external_id"].as_str().unwrap().to_string()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.contains(&"Zoë ' OR 1=1 --".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_completes_with_jobs_attempts_events_and_metrics() {
    let mut api = Api::pg().await;
    let t = api.tenant("acme").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 20).await;
    api.worker(|_| {}).await;
    let run = api.create_run(&t, &leads, 4).await;
    let id = run["id"].as_i64().unwrap();
    assert_eq!(run["total_leads"], 20);
    assert_eq!(run["flow"], json!({"name": "default-flow", "version": 1}));
    assert_eq!(run["dialer"], "sim-dialer");

    // SSE: state events, progress, a final terminal state, then the end.
    let resp = api
        .http
        .get(format!("{}/api/outbound/runs/{id}/events", api.base))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = tokio::time::timeout(Duration::from_secs(60), resp.text())
        .await
        .expect("stream ends")
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"state"), "{text}");
    assert_eq!(events.last(), Some(&"state"), "{text}");
    let last_data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let last: serde_json::Value = serde_json::from_str(last_data).unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["cursor_position"], 20);

    let v = api
        .wait_run(&t, id, Duration::from_secs(30), |v| {
            v["status"] == "completed"
        })
        .await;
    assert_eq!(v["cursor_position"], v["total_leads"]);
    assert!(v["last_call_placed_at"].is_string(), "{v}");
    let counted: i64 = v["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(counted, 20, "{v}");

    let (st, j) = api
        .get(&format!("/api/outbound/runs/{id}/jobs?limit=5"), &t.key)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(j["items"].as_array().unwrap().len(), 5);
    assert!(j["next_cursor"].is_string());
    let job = &j["items"][0];
    assert_eq!(job["lead_external_id"], "L-1");
    assert_eq!(job["attempts"][0]["attempt"], 1, "{j}");
    assert!(job["attempts"][0]["compliance"].is_object(), "{j}");
    assert_eq!(
        job["attempts"][0]["dialer_version"], 1,
        "the attempt names the adapter version that placed it: {j}"
    );

    let (st, runs) = api.get("/api/outbound/runs", &t.key).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(runs["items"][0]["id"], id);

    let (st, audit) = api.get("/api/audit", &t.key).await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"run.created") && actions.contains(&"plugin.uploaded"),
        "{actions:?}"
    );

    let fleet = api.fleet_metrics().await;
    assert!(
        fleet.contains("dialplane_runs{state=\"completed\"} 1"),
        "{fleet}"
    );
    assert!(fleet.contains("dialplane_job_outcomes{outcome="), "{fleet}");
    assert!(fleet.contains("dialplane_calls_in_flight 0"), "{fleet}");
    let m = api.metrics().await;
    assert!(m.contains("dialplane_calls_total{outcome="), "{m}");
    assert!(m.contains("dialplane_build_info{version="), "{m}");
    assert!(metric(&m, "dialplane_heartbeats_total") >= 1.0, "{m}");
    assert!(
        m.contains("dialplane_http_requests_total{route=\"/api/outbound/runs/{id}\",method=\"GET\",status=\"200\"}"),
        "requests are counted by route template: {m}"
    );
    assert!(
        !m.contains("dialplane_runs{"),
        "fleet gauges are not per node: {m}"
    );
    assert!(m.contains("dialplane_cancel_latency_seconds_count"), "{m}");
    assert!(
        metric(&m, "dialplane_claim_latency_seconds_count") >= 1.0,
        "the in-process worker's claim is counted: {m}"
    );
}

/// The value of the sample line `name` in Prometheus text (0 if absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// A tenant's flow that traps on every lead, run by the worker of this
/// process: every lead fails with the cause named, the run still completes,
/// and `/metrics` counts the failures by cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_plugin_failures_are_counted_by_cause() {
    let mut api = Api::pg().await;
    let t = api.tenant("acme").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let (st, v) = api
        .raw(
            Method::PUT,
            "/api/plugins/flows/panicky",
            Some(&t.key),
            "application/wasm",
            dialplane::builtin::HOSTILE_PANIC.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let leads = api.import_leads(&t, 3).await;
    api.worker(|_| {}).await;
    let (st, run) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": leads, "flow": "panicky", "dialer": "sim-dialer",
                   "settings": {"calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let done = api
        .wait_run(&t, id, Duration::from_secs(60), |r| {
            r["status"] == "completed" || r["status"] == "failed"
        })
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, jobs) = api
        .get(&format!("/api/outbound/runs/{id}/jobs"), &t.key)
        .await;
    for j in jobs["items"].as_array().unwrap() {
        assert_eq!(j["state"], "failed", "{j}");
        assert!(
            j["reason"].as_str().unwrap().contains("deliberate panic"),
            "{j}"
        );
    }
    let m = api.metrics().await;
    assert!(
        metric(&m, "dialplane_plugin_errors_total{cause=\"trap\"}") >= 3.0,
        "one trap per lead: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_new_and_original_endpoints() {
    let mut api = Api::pg().await;
    let t = api.tenant("acme").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 50).await;

    // No worker yet: runs stay queued; cancel is immediate.
    let r1 = api.create_run(&t, &leads[..10], 1).await["id"]
        .as_i64()
        .unwrap();
    let (st, v) = api
        .post(
            &format!("/api/outbound/runs/{r1}/cancel"),
            &t.key,
            json!({"mode": "drain"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["cancel_requested"], true);

    let r2 = api.create_run(&t, &leads[10..20], 1).await["id"]
        .as_i64()
        .unwrap();
    let (st, v) = api
        .post("/api/outbound/stop-queue", &t.key, json!({"run_id": r2}))
        .await;
    assert_eq!(
        (st, v["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{v}"
    );

    // Original: GET /api/outbound/runs/{run_id} has the same meaning.
    let (st, v) = api.get(&format!("/api/outbound/runs/{r2}"), &t.key).await;
    assert_eq!(
        (st, v["jobs"]["cancelled"].as_i64()),
        (StatusCode::OK, Some(10)),
        "{v}"
    );

    // Cancel one queued job.
    let r3 = api.create_run(&t, &leads[20..30], 1).await["id"]
        .as_i64()
        .unwrap();
    let (_, j) = api
        .get(&format!("/api/outbound/runs/{r3}/jobs"), &t.key)
        .await;
    let job = j["items"][0]["id"].as_i64().unwrap();
    let (st, v) = api
        .post(
            &format!("/api/outbound_calls/jobs/{job}/cancel"),
            &t.key,
            json!({}),
        )
        .await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{v}"
    );
    // Cancelling it again: not queued any more → 422 naming `status`.
    let (st, v) = api
        .post(
            &format!("/api/outbound_calls/jobs/{job}/cancel"),
            &t.key,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "status");

    // A running run: cancel returns once acknowledged; it ends cancelled.
    api.worker(|_| {}).await;
    let r4 = api.create_run(&t, &leads[30..50], 1).await["id"]
        .as_i64()
        .unwrap();
    api.wait_run(&t, r4, Duration::from_secs(30), |v| {
        v["status"] == "running" || v["status"] == "completed"
    })
    .await;
    let (st, v) = api
        .post(
            &format!("/api/outbound/runs/{r4}/cancel"),
            &t.key,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["cancel_requested"], true);
    api.wait_run(&t, r4, Duration::from_secs(30), |v| {
        matches!(v["status"].as_str(), Some("cancelled" | "completed"))
    })
    .await;
}

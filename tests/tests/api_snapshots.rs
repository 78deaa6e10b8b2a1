//! insta snapshots of the API's JSON responses on PostgreSQL, with ids,
//! times, hashes, keys and tokens redacted. Snapshots live in
//! `tests/snapshots/`.

use crate::api_common::Api;
use reqwest::Method;
use serde_json::{Value, json};

macro_rules! snap {
    ($name:expr, $value:expr) => {
        let value = $value;
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!($name, value, {
                ".**.id" => "[id]",
                ".**.lead_id" => "[id]",
                ".**.run_id" => "[id]",
                ".**.by_business_id" => "[id]",
                ".**.by_key_id" => "[id]",
                ".**.actor_key_id" => insta::dynamic_redaction(not_null("[id]")),
                ".**.created_at" => insta::dynamic_redaction(not_null("[time]")),
                ".**.updated_at" => insta::dynamic_redaction(not_null("[time]")),
                ".**.started_at" => insta::dynamic_redaction(not_null("[time]")),
                ".**.finished_at" => insta::dynamic_redaction(not_null("[time]")),
                ".**.at" => insta::dynamic_redaction(not_null("[time]")),
                ".**.sha256" => "[sha256]",
                ".**.size" => "[bytes]",
                ".**.token" => "[token]",
                ".**.path" => "[path]",
                ".**.next_cursor" => insta::dynamic_redaction(not_null("[cursor]")),
            });
        });
    };
}

/// Redacts a value unless it is null (a null time is information).
fn not_null(
    tag: &'static str,
) -> impl Fn(insta::internals::Content, insta::internals::ContentPath<'_>) -> insta::internals::Content
+ Send
+ Sync
+ 'static {
    move |v, _| if v.is_nil() { v } else { tag.into() }
}

/// Strips a run's `id` fields inside `stored` rows (they are database ids).
fn body(v: (reqwest::StatusCode, Value)) -> Value {
    json!({"status": v.0.as_u16(), "body": v.1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_json_responses() {
    let api = Api::pg().await;
    let admin = api.admin_key().await;
    let t = api.tenant("acme").await;
    let b = api.tenant("intruder").await;

    snap!(
        "dialer_upload",
        body(
            api.raw(
                Method::PUT,
                "/api/admin/dialers/sim-dialer",
                Some(&admin),
                "application/wasm",
                dialplane::builtin::SIM_DIALER.to_vec()
            )
            .await
        )
    );
    snap!(
        "flow_upload",
        body(
            api.raw(
                Method::PUT,
                "/api/plugins/flows/default-flow",
                Some(&t.key),
                "application/wasm",
                dialplane::builtin::DEFAULT_FLOW.to_vec()
            )
            .await
        )
    );
    snap!(
        "flow_wrong_world",
        body(
            api.raw(
                Method::PUT,
                "/api/plugins/flows/x",
                Some(&t.key),
                "application/wasm",
                dialplane::builtin::SIM_DIALER.to_vec()
            )
            .await
        )
    );

    let import = api
        .post(
            "/api/leads",
            &t.key,
            json!([
                {"external_id": "L-1", "phone": "+14155550127", "name": "Ada", "timezone": "America/New_York", "tags": ["vip"]},
                {"external_id": "L-2", "phone": "+33612345678", "name": "Zoë Ñandú", "timezone": "Europe/Paris", "attributes": {"plan": "gold"}},
                {"external_id": "L-3", "phone": "0612345678"},
                {"external_id": "L-4", "phone": "+14155550128", "timezone": "Nowhere/Land"}
            ]),
        )
        .await;
    snap!("leads_import", body(import.clone()));
    let ids: Vec<i64> = import.1["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    snap!(
        "leads_list",
        body(api.get("/api/leads?limit=1", &t.key).await)
    );

    let run = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": ids, "flow": "default-flow", "dialer": "sim-dialer",
                   "settings": {"concurrency": 2, "max_attempts": 2, "retry_delay_secs": 60,
                                "calling_window": {"start": "08:30", "end": "21:00"}, "flow": {"greeting": "hi"}}}),
        )
        .await;
    let run_id = run.1["id"].as_i64().unwrap();
    snap!("run_created", body(run));
    snap!(
        "run_jobs",
        body(
            api.get(&format!("/api/outbound/runs/{run_id}/jobs"), &t.key)
                .await
        )
    );
    snap!(
        "run_cancelled",
        body(
            api.post(
                &format!("/api/outbound/runs/{run_id}/cancel"),
                &t.key,
                json!({"mode": "drain"})
            )
            .await
        )
    );
    snap!(
        "run_legacy_get",
        body(
            api.get(&format!("/api/outbound/runs/{run_id}"), &t.key)
                .await
        )
    );

    snap!(
        "error_unauthorized",
        body(api.call(Method::GET, "/api/leads", None, None).await)
    );
    snap!(
        "error_cross_tenant",
        body(
            api.get(&format!("/api/outbound/runs/{run_id}"), &b.key)
                .await
        )
    );
    snap!(
        "error_unknown_field",
        body(
            api.post(
                "/api/outbound/stop-queue",
                &t.key,
                json!({"run_id": run_id, "now": true})
            )
            .await
        )
    );
    snap!(
        "error_paging",
        body(api.get("/api/leads?limit=100000", &t.key).await)
    );
    // The cross-tenant request's security event is written off the
    // response path: wait for it before the snapshot.
    let start = std::time::Instant::now();
    while !api.get("/api/audit", &t.key).await.1["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|e| e["security"] == true))
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no security event for the cross-tenant request"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    snap!("audit", body(api.get("/api/audit", &t.key).await));
    snap!(
        "dnc_add",
        body(
            api.post(
                "/api/dnc",
                &t.key,
                json!({"phones": ["+14155550100", "nope"]})
            )
            .await
        )
    );
}

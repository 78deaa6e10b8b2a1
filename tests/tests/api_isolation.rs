//! Tenant isolation through the API, for every endpoint and resource type:
//! a second tenant's key gets 404 with no data in the body, the owner's
//! resource is untouched, and a security event lands in the owner's and the
//! platform's audit logs. On PostgreSQL (RLS on) and SQLite.

use crate::api_common::{Api, Tenant, error_code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Owned {
    lead: i64,
    run: i64,
    job: i64,
}

async fn fixture(api: &Api, a: &Tenant) -> Owned {
    api.install_default_flow(a).await;
    let leads = api.import_leads(a, 3).await;
    let run = api.create_run(a, &leads, 1).await["id"].as_i64().unwrap();
    let (_, jobs) = api
        .get(&format!("/api/outbound/runs/{run}/jobs"), &a.key)
        .await;
    let job = jobs["items"][0]["id"].as_i64().unwrap();
    api.post("/api/dnc", &a.key, json!({"phones": ["+14155550999"]}))
        .await;
    api.db
        .kv_set(a.id.into(), "flow:default-flow", "secret-key", b"a-secret")
        .await
        .unwrap();
    Owned {
        lead: leads[0],
        run,
        job,
    }
}

fn assert_404_without_data(what: &str, st: StatusCode, v: &Value) {
    assert_eq!(st, StatusCode::NOT_FOUND, "{what}: {v}");
    assert_eq!(error_code(v), "not_found", "{what}");
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["error"], "{what}: {v}");
    let text = v.to_string();
    for leak in ["L-1", "+1415555", "a-secret", "default-flow"] {
        assert!(!text.contains(leak), "{what}: body leaks {leak}: {text}");
    }
}

async fn security_events(api: &Api, key: &str, path: &str) -> Vec<Value> {
    let (st, v) = api.get(&format!("{path}?limit=500"), key).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["security"] == true)
        .cloned()
        .collect()
}

/// The security events in the log at `path` once there are at least `n`
/// (or after [`AUDIT_WITHIN`], for the assertion that follows to show them).
async fn security_events_at_least(api: &Api, key: &str, path: &str, n: usize) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let events = security_events(api, key, path).await;
        if events.len() >= n || start.elapsed() > AUDIT_WITHIN {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How long an event written off the response path may take to land.
const AUDIT_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

async fn every_endpoint_is_isolated(api: Api) {
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let a = api.tenant("owner").await;
    let b = api.tenant("intruder").await;
    let o = fixture(&api, &a).await;
    api.install_default_flow(&b).await; // B has its own flow of the same name

    // (method, path, body, counts as a cross-tenant access of a resource)
    let cases: Vec<(Method, String, Option<Value>, bool)> = vec![
        (Method::GET, format!("/api/leads/{}", o.lead), None, true),
        (
            Method::GET,
            format!("/api/outbound/runs/{}", o.run),
            None,
            true,
        ),
        (
            Method::GET,
            format!("/api/outbound/runs/{}/jobs", o.run),
            None,
            true,
        ),
        (
            Method::GET,
            format!("/api/outbound/runs/{}/jobs/{}", o.run, o.job),
            None,
            true,
        ),
        (
            Method::GET,
            format!("/api/outbound/runs/{}/events", o.run),
            None,
            true,
        ),
        (
            Method::POST,
            format!("/api/outbound/runs/{}/cancel", o.run),
            Some(json!({})),
            true,
        ),
        (
            Method::POST,
            "/api/outbound/stop-queue".into(),
            Some(json!({"run_id": o.run})),
            true,
        ),
        (
            Method::POST,
            format!("/api/outbound_calls/jobs/{}/cancel", o.job),
            None,
            true,
        ),
        (Method::GET, "/api/dnc/+14155550999".into(), None, false),
        (Method::DELETE, "/api/dnc/+14155550999".into(), None, false),
        (
            Method::GET,
            "/api/tenant-store/flow:default-flow/secret-key".into(),
            None,
            false,
        ),
    ];
    let mut expected_events = 0;
    for (m, path, body, counts) in &cases {
        let (st, v) = api.call(m.clone(), path, Some(&b.key), body.clone()).await;
        assert_404_without_data(&format!("{m} {path}"), st, &v);
        if *counts {
            expected_events += 1;
        }
    }
    // A flow that only the owner has (B has default-flow too, so use a new name).
    let (st, _) = api
        .raw(
            Method::PUT,
            "/api/plugins/flows/owner-only",
            Some(&a.key),
            "application/wasm",
            dialplane::builtin::DEFAULT_FLOW.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    for (m, path, body) in [
        (Method::GET, "/api/plugins/flows/owner-only", None),
        (
            Method::POST,
            "/api/plugins/flows/owner-only/activate",
            Some(json!({"version": 1})),
        ),
        (Method::POST, "/api/plugins/flows/owner-only/rollback", None),
    ] {
        let (st, v) = api.call(m.clone(), path, Some(&b.key), body).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{m} {path}: {v}");
        assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
        expected_events += 1;
    }
    // A run may not use another tenant's leads (named by index, no data).
    let (st, v) = api
        .post(
            "/api/outbound/runs",
            &b.key,
            json!({"lead_ids": [o.lead], "flow": "default-flow", "dialer": "sim-dialer"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("lead_ids"),
        "{v}"
    );
    assert!(!v.to_string().contains("+1415555"), "{v}");
    // Audited like an id in a path (written off the response path).
    expected_events += 1;

    // Listings show only B's own things.
    for path in [
        "/api/leads",
        "/api/outbound/runs",
        "/api/dnc",
        "/api/tenant-store",
        "/api/dialer-config",
    ] {
        let (st, v) = api.get(path, &b.key).await;
        assert_eq!(st, StatusCode::OK, "{path}");
        assert_eq!(v["items"], json!([]), "{path}: {v}");
    }
    let (_, flows) = api.get("/api/plugins/flows", &b.key).await;
    assert_eq!(flows["items"].as_array().unwrap().len(), 1, "{flows}");

    // The owner's things are untouched.
    let (_, run) = api
        .get(&format!("/api/outbound/runs/{}", o.run), &a.key)
        .await;
    assert_eq!(
        (run["status"].as_str(), run["cancel_requested"].as_bool()),
        (Some("queued"), Some(false)),
        "{run}"
    );
    assert_eq!(run["jobs"]["queued"], 3, "{run}");
    assert_eq!(
        api.get("/api/dnc/+14155550999", &a.key).await.0,
        StatusCode::OK
    );

    // Security events: in the owner's log and the platform's, none in B's.
    // The body reference's event is written off the response path: wait.
    let owner_events = security_events_at_least(&api, &a.key, "/api/audit", expected_events).await;
    assert_eq!(owner_events.len(), expected_events, "{owner_events:#?}");
    assert!(
        owner_events
            .iter()
            .all(|e| e["detail"]["by_business_id"] == b.id)
    );
    let platform =
        security_events_at_least(&api, &admin, "/api/admin/audit", expected_events).await;
    assert_eq!(platform.len(), expected_events, "{platform:#?}");
    assert!(security_events(&api, &b.key, "/api/audit").await.is_empty());
    let resources: std::collections::BTreeSet<&str> = owner_events
        .iter()
        .map(|e| e["detail"]["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources.into_iter().collect::<Vec<_>>(),
        vec!["flow", "job", "lead", "run"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_on_postgres() {
    every_endpoint_is_isolated(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_on_sqlite() {
    every_endpoint_is_isolated(Api::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_key_on_admin_endpoints_is_403_and_admin_key_on_tenant_endpoints_is_refused() {
    let api = Api::pg().await;
    let t = api.tenant("t").await;
    let admin = api.admin_key().await;
    for (m, path) in [
        (Method::GET, "/api/admin/dialers"),
        (Method::PUT, "/api/admin/dialers/sim-dialer"),
        (Method::POST, "/api/admin/dialers/sim-dialer/activate"),
        (Method::POST, "/api/admin/dialers/sim-dialer/rollback"),
        (Method::GET, "/api/admin/audit"),
    ] {
        let (st, v) = api.call(m.clone(), path, Some(&t.key), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path}: {v}");
    }
    let (st, v) = api.get("/api/leads", &admin).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::FORBIDDEN, "tenant_key_required")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_references_in_a_run_body_on_postgres() {
    foreign_references_in_a_run_body_are_refused_and_audited(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_references_in_a_run_body_on_sqlite() {
    foreign_references_in_a_run_body_are_refused_and_audited(Api::sqlite().await).await;
}

/// Issue 12: another tenant's lead id or flow name in `POST
/// /api/outbound/runs` is answered exactly as one nobody owns (422 naming
/// the field), creates nothing, and is audited like an id in a path: in
/// the owner's and the platform's logs (written off the response path,
/// hence the wait).
async fn foreign_references_in_a_run_body_are_refused_and_audited(api: Api) {
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let a = api.tenant("owner").await;
    let b = api.tenant("intruder").await;
    let o = fixture(&api, &a).await;
    let (st, _) = api
        .raw(
            Method::PUT,
            "/api/plugins/flows/owner-only",
            Some(&a.key),
            "application/wasm",
            dialplane::builtin::DEFAULT_FLOW.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    api.install_default_flow(&b).await;
    let mine = api.import_leads(&b, 1).await;
    let run = |ids: Vec<i64>, flow: &str| {
        json!({"lead_ids": ids, "flow": flow, "dialer": "sim-dialer",
               "settings": {"calling_window": {"start": "00:00", "end": "24:00"}}})
    };
    let cases = [
        (
            run(vec![mine[0], o.lead], "default-flow"),
            run(vec![mine[0], 999_999], "default-flow"),
            "lead_ids[1]",
        ),
        (
            run(vec![mine[0]], "owner-only"),
            run(vec![mine[0]], "nobody-has-this"),
            "flow",
        ),
    ];
    for (foreign, missing, field) in cases {
        let (st_f, v_f) = api.post("/api/outbound/runs", &b.key, foreign).await;
        let (st_m, v_m) = api.post("/api/outbound/runs", &b.key, missing).await;
        assert_eq!(st_f, StatusCode::UNPROCESSABLE_ENTITY, "{v_f}");
        assert_eq!(st_m, st_f, "{v_m}");
        assert_eq!(v_f["error"]["field"], field, "{v_f}");
        assert_eq!(v_m["error"]["field"], field, "{v_m}");
        assert_eq!(error_code(&v_f), error_code(&v_m));
    }
    let (_, runs) = api.get("/api/outbound/runs", &b.key).await;
    assert_eq!(runs["items"], json!([]), "nothing created: {runs}");

    let owner_events = security_events_at_least(&api, &a.key, "/api/audit", 2).await;
    let seen: std::collections::BTreeSet<(String, String, String)> = owner_events
        .iter()
        .map(|e| {
            assert_eq!(e["detail"]["by_business_id"], b.id, "{e}");
            (
                e["detail"]["resource"].as_str().unwrap().to_string(),
                e["detail"]["id"].as_str().unwrap().to_string(),
                e["detail"]["endpoint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let endpoint = "POST /api/outbound/runs".to_string();
    assert_eq!(
        seen,
        [
            (
                "flow".to_string(),
                "owner-only".to_string(),
                endpoint.clone()
            ),
            ("lead".to_string(), o.lead.to_string(), endpoint),
        ]
        .into_iter()
        .collect(),
        "{owner_events:#?}"
    );
    assert_eq!(owner_events.len(), 2, "the missing ids wrote nothing");
    let platform = security_events_at_least(&api, &admin, "/api/admin/audit", 2).await;
    assert_eq!(platform.len(), 2, "{platform:#?}");
    assert!(security_events(&api, &b.key, "/api/audit").await.is_empty());
}

/// Issue 12: asking for another tenant's run and for a run nobody has runs
/// the same database statements before the answer, counted (not timed)
/// with `pg_stat_statements` on a dedicated cluster. The security event's
/// writes wait, off the response path, while the test holds every audit
/// slot; once released, the event lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_id_and_a_missing_one_run_the_same_statements_before_the_answer() {
    use dialplane::config::API_AUDIT_WRITES_IN_FLIGHT;
    use dialplane_tests::pg::PgCluster;
    use sqlx::Connection;

    let cluster = tokio::task::spawn_blocking(|| {
        PgCluster::start_with(&["shared_preload_libraries=pg_stat_statements"])
    })
    .await
    .unwrap()
    .expect("a cluster with pg_stat_statements (PostgreSQL's contrib modules)");
    let url = cluster.create_database().await.unwrap();
    let mut stats = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE EXTENSION pg_stat_statements")
        .execute(&mut stats)
        .await
        .unwrap();
    let api = Api::pg_at(url.clone()).await;
    let a = api.tenant("owner").await;
    let b = api.tenant("intruder").await;
    api.install_sim_dialer(&api.admin_key().await).await;
    let o = fixture(&api, &a).await;

    // The statements run so far, by normalized text.
    async fn counts(c: &mut sqlx::PgConnection) -> std::collections::BTreeMap<String, i64> {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT query, calls FROM pg_stat_statements \
             WHERE query NOT ILIKE '%pg_stat_statements%'",
        )
        .fetch_all(c)
        .await
        .unwrap()
        .into_iter()
        .collect()
    }
    fn delta(
        before: &std::collections::BTreeMap<String, i64>,
        after: &std::collections::BTreeMap<String, i64>,
    ) -> std::collections::BTreeMap<String, i64> {
        after
            .iter()
            .map(|(q, n)| (q.clone(), n - before.get(q).copied().unwrap_or(0)))
            .filter(|(_, n)| *n != 0)
            .collect()
    }

    // Off-path writes wait while the test holds every slot.
    let held = api
        .state
        .audit_slots
        .clone()
        .acquire_many_owned(API_AUDIT_WRITES_IN_FLIGHT as u32)
        .await
        .unwrap();
    // Warm both paths once (prepared statements, pool connections).
    for id in [o.run, 999_999_999] {
        let (st, _) = api.get(&format!("/api/outbound/runs/{id}"), &b.key).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let s0 = counts(&mut stats).await;
    let (st, foreign_body) = api
        .get(&format!("/api/outbound/runs/{}", o.run), &b.key)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let s1 = counts(&mut stats).await;
    let (st, missing_body) = api.get("/api/outbound/runs/999999999", &b.key).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let s2 = counts(&mut stats).await;
    assert_eq!(foreign_body, missing_body, "the same answer");
    let (foreign, missing) = (delta(&s0, &s1), delta(&s1, &s2));
    assert!(!foreign.is_empty(), "the request ran statements");
    assert_eq!(
        foreign, missing,
        "the same statements before the answer, whoever owns the id"
    );
    assert!(
        foreign
            .keys()
            .all(|q| !q.to_ascii_lowercase().contains("audit")),
        "no audit write on the response path: {foreign:#?}"
    );

    // Released, the two foreign asks are recorded (none for the missing id).
    drop(held);
    let events = security_events_at_least(&api, &a.key, "/api/audit", 2).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    drop(cluster);
}

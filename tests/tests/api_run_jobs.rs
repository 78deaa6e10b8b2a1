//! `GET /api/outbound/runs/{id}/jobs` filters and `GET .../jobs/{job_id}`
//! through the real API with a real worker, on PostgreSQL and SQLite: each
//! filter returns exactly the jobs the unfiltered listing says match; paging
//! with a filter; a bad parameter is a 400 naming it; the job detail shows
//! the lead and the attempt timeline (an allowed call names no rule).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::api_common::{Api, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn all_jobs(api: &Api, key: &str, run: i64, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("limit=7{query}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let (st, v) = api
            .get(&format!("/api/outbound/runs/{run}/jobs?{q}"), key)
            .await;
        assert_eq!(st, StatusCode::OK, "{q}: {v}");
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn ids(jobs: &[Value]) -> BTreeSet<i64> {
    jobs.iter().map(|j| j["id"].as_i64().unwrap()).collect()
}

async fn filters_paging_and_detail(mut api: Api) {
    api.worker(|_| {}).await;
    let admin = api.admin_key().await;
    let t = api.tenant("jobs").await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 30).await;
    let run = api.create_run(&t, &leads, 4).await["id"].as_i64().unwrap();
    api.wait_run(&t, run, Duration::from_secs(60), |v| {
        v["status"] == "completed"
    })
    .await;
    let every = all_jobs(&api, &t.key, run, "").await;
    assert_eq!(every.len(), 30);
    for j in &every {
        assert_eq!(
            j["phase"], j["state"],
            "a finished job's phase is its state: {j}"
        );
        assert!(j["updated_at"].as_str().unwrap().ends_with('Z'), "{j}");
    }

    // Outcome: exactly the jobs with that outcome, across pages.
    let outcomes: BTreeSet<String> = every
        .iter()
        .filter_map(|j| j["outcome"].as_str().map(String::from))
        .collect();
    assert!(
        outcomes.len() > 1,
        "the sim dialer varies outcomes: {outcomes:?}"
    );
    for o in &outcomes {
        let want: Vec<Value> = every
            .iter()
            .filter(|j| j["outcome"] == json!(o))
            .cloned()
            .collect();
        let got = all_jobs(&api, &t.key, run, &format!("&outcome={o}")).await;
        assert_eq!(ids(&got), ids(&want), "outcome={o}");
    }
    let done = all_jobs(&api, &t.key, run, "&status=completed").await;
    let want: Vec<Value> = every
        .iter()
        .filter(|j| j["state"] == "completed")
        .cloned()
        .collect();
    assert_eq!(ids(&done), ids(&want));
    assert!(
        all_jobs(&api, &t.key, run, "&status=reserved")
            .await
            .is_empty(),
        "nothing is reserved in a finished run"
    );

    // Lead: external id, lead id, the phone (a leading + searches phones:
    // the start of the number).
    let ny = all_jobs(&api, &t.key, run, "&lead=%2B1415555").await;
    assert_eq!(ny.len(), 30);
    let j7 = every
        .iter()
        .find(|j| j["lead_external_id"] == "L-7")
        .unwrap();
    for q in [
        "L-7".to_string(),
        leads[6].to_string(),
        "%2B14155550007".into(),
    ] {
        let got = all_jobs(&api, &t.key, run, &format!("&lead={q}")).await;
        assert_eq!(ids(&got), ids(std::slice::from_ref(j7)), "lead={q}");
    }

    // Time: every job was updated before now and after an hour ago.
    let now = chrono::Utc::now();
    let hour_ago = (now - chrono::Duration::hours(1)).to_rfc3339();
    let later = (now + chrono::Duration::minutes(1)).to_rfc3339();
    let q = |since: &str, until: &str| {
        format!(
            "&since={}&until={}",
            form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(until.as_bytes()).collect::<String>()
        )
    };
    assert_eq!(
        all_jobs(&api, &t.key, run, &q(&hour_ago, &later))
            .await
            .len(),
        30
    );
    assert!(
        all_jobs(&api, &t.key, run, &q(&later, "2999-01-01T00:00:00Z"))
            .await
            .is_empty()
    );

    // Bad parameters: 400 naming the parameter, nothing listed.
    for (query, field) in [
        ("status=dialling", Some("status")),
        ("outcome=", Some("outcome")),
        ("lead=", Some("lead")),
        ("since=yesterday", Some("since")),
        ("until=2026-13-01T00:00:00Z", Some("until")),
        (
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            Some("until"),
        ),
        ("lead=%00", Some("lead")),
    ] {
        let (st, v) = api
            .get(&format!("/api/outbound/runs/{run}/jobs?{query}"), &t.key)
            .await;
        assert_eq!(
            (st, error_code(&v).as_str(), v["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, "invalid_query", field),
            "{query}: {v}"
        );
    }
    let long = "x".repeat(200);
    let (st, v) = api
        .get(
            &format!("/api/outbound/runs/{run}/jobs?lead={long}"),
            &t.key,
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("lead")),
        "{v}"
    );
    let (st, v) = api
        .get(
            &format!("/api/outbound/runs/{run}/jobs?state=completed"),
            &t.key,
        )
        .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_query"),
        "a mistyped filter is refused, not ignored: {v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("state"),
        "{v}"
    );
    let (st, v) = api
        .get(&format!("/api/outbound/runs/{run}/jobs?limit=0"), &t.key)
        .await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_paging"),
        "{v}"
    );

    // One job: lead and timeline.
    let job = j7["id"].as_i64().unwrap();
    let (st, d) = api
        .get(&format!("/api/outbound/runs/{run}/jobs/{job}"), &t.key)
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["id"], job);
    assert_eq!(d["run_id"], run);
    assert_eq!(d["state"], j7["state"]);
    assert_eq!(d["outcome"], j7["outcome"]);
    assert_eq!(d["lead"]["external_id"], "L-7");
    assert_eq!(d["lead"]["phone"], "+14155550007");
    assert_eq!(d["lead"]["timezone"], "America/New_York");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{d}");
    let a = &attempts[0];
    assert_eq!(a["decision"], "allowed");
    assert_eq!(a["rule"], Value::Null, "an allowed call names no rule: {a}");
    assert!(a["placed"].as_bool().unwrap());
    for k in ["decided_at", "placed_at", "ended_at"] {
        assert!(a[k].as_str().unwrap().ends_with('Z'), "{k}: {a}");
    }
    assert_eq!(a["outcome"], j7["outcome"]);
    assert_eq!(a["compliance"]["timezone"], "America/New_York");
    // The lead as it is now: its imported tag and those the flow added.
    let tags = d["lead"]["tags"].as_array().unwrap();
    assert!(tags.contains(&json!("t")), "{d}");
    for added in a["lead_tags"].as_array().unwrap() {
        assert!(tags.contains(added), "{added} added by the flow: {d}");
    }

    for (path, code, field) in [
        (
            format!("/api/outbound/runs/{run}/jobs/999999999"),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            format!("/api/outbound/runs/{}/jobs/{job}", run + 1000),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            format!("/api/outbound/runs/{run}/jobs/abc"),
            StatusCode::BAD_REQUEST,
            Some("job_id"),
        ),
        (
            format!("/api/outbound/runs/{run}/jobs/0"),
            StatusCode::BAD_REQUEST,
            Some("job_id"),
        ),
    ] {
        let (st, v) = api.get(&path, &t.key).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (code, field),
            "{path}: {v}"
        );
    }
    generated_queries_are_200_or_a_named_400(&api, &t.key, run).await;

    let other = api.tenant("other").await;
    let (st, v) = api
        .get(&format!("/api/outbound/runs/{run}/jobs/{job}"), &other.key)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains("4155550007"), "{v}");
}

/// Random mixes of good and bad parameters: never a 5xx; a 200 page or a
/// 400 in the error shape naming a query or paging problem.
async fn generated_queries_are_200_or_a_named_400(api: &Api, key: &str, run: i64) {
    use rand::{Rng, SeedableRng};
    const KEYS: &[&str] = &[
        "limit", "cursor", "status", "outcome", "lead", "since", "until", "bogus",
    ];
    let long = "9".repeat(300);
    let values: Vec<&str> = vec![
        "",
        "0",
        "1",
        "50",
        "501",
        "-1",
        "abc",
        "c1",
        "cZ",
        "queued",
        "reserved",
        "placed",
        "dialling",
        "%2B1",
        "%2B",
        "%25",
        "%5F",
        "%00",
        "%27%20OR%201=1",
        "2026-01-01T00:00:00Z",
        "2026-01-01",
        "L-1",
        "%FF",
        &long,
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    for _ in 0..150 {
        let n = rng.random_range(1..=4);
        let q: Vec<String> = (0..n)
            .map(|_| {
                let k = KEYS[rng.random_range(0..KEYS.len())];
                let v = values[rng.random_range(0..values.len())];
                format!("{k}={v}")
            })
            .collect();
        let q = q.join("&");
        let (st, v) = api
            .get(&format!("/api/outbound/runs/{run}/jobs?{q}"), key)
            .await;
        match st {
            StatusCode::OK => assert!(v["items"].is_array(), "{q}: {v}"),
            StatusCode::BAD_REQUEST => {
                let code = error_code(&v);
                assert!(
                    code == "invalid_query" || code == "invalid_paging",
                    "{q}: {v}"
                );
            }
            other => panic!("{q}: {other} {v}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_filters_paging_and_detail_sqlite() {
    filters_paging_and_detail(Api::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_filters_paging_and_detail_pg() {
    filters_paging_and_detail(Api::pg().await).await;
}

//! `tenant-store.increment` (WIT 0.2.0) through real runs: two runs of one
//! tenant on two workers, concurrency 16 each, both counting in one key with
//! business-rules-flow's daily cap. The cap is exact: the counter ends at
//! the cap and the sim dialer's own ledger holds exactly that many calls. A
//! get-then-set counter loses updates here, so the cap is overrun.

use std::time::Duration;

use crate::api_common::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};

const LEADS_PER_RUN: usize = 150;
const DAILY_CAP: usize = 100;

async fn two_workers_count_exactly(mut api: Api) {
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let t = api.tenant("counting").await;
    api.install_flow(
        &t,
        "business-rules-flow",
        dialplane::builtin::BUSINESS_RULES_FLOW,
    )
    .await;
    let leads = api.import_leads(&t, 2 * LEADS_PER_RUN).await;
    // One run per worker.
    api.worker(|c| c.max_runs = 1).await;
    api.worker(|c| c.max_runs = 1).await;
    let mut runs = Vec::new();
    for half in leads.chunks(LEADS_PER_RUN) {
        let (st, v) = api
            .post(
                "/api/outbound/runs",
                &t.key,
                json!({"lead_ids": half, "flow": "business-rules-flow", "dialer": "sim-dialer",
                       "settings": {"concurrency": 16, "max_attempts": 1,
                                    "calling_window": {"start": "00:00", "end": "24:00"},
                                    "flow": {"daily_cap": DAILY_CAP.to_string()}}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        runs.push(v["id"].as_i64().unwrap());
    }
    for run in &runs {
        api.wait_run(&t, *run, Duration::from_secs(120), |v| {
            v["status"] == "completed"
        })
        .await;
    }

    let (st, store) = api.get("/api/tenant-store?limit=500", &t.key).await;
    assert_eq!(st, StatusCode::OK, "{store}");
    let items = store["items"].as_array().unwrap();
    let counters: Vec<&Value> = items
        .iter()
        .filter(|e| e["key"].as_str().unwrap().starts_with("calls/"))
        .collect();
    assert_eq!(counters.len(), 1, "one day's counter: {counters:?}");
    assert_eq!(counters[0]["value"], DAILY_CAP.to_string(), "{counters:?}");
    let placed = items
        .iter()
        .filter(|e| e["namespace"] == "dialer:sim-dialer")
        .count();
    assert_eq!(placed, DAILY_CAP, "calls in the sim dialer's ledger");

    // The runs' own counts agree: exactly the cap was dialed.
    let mut dialed = 0;
    for run in &runs {
        let (_, v) = api.get(&format!("/api/outbound/runs/{run}"), &t.key).await;
        let skipped = v["counts"]["not-dialed"].as_i64().unwrap_or(0);
        dialed += LEADS_PER_RUN as i64 - skipped;
    }
    assert_eq!(dialed, DAILY_CAP as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_two_workers_are_exact_on_postgres() {
    two_workers_count_exactly(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increments_from_two_workers_are_exact_on_sqlite() {
    two_workers_count_exactly(Api::sqlite().await).await;
}

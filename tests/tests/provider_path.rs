//! The real provider path, end to end: the API server and a worker, the
//! real `http-dialer` component installed through the admin API, and the
//! Twilio-compatible simulator (`dialplane_tests::twilio_sim`) over real
//! HTTP, posting signed status callbacks to the real callback endpoint —
//! duplicated, out of order, the final one sometimes before the create
//! answer — with 429s and answers slower than a flow's 500 ms deadline.
//! Every assertion is read from the simulator's ledger or the public API.

use std::collections::BTreeMap;
use std::time::Duration;

use dialplane_tests::twilio_sim::{Scenario, TwilioSim, TwilioSimConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_common::{Api, Tenant};

/// A campaign of this many leads, each called exactly once.
const LEADS: usize = 300;
/// Wall-clock length of one simulated second (calls last a few of them).
const SIM_SECOND: Duration = Duration::from_millis(5);
/// Ample time for the whole run on a loaded 2-core machine.
const RUN_WITHIN: Duration = Duration::from_secs(240);

/// Installs http-dialer (admin) and default-flow, creates the callback URL
/// (one step) and configures the dialer for `sim`; imports `n` leads.
async fn setup(api: &Api, sim: &TwilioSim, n: usize) -> (Tenant, Vec<i64>) {
    let admin = api.admin_key().await;
    let (st, v) = api
        .raw(
            Method::PUT,
            "/api/admin/dialers/http-dialer",
            Some(&admin),
            "application/wasm",
            dialplane::builtin::HTTP_DIALER.to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let t = api.tenant("acme").await;
    api.install_default_flow(&t).await;
    let (st, cb) = api
        .call(
            Method::POST,
            "/api/dialer-config/http-dialer/callback-token",
            Some(&t.key),
            None,
        )
        .await;
    assert!(st.is_success(), "{cb}");
    let callback_url = cb["callback_url"]
        .as_str()
        .expect("callback_url")
        .to_string();
    let config: BTreeMap<String, String> =
        sim.http_dialer_config(&callback_url).into_iter().collect();
    let (st, v) = api
        .call(
            Method::PUT,
            "/api/dialer-config/http-dialer",
            Some(&t.key),
            Some(json!({ "config": config })),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let leads = api.import_leads(&t, n).await;
    (t, leads)
}

async fn create_run(api: &Api, t: &Tenant, leads: &[i64], settings: Value) -> i64 {
    let (st, v) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": leads, "flow": "default-flow", "dialer": "http-dialer",
                   "settings": settings}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Every job of the run, with its attempts, through the paged jobs API.
async fn all_jobs(api: &Api, t: &Tenant, run: i64) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(c) => format!("/api/outbound/runs/{run}/jobs?limit=500&cursor={c}"),
            None => format!("/api/outbound/runs/{run}/jobs?limit=500"),
        };
        let (st, v) = api.get(&path, &t.key).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        jobs.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => return jobs,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_worker_every_lead_is_called_once_and_every_outcome_arrives() {
    every_lead_is_called_once(Api::sqlite().await, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_workers_every_lead_is_called_once_and_every_outcome_arrives() {
    every_lead_is_called_once(Api::pg().await, 2).await;
}

/// A campaign of [`LEADS`] through `workers` workers on `api`'s database:
/// each lead called exactly once (the simulator's ledger), none
/// interrupted, the run completed, every outcome the one the simulator
/// ended the call with, every callback accepted.
async fn every_lead_is_called_once(mut api: Api, workers: usize) {
    let sim = TwilioSim::start(
        TwilioSimConfig::new(10)
            .credentials("AC0123456789abcdef0123456789abcdef", "sim-auth-token")
            .time_scale(SIM_SECOND)
            .durations(3, 4)
            .max_call_secs(20)
            .duplicates(0.3)
            .out_of_order(0.3)
            .early_final(0.2)
            .rate_limited(0.05, 1)
            .slow_answers(0.05, Duration::from_millis(600), Duration::from_millis(900)),
    )
    .await
    .unwrap();
    for _ in 0..workers {
        api.worker(|_| {}).await;
    }
    let (t, leads) = setup(&api, &sim, LEADS).await;
    let run = create_run(
        &api,
        &t,
        &leads,
        json!({"concurrency": 16, "max_attempts": 1, "call_timeout_secs": 120,
               "calling_window": {"start": "00:00", "end": "24:00"}}),
    )
    .await;

    let v = api
        .wait_run(&t, run, RUN_WITHIN, |v| {
            !matches!(v["status"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(v["status"], "completed", "{v}");

    // The simulator's ledger: each lead's number exactly once.
    let ledger = sim.ledger();
    let jobs = all_jobs(&api, &t, run).await;
    assert_eq!(jobs.len(), LEADS);
    let mut per_number: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &ledger.placements {
        *per_number.entry(p.to.as_str()).or_default() += 1;
    }
    assert_eq!(per_number.len(), LEADS, "every lead was called");
    assert!(
        per_number.values().all(|n| *n == 1),
        "no lead was called twice: {:?}",
        per_number
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>()
    );
    // The faults were really there.
    let c = &ledger.counters;
    assert!(c.rate_limited > 0 && c.slow_answers > 0, "{c:?}");
    assert!(
        ledger.placements.iter().any(|p| p.early_final)
            && ledger.placements.iter().any(|p| p.duplicates)
            && ledger.placements.iter().any(|p| p.out_of_order),
        "the run met early, duplicated and reordered callbacks"
    );

    // And the run recorded what the simulator ended each call with.
    let sid_to: BTreeMap<&str, &str> = ledger
        .placements
        .iter()
        .map(|p| (p.sid.as_str(), p.to.as_str()))
        .collect();
    for j in &jobs {
        if j["state"] == "interrupted" {
            // Say what the simulator did with that call.
            let sid = j["attempts"][0]["provider_call_id"].as_str().unwrap_or("");
            panic!(
                "a job ended interrupted: {j}\nthe simulator's call: {:#?}",
                ledger.placement(sid)
            );
        }
        let placed: Vec<&Value> = j["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["placed"] == true)
            .collect();
        assert_eq!(placed.len(), 1, "one placed attempt: {j}");
        let sid = placed[0]["provider_call_id"].as_str().expect("a call sid");
        let to = sid_to
            .get(sid)
            .unwrap_or_else(|| panic!("{sid} not in the ledger: {j}"));
        assert_eq!(
            j["outcome"].as_str(),
            Some(Scenario::by_last_digit(to).run_outcome()),
            "the outcome the simulator sent for {to}: {j}"
        );
    }
    // Every callback the simulator sent was answered 200 (none refused
    // or lost on the way: 'held' ones are answered 200 too).
    let refused: Vec<_> = ledger
        .placements
        .iter()
        .flat_map(|p| &p.callbacks)
        .filter(|cb| !cb.delivered())
        .collect();
    assert!(refused.is_empty(), "callbacks not accepted: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_in_hangup_mode_hangs_up_every_call_in_flight_and_places_no_more() {
    // Every call is answered and talks until someone hangs up.
    let sim = TwilioSim::start(
        TwilioSimConfig::new(11)
            .credentials("AC0123456789abcdef0123456789abcdef", "sim-auth-token")
            .time_scale(SIM_SECOND)
            .max_call_secs(100_000)
            .outcome(|_| Scenario::AnsweredUntilHangup),
    )
    .await
    .unwrap();
    let mut api = Api::sqlite().await;
    api.worker(|_| {}).await;
    let (t, leads) = setup(&api, &sim, 40).await;
    let run = create_run(
        &api,
        &t,
        &leads,
        json!({"concurrency": 5, "max_attempts": 1, "cancel_mode": "hangup",
               "call_timeout_secs": 600,
               "calling_window": {"start": "00:00", "end": "24:00"}}),
    )
    .await;
    // Five calls in flight.
    sim.wait_for(Duration::from_secs(60), |l| l.placements.len() >= 5)
        .await
        .unwrap();

    let (st, v) = api
        .post(
            &format!("/api/outbound/runs/{run}/cancel"),
            &t.key,
            json!({"mode": "hangup"}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let placed_at_cancel = sim.ledger().placements.len();

    let v = api
        .wait_run(&t, run, RUN_WITHIN, |v| v["status"] == "cancelled")
        .await;
    let ledger = sim
        .wait_for(Duration::from_secs(60), |l| {
            l.placements.iter().all(|p| !p.hangups.is_empty())
        })
        .await
        .unwrap();
    assert_eq!(
        ledger.placements.len(),
        placed_at_cancel,
        "no placement after the cancel returned: {v}"
    );
    assert_eq!(placed_at_cancel, 5, "the run's concurrency: {v}");
    assert!(
        ledger.placements.iter().all(|p| p.hangups.len() == 1),
        "each call in flight was hung up once through the provider's API"
    );
}

//! Pause and resume, end to end. Through the HTTP API on both engines: the
//! states a run goes through, 409 for a run in the wrong state, 404 across
//! tenants, the audit log, and a resumed run that finishes every lead once.
//! With real `dialplane worker` processes on both engines: no call starts
//! after a pause returns and each lead is called exactly once across pause
//! and resume (counted from the sim dialer's ledger, not the workers'
//! records), and a pause whose owner is SIGKILLed is carried out by the
//! worker that takes the run over.

use std::time::Duration;

use dialplane::lifecycle::{pause_run, resume_run};
use dialplane::store::{RunStatus, RunView};
use dialplane_tests::lifecycle::*;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_common::{Api, Tenant, error_code};

const WAIT: Duration = Duration::from_secs(90);
/// Each race run's pace: 300 leads take at least 6 s, so a pause always
/// lands mid-run, on a loaded machine too.
const PAUSE_RACE_CALLS_PER_SECOND: f64 = 50.0;
/// The API test's run: 300 leads at 20 calls/s take at least 15 s.
const API_RUN_LEADS: i64 = 300;
const API_RUN_CALLS_PER_SECOND: f64 = 20.0;

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Sqlite).await } )+ }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Postgres).await } )+ }
    };
}

both!(
    pause_and_resume_through_the_api,
    no_call_after_pause_returns_and_resume_calls_each_lead_once,
    pause_survives_the_owners_sigkill,
);

async fn wait_status(db: &TestDb, b: i64, run_id: i64, status: RunStatus) -> RunView {
    wait_for(WAIT, status.as_str(), || async {
        let r = run_view(&db.store, b, run_id).await;
        (r.status == status).then_some(r)
    })
    .await
}

async fn api_for(engine: Db) -> Api {
    match engine {
        Db::Sqlite => Api::sqlite().await,
        Db::Postgres => Api::pg().await,
    }
}

async fn post_action(api: &Api, t: &Tenant, id: i64, action: &str) -> (StatusCode, Value) {
    api.call(
        reqwest::Method::POST,
        &format!("/api/outbound/runs/{id}/{action}"),
        Some(&t.key),
        None,
    )
    .await
}

async fn pause_and_resume_through_the_api(engine: Db) {
    let mut api = api_for(engine).await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    let t = api.tenant("Pausing Plumbers").await;
    let other = api.tenant("Someone Else").await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, API_RUN_LEADS as usize).await;
    let (st, run) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": leads, "flow": "default-flow", "dialer": "sim-dialer",
                   "settings": {"concurrency": 2, "max_attempts": 1, "calls_per_second": API_RUN_CALLS_PER_SECOND,
                                "calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().unwrap();

    // Nobody owns it yet: parked by the request itself.
    let (st, v) = post_action(&api, &t, id, "pause").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "paused");
    assert_eq!(v["pause_requested"], true);
    assert!(v["paused_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    // Another tenant's run is not there.
    for action in ["pause", "resume"] {
        let (st, v) = post_action(&api, &other, id, action).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{action}: {v}");
        assert_eq!(error_code(&v), "not_found");
    }
    let (st, v) = post_action(&api, &t, id, "resume").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "queued");
    assert_eq!(v["pause_requested"], false);
    assert_eq!(v["paused_at"], Value::Null);

    // Running: pause returns once no new call can start, then the worker parks it.
    api.worker(|_| {}).await;
    api.wait_run(&t, id, WAIT, |v| v["cursor_position"].as_i64() >= Some(1))
        .await;
    let (st, v) = post_action(&api, &t, id, "pause").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["pause_requested"], true);
    assert!(
        v["status"] == "paused" || v["status"] == "running",
        "paused, or running while calls in flight end: {v}"
    );
    let paused = api
        .wait_run(&t, id, WAIT, |v| v["status"] == "paused")
        .await;
    let at_pause = paused["cursor_position"].as_i64().unwrap();
    assert!((1..API_RUN_LEADS).contains(&at_pause), "{paused}");
    assert_eq!(
        paused["jobs"]["dialing"],
        Value::Null,
        "nothing in flight: {paused}"
    );
    assert_eq!(
        paused["jobs"]["queued"].as_i64(),
        Some(API_RUN_LEADS - at_pause),
        "every job not finished is back in the queue: {paused}"
    );
    // Pausing again is harmless; resuming twice is not a thing.
    let (st, v) = post_action(&api, &t, id, "pause").await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("paused")));

    let (st, v) = post_action(&api, &t, id, "resume").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let done = api
        .wait_run(&t, id, WAIT, |v| v["status"] == "completed")
        .await;
    assert_eq!(done["cursor_position"], API_RUN_LEADS);
    let finished: i64 = done["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(finished, API_RUN_LEADS, "each lead finished once: {done}");

    // A finished run can be neither paused nor resumed: 409 naming the status.
    for action in ["pause", "resume"] {
        let (st, v) = post_action(&api, &t, id, action).await;
        assert_eq!(st, StatusCode::CONFLICT, "{action}: {v}");
        assert_eq!(error_code(&v), "conflict");
        assert_eq!(v["error"]["field"], "status");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is completed"),
            "{v}"
        );
    }
    let (st, audit) = api.get("/api/audit", &t.key).await;
    assert_eq!(st, StatusCode::OK);
    let count = |action: &str| {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action && e["detail"]["run_id"] == id)
            .count()
    };
    assert_eq!(count("run.paused"), 3, "{audit}");
    assert_eq!(count("run.resumed"), 2, "{audit}");
    api.stop_workers().await;
}

async fn no_call_after_pause_returns_and_resume_calls_each_lead_once(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(300, 40);
    let mut paced = settings(2);
    paced.calls_per_second = Some(PAUSE_RACE_CALLS_PER_SECOND);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), paced, &[]).await;
    let workers: Vec<_> = (0..3)
        .map(|i| spawn_worker_process(&db.url, &format!("pause-race-{i}")))
        .collect();
    let at_least = rand::rng().random_range(1..40);
    wait_for(WAIT, "calls under way", || async {
        (run_view(&db.store, b, run_id).await.cursor_position >= at_least).then_some(())
    })
    .await;
    let p = pause_run(&*db.store, b.into(), run_id.into(), Duration::from_secs(20))
        .await
        .expect("pause returns");
    let returned_at = now_ms();
    let parked = wait_status(&db, b, run_id, RunStatus::Paused).await;
    assert!(parked.cursor_position < parked.total_leads, "{p:?}");
    assert_eq!(parked.owner_worker, None);
    let placed = ledger(&db.store, b).await;
    let late: Vec<_> = placed
        .iter()
        .filter(|e| e.placed_at_unix_ms > returned_at)
        .collect();
    assert!(
        late.is_empty(),
        "{} calls placed after pause returned ({p:?}): {late:?}",
        late.len()
    );
    assert_eq!(
        placed.len() as i64,
        parked.cursor_position,
        "every call placed before the pause has finished; nothing else was placed"
    );
    // Three live workers, and the run stays parked: wait for each to
    // heartbeat twice after the park, then look again.
    let parked_at = now_ms();
    for i in 0..3 {
        let id = format!("pause-race-{i}");
        wait_for(WAIT, "workers to heartbeat after the park", || async {
            (worker_last_seen(&db, &id).await > parked_at + 250).then_some(())
        })
        .await;
    }
    let still = run_view(&db.store, b, run_id).await;
    assert_eq!(still.status, RunStatus::Paused);
    assert_eq!(still.cursor_position, parked.cursor_position);
    assert_eq!(ledger(&db.store, b).await.len(), placed.len());

    assert_eq!(
        resume_run(&*db.store, b.into(), run_id.into())
            .await
            .unwrap(),
        RunStatus::Queued
    );
    let run = wait_status(&db, b, run_id, RunStatus::Completed).await;
    assert_eq!(run.cursor_position, run.total_leads);
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    drop(workers);
}

async fn pause_survives_the_owners_sigkill(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(300, 41);
    let mut paced = settings(2);
    paced.calls_per_second = Some(PAUSE_RACE_CALLS_PER_SECOND);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), paced, &[]).await;
    let mut doomed = spawn_worker_process(&db.url, "doomed");
    wait_for(WAIT, "the first worker to make progress", || async {
        let r = run_view(&db.store, b, run_id).await;
        (r.cursor_position >= 20 && r.owner_worker.as_deref() == Some("doomed")).then_some(())
    })
    .await;
    signal(&doomed, "KILL");
    let _ = doomed.wait().await;
    // The owner is dead but its lease still runs: the pause returns once it
    // has expired (a worker whose lease expired does not dial).
    pause_run(&*db.store, b.into(), run_id.into(), Duration::from_secs(20))
        .await
        .expect("pause returns");
    let returned_at = now_ms();
    let _heir = spawn_worker_process(&db.url, "heir");
    let parked = wait_status(&db, b, run_id, RunStatus::Paused).await;
    assert!(parked.pause_requested);
    assert!(parked.cursor_position < parked.total_leads);
    let placed = ledger(&db.store, b).await;
    assert!(
        placed.iter().all(|e| e.placed_at_unix_ms <= returned_at),
        "no call placed after the pause returned"
    );
    resume_run(&*db.store, b.into(), run_id.into())
        .await
        .unwrap();
    let run = wait_status(&db, b, run_id, RunStatus::Completed).await;
    assert_eq!(run.owner_worker.as_deref(), Some("heir"));
    assert_eq!(run.cursor_position, run.total_leads);
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
}

//! The worker end to end, in process, with the real built-in components
//! (`default-flow`, `sim-dialer`), on SQLite and on real PostgreSQL. Calls
//! are counted from the sim dialer's ledger, not from the worker's records.

use std::sync::Arc;
use std::time::Duration;

use dialplane::lifecycle::{CancelMode, Clock, ManualClock, cancel_run};
use dialplane::runtime::{AnsweredBy, CallEvent, CallReport, CallState, Outcome};
use dialplane::store::{CallEventApplied, Page, RunStatus};
use dialplane_tests::lifecycle::*;

const WAIT: Duration = Duration::from_secs(60);

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Sqlite).await } )+ }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Postgres).await } )+ }
    };
}

both!(
    run_completes_and_every_lead_is_called_once,
    calling_window_and_dnc_are_enforced_even_when_the_flow_dials,
    calling_window_is_judged_again_at_the_moment_of_placement,
    dnc_is_checked_again_at_the_moment_of_placement,
    retries_reuse_the_job_row_until_max_attempts,
    small_run_is_not_starved_by_a_huge_one,
    cancel_stops_all_calls_before_it_returns,
    pending_calls_finish_through_callbacks_or_time_out,
    cancel_hangs_up_pending_calls,
    tenant_cap_is_shared_across_workers,
    pending_calls_count_toward_concurrency,
    stop_mid_run_leaves_no_job_dialing,
    large_batches_land_every_result_once,
);

async fn completed(db: &TestDb, b: i64, run_id: i64) -> dialplane::store::RunView {
    wait_for(WAIT, "run to end", || async {
        let r = run_view(&db.store, b, run_id).await;
        r.status.is_terminal().then_some(r)
    })
    .await
}

async fn run_completes_and_every_lead_is_called_once(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(60, 1);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), settings(4), &[]).await;
    let (stop, w) = start_worker(&db.store, fast_worker_config(), None).await;
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, run.total_leads);
    assert_eq!(run.counts.by_status.get("completed"), Some(&60));
    assert!(run.last_call_placed_at.is_some());
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    let attempts = db
        .store
        .list_attempts(b.into(), run_id.into(), Page::first(1000))
        .await
        .unwrap();
    assert_eq!(attempts.iter().filter(|a| a.placed).count(), 60);
    for a in &attempts {
        let c: serde_json::Value = serde_json::from_str(&a.compliance).unwrap();
        assert_eq!(c["verdict"], "allowed");
        assert_eq!(c["timezone"], "Europe/Paris", "the lead's zone is recorded");
        assert_eq!(c["dnc_checked"], true);
        assert!(c["local_time"].as_str().is_some());
    }
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn calling_window_and_dnc_are_enforced_even_when_the_flow_dials(engine: Db) {
    let db = open(engine).await;
    // 08:00 UTC on a January day: 03:00 in New York, 09:00 in Paris.
    let clock = ManualClock::new("2026-01-15T08:00:00Z".parse().unwrap());
    let phones = vec![
        "+12125550106".to_string(), // New York: outside the window → deferred
        "+33612340107".to_string(), // on the DNC list → skipped
        "+12125550108".to_string(), // no time zone, +1 is ambiguous → not dialed
        "+33612340109".to_string(), // Paris, 09:00 → dialed
    ];
    let mut s = settings(1);
    s.calling_window = dialplane::lifecycle::compliance::CallingWindow::default();
    let (b, run_id, leads) = seed_run(&db.store, &phones, None, s, &[]).await;
    // Give leads their zones (the seed makes them all zone-less).
    let tz = |i: usize, z: &str| dialplane::store::LeadInput {
        external_id: format!("lead-{i}"),
        phone: phones[i].clone(),
        name: None,
        timezone: Some(z.into()),
        attributes: Default::default(),
        status: None,
        tags: vec![],
    };
    db.store
        .upsert_leads(
            b.into(),
            &[
                tz(0, "America/New_York"),
                tz(1, "Europe/Paris"),
                tz(3, "Europe/Paris"),
            ],
        )
        .await
        .unwrap();
    db.store.dnc_add(b.into(), &phones[1]).await.unwrap();
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let (stop, w) = start_worker(&db.store, fast_worker_config(), Some(clock_dyn)).await;
    let jobs = wait_for(WAIT, "three leads decided", || async {
        let jobs = db
            .store
            .list_jobs(b.into(), run_id.into(), Page::first(10))
            .await
            .unwrap();
        let decided = jobs[1].status != "queued"
            && jobs[2].status != "queued"
            && jobs[3].status == "completed"
            && jobs[0].not_before > 0;
        decided.then_some(jobs)
    })
    .await;
    assert_eq!(jobs[0].status, "queued");
    assert_eq!(
        jobs[0].not_before,
        chrono::DateTime::parse_from_rfc3339("2026-01-15T14:00:00Z")
            .unwrap()
            .timestamp_millis(),
        "deferred to 09:00 New York time"
    );
    assert_eq!(jobs[1].status, "skipped");
    assert!(jobs[1].reason.as_deref().unwrap().contains("do-not-call"));
    assert_eq!(jobs[2].status, "skipped");
    assert!(jobs[2].reason.as_deref().unwrap().contains("time zone"));
    assert_eq!(jobs[3].status, "completed");
    let called: Vec<String> = ledger(&db.store, b)
        .await
        .into_iter()
        .map(|e| e.to)
        .collect();
    assert_eq!(
        called,
        vec![phones[3].clone()],
        "only the Paris lead was called"
    );
    let attempts = db
        .store
        .list_attempts(b.into(), run_id.into(), Page::first(100))
        .await
        .unwrap();
    let deferred = attempts.iter().find(|a| a.decision == "deferred").unwrap();
    let c: serde_json::Value = serde_json::from_str(&deferred.compliance).unwrap();
    assert_eq!(c["rule"], "calling-window");
    assert_eq!(c["timezone"], "America/New_York");
    assert_eq!(c["local_time"], "2026-01-15 03:00 EST");
    let dnc = attempts.iter().find(|a| a.lead_id == leads[1]).unwrap();
    let c: serde_json::Value = serde_json::from_str(&dnc.compliance).unwrap();
    assert_eq!(
        (c["rule"].as_str(), c["dnc_listed"].as_bool()),
        (Some("dnc"), Some(true))
    );
    assert!(!dnc.placed);
    // 09:00 in New York: the deferred lead is dialed, the run completes.
    clock.set("2026-01-15T14:00:00Z".parse().unwrap());
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, 4);
    assert_eq!(ledger(&db.store, b).await.len(), 2);
    stop.stop();
    w.await.unwrap().unwrap();
}

/// Issue 12: the window is judged when the call is placed, not when the
/// lead was planned. A batch is marked at 19:58 New York time and then
/// waits on the run's rate limit; the window closes while it waits. No
/// call goes out after the close; the leads left are deferred to 09:00.
async fn calling_window_is_judged_again_at_the_moment_of_placement(engine: Db) {
    let db = open(engine).await;
    // 19:58 in New York (UTC-5 in January): two minutes of the window left.
    let clock = ManualClock::new("2026-01-16T00:58:00Z".parse().unwrap());
    let phones = human_phones(20, 12);
    let mut s = settings(1);
    s.calling_window = dialplane::lifecycle::compliance::CallingWindow::default();
    s.calls_per_second = Some(4.0);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("America/New_York"), s, &[]).await;
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let (stop, w) = start_worker(&db.store, fast_worker_config(), Some(clock_dyn)).await;
    wait_for(WAIT, "two calls placed", || async {
        (ledger(&db.store, b).await.len() >= 2).then_some(())
    })
    .await;
    let waiting = db
        .store
        .list_jobs(b.into(), run_id.into(), Page::first(100))
        .await
        .unwrap()
        .iter()
        .filter(|j| j.status == "dialing")
        .count();
    assert!(
        waiting > 1,
        "leads approved at 19:58 were waiting to be dialed: {waiting}"
    );
    // 19:59:30: still open. Calls placed now record the verdict of now, not
    // the 19:58 one their leads were marked with (the second call after
    // the move was judged after it: concurrency 1).
    clock.set("2026-01-16T00:59:30Z".parse().unwrap());
    let at_move = ledger(&db.store, b).await.len();
    wait_for(WAIT, "two calls placed at 19:59", || async {
        (ledger(&db.store, b).await.len() >= at_move + 2).then_some(())
    })
    .await;
    // 20:00:30: closed. Read the ledger after the move: only a call judged
    // before it (at most one, concurrency 1) may still go out.
    clock.set("2026-01-16T01:00:30Z".parse().unwrap());
    let at_close = ledger(&db.store, b).await.len();
    let reopen = chrono::DateTime::parse_from_rfc3339("2026-01-16T14:00:00Z")
        .unwrap()
        .timestamp_millis();
    let jobs = wait_for(WAIT, "every lead called or deferred", || async {
        let jobs = db
            .store
            .list_jobs(b.into(), run_id.into(), Page::first(100))
            .await
            .unwrap();
        jobs.iter()
            .all(|j| j.status == "completed" || (j.status == "queued" && j.not_before == reopen))
            .then_some(jobs)
    })
    .await;
    let placed = ledger(&db.store, b).await.len();
    let called = jobs.iter().filter(|j| j.status == "completed").count();
    assert!(
        placed <= at_close + 1,
        "{} calls went out after the window closed",
        placed - at_close
    );
    assert_eq!(placed, called, "each placed call completed its job");
    // Each placed attempt carries the verdict of its own placement.
    let attempts = db
        .store
        .list_attempts(b.into(), run_id.into(), Page::first(100))
        .await
        .unwrap();
    let mut placed_at_local: Vec<String> = attempts
        .iter()
        .filter(|a| a.placed)
        .map(|a| {
            let c: serde_json::Value = serde_json::from_str(&a.compliance).unwrap();
            assert_eq!(c["verdict"], "allowed", "{c}");
            c["local_time"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    placed_at_local.sort();
    placed_at_local.dedup();
    assert_eq!(
        placed_at_local,
        vec!["2026-01-15 19:58 EST", "2026-01-15 19:59 EST"],
        "placement-time verdicts, none at or after 20:00"
    );
    assert!(
        called < phones.len() - 1,
        "most leads were deferred: {called} of {} called",
        phones.len()
    );
    // 09:00 in New York: the deferred leads are called, each once.
    clock.set("2026-01-16T14:00:00Z".parse().unwrap());
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    stop.stop();
    w.await.unwrap().unwrap();
}

/// Issue 12: a number put on the do-not-call list while its lead, already
/// approved and marked, waits on the run's rate limit is not called.
async fn dnc_is_checked_again_at_the_moment_of_placement(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(8, 13);
    let mut s = settings(1);
    s.calls_per_second = Some(1.0);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), s, &[]).await;
    let (stop, w) = start_worker(&db.store, fast_worker_config(), None).await;
    wait_for(WAIT, "a call placed", || async {
        (!ledger(&db.store, b).await.is_empty()).then_some(())
    })
    .await;
    for p in &phones {
        db.store.dnc_add(b.into(), p).await.unwrap();
    }
    // Only a call judged before the listing (concurrency 1) may still go.
    let at_listing = ledger(&db.store, b).await.len();
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let placed = ledger(&db.store, b).await.len();
    assert!(
        placed <= at_listing + 1,
        "{} listed numbers were called",
        placed - at_listing
    );
    let jobs = db
        .store
        .list_jobs(b.into(), run_id.into(), Page::first(100))
        .await
        .unwrap();
    let skipped: Vec<_> = jobs.iter().filter(|j| j.status == "skipped").collect();
    assert_eq!(skipped.len() + placed, phones.len(), "{jobs:?}");
    for j in &skipped {
        let reason = j.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("at placement:") && reason.contains("do-not-call"),
            "{reason}"
        );
    }
    // Their attempts record the placement-time verdict.
    let attempts = db
        .store
        .list_attempts(b.into(), run_id.into(), Page::first(100))
        .await
        .unwrap();
    let refused: Vec<serde_json::Value> = attempts
        .iter()
        .filter(|a| !a.placed)
        .map(|a| serde_json::from_str(&a.compliance).unwrap())
        .collect();
    assert_eq!(refused.len(), skipped.len());
    for c in &refused {
        assert_eq!(
            (
                c["verdict"].as_str(),
                c["rule"].as_str(),
                c["dnc_listed"].as_bool()
            ),
            (Some("skipped"), Some("dnc"), Some(true)),
            "{c}"
        );
    }
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn retries_reuse_the_job_row_until_max_attempts(engine: Db) {
    let db = open(engine).await;
    let clock = ManualClock::new("2026-01-15T12:00:00Z".parse().unwrap());
    let phones = vec!["+33612340100".to_string()]; // last digit 0: always busy
    let mut s = settings(1);
    s.max_attempts = 3;
    s.flow = vec![("retry_delay_secs".into(), "60".into())];
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), s, &[]).await;
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let (stop, w) = start_worker(&db.store, fast_worker_config(), Some(clock_dyn)).await;
    for attempt in 1..=2 {
        let job = wait_for(WAIT, "retry scheduled", || async {
            let jobs = db
                .store
                .list_jobs(b.into(), run_id.into(), Page::first(10))
                .await
                .unwrap();
            (jobs[0].attempt == attempt && jobs[0].status == "queued").then(|| jobs[0].clone())
        })
        .await;
        assert_eq!(job.outcome.as_deref(), Some("busy"));
        assert_eq!(
            job.not_before,
            clock.now().timestamp_millis() + 60_000,
            "retry_after_secs from the flow"
        );
        assert_eq!(ledger(&db.store, b).await.len(), attempt as usize);
        clock.set(clock.now() + chrono::Duration::seconds(60));
    }
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let jobs = db
        .store
        .list_jobs(b.into(), run_id.into(), Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        (jobs.len(), jobs[0].attempt),
        (1, 3),
        "one row, three attempts"
    );
    let keys: Vec<String> = ledger(&db.store, b)
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        keys,
        (1..=3)
            .map(|a| format!("{run_id}-{}-{a}", jobs[0].id))
            .collect::<Vec<_>>(),
        "max_attempts caps the calls; each attempt has its own key"
    );
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn small_run_is_not_starved_by_a_huge_one(engine: Db) {
    let db = open(engine).await;
    let big = human_phones(3000, 2);
    let (big_b, big_run, _) =
        seed_run(&db.store, &big, Some("Europe/Paris"), settings(1), &[]).await;
    let mut cfg = fast_worker_config();
    cfg.batch_size = 8;
    let (stop, w) = start_worker(&db.store, cfg, None).await;
    wait_for(WAIT, "the big run to start", || async {
        (run_view(&db.store, big_b, big_run).await.cursor_position > 0).then_some(())
    })
    .await;
    let small = human_phones(10, 3);
    let (small_b, small_run, _) =
        seed_run(&db.store, &small, Some("Europe/Paris"), settings(1), &[]).await;
    let done = completed(&db, small_b, small_run).await;
    assert_eq!(done.status, RunStatus::Completed);
    let big_now = run_view(&db.store, big_b, big_run).await;
    assert_eq!(
        big_now.status,
        RunStatus::Running,
        "the small run finished while the big one was still running ({} of {})",
        big_now.cursor_position,
        big_now.total_leads
    );
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn cancel_stops_all_calls_before_it_returns(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(2000, 4);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), settings(2), &[]).await;
    let (stop, w) = start_worker(&db.store, fast_worker_config(), None).await;
    wait_for(WAIT, "calls under way", || async {
        (run_view(&db.store, b, run_id).await.cursor_position >= 20).then_some(())
    })
    .await;
    let c = cancel_run(
        &*db.store,
        b.into(),
        run_id.into(),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let returned_at = now_ms();
    assert!(c.jobs_cancelled > 0);
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(
        run.cursor_position, run.total_leads,
        "every job is finished"
    );
    let placed = ledger(&db.store, b).await;
    let late: Vec<_> = placed
        .iter()
        .filter(|e| e.placed_at_unix_ms > returned_at)
        .collect();
    assert!(
        late.is_empty(),
        "calls placed after cancel returned: {late:?}"
    );
    let last = placed.iter().map(|e| e.placed_at_unix_ms).max().unwrap();
    assert!(
        run.last_call_placed_at.unwrap() >= last,
        "last call placed is recorded"
    );
    assert!((placed.len() as u64) < 2000);
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn pending_calls_finish_through_callbacks_or_time_out(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(2, 5);
    let mut s = settings(2);
    s.call_timeout_secs = 1;
    let (b, run_id, _) = seed_run(
        &db.store,
        &phones,
        Some("Europe/Paris"),
        s,
        &[("mode", "pending"), ("pending_secs", "3600")],
    )
    .await;
    let (stop, w) = start_worker(&db.store, fast_worker_config(), None).await;
    let attempts = wait_for(WAIT, "two pending calls", || async {
        let a = db
            .store
            .list_attempts(b.into(), run_id.into(), Page::first(10))
            .await
            .unwrap();
        (a.len() == 2 && a.iter().all(|a| a.call_state.as_deref() == Some("queued"))).then_some(a)
    })
    .await;
    let pcid = attempts[0].provider_call_id.clone().unwrap();
    let report = CallReport {
        outcome: Outcome::Answered(AnsweredBy::Human),
        provider_call_id: Some(pcid.clone()),
        ring_secs: 4,
        talk_secs: 42,
        provider_code: Some("completed".into()),
        detail: None,
    };
    let ev = |state, report| CallEvent {
        provider_call_id: pcid.clone(),
        state,
        report,
    };
    use dialplane::lifecycle::apply_call_event;
    assert_eq!(
        apply_call_event(&*db.store, b.into(), &ev(CallState::Ringing, None))
            .await
            .unwrap(),
        CallEventApplied::Applied
    );
    assert_eq!(
        apply_call_event(
            &*db.store,
            b.into(),
            &ev(CallState::Ended, Some(report.clone()))
        )
        .await
        .unwrap(),
        CallEventApplied::Applied
    );
    assert_eq!(
        apply_call_event(&*db.store, b.into(), &ev(CallState::Answered, None))
            .await
            .unwrap(),
        CallEventApplied::Ignored,
        "out of order"
    );
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let jobs = db
        .store
        .list_jobs(b.into(), run_id.into(), Page::first(10))
        .await
        .unwrap();
    let by_lead = |i: usize| jobs.iter().find(|j| j.id == attempts[i].job_id).unwrap();
    assert_eq!(by_lead(0).status, "completed");
    assert_eq!(by_lead(0).outcome.as_deref(), Some("answered-human"));
    assert_eq!(
        by_lead(1).status,
        "interrupted",
        "no report within the call timeout"
    );
    assert_eq!(by_lead(1).outcome.as_deref(), Some("unknown"));
    assert_eq!(ledger(&db.store, b).await.len(), 2);
    stop.stop();
    w.await.unwrap().unwrap();
}

async fn cancel_hangs_up_pending_calls(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(3, 6);
    let (b, run_id, _) = seed_run(
        &db.store,
        &phones,
        Some("Europe/Paris"),
        settings(3),
        &[("mode", "pending"), ("pending_secs", "3600")],
    )
    .await;
    let (stop, w) = start_worker(&db.store, fast_worker_config(), None).await;
    wait_for(WAIT, "three calls in flight", || async {
        let a = db
            .store
            .list_attempts(b.into(), run_id.into(), Page::first(10))
            .await
            .unwrap();
        (a.len() == 3).then_some(())
    })
    .await;
    cancel_run(
        &*db.store,
        b.into(),
        run_id.into(),
        Some(CancelMode::Hangup),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    let l = ledger(&db.store, b).await;
    assert_eq!(l.len(), 3);
    assert!(
        l.iter().all(|e| e.hung_up),
        "every call in flight was hung up: {l:?}"
    );
    stop.stop();
    w.await.unwrap().unwrap();
}

/// A tenant's cap on calls in flight holds for the fleet: two workers that
/// each drive one of the tenant's runs get half of it each; when one leaves,
/// the other gets it all back.
async fn tenant_cap_is_shared_across_workers(engine: Db) {
    use dialplane::lifecycle::{Worker, stop_pair};
    use dialplane::model::TenantId;
    use dialplane::store::conformance_runs;

    let db = open(engine).await;
    let phones = human_phones(400, 80);
    let mut s = settings(4);
    s.calls_per_second = Some(20.0); // long enough to watch
    let (b, run_a, leads) =
        seed_run(&db.store, &phones, Some("Europe/Paris"), s.clone(), &[]).await;
    let run_b = db
        .store
        .create_run(b.into(), &conformance_runs::spec(&leads, FLOW, DIALER, s))
        .await
        .unwrap()
        .0;
    let mut workers = Vec::new();
    for id in ["share-1", "share-2"] {
        let mut cfg = fast_worker_config();
        cfg.worker_id = id.into();
        cfg.max_runs = 1;
        cfg.tenant_max_concurrent_calls = 4;
        let host =
            Arc::new(dialplane::runtime::PluginHost::new(dialplane_tests::test_limits()).unwrap());
        let (handle, stop) = stop_pair();
        let w = Worker::new(db.store.clone(), host, None, cfg, stop)
            .await
            .unwrap();
        let ctx = w.ctx.clone();
        let task = tokio::spawn(w.start());
        workers.push((handle, ctx, task));
    }
    wait_for(WAIT, "each worker to own one of the runs", || async {
        let a = run_view(&db.store, b, run_a).await.owner_worker;
        let bb = run_view(&db.store, b, run_b).await.owner_worker;
        (a.is_some() && bb.is_some() && a != bb).then_some(())
    })
    .await;
    wait_for(
        WAIT,
        "each worker to take half of the tenant's cap",
        || async {
            let limits: Vec<usize> = workers
                .iter()
                .map(|(_, c, _)| c.tenant_slots(TenantId(b)).limit())
                .collect();
            (limits == [2, 2]).then_some(())
        },
    )
    .await;
    let (handle, _, task) = workers.pop().unwrap();
    handle.stop();
    task.await.unwrap().unwrap();
    let (_, survivor, _) = &workers[0];
    wait_for(
        WAIT,
        "the remaining worker to get the whole cap back",
        || async { (survivor.tenant_slots(TenantId(b)).limit() == 4).then_some(()) },
    )
    .await;
}

/// "Calls at once" means calls the provider still has, not only placements
/// under way: with an asynchronous adapter (every call pending until its
/// callback) and concurrency 2, a third call waits until one of the first
/// two ended.
async fn pending_calls_count_toward_concurrency(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(4, 9);
    let mut s = settings(2);
    s.call_timeout_secs = 3600;
    let (b, run_id, _) = seed_run(
        &db.store,
        &phones,
        Some("Europe/Paris"),
        s,
        &[("mode", "pending"), ("pending_secs", "3600")],
    )
    .await;
    let cfg = fast_worker_config();
    let worker_id = cfg.worker_id.to_string();
    let (stop, w) = start_worker(&db.store, cfg, None).await;
    let first = wait_for(WAIT, "two pending calls", || async {
        let a = db
            .store
            .list_attempts(b.into(), run_id.into(), Page::first(10))
            .await
            .unwrap();
        (a.iter().filter(|a| a.placed).count() >= 2).then_some(a)
    })
    .await;
    // Let the worker go round its loop for a while (its heartbeats move on).
    let later = now_ms() + 500;
    wait_for(WAIT, "more worker heartbeats", || async {
        (worker_last_seen(&db, &worker_id).await > later).then_some(())
    })
    .await;
    assert_eq!(
        ledger(&db.store, b).await.len(),
        2,
        "no third call while two are still with the provider"
    );
    // One call ends: one more may start, and no more than that.
    let pcid = first[0].provider_call_id.clone().unwrap();
    let report = CallReport {
        outcome: Outcome::Answered(AnsweredBy::Human),
        provider_call_id: Some(pcid.clone()),
        ring_secs: 1,
        talk_secs: 10,
        provider_code: Some("completed".into()),
        detail: None,
    };
    let ended = CallEvent {
        provider_call_id: pcid,
        state: CallState::Ended,
        report: Some(report),
    };
    dialplane::lifecycle::apply_call_event(&*db.store, b.into(), &ended)
        .await
        .unwrap();
    wait_for(WAIT, "a third call", || async {
        (ledger(&db.store, b).await.len() == 3).then_some(())
    })
    .await;
    let later = now_ms() + 500;
    wait_for(WAIT, "more worker heartbeats", || async {
        (worker_last_seen(&db, &worker_id).await > later).then_some(())
    })
    .await;
    assert_eq!(ledger(&db.store, b).await.len(), 3, "still two at once");
    stop.stop();
    w.await.unwrap().unwrap();
}

/// The pipeline marks the next batch while it places one (look-ahead). A
/// worker that stops puts that batch back in the queue: nothing stays
/// `dialing` for a next owner to reconcile, and a new worker finishes the
/// run with every lead called exactly once.
async fn stop_mid_run_leaves_no_job_dialing(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(600, 7);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), settings(4), &[]).await;
    let mut cfg = fast_worker_config();
    cfg.batch_size = 16;
    let (stop, w) = start_worker(&db.store, cfg.clone(), None).await;
    wait_for(WAIT, "the run to be under way", || async {
        (run_view(&db.store, b, run_id).await.cursor_position >= 100).then_some(())
    })
    .await;
    stop.stop();
    w.await.unwrap().unwrap();
    let stopped = run_view(&db.store, b, run_id).await;
    assert!(
        stopped.cursor_position < stopped.total_leads,
        "the run ended before the stop; the test needs a larger run"
    );
    assert_eq!(
        stopped.counts.by_status.get("dialing"),
        None,
        "jobs left dialing after a graceful stop: {:?}",
        stopped.counts.by_status
    );
    let (stop, w) = start_worker(&db.store, cfg, None).await;
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, run.total_leads);
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    stop.stop();
    w.await.unwrap().unwrap();
}

/// Batches at the production size and above: on PostgreSQL their results
/// commit as two transactions at once (`pipeline::flush`). Every result
/// lands once: one placed attempt per lead, the cursor at the total.
async fn large_batches_land_every_result_once(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(1500, 8);
    let (b, run_id, _) =
        seed_run(&db.store, &phones, Some("Europe/Paris"), settings(64), &[]).await;
    let mut cfg = fast_worker_config();
    cfg.batch_size = 512;
    cfg.tenant_max_concurrent_calls = 64;
    let (stop, w) = start_worker(&db.store, cfg, None).await;
    let run = completed(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, 1500);
    assert_eq!(run.counts.by_status.get("completed"), Some(&1500));
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    let (mut placed, mut after) = (0, None);
    loop {
        let page = Page { after, limit: 1000 };
        let attempts = db
            .store
            .list_attempts(b.into(), run_id.into(), page)
            .await
            .unwrap();
        let Some(last) = attempts.last() else { break };
        after = Some(last.id);
        placed += attempts.iter().filter(|a| a.placed).count();
    }
    assert_eq!(placed, 1500, "one placed attempt per lead");
    stop.stop();
    w.await.unwrap().unwrap();
}

//! Conformance cases of the run store ([`ApiRunStore`] and
//! [`WorkerRunStore`]), run on both drivers by `tests/tests/lifecycle_store.rs` through
//! [`crate::run_store_conformance_tests!`]. They exercise the store alone
//! (plugins are stored as opaque bytes); the worker end to end, with real
//! components and worker processes, is in `tests/tests/lifecycle_*.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::lifecycle::settings::{CancelMode, RunSettings};
use crate::runtime::{CallEvent, CallReport, CallState, Outcome, PluginKind};

/// Stamps out one `#[tokio::test]` per case; `$open` as for
/// [`crate::store_conformance_tests!`].
#[macro_export]
macro_rules! run_store_conformance_tests {
    ($open:path) => {
        $crate::run_store_conformance_tests!($open;
            run_create_snapshots_leads_and_pins_flow,
            run_duplicate_lead_is_rejected_by_the_database,
            run_create_names_the_bad_field,
            run_claim_bumps_generation_and_fences_old_owner,
            run_cancel_cancels_queued_jobs_and_blocks_dialing,
            run_cancel_of_unowned_run_is_immediate,
            run_cursor_counts_finished_jobs_and_retries_reuse_the_row,
            run_call_events_are_monotonic_and_tenant_scoped,
            run_cancel_job_only_when_queued,
            run_dialing_jobs_after_takeover,
            run_fleet_load_counts_live_runs_by_owner,
            run_stale_owner_results_write_nothing,
            run_finish_upserts_recorded_calls_and_repeats_harmlessly
        );
    };
    ($open:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $open().await;
                $crate::store::conformance_runs::$case(store).await;
            }
        )+
    };
}

fn unique(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}-{:08x}", rand::rng().next_u32())
}

/// A tenant with `phones.len()` leads (ids in order), an active flow named
/// `flow` and a platform dialer named `dialer`, both stored with the given
/// bytes (opaque to the store). Returns (business_id, lead ids).
pub async fn seed(
    store: &Arc<dyn Store>,
    phones: &[&str],
    timezone: Option<&str>,
    flow: (&str, &[u8]),
    dialer: (&str, &[u8]),
) -> (i64, Vec<i64>) {
    let b = store
        .create_tenant(&unique("lifecycle"))
        .await
        .expect("create tenant");
    let leads: Vec<LeadInput> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| LeadInput {
            external_id: format!("lead-{i}"),
            phone: p.to_string(),
            name: Some(format!("Lead {i}")),
            timezone: timezone.map(str::to_string),
            attributes: BTreeMap::new(),
            status: None,
            tags: vec![],
        })
        .collect();
    let mut ids = Vec::with_capacity(leads.len());
    for chunk in leads.chunks(1000) {
        for r in store.upsert_leads(b, chunk).await.expect("upsert leads") {
            match r.expect("valid lead") {
                LeadUpsert::Created(id) | LeadUpsert::Updated(id) => ids.push(id),
            }
        }
    }
    ensure_plugin(store, PluginKind::Flow, Some(b), flow.0, flow.1).await;
    ensure_plugin(store, PluginKind::Dialer, None, dialer.0, dialer.1).await;
    (b, ids)
}

/// Stores and activates `bytes` as `name` unless an active version with the
/// same bytes exists.
pub async fn ensure_plugin(
    store: &Arc<dyn Store>,
    kind: PluginKind,
    owner: Option<i64>,
    name: &str,
    bytes: &[u8],
) {
    if let Ok(active) = store.get_active_plugin(kind, owner, name).await
        && active.bytes == bytes
    {
        return;
    }
    let v = store
        .insert_plugin_version(kind, owner, name, bytes)
        .await
        .expect("insert plugin");
    store
        .activate_plugin_version(kind, owner, name, v.version)
        .await
        .expect("activate plugin");
}

/// A spec over `leads` with the seeded flow/dialer names.
pub fn spec(leads: &[i64], flow: &str, dialer: &str, settings: RunSettings) -> RunSpec {
    RunSpec {
        lead_ids: leads.to_vec(),
        flow: flow.into(),
        flow_version: None,
        dialer: dialer.into(),
        settings,
    }
}

async fn setup(store: &Arc<dyn Store>, n: usize) -> (i64, Vec<i64>, String, String) {
    let flow = unique("flow");
    let dialer = unique("dialer");
    let phones: Vec<String> = (0..n).map(|i| format!("+3361234{i:04}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let (b, ids) = seed(
        store,
        &phones,
        Some("Europe/Paris"),
        (&flow, b"flow-bytes"),
        (&dialer, b"dialer-bytes"),
    )
    .await;
    (b, ids, flow, dialer)
}

/// A new worker named after `worker` claims `run_id`: (worker id, lease
/// generation).
async fn claim_as(store: &Arc<dyn Store>, worker: &str, run_id: i64) -> (String, i64) {
    let w = unique(worker);
    let g = store
        .claim_runs(&w, 100, 60_000)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.run_id == run_id)
        .unwrap()
        .generation;
    (w, g)
}

/// A run of `n` leads with default settings, claimed by a new worker named
/// after `worker`: (tenant, run, worker id, lease generation).
async fn claimed_run(store: &Arc<dyn Store>, n: usize, worker: &str) -> (i64, i64, String, i64) {
    let (b, ids, flow, dialer) = setup(store, n).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let (w, g) = claim_as(store, worker, run_id).await;
    (b, run_id, w, g)
}

/// Records `job`'s first attempt as placed `pending` at `placed_at`, by
/// dialer version 7 (the provider call id is `prov-<key>`): (key, call id).
async fn record_first_call_pending(
    store: &Arc<dyn Store>,
    run_id: i64,
    g: i64,
    w: &str,
    job: &JobWork,
    placed_at: i64,
) -> (String, String) {
    let key = idempotency_key(run_id, job.job_id, 1);
    let pcid = format!("prov-{key}");
    store
        .record_pending(
            run_id,
            g,
            w,
            &[PendingCall {
                job_id: job.job_id,
                lead_id: job.lead_id,
                attempt: 1,
                idempotency_key: key.clone(),
                provider_call_id: pcid.clone(),
                placed_at,
                call_deadline: FAR_FUTURE,
                dialer_version: 7,
            }],
        )
        .await
        .unwrap();
    (key, pcid)
}

fn dial(job: &JobWork) -> JobDecision {
    JobDecision::Dial {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt: job.attempt + 1,
        compliance: r#"{"verdict":"allowed"}"#.into(),
    }
}

fn report(outcome: Outcome, pcid: &str) -> CallReport {
    CallReport {
        outcome,
        provider_call_id: Some(pcid.into()),
        ring_secs: 3,
        talk_secs: 10,
        provider_code: None,
        detail: None,
    }
}

/// The adapter version [`done`] says placed its call.
const DONE_DIALER_VERSION: i64 = 3;

/// The result the owner commits for a job it found `dialing` (settled or
/// reconciled): nothing placed by this result itself.
fn settle(job: &DialingJob, report: Option<CallReport>, next: JobNext) -> JobResult {
    JobResult {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt: job.attempt,
        idempotency_key: job.idempotency_key.clone(),
        placed_at: None,
        dialer_version: None,
        report,
        note: None,
        next,
    }
}

/// [`done`], finished `completed` with outcome `busy`.
fn completed_busy(run_id: i64, job: &JobWork) -> JobResult {
    done(
        run_id,
        job,
        JobNext::Finish {
            status: "completed",
            outcome: "busy".into(),
            reason: None,
        },
    )
}

fn done(run_id: i64, job: &JobWork, next: JobNext) -> JobResult {
    let attempt = job.attempt + 1;
    JobResult {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt,
        idempotency_key: idempotency_key(run_id, job.job_id, attempt),
        placed_at: Some(1_000),
        dialer_version: Some(DONE_DIALER_VERSION),
        report: Some(report(
            Outcome::Busy,
            &format!("p-{}", idempotency_key(run_id, job.job_id, attempt)),
        )),
        note: None,
        next,
    }
}

const FAR_FUTURE: i64 = 4_000_000_000_000;

pub async fn run_create_snapshots_leads_and_pins_flow(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 5).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.total_leads, 5);
    assert_eq!(run.cursor_position, 0);
    assert_eq!(run.counts.by_status.get("queued"), Some(&5));
    let pinned = store
        .get_active_plugin(PluginKind::Flow, Some(b), &flow)
        .await
        .unwrap();
    assert_eq!(
        run.flow_plugin_id, pinned.version.id,
        "active version pinned"
    );
    // A later activation does not change what the run uses.
    let v2 = store
        .insert_plugin_version(PluginKind::Flow, Some(b), &flow, b"v2")
        .await
        .unwrap();
    store
        .activate_plugin_version(PluginKind::Flow, Some(b), &flow, v2.version)
        .await
        .unwrap();
    let (_, version, bytes) = store.run_flow_plugin(run_id).await.unwrap();
    assert_eq!((version, bytes.as_slice()), (1, &b"flow-bytes"[..]));
    let jobs = store.list_jobs(b, run_id, Page::first(100)).await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.lead_id).collect::<Vec<_>>(),
        ids,
        "jobs keep the lead order"
    );
    // Another tenant sees nothing.
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(matches!(
        store.get_run(other, run_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.list_jobs(other, run_id, Page::first(10)).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .list_runs(other, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_runs(b, Page::first(10)).await.unwrap().len(), 1);
}

pub async fn run_duplicate_lead_is_rejected_by_the_database(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 2).await;
    let dup = vec![ids[0], ids[1], ids[0]];
    let err = store
        .create_run(b, &spec(&dup, &flow, &dialer, RunSettings::default()))
        .await
        .expect_err("duplicate (run_id, lead_id)");
    match &err {
        StoreError::Conflict { constraint } => assert!(
            constraint.contains("jobs_run_lead_key")
                || constraint.contains("jobs.run_id, jobs.lead_id"),
            "names the unique constraint: {constraint}"
        ),
        other => panic!("expected a constraint conflict, got {other:?}"),
    }
    assert!(
        store
            .list_runs(b, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "nothing half-written"
    );
}

pub async fn run_create_names_the_bad_field(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 2).await;
    let (other, other_ids, _, _) = setup(&store, 1).await;
    let _ = other;
    let field = |r: StoreResult<i64>| match r {
        Err(StoreError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let s = RunSettings::default();
    assert_eq!(
        field(
            store
                .create_run(b, &spec(&[ids[0], 999_999_999], &flow, &dialer, s.clone()))
                .await
        ),
        "lead_ids[1]"
    );
    assert_eq!(
        field(
            store
                .create_run(
                    b,
                    &spec(
                        &[ids[0], ids[1], 999_999_998, ids[0], 999_999_997],
                        &flow,
                        &dialer,
                        s.clone()
                    )
                )
                .await
        ),
        "lead_ids[2]",
        "the first missing lead is named, in the caller's order"
    );
    assert_eq!(
        field(
            store
                .create_run(b, &spec(&[ids[0], other_ids[0]], &flow, &dialer, s.clone()))
                .await
        ),
        "lead_ids[1]",
        "another tenant's lead is not found"
    );
    assert_eq!(
        field(
            store
                .create_run(b, &spec(&[], &flow, &dialer, s.clone()))
                .await
        ),
        "lead_ids"
    );
    assert_eq!(
        field(
            store
                .create_run(b, &spec(&ids, "nope", &dialer, s.clone()))
                .await
        ),
        "flow"
    );
    assert_eq!(
        field(
            store
                .create_run(b, &spec(&ids, &flow, "nope", s.clone()))
                .await
        ),
        "dialer"
    );
    let bad = RunSettings {
        concurrency: 0,
        ..RunSettings::default()
    };
    assert_eq!(
        field(store.create_run(b, &spec(&ids, &flow, &dialer, bad)).await),
        "settings.concurrency"
    );
    assert!(
        store
            .list_runs(b, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

/// The fleet's live runs by tenant, adapter and owner; an expired lease no
/// longer counts (its worker is presumed dead).
pub async fn run_fleet_load_counts_live_runs_by_owner(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 1).await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(
            store
                .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
                .await
                .unwrap(),
        );
    }
    let (a, short) = (unique("wa"), unique("wb"));
    // Other cases may share the database: claim until ours are taken.
    let mut owned = 0;
    while owned < 2 {
        owned += store
            .claim_runs(&a, 1, 60_000)
            .await
            .unwrap()
            .iter()
            .filter(|c| c.business_id == b)
            .count();
    }
    while store
        .claim_runs(&short, 1, 3_000)
        .await
        .unwrap()
        .iter()
        .all(|c| c.business_id != b)
    {}
    let mine = |load: Vec<RunLoad>| {
        let mut v: Vec<(String, i64)> = load
            .into_iter()
            .filter(|l| l.business_id == b)
            .inspect(|l| assert_eq!(l.dialer, dialer))
            .map(|l| (l.owner_worker, l.runs))
            .collect();
        v.sort();
        v
    };
    let mut expected = vec![(a.clone(), 2), (short.clone(), 1)];
    expected.sort();
    assert_eq!(mine(store.fleet_load().await.unwrap()), expected);
    // The short lease runs out: that worker no longer counts.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let load = mine(store.fleet_load().await.unwrap());
        if load == vec![(a.clone(), 2)] {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "expired lease still counted: {load:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

pub async fn run_claim_bumps_generation_and_fences_old_owner(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 3).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let w1 = unique("w1");
    let w2 = unique("w2");
    // Other cases share the database: claim only until we see our run.
    let mine = |v: Vec<ClaimedRun>| v.into_iter().find(|c| c.run_id == run_id);
    let c1 = mine(store.claim_runs(&w1, 100, 60_000).await.unwrap()).expect("w1 claims");
    assert_eq!(c1.generation, 1);
    assert!(!c1.reclaimed);
    assert!(
        mine(store.claim_runs(&w2, 100, 60_000).await.unwrap()).is_none(),
        "a live lease is not claimable"
    );
    let hb = store.heartbeat(&w1).await.unwrap();
    assert!(hb.iter().any(|l| l.run_id == run_id && l.generation == 1));
    // w1 stops (gives its leases up): w2 takes over at once.
    store.release_worker(&w1).await.unwrap();
    let c2 = mine(store.claim_runs(&w2, 100, 60_000).await.unwrap()).expect("w2 takes over");
    assert_eq!(c2.generation, 2);
    assert!(c2.reclaimed);
    let jobs = store.next_jobs(run_id, 1, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        store
            .mark_dialing(run_id, 1, &w1, &[dial(&jobs[0])], 0)
            .await
            .unwrap(),
        MarkResult::LeaseLost,
        "the old generation writes nothing"
    );
    assert_eq!(
        store.finish_jobs(run_id, 1, &w1, &[], 0).await.unwrap(),
        Fenced::LeaseLost
    );
    assert!(
        store
            .heartbeat(&w1)
            .await
            .unwrap()
            .iter()
            .all(|l| l.run_id != run_id),
        "the old owner's heartbeat no longer covers the run"
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.owner_worker.as_deref(), Some(w2.as_str()));
    assert_eq!(run.counts.by_status.get("queued"), Some(&3));
    // Expiry by TTL (not release): w2 claimed with a 60 s TTL; re-claim with 1 ms.
    store.release_worker(&w2).await.unwrap();
    let c3 = mine(store.claim_runs(&w2, 100, 1).await.unwrap()).expect("re-claim");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c4 = mine(store.claim_runs(&w1, 100, 60_000).await.unwrap()).expect("expired lease");
    assert_eq!(c4.generation, c3.generation + 1);
}

pub async fn run_cancel_cancels_queued_jobs_and_blocks_dialing(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 4).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let w = unique("w");
    let c = store
        .claim_runs(&w, 100, 60_000)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.run_id == run_id)
        .unwrap();
    let g = c.generation;
    let jobs = store.next_jobs(run_id, g, FAR_FUTURE, 10).await.unwrap();
    let MarkResult::Marked(marked) = store
        .mark_dialing(run_id, g, &w, &[dial(&jobs[0])], 0)
        .await
        .unwrap()
    else {
        panic!("mark failed")
    };
    assert_eq!(marked, vec![jobs[0].job_id]);
    let req = store
        .request_cancel(b, run_id, Some(CancelMode::Hangup))
        .await
        .unwrap();
    assert_eq!(
        req.jobs_cancelled, 3,
        "queued jobs cancelled in the same transaction"
    );
    assert_eq!(req.status, RunStatus::Running);
    assert!(
        !store.cancel_settled(b, run_id).await.unwrap(),
        "a live owner has not acknowledged yet"
    );
    assert_eq!(
        store
            .mark_dialing(run_id, g, &w, &[dial(&jobs[1])], 0)
            .await
            .unwrap(),
        MarkResult::Cancelled,
        "no job can be marked dialing after the cancel"
    );
    let hb = store.heartbeat(&w).await.unwrap();
    let lease = hb.iter().find(|l| l.run_id == run_id).unwrap();
    assert!(lease.cancel_requested && !lease.cancel_acked);
    assert_eq!(store.ack_cancel(run_id, g).await.unwrap(), Fenced::Done);
    assert!(store.cancel_settled(b, run_id).await.unwrap());
    assert_eq!(
        store.finish_run_if_done(run_id, g).await.unwrap(),
        RunStatus::Running,
        "a job is still dialing"
    );
    store
        .finish_jobs(
            run_id,
            g,
            &w,
            &[done(
                run_id,
                &jobs[0],
                JobNext::Finish {
                    status: "completed",
                    outcome: "busy".into(),
                    reason: None,
                },
            )],
            5_000,
        )
        .await
        .unwrap();
    assert_eq!(
        store.finish_run_if_done(run_id, g).await.unwrap(),
        RunStatus::Cancelled
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.cursor_position, 4, "every job is finished");
    assert_eq!(run.last_call_placed_at, Some(1_000));
    assert_eq!(run.cancel_mode, Some(CancelMode::Hangup));
    assert_eq!(run.counts.by_status.get("cancelled"), Some(&3));
}

pub async fn run_cancel_of_unowned_run_is_immediate(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 3).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(matches!(
        store.request_cancel(other, run_id, None).await,
        Err(StoreError::NotFound)
    ));
    let req = store.request_cancel(b, run_id, None).await.unwrap();
    assert_eq!(req.status, RunStatus::Cancelled);
    assert!(store.cancel_settled(b, run_id).await.unwrap());
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.cursor_position, 3);
    // Idempotent, and a cancelled run is never claimed.
    let again = store.request_cancel(b, run_id, None).await.unwrap();
    assert_eq!(
        (again.status, again.jobs_cancelled),
        (RunStatus::Cancelled, 0)
    );
    let w = unique("w");
    assert!(
        store
            .claim_runs(&w, 100, 60_000)
            .await
            .unwrap()
            .iter()
            .all(|c| c.run_id != run_id)
    );
}

pub async fn run_cursor_counts_finished_jobs_and_retries_reuse_the_row(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 3, "w").await;
    let jobs = store.next_jobs(run_id, g, 10_000, 10).await.unwrap();
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(run_id, g, &w, &decisions, 10_000)
        .await
        .unwrap();
    assert!(
        store
            .next_jobs(run_id, g, 10_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let fin = |j: &JobWork| completed_busy(run_id, j);
    let retry = done(
        run_id,
        &jobs[2],
        JobNext::Retry {
            not_before_ms: 70_000,
            outcome: "busy".into(),
        },
    );
    store
        .finish_jobs(
            run_id,
            g,
            &w,
            &[fin(&jobs[0]), fin(&jobs[1]), retry],
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(store.get_run(b, run_id).await.unwrap().cursor_position, 2);
    assert!(
        store
            .next_jobs(run_id, g, 69_999, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before not_before"
    );
    assert_eq!(store.next_due(run_id).await.unwrap(), Some(70_000));
    let again = store.next_jobs(run_id, g, 70_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].job_id, jobs[2].job_id, "the same job row");
    assert_eq!(again[0].attempt, 1, "attempt + 1 on retry");
    assert_eq!(
        again[0].attempts_24h, 1,
        "the first call counts toward the daily cap"
    );
    store
        .mark_dialing(run_id, g, &w, &[dial(&again[0])], 70_000)
        .await
        .unwrap();
    store
        .finish_jobs(run_id, g, &w, &[fin(&again[0])], 70_000)
        .await
        .unwrap();
    assert_eq!(
        store.finish_run_if_done(run_id, g).await.unwrap(),
        RunStatus::Completed
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.cursor_position, run.total_leads);
    let attempts = store
        .list_attempts(b, run_id, Page::first(100))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 4, "one attempt row per call placed");
    let keys: std::collections::BTreeSet<_> = attempts
        .iter()
        .filter_map(|a| a.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 4, "each attempt has its own idempotency key");
    assert!(
        attempts
            .iter()
            .filter(|a| a.placed)
            .all(|a| a.dialer_version == Some(DONE_DIALER_VERSION)),
        "each placed call records the adapter version that placed it: {attempts:?}"
    );
}

pub async fn run_call_events_are_monotonic_and_tenant_scoped(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 1, "w").await;
    let jobs = store.next_jobs(run_id, g, FAR_FUTURE, 10).await.unwrap();
    store
        .mark_dialing(run_id, g, &w, &[dial(&jobs[0])], 0)
        .await
        .unwrap();
    let (_, pcid) = record_first_call_pending(&store, run_id, g, &w, &jobs[0], 2_000).await;
    let ev = |state, report| CallEvent {
        provider_call_id: pcid.clone(),
        state,
        report,
    };
    let apply = |e: CallEvent| {
        let store = store.clone();
        async move { store.apply_call_event(b, &e).await.unwrap() }
    };
    assert_eq!(
        apply(ev(CallState::Ringing, None)).await,
        CallEventApplied::Applied
    );
    assert_eq!(
        apply(ev(CallState::Ringing, None)).await,
        CallEventApplied::Ignored
    );
    assert_eq!(
        apply(ev(CallState::Queued, None)).await,
        CallEventApplied::Ignored
    );
    let r = report(Outcome::Answered(crate::runtime::AnsweredBy::Human), &pcid);
    assert_eq!(
        apply(ev(CallState::Ended, Some(r.clone()))).await,
        CallEventApplied::Applied
    );
    assert_eq!(
        apply(ev(CallState::Answered, None)).await,
        CallEventApplied::Ignored
    );
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert_eq!(
        store
            .apply_call_event(other, &ev(CallState::Ended, None))
            .await
            .unwrap(),
        CallEventApplied::UnknownCall,
        "another tenant cannot touch the call"
    );
    let dialing = store.dialing_jobs(run_id, g).await.unwrap();
    assert_eq!(dialing.len(), 1);
    assert_eq!(dialing[0].call_state.as_deref(), Some("ended"));
    assert_eq!(dialing[0].report.as_ref(), Some(&r));
    assert_eq!(dialing[0].provider_call_id.as_deref(), Some(pcid.as_str()));
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.last_call_placed_at, Some(2_000));
    let attempts = store
        .list_attempts(b, run_id, Page::first(10))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].dialer_version,
        Some(7),
        "a pending placement records its adapter version"
    );
    // The owner settles the ended call as the worker's settle step does (the
    // result places nothing itself): the attempt stays `ended`, so a late,
    // older event is still ignored.
    let settled = settle(
        &dialing[0],
        Some(r.clone()),
        JobNext::Finish {
            status: "completed",
            outcome: "answered-human".into(),
            reason: None,
        },
    );
    assert_eq!(
        store
            .finish_jobs(run_id, g, &w, &[settled], 3_000)
            .await
            .unwrap(),
        Fenced::Done
    );
    assert_eq!(
        apply(ev(CallState::Ringing, None)).await,
        CallEventApplied::Ignored,
        "an older event after the job finished"
    );
    let attempts = store
        .list_attempts(b, run_id, Page::first(10))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].call_state.as_deref(), Some("ended"));
    assert_eq!(attempts[0].dialer_version, Some(7));
}

pub async fn run_cancel_job_only_when_queued(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 2).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let jobs = store.list_jobs(b, run_id, Page::first(10)).await.unwrap();
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(matches!(
        store.cancel_job(other, jobs[0].id).await,
        Err(StoreError::NotFound)
    ));
    let j = store.cancel_job(b, jobs[0].id).await.unwrap();
    assert_eq!(j.status, "cancelled");
    match store.cancel_job(b, jobs[0].id).await {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "status"),
        other => panic!("expected Invalid status, got {other:?}"),
    }
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.cursor_position, 1, "a cancelled job counts as finished");
}

pub async fn run_dialing_jobs_after_takeover(store: Arc<dyn Store>) {
    let (b, run_id, w1, g1) = claimed_run(&store, 2, "w1").await;
    let jobs = store.next_jobs(run_id, g1, FAR_FUTURE, 10).await.unwrap();
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(run_id, g1, &w1, &decisions, 0)
        .await
        .unwrap();
    store.release_worker(&w1).await.unwrap();
    let (w2, g2) = claim_as(&store, "w2", run_id).await;
    let left = store.dialing_jobs(run_id, g2).await.unwrap();
    assert_eq!(
        left.len(),
        2,
        "the new owner sees what the old one left dialing"
    );
    assert_eq!(
        left[0].idempotency_key,
        idempotency_key(run_id, jobs[0].job_id, 1)
    );
    assert!(
        store.dialing_jobs(run_id, g1).await.unwrap().is_empty(),
        "fenced read"
    );
    // Never placed → back to the queue with the same attempt number (same key).
    let requeue = settle(&left[0], None, JobNext::Requeue { not_before_ms: 0 });
    let interrupted = settle(
        &left[1],
        None,
        JobNext::Finish {
            status: "interrupted",
            outcome: "unknown".into(),
            reason: Some("lookup failed".into()),
        },
    );
    store
        .finish_jobs(run_id, g2, &w2, &[requeue, interrupted], 0)
        .await
        .unwrap();
    let q = store.next_jobs(run_id, g2, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].attempt + 1, 1, "same attempt → same idempotency key");
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.counts.by_status.get("interrupted"), Some(&1));
    assert_eq!(run.counts.by_outcome.get("unknown"), Some(&1));
    assert_eq!(run.cursor_position, 1);
}

/// An owner that lost its lease while its results were being committed
/// writes none of them: no job finishes, no attempt row, the cursor does not
/// move (the PostgreSQL driver checks the lease at the end of that
/// transaction, so this is where a late check must roll everything back).
pub async fn run_stale_owner_results_write_nothing(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 2).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let (w1, w2) = (unique("w1"), unique("w2"));
    let mine = |v: Vec<ClaimedRun>| v.into_iter().find(|c| c.run_id == run_id);
    let c1 = mine(store.claim_runs(&w1, 100, 60_000).await.unwrap()).expect("w1 claims");
    let jobs = store
        .next_jobs(run_id, c1.generation, FAR_FUTURE, 10)
        .await
        .unwrap();
    let decisions: Vec<JobDecision> = jobs.iter().map(dial).collect();
    assert!(matches!(
        store
            .mark_dialing(run_id, c1.generation, &w1, &decisions, 0)
            .await
            .unwrap(),
        MarkResult::Marked(ref m) if m.len() == 2
    ));
    // w1 stalls; w2 takes the run over before w1's results arrive.
    store.release_worker(&w1).await.unwrap();
    let c2 = mine(store.claim_runs(&w2, 100, 60_000).await.unwrap()).expect("w2 takes over");
    let fin = |j: &JobWork| completed_busy(run_id, j);
    assert_eq!(
        store
            .finish_jobs(
                run_id,
                c1.generation,
                &w1,
                &[fin(&jobs[0]), fin(&jobs[1])],
                0
            )
            .await
            .unwrap(),
        Fenced::LeaseLost
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.cursor_position, 0, "the cursor did not move");
    assert_eq!(
        run.counts.by_status.get("dialing"),
        Some(&2),
        "no job finished"
    );
    assert!(
        store
            .list_attempts(b, run_id, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "no attempt row was written"
    );
    // The heir finds both jobs still to be reconciled.
    assert_eq!(
        store
            .dialing_jobs(run_id, c2.generation)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// `finish_jobs` writes one attempt row per call whatever path the result
/// took: a call already recorded `pending` has its row updated even when
/// the result looks like a fresh placement (an adapter that said `pending`,
/// then `none` to lookup, then placed it under the same key), and a commit
/// repeated because its answer was lost writes nothing twice.
pub async fn run_finish_upserts_recorded_calls_and_repeats_harmlessly(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 2, "w").await;
    let jobs = store.next_jobs(run_id, g, FAR_FUTURE, 10).await.unwrap();
    let decisions: Vec<JobDecision> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(run_id, g, &w, &decisions, 0)
        .await
        .unwrap();
    let (key, _) = record_first_call_pending(&store, run_id, g, &w, &jobs[0], 500).await;
    let results = [
        completed_busy(run_id, &jobs[0]),
        completed_busy(run_id, &jobs[1]),
    ];
    for _ in 0..2 {
        assert_eq!(
            store
                .finish_jobs(run_id, g, &w, &results, 3_000)
                .await
                .unwrap(),
            Fenced::Done
        );
    }
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.cursor_position, 2, "each job counted once");
    assert_eq!(run.counts.by_status.get("completed"), Some(&2));
    let attempts = store
        .list_attempts(b, run_id, Page::first(10))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2, "one attempt row per call: {attempts:?}");
    let recorded = attempts
        .iter()
        .find(|a| a.job_id == jobs[0].job_id)
        .unwrap();
    assert_eq!(recorded.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(recorded.outcome.as_deref(), Some("busy"));
    assert_eq!(recorded.call_state.as_deref(), Some("ended"));
    assert_eq!(recorded.ended_at, Some(3_000));
    assert_eq!(
        recorded.dialer_version,
        Some(7),
        "the version that placed the call is kept"
    );
    let fresh = attempts
        .iter()
        .find(|a| a.job_id == jobs[1].job_id)
        .unwrap();
    assert_eq!(fresh.outcome.as_deref(), Some("busy"));
    assert_eq!(fresh.placed_at, Some(1_000));
    assert_eq!(fresh.dialer_version, Some(DONE_DIALER_VERSION));
}

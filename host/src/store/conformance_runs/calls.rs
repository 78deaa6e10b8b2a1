//! Calls and results: the cursor, retries, provider events, repeated
//! commits.

use super::*;

pub async fn run_cursor_counts_finished_jobs_and_retries_reuse_the_row(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 3, "w").await;
    let jobs = store
        .next_jobs(&lease(run_id, g, &w), 10_000, 10)
        .await
        .unwrap();
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(&lease(run_id, g, &w), &decisions, 10_000)
        .await
        .unwrap();
    assert!(
        store
            .next_jobs(&lease(run_id, g, &w), 10_000, 10)
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
            &lease(run_id, g, &w),
            &[fin(&jobs[0]), fin(&jobs[1]), retry],
            10_000,
        )
        .await
        .unwrap();
    assert_eq!(store.get_run(b, run_id).await.unwrap().cursor_position, 2);
    assert!(
        store
            .next_jobs(&lease(run_id, g, &w), 69_999, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before not_before"
    );
    assert_eq!(store.next_due(run_id).await.unwrap(), Some(70_000));
    let again = store
        .next_jobs(&lease(run_id, g, &w), 70_000, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].job_id, jobs[2].job_id, "the same job row");
    assert_eq!(again[0].attempt, 1, "attempt + 1 on retry");
    assert_eq!(
        again[0].attempts_24h, 1,
        "the first call counts toward the daily cap"
    );
    store
        .mark_dialing(&lease(run_id, g, &w), &[dial(&again[0])], 70_000)
        .await
        .unwrap();
    store
        .finish_jobs(&lease(run_id, g, &w), &[fin(&again[0])], 70_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .finish_run_if_done(&lease(run_id, g, &w))
            .await
            .unwrap(),
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
    let jobs = store
        .next_jobs(&lease(run_id, g, &w), FAR_FUTURE, 10)
        .await
        .unwrap();
    store
        .mark_dialing(&lease(run_id, g, &w), &[dial(&jobs[0])], 0)
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
        CallEventApplied::Held,
        "another tenant cannot touch the call (its event waits in its own inbox)"
    );
    let dialing = store.dialing_jobs(&lease(run_id, g, &w)).await.unwrap();
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
            status: JobStatus::Completed,
            outcome: "answered-human".into(),
            reason: None,
        },
    );
    assert_eq!(
        store
            .finish_jobs(&lease(run_id, g, &w), &[settled], 3_000)
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

/// `finish_jobs` writes one attempt row per call whatever path the result
/// took: a call already recorded `pending` has its row updated even when
/// the result looks like a fresh placement (an adapter that said `pending`,
/// then `none` to lookup, then placed it under the same key), and a commit
/// repeated because its answer was lost writes nothing twice.
pub async fn run_finish_upserts_recorded_calls_and_repeats_harmlessly(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 2, "w").await;
    let jobs = store
        .next_jobs(&lease(run_id, g, &w), FAR_FUTURE, 10)
        .await
        .unwrap();
    let decisions: Vec<JobDecision> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(&lease(run_id, g, &w), &decisions, 0)
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
                .finish_jobs(&lease(run_id, g, &w), &results, 3_000)
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

/// A provider may post a call's final event before the worker has recorded
/// the call (even before `place-call` returns): the event is held and
/// applied when the call is recorded; a later, older event stays ignored.
pub async fn run_early_call_event_is_held_then_applied(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 2, "w").await;
    let jobs = store
        .next_jobs(&lease(run_id, g, &w), FAR_FUTURE, 10)
        .await
        .unwrap();
    store
        .mark_dialing(&lease(run_id, g, &w), &[dial(&jobs[0]), dial(&jobs[1])], 0)
        .await
        .unwrap();
    let key = idempotency_key(run_id, jobs[0].job_id, 1);
    let pcid = format!("prov-{key}");
    let r = report(Outcome::Busy, &pcid);
    let early = |state, report| CallEvent {
        provider_call_id: pcid.clone(),
        state,
        report,
    };
    assert_eq!(
        store
            .apply_call_event(b, &early(CallState::Ringing, None))
            .await
            .unwrap(),
        CallEventApplied::Held
    );
    assert_eq!(
        store
            .apply_call_event(b, &early(CallState::Ended, Some(r.clone())))
            .await
            .unwrap(),
        CallEventApplied::Held,
        "a later event replaces the held one"
    );
    assert_eq!(
        store
            .apply_call_event(b, &early(CallState::Answered, None))
            .await
            .unwrap(),
        CallEventApplied::Held,
        "an older one does not"
    );
    let (_, recorded) = record_first_call_pending(&store, run_id, g, &w, &jobs[0], 3_000).await;
    assert_eq!(recorded, pcid);
    let dialing = store.dialing_jobs(&lease(run_id, g, &w)).await.unwrap();
    let call = dialing
        .iter()
        .find(|j| j.job_id == jobs[0].job_id)
        .expect("the call is dialing");
    assert_eq!(call.call_state.as_deref(), Some("ended"), "{call:?}");
    assert_eq!(call.report.as_ref(), Some(&r));
    assert_eq!(
        store
            .apply_call_event(b, &early(CallState::Ringing, None))
            .await
            .unwrap(),
        CallEventApplied::Ignored,
        "once recorded, the call is known and past ringing"
    );
}

//! Leases: claims, fencing, takeover, the fleet's load.

use super::*;

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
            .claim_runs(&WorkerId::from(a.as_str()), 1, 60_000)
            .await
            .unwrap()
            .iter()
            .filter(|c| c.tenant == b)
            .count();
    }
    while store
        .claim_runs(&WorkerId::from(short.as_str()), 1, 3_000)
        .await
        .unwrap()
        .iter()
        .all(|c| c.tenant != b)
    {}
    let mine = |load: Vec<RunLoad>| {
        let mut v: Vec<(String, i64)> = load
            .into_iter()
            .filter(|l| l.tenant == b)
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
    let mine = |v: Vec<ClaimedRun>| v.into_iter().find(|c| c.lease.run == run_id);
    let c1 = mine(
        store
            .claim_runs(&WorkerId::from(w1.as_str()), 100, 60_000)
            .await
            .unwrap(),
    )
    .expect("w1 claims");
    assert_eq!(c1.lease.generation.0, 1);
    assert!(!c1.reclaimed);
    assert!(
        mine(
            store
                .claim_runs(&WorkerId::from(w2.as_str()), 100, 60_000)
                .await
                .unwrap()
        )
        .is_none(),
        "a live lease is not claimable"
    );
    let hb = store.heartbeat(&WorkerId::from(w1.as_str())).await.unwrap();
    assert!(hb.iter().any(|l| l.run == run_id && l.generation.0 == 1));
    // w1 stops (gives its leases up): w2 takes over at once.
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    let c2 = mine(
        store
            .claim_runs(&WorkerId::from(w2.as_str()), 100, 60_000)
            .await
            .unwrap(),
    )
    .expect("w2 takes over");
    assert_eq!(c2.lease.generation.0, 2);
    assert!(c2.reclaimed);
    let jobs = store
        .next_jobs(&lease(run_id, 1, &w1), FAR_FUTURE, 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        store
            .mark_dialing(&lease(run_id, 1, &w1), &[dial(&jobs[0])], 0)
            .await
            .unwrap(),
        MarkResult::LeaseLost,
        "the old generation writes nothing"
    );
    assert_eq!(
        store
            .finish_jobs(&lease(run_id, 1, &w1), &[], 0)
            .await
            .unwrap(),
        Fenced::LeaseLost
    );
    assert!(
        store
            .heartbeat(&WorkerId::from(w1.as_str()))
            .await
            .unwrap()
            .iter()
            .all(|l| l.run != run_id),
        "the old owner's heartbeat no longer covers the run"
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.owner_worker.as_deref(), Some(w2.as_str()));
    assert_eq!(run.counts.by_status.get("queued"), Some(&3));
    // Expiry by TTL (not release): w2 claimed with a 60 s TTL; re-claim with 1 ms.
    store
        .release_worker(&WorkerId::from(w2.as_str()))
        .await
        .unwrap();
    let c3 = mine(
        store
            .claim_runs(&WorkerId::from(w2.as_str()), 100, 1)
            .await
            .unwrap(),
    )
    .expect("re-claim");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c4 = mine(
        store
            .claim_runs(&WorkerId::from(w1.as_str()), 100, 60_000)
            .await
            .unwrap(),
    )
    .expect("expired lease");
    assert_eq!(c4.lease.generation.0, c3.lease.generation.0 + 1);
}

pub async fn run_dialing_jobs_after_takeover(store: Arc<dyn Store>) {
    let (b, run_id, w1, g1) = claimed_run(&store, 2, "w1").await;
    let jobs = store
        .next_jobs(&lease(run_id, g1, &w1), FAR_FUTURE, 10)
        .await
        .unwrap();
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store
        .mark_dialing(&lease(run_id, g1, &w1), &decisions, 0)
        .await
        .unwrap();
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    let (w2, g2) = claim_as(&store, "w2", run_id).await;
    let left = store.dialing_jobs(&lease(run_id, g2, &w2)).await.unwrap();
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
        store
            .dialing_jobs(&lease(run_id, g1, &w1))
            .await
            .unwrap()
            .is_empty(),
        "fenced read"
    );
    // Never placed → back to the queue with the same attempt number (same key).
    let requeue = settle(&left[0], None, JobNext::Requeue { not_before_ms: 0 });
    let interrupted = settle(
        &left[1],
        None,
        JobNext::Finish {
            status: JobStatus::Interrupted,
            outcome: "unknown".into(),
            reason: Some("lookup failed".into()),
        },
    );
    store
        .finish_jobs(&lease(run_id, g2, &w2), &[requeue, interrupted], 0)
        .await
        .unwrap();
    let q = store
        .next_jobs(&lease(run_id, g2, &w2), FAR_FUTURE, 10)
        .await
        .unwrap();
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
    let mine = |v: Vec<ClaimedRun>| v.into_iter().find(|c| c.lease.run == run_id);
    let c1 = mine(
        store
            .claim_runs(&WorkerId::from(w1.as_str()), 100, 60_000)
            .await
            .unwrap(),
    )
    .expect("w1 claims");
    let jobs = store.next_jobs(&c1.lease, FAR_FUTURE, 10).await.unwrap();
    let decisions: Vec<JobDecision> = jobs.iter().map(dial).collect();
    assert!(matches!(
        store
            .mark_dialing(&c1.lease, &decisions, 0)
            .await
            .unwrap(),
        MarkResult::Marked(ref m) if m.len() == 2
    ));
    // w1 stalls; w2 takes the run over before w1's results arrive.
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    let c2 = mine(
        store
            .claim_runs(&WorkerId::from(w2.as_str()), 100, 60_000)
            .await
            .unwrap(),
    )
    .expect("w2 takes over");
    let fin = |j: &JobWork| completed_busy(run_id, j);
    assert_eq!(
        store
            .finish_jobs(&c1.lease, &[fin(&jobs[0]), fin(&jobs[1])], 0)
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
    assert_eq!(store.dialing_jobs(&c2.lease).await.unwrap().len(), 2);
}

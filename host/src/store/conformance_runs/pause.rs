//! Pausing and resuming runs.

use super::*;

fn refused_for_status(r: StoreResult<RunStatus>) -> bool {
    matches!(r, Err(StoreError::Invalid { ref field, .. }) if field == "status")
}

async fn claimable(store: &Arc<dyn Store>, run_id: RunId) -> Option<ClaimedRun> {
    let w = unique("probe");
    store
        .claim_runs(&WorkerId::from(w.as_str()), 100, 60_000)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.lease.run == run_id)
}

/// A run nobody owns is parked by the request itself; claimers skip it;
/// resume makes it claimable again; a paused run can still be cancelled.
pub async fn run_pause_of_unowned_run_parks_it_and_resume_requeues_it(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 3).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(matches!(
        store.request_pause(other, run_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.request_resume(other, run_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        refused_for_status(store.request_resume(b, run_id).await),
        "a queued run is not paused"
    );
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Paused
    );
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Paused,
        "idempotent"
    );
    assert!(store.pause_settled(b, run_id).await.unwrap());
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Paused);
    assert!(run.pause_requested && run.paused_at.is_some());
    assert!(
        claimable(&store, run_id).await.is_none(),
        "claimers skip a paused run"
    );
    assert_eq!(
        store.request_resume(b, run_id).await.unwrap(),
        RunStatus::Queued
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    assert!(!run.pause_requested && run.paused_at.is_none());
    let c = claimable(&store, run_id).await.expect("claimable again");
    assert!(!c.pause_requested);

    // Owned, then the owner lets go with nothing dialing: parked at once,
    // and the generation bump fences the former owner.
    store.release_worker(&c.lease.worker).await.unwrap();
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Paused
    );
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.lease_generation.0, c.lease.generation.0 + 1);
    assert_eq!(
        store.mark_dialing(&c.lease, &[], 0).await.unwrap(),
        MarkResult::LeaseLost
    );
    // Cancel wins over a pause, and a cancelled run cannot be paused or resumed.
    let req = store.request_cancel(b, run_id, None).await.unwrap();
    assert_eq!((req.status, req.jobs_cancelled), (RunStatus::Cancelled, 3));
    assert!(refused_for_status(store.request_pause(b, run_id).await));
    assert!(refused_for_status(store.request_resume(b, run_id).await));
}

/// An owned run: the request blocks marking at once, the heartbeat and a
/// notice read report it, the owner acknowledges (settled), parks once
/// nothing is dialing, and the next owner resumes exactly at the cursor.
pub async fn run_pause_of_owned_run_blocks_marking_and_parks_at_the_cursor(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 3, "w").await;
    let l = lease(run_id, g, &w);
    let jobs = store.next_jobs(&l, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    store.mark_dialing(&l, &[dial(&jobs[0])], 0).await.unwrap();
    let answered = |job: &JobWork| {
        done(
            run_id,
            job,
            JobNext::Finish {
                status: JobStatus::Completed,
                outcome: "answered".into(),
                reason: None,
            },
        )
    };
    store
        .finish_jobs(&l, &[answered(&jobs[0])], 5_000)
        .await
        .unwrap();
    // jobs[1] is in flight when the pause comes.
    store.mark_dialing(&l, &[dial(&jobs[1])], 0).await.unwrap();
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Running
    );
    assert!(
        !store.pause_settled(b, run_id).await.unwrap(),
        "a live owner has not acknowledged yet"
    );
    assert_eq!(
        store.mark_dialing(&l, &[dial(&jobs[2])], 0).await.unwrap(),
        MarkResult::Paused,
        "no job can be marked dialing after the pause"
    );
    let hb = store.heartbeat(&WorkerId::from(w.as_str())).await.unwrap();
    let seen = *hb.iter().find(|s| s.run == run_id).unwrap();
    assert!(seen.pause_requested && !seen.pause_acked && !seen.cancel_requested);
    assert_eq!(store.lease_state(&l).await.unwrap(), Some(seen));
    assert_eq!(store.ack_pause(&l).await.unwrap(), Fenced::Done);
    assert!(store.pause_settled(b, run_id).await.unwrap());
    assert!(store.lease_state(&l).await.unwrap().unwrap().pause_acked);
    assert_eq!(
        store.park_run(&l).await.unwrap(),
        Parked::Busy,
        "a call is still in flight"
    );
    assert_eq!(
        store.get_run(b, run_id).await.unwrap().status,
        RunStatus::Running
    );
    store
        .finish_jobs(&l, &[answered(&jobs[1])], 6_000)
        .await
        .unwrap();
    assert_eq!(store.park_run(&l).await.unwrap(), Parked::Parked);
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Paused);
    assert_eq!(run.cursor_position, 2, "the cursor stays where it was");
    assert_eq!(run.owner_worker, None);
    assert_eq!(run.counts.by_status.get("queued"), Some(&1));
    // The former owner is fenced out.
    assert_eq!(
        store.mark_dialing(&l, &[dial(&jobs[2])], 0).await.unwrap(),
        MarkResult::LeaseLost
    );
    assert_eq!(store.park_run(&l).await.unwrap(), Parked::LeaseLost);
    assert_eq!(store.lease_state(&l).await.unwrap(), None);
    assert!(claimable(&store, run_id).await.is_none());

    assert_eq!(
        store.request_resume(b, run_id).await.unwrap(),
        RunStatus::Queued
    );
    let c2 = claimable(&store, run_id)
        .await
        .expect("claimable after resume");
    assert!(!c2.reclaimed, "a resumed run is claimed, not taken over");
    assert!(c2.lease.generation.0 > g + 1);
    let rest = store.next_jobs(&c2.lease, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        vec![jobs[2].job_id],
        "resume continues exactly where the pause stopped"
    );
}

/// A resume while the owner is still draining withdraws the pause: the
/// owner hears of it, and parking is refused.
pub async fn run_resume_before_the_owner_parks_withdraws_the_pause(store: Arc<dyn Store>) {
    let (b, run_id, w, g) = claimed_run(&store, 2, "w").await;
    let l = lease(run_id, g, &w);
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Running
    );
    assert_eq!(store.ack_pause(&l).await.unwrap(), Fenced::Done);
    assert_eq!(
        store.request_resume(b, run_id).await.unwrap(),
        RunStatus::Running
    );
    let state = store.lease_state(&l).await.unwrap().unwrap();
    assert!(!state.pause_requested && !state.pause_acked);
    assert_eq!(store.park_run(&l).await.unwrap(), Parked::NotRequested);
    let jobs = store.next_jobs(&l, FAR_FUTURE, 10).await.unwrap();
    assert!(matches!(
        store.mark_dialing(&l, &[dial(&jobs[0])], 0).await.unwrap(),
        MarkResult::Marked(_)
    ));
    // A cancel during a pause wins: parking is refused, the run ends cancelled.
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Running
    );
    store.request_cancel(b, run_id, None).await.unwrap();
    assert_eq!(store.park_run(&l).await.unwrap(), Parked::NotRequested);
}

/// The owner dies after a pause was requested with a call `dialing`: the
/// run waits for a new owner, which starts with its gate closed (the claim
/// acknowledges for it), settles that call, and parks the run.
pub async fn run_pause_survives_takeover(store: Arc<dyn Store>) {
    let (b, run_id, w1, g1) = claimed_run(&store, 2, "w1").await;
    let l1 = lease(run_id, g1, &w1);
    let jobs = store.next_jobs(&l1, FAR_FUTURE, 10).await.unwrap();
    store.mark_dialing(&l1, &[dial(&jobs[0])], 0).await.unwrap();
    assert_eq!(
        store.request_pause(b, run_id).await.unwrap(),
        RunStatus::Running
    );
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    assert!(
        store.pause_settled(b, run_id).await.unwrap(),
        "no live owner can dial"
    );
    assert_eq!(
        store.get_run(b, run_id).await.unwrap().status,
        RunStatus::Running,
        "a call left dialing waits for a new owner to settle it"
    );
    let c = claimable(&store, run_id).await.expect("taken over");
    assert!(c.pause_requested && c.reclaimed);
    let l2 = c.lease.clone();
    let state = store.lease_state(&l2).await.unwrap().unwrap();
    assert!(state.pause_requested && state.pause_acked);
    assert_eq!(store.park_run(&l2).await.unwrap(), Parked::Busy);
    let left = store.dialing_jobs(&l2).await.unwrap();
    assert_eq!(left.len(), 1);
    let requeue = settle(&left[0], None, JobNext::Requeue { not_before_ms: 0 });
    store.finish_jobs(&l2, &[requeue], 0).await.unwrap();
    assert_eq!(store.park_run(&l2).await.unwrap(), Parked::Parked);
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Paused);
    assert_eq!(run.cursor_position, 0);
    assert_eq!(run.counts.by_status.get("queued"), Some(&2));
}

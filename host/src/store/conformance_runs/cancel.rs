//! Cancelling runs and jobs.

use super::*;

pub async fn run_cancel_cancels_queued_jobs_and_blocks_dialing(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 4).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let w = unique("w");
    let c = store
        .claim_runs(&WorkerId::from(w.as_str()), 100, 60_000)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.lease.run == run_id)
        .unwrap();
    let g = c.lease.generation.0;
    let jobs = store
        .next_jobs(&lease(run_id, g, &w), FAR_FUTURE, 10)
        .await
        .unwrap();
    let MarkResult::Marked(marked) = store
        .mark_dialing(&lease(run_id, g, &w), &[dial(&jobs[0])], 0)
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
            .mark_dialing(&lease(run_id, g, &w), &[dial(&jobs[1])], 0)
            .await
            .unwrap(),
        MarkResult::Cancelled,
        "no job can be marked dialing after the cancel"
    );
    let hb = store.heartbeat(&WorkerId::from(w.as_str())).await.unwrap();
    let state = hb.iter().find(|l| l.run == run_id).unwrap();
    assert!(state.cancel_requested && !state.cancel_acked);
    assert_eq!(
        store.ack_cancel(&lease(run_id, g, &w)).await.unwrap(),
        Fenced::Done
    );
    assert!(store.cancel_settled(b, run_id).await.unwrap());
    assert_eq!(
        store
            .finish_run_if_done(&lease(run_id, g, &w))
            .await
            .unwrap(),
        RunStatus::Running,
        "a job is still dialing"
    );
    store
        .finish_jobs(
            &lease(run_id, g, &w),
            &[done(
                run_id,
                &jobs[0],
                JobNext::Finish {
                    status: JobStatus::Completed,
                    outcome: "busy".into(),
                    reason: None,
                },
            )],
            5_000,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .finish_run_if_done(&lease(run_id, g, &w))
            .await
            .unwrap(),
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
            .claim_runs(&WorkerId::from(w.as_str()), 100, 60_000)
            .await
            .unwrap()
            .iter()
            .all(|c| c.lease.run != run_id)
    );
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

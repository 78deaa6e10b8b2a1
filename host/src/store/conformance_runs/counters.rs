//! The run's live job counters (`run_job_counts`, migration 0011) against
//! the jobs themselves after every kind of write that moves a job.

use super::*;

/// The run's counters equal its jobs grouped by status and by outcome.
async fn assert_counters_match_jobs(
    store: &Arc<dyn Store>,
    b: TenantId,
    run_id: RunId,
    step: &str,
) {
    let jobs = store.list_jobs(b, run_id, Page::first(100)).await.unwrap();
    let mut want = JobCounts::default();
    for j in &jobs {
        *want.by_status.entry(j.status.clone()).or_default() += 1;
        if let Some(o) = &j.outcome {
            *want.by_outcome.entry(o.clone()).or_default() += 1;
        }
    }
    let run = store.get_run(b, run_id).await.unwrap();
    assert_eq!(run.counts, want, "after {step}");
}

pub async fn run_job_counters_follow_every_transition(store: Arc<dyn Store>) {
    let (b, run_id, w1, g1) = claimed_run(&store, 6, "w1").await;
    assert_counters_match_jobs(&store, b, run_id, "create").await;
    let listed = store.list_jobs(b, run_id, Page::first(10)).await.unwrap();
    store.cancel_job(b, listed[5].id).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "cancel job").await;

    let l1 = lease(run_id, g1, &w1);
    let jobs = store.next_jobs(&l1, FAR_FUTURE, 4).await.unwrap();
    assert_eq!(jobs.len(), 4);
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store.mark_dialing(&l1, &decisions, 0).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "mark dialing").await;

    let results = [
        completed_busy(run_id, &jobs[0]),
        done(run_id, &jobs[1], JobNext::Requeue { not_before_ms: 0 }),
    ];
    store.finish_jobs(&l1, &results, 0).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "finish and requeue").await;

    // Takeover: the new owner reconciles what the old one left dialing.
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    let (w2, g2) = claim_as(&store, "w2", run_id).await;
    let l2 = lease(run_id, g2, &w2);
    let left = store.dialing_jobs(&l2).await.unwrap();
    assert_eq!(left.len(), 2);
    let reconciled = [
        settle(&left[0], None, JobNext::Requeue { not_before_ms: 0 }),
        settle(
            &left[1],
            None,
            JobNext::Finish {
                status: JobStatus::Interrupted,
                outcome: "unknown".into(),
                reason: Some("lookup failed".into()),
            },
        ),
    ];
    store.finish_jobs(&l2, &reconciled, 0).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "takeover reconcile").await;

    store.request_pause(b, run_id).await.unwrap();
    store.park_run(&l2).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "pause and park").await;
    store.request_resume(b, run_id).await.unwrap();

    store.request_cancel(b, run_id, None).await.unwrap();
    assert_counters_match_jobs(&store, b, run_id, "cancel run").await;
}

//! The dashboard's job reads ([`ApiJobReads`]): filters, the reserved vs
//! placed phases of `dialing`, paging, one job's detail, tenant isolation.

use super::*;
use crate::model::{JobId, JobStatus};
use crate::store::job_reads::{DialPhase, JobFilter, JobStateFilter};

async fn ids_of(
    store: &Arc<dyn Store>,
    b: TenantId,
    run: RunId,
    filter: JobFilter,
    page: Page,
) -> Vec<JobId> {
    store
        .list_jobs_filtered(b, run, &filter, page)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.job.id)
        .collect()
}

/// Five jobs: completed `busy` (updated at 20 000), dialing with a
/// provider call (placed), failed `no-answer` (at 30 000), dialing without
/// one (reserved), queued. Each filter selects exactly its jobs.
pub async fn run_jobs_filter_by_state_outcome_lead_and_time(store: Arc<dyn Store>) {
    let (b, leads, flow, dialer) = setup(&store, 5).await;
    let run_id = store
        .create_run(b, &spec(&leads, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let (w, g) = claim_as(&store, "jobs", run_id).await;
    let l = lease(run_id, g, &w);
    let jobs = store.next_jobs(&l, 10_000, 10).await.unwrap();
    assert_eq!(jobs.len(), 5);
    let decisions: Vec<_> = jobs[..4].iter().map(dial).collect();
    store.mark_dialing(&l, &decisions, 10_000).await.unwrap();
    let (_, pcid) = record_first_call_pending(&store, run_id, g, &w, &jobs[1], 10_500).await;
    store
        .finish_jobs(&l, &[completed_busy(run_id, &jobs[0])], 20_000)
        .await
        .unwrap();
    let failed = done(
        run_id,
        &jobs[2],
        JobNext::Finish {
            status: JobStatus::Failed,
            outcome: "no-answer".into(),
            reason: None,
        },
    );
    store.finish_jobs(&l, &[failed], 30_000).await.unwrap();
    let j: Vec<JobId> = jobs.iter().map(|j| j.job_id).collect();
    let all = Page::first(100);

    let listed = store
        .list_jobs_filtered(b, run_id, &JobFilter::default(), all)
        .await
        .unwrap();
    let seen: Vec<(JobId, &str, Option<DialPhase>)> = listed
        .iter()
        .map(|x| (x.job.id, x.job.status.as_str(), x.phase))
        .collect();
    assert_eq!(
        seen,
        vec![
            (j[0], "completed", None),
            (j[1], "dialing", Some(DialPhase::Placed)),
            (j[2], "failed", None),
            (j[3], "dialing", Some(DialPhase::Reserved)),
            (j[4], "queued", None),
        ]
    );
    assert_eq!(listed[2].lead_external_id, "lead-2");
    assert_eq!(listed[0].updated_at, 20_000);

    let by = |f: JobFilter| ids_of(&store, b, run_id, f, all);
    let state = |s| JobFilter {
        state: Some(s),
        ..JobFilter::default()
    };
    assert_eq!(
        by(state(JobStateFilter::Status(JobStatus::Dialing))).await,
        [j[1], j[3]]
    );
    assert_eq!(
        by(state(JobStateFilter::Phase(DialPhase::Reserved))).await,
        [j[3]]
    );
    assert_eq!(
        by(state(JobStateFilter::Phase(DialPhase::Placed))).await,
        [j[1]]
    );
    assert_eq!(
        by(state(JobStateFilter::Status(JobStatus::Queued))).await,
        [j[4]]
    );
    let outcome = |o: &str| JobFilter {
        outcome: Some(o.into()),
        ..JobFilter::default()
    };
    assert_eq!(by(outcome("busy")).await, [j[0]]);
    assert_eq!(by(outcome("no-answer")).await, [j[2]]);
    assert!(by(outcome("busy%")).await.is_empty());
    let lead = |s: &str| JobFilter {
        lead: Some(s.into()),
        ..JobFilter::default()
    };
    assert_eq!(by(lead("lead-2")).await, [j[2]], "external id");
    assert!(by(lead("lead-")).await.is_empty(), "external id is exact");
    assert_eq!(
        by(lead(&leads[3].get().to_string())).await,
        [j[3]],
        "lead id"
    );
    assert_eq!(by(lead("+33612340004")).await, [j[4]], "the phone");
    assert_eq!(by(lead("+3361234")).await, j, "the start of the phone");
    assert!(by(lead("12340004")).await.is_empty(), "no + : not a phone");
    assert!(
        by(lead("+%")).await.is_empty(),
        "LIKE wildcards are literal"
    );
    assert!(
        by(lead("+_")).await.is_empty(),
        "LIKE wildcards are literal"
    );
    let window = |since, until| JobFilter {
        since,
        until,
        ..JobFilter::default()
    };
    assert_eq!(by(window(Some(15_000), Some(25_000))).await, [j[0]]);
    assert_eq!(by(window(Some(25_000), Some(40_000))).await, [j[2]]);
    assert_eq!(
        by(window(Some(20_000), Some(20_001))).await,
        [j[0]],
        "since is inclusive"
    );
    assert!(
        by(window(None, Some(20_000)))
            .await
            .iter()
            .all(|id| *id != j[0]),
        "until is exclusive"
    );
    let both = JobFilter {
        state: Some(JobStateFilter::Status(JobStatus::Completed)),
        outcome: Some("no-answer".into()),
        ..JobFilter::default()
    };
    assert!(by(both).await.is_empty(), "every filter must hold");

    // Keyset paging by id, with a filter.
    let dialing = state(JobStateFilter::Status(JobStatus::Dialing));
    let first = ids_of(&store, b, run_id, dialing.clone(), Page::first(1)).await;
    assert_eq!(first, [j[1]]);
    let page2 = Page {
        after: Some(j[1].0),
        limit: 5,
    };
    assert_eq!(ids_of(&store, b, run_id, dialing, page2).await, [j[3]]);

    // One job: its lead and attempts.
    let d = store.job_detail(b, run_id, j[1]).await.unwrap();
    assert_eq!(d.listing.phase, Some(DialPhase::Placed));
    assert_eq!(d.lead.id, leads[1]);
    assert_eq!(d.lead.external_id, "lead-1");
    assert_eq!(d.lead.phone, "+33612340001");
    assert_eq!(d.lead.name.as_deref(), Some("Lead 1"));
    assert_eq!(d.lead.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(d.lead.status, "new");
    assert!(d.lead.tags.is_empty());
    assert_eq!(d.attempts.len(), 1);
    let a = &d.attempts[0];
    assert!(a.placed);
    assert_eq!(a.provider_call_id.as_deref(), Some(pcid.as_str()));
    assert_eq!(a.placed_at, Some(10_500));
    let d = store.job_detail(b, run_id, j[3]).await.unwrap();
    assert_eq!(d.listing.phase, Some(DialPhase::Reserved));
    assert!(d.attempts.is_empty(), "reserved: nothing placed yet");
    let d = store.job_detail(b, run_id, j[0]).await.unwrap();
    assert_eq!(d.listing.job.outcome.as_deref(), Some("busy"));
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].outcome.as_deref(), Some("busy"));

    // Another tenant sees nothing, exactly like a missing run or job.
    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(matches!(
        store
            .list_jobs_filtered(other, run_id, &JobFilter::default(), all)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.job_detail(other, run_id, j[0]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.job_detail(b, RunId(run_id.0 + 1_000_000), j[0]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .list_jobs_filtered(b, RunId(run_id.0 + 1_000_000), &JobFilter::default(), all)
            .await,
        Err(StoreError::NotFound)
    ));
}

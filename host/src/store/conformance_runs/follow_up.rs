//! A flow's follow-up for its lead (status, tags) commits with the job's
//! result: in the same transaction, under the same fence.

use super::*;

fn update(status: Option<&str>, tags: &[&str]) -> Option<LeadUpdate> {
    Some(LeadUpdate {
        status: status.map(str::to_string),
        add_tags: tags.iter().map(|t| t.to_string()).collect(),
    })
}

async fn status_and_tags(store: &Arc<dyn Store>, b: TenantId, id: LeadId) -> (String, Vec<String>) {
    let l = store.get_lead(b, id).await.unwrap();
    (l.status, l.tags)
}

fn owned(v: (&str, &[&str])) -> (String, Vec<String>) {
    (v.0.to_string(), v.1.iter().map(|t| t.to_string()).collect())
}

/// A stale owner's lead updates write nothing; the current owner's apply
/// with the result (status set, tags added once, in order, after the
/// lead's own), are recorded with the attempt, apply attempt after attempt,
/// and a repeated commit leaves the lead alone.
pub async fn run_lead_update_commits_with_the_result_under_the_fence(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 3).await;
    store
        .update_lead_outcome(b, ids[0], None, &["vip".into()])
        .await
        .unwrap();
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let (w1, g1) = claim_as(&store, "w1", run_id).await;
    let stale = lease(run_id, g1, &w1);
    let jobs = store.next_jobs(&stale, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let decisions: Vec<JobDecision> = jobs.iter().map(dial).collect();
    assert!(matches!(
        store.mark_dialing(&stale, &decisions, 0).await.unwrap(),
        MarkResult::Marked(ref m) if m.len() == 3
    ));
    // w1 stalls; w2 takes the run over before w1's results arrive.
    store
        .release_worker(&WorkerId::from(w1.as_str()))
        .await
        .unwrap();
    let (w2, g2) = claim_as(&store, "w2", run_id).await;
    let current = lease(run_id, g2, &w2);

    let retry = JobNext::Retry {
        not_before_ms: 0,
        outcome: "busy".into(),
    };
    let with = |job: &JobWork, next: JobNext, u: Option<LeadUpdate>| JobResult {
        lead_update: u,
        ..done(run_id, job, next)
    };
    let stale_results = [
        with(&jobs[0], retry.clone(), update(Some("lost"), &["lost"])),
        with(&jobs[1], retry.clone(), update(Some("lost"), &[])),
    ];
    assert_eq!(
        store.finish_jobs(&stale, &stale_results, 0).await.unwrap(),
        Fenced::LeaseLost
    );
    assert_eq!(
        status_and_tags(&store, b, ids[0]).await,
        owned(("new", &["vip"])),
        "a stale owner wrote no lead state"
    );
    assert_eq!(
        status_and_tags(&store, b, ids[1]).await,
        owned(("new", &[]))
    );

    let first = [
        with(
            &jobs[0],
            retry.clone(),
            update(Some("callback"), &["busy", "vip", "busy"]),
        ),
        with(
            &jobs[1],
            JobNext::Finish {
                status: JobStatus::Completed,
                outcome: "answered-human".into(),
                reason: None,
            },
            update(Some("contacted"), &["answered"]),
        ),
        completed_busy(run_id, &jobs[2]),
    ];
    assert_eq!(
        store.finish_jobs(&current, &first, 0).await.unwrap(),
        Fenced::Done
    );
    assert_eq!(
        status_and_tags(&store, b, ids[0]).await,
        owned(("callback", &["vip", "busy"]))
    );
    assert_eq!(
        status_and_tags(&store, b, ids[1]).await,
        owned(("contacted", &["answered"]))
    );
    assert_eq!(
        status_and_tags(&store, b, ids[2]).await,
        owned(("new", &[]))
    );
    let attempts = store
        .list_attempts(b, run_id, Page::first(10))
        .await
        .unwrap();
    let of = |lead: LeadId| attempts.iter().find(|a| a.lead_id == lead).unwrap();
    assert_eq!(of(ids[0]).lead_status.as_deref(), Some("callback"));
    assert_eq!(of(ids[0]).lead_tags, ["busy", "vip"]);
    assert_eq!(of(ids[2]).lead_status, None);
    assert!(of(ids[2]).lead_tags.is_empty());

    // The same commit again (its answer was lost): the jobs are no longer
    // dialing, so neither they nor their leads change.
    let mut again = first.clone();
    again[1].lead_update = update(Some("changed"), &["again"]);
    assert_eq!(
        store.finish_jobs(&current, &again, 0).await.unwrap(),
        Fenced::Done
    );
    assert_eq!(
        status_and_tags(&store, b, ids[1]).await,
        owned(("contacted", &["answered"]))
    );

    // The retry's own follow-up applies on top of the first one's.
    let next = store.next_jobs(&current, FAR_FUTURE, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(matches!(
        store.mark_dialing(&current, &[dial(&next[0])], 0).await.unwrap(),
        MarkResult::Marked(ref m) if m.len() == 1
    ));
    let second = with(
        &next[0],
        JobNext::Finish {
            status: JobStatus::Completed,
            outcome: "no-answer".into(),
            reason: None,
        },
        update(None, &["late", "busy"]),
    );
    assert_eq!(
        store.finish_jobs(&current, &[second], 0).await.unwrap(),
        Fenced::Done
    );
    assert_eq!(
        status_and_tags(&store, b, ids[0]).await,
        owned(("callback", &["vip", "busy", "late"]))
    );
}

//! Retention and erasure: the cleaner's batches, frozen counts, cleaners
//! running at once, and erasing a lead everywhere the store keeps it.

use super::*;
use crate::store::retention::{ERASED_JOB_REASON, ERASED_MARK};

/// Far enough ahead that a run finished now is past a 0-day retention and
/// within the default one used here.
const A_DAY_LATER_MS: i64 = 86_400_000;
const DEFAULT_DAYS: u32 = 30;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A run of `n` leads, every job dialed and finished `completed` (`busy`),
/// the run `completed`: (tenant, run).
async fn finished_run(store: &Arc<dyn Store>, n: usize) -> (TenantId, RunId) {
    let (b, run_id, w, g) = claimed_run(store, n, "w").await;
    let l = lease(run_id, g, &w);
    let jobs = store.next_jobs(&l, FAR_FUTURE, 100).await.unwrap();
    let decisions: Vec<_> = jobs.iter().map(dial).collect();
    store.mark_dialing(&l, &decisions, 0).await.unwrap();
    let results: Vec<_> = jobs.iter().map(|j| completed_busy(run_id, j)).collect();
    store.finish_jobs(&l, &results, 0).await.unwrap();
    assert_eq!(
        store.finish_run_if_done(&l).await.unwrap(),
        RunStatus::Completed
    );
    (b, run_id)
}

/// Batches until none is left, as the cleaner's `run_once` does: every
/// batch.
async fn purge_all(store: &Arc<dyn Store>, now: i64, limit: u32) -> Vec<PurgeBatch> {
    let mut out = Vec::new();
    loop {
        let b = store.purge_batch(DEFAULT_DAYS, now, limit).await.unwrap();
        if b.run.is_none() {
            return out;
        }
        out.push(b);
    }
}

pub async fn retention_cleaner_deletes_in_batches_and_keeps_counts(store: Arc<dyn Store>) {
    let (b, run) = finished_run(&store, 5).await;
    let (other, other_run) = finished_run(&store, 2).await;
    let (live_tenant, live_run, _, _) = claimed_run(&store, 2, "live").await;
    store.set_retention_days(b, Some(0)).await.unwrap();
    store
        .set_retention_days(live_tenant, Some(0))
        .await
        .unwrap();
    assert_eq!(store.retention_days(b).await.unwrap(), Some(0));
    assert_eq!(store.retention_days(other).await.unwrap(), None);
    let before = store.get_run(b, run).await.unwrap();
    assert_eq!(before.counts.by_status.get("completed"), Some(&5));
    assert_eq!(before.counts.by_outcome.get("busy"), Some(&5));

    assert!(
        purge_all(&store, now_ms() - 60_000, 2).await.is_empty(),
        "a run that finished after `now` minus the retention is kept"
    );
    let batches = purge_all(&store, now_ms() + A_DAY_LATER_MS, 2).await;
    assert!(
        batches.iter().all(|x| x.run == Some(run)),
        "only the run past its tenant's retention: {batches:?}"
    );
    assert!(
        batches.iter().all(|x| x.attempts + x.jobs <= 2),
        "at most the limit per batch: {batches:?}"
    );
    let attempts: u64 = batches.iter().map(|x| x.attempts).sum();
    let jobs: u64 = batches.iter().map(|x| x.jobs).sum();
    assert_eq!((attempts, jobs), (5, 5), "{batches:?}");
    assert!(batches.last().unwrap().run_purged);
    assert_eq!(batches.iter().filter(|x| x.run_purged).count(), 1);

    let after = store.get_run(b, run).await.unwrap();
    assert_eq!(after.counts, before.counts, "counts frozen onto the run");
    assert_eq!(after.cursor_position, before.cursor_position);
    assert!(
        store
            .list_jobs(b, run, Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_attempts(b, run, Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    // The default retention (30 days) keeps the other tenant's run; a live
    // run is never touched, whatever its tenant's retention.
    assert_eq!(
        store
            .list_jobs(other, other_run, Page::first(100))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_jobs(live_tenant, live_run, Page::first(100))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        purge_all(&store, now_ms() + A_DAY_LATER_MS, 2)
            .await
            .is_empty(),
        "a purged run is done"
    );
    // An event held for a call never recorded goes after the retention too.
    for t in [b, other] {
        let held = CallEvent {
            provider_call_id: unique("never-recorded"),
            state: CallState::Ringing,
            report: None,
        };
        assert_eq!(
            store.apply_call_event(t, &held).await.unwrap(),
            CallEventApplied::Held
        );
    }
    let later = now_ms() + A_DAY_LATER_MS;
    assert_eq!(
        store
            .purge_held_events(DEFAULT_DAYS, later, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .purge_held_events(DEFAULT_DAYS, later, 10)
            .await
            .unwrap(),
        0,
        "the other tenant's is within its retention"
    );
    assert!(matches!(
        store.set_retention_days(b, Some(3651)).await,
        Err(StoreError::Invalid { field, .. }) if field == "days"
    ));
}

pub async fn retention_cleaners_at_once_share_the_work(store: Arc<dyn Store>) {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (b, run) = finished_run(&store, 7).await;
        store.set_retention_days(b, Some(0)).await.unwrap();
        runs.push((b, run, store.get_run(b, run).await.unwrap().counts));
    }
    let now = now_ms() + A_DAY_LATER_MS;
    let cleaners: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { purge_all(&store, now, 3).await })
        })
        .collect();
    let mut jobs = 0;
    let mut purged = 0;
    for c in cleaners {
        for x in c.await.expect("a cleaner failed") {
            jobs += x.jobs;
            purged += u64::from(x.run_purged);
        }
    }
    assert_eq!(jobs, 21, "every job deleted once");
    assert_eq!(purged, 3, "every run purged once");
    for (b, run, counts) in runs {
        let view = store.get_run(b, run).await.unwrap();
        assert_eq!(view.counts, counts);
        assert!(
            store
                .list_jobs(b, run, Page::first(100))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

pub async fn erase_lead_wipes_personal_data_and_keeps_counts(store: Arc<dyn Store>) {
    let (b, ids, flow, dialer) = setup(&store, 3).await;
    let (a, queued, dialing) = (ids[0], ids[1], ids[2]);
    let phone = store.get_lead(b, a).await.unwrap().phone;
    // Lead `a`: a finished call with a note and a compliance record naming
    // the phone, and a provider event held for its call.
    let run = store
        .create_run(
            b,
            &spec(&[a, dialing], &flow, &dialer, RunSettings::default()),
        )
        .await
        .unwrap();
    let (w, g) = claim_as(&store, "w", run).await;
    let l = lease(run, g, &w);
    let jobs = store.next_jobs(&l, FAR_FUTURE, 10).await.unwrap();
    store
        .mark_dialing(&l, &jobs.iter().map(dial).collect::<Vec<_>>(), 0)
        .await
        .unwrap();
    let ja = jobs.iter().find(|j| j.lead_id == a).unwrap();
    let mut result = completed_busy(run, ja);
    result.note = Some(format!("Lead 0 asked to be called on {phone}"));
    result.compliance = Some(format!(r#"{{"verdict":"allowed","reason":"{phone} ok"}}"#));
    let pcid = result
        .report
        .as_ref()
        .unwrap()
        .provider_call_id
        .clone()
        .unwrap();
    store
        .apply_call_event(
            b,
            &CallEvent {
                provider_call_id: pcid.clone(),
                state: CallState::Ringing,
                report: None,
            },
        )
        .await
        .unwrap();
    store.finish_jobs(&l, &[result], 0).await.unwrap();
    // Lead `queued`: a job waiting in another run.
    let waiting = store
        .create_run(b, &spec(&[queued], &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    // What a platform dialer and the tenant's flow stored, and an audit event.
    let ledger = format!(r#"{{"to":"{phone}","placed_at_unix_ms":1}}"#);
    store
        .kv_set(b, "dialer:sim-dialer", "call/x", ledger.as_bytes())
        .await
        .unwrap();
    store
        .kv_set(b, "flow:my-flow", "last", phone.as_bytes())
        .await
        .unwrap();
    store
        .append_audit(&AuditEntry {
            tenant: Some(b),
            actor_key_id: None,
            action: "test.phone".into(),
            detail: serde_json::json!({ "phone": phone }),
            security: false,
        })
        .await
        .unwrap();
    let counts_before = store.get_run(b, run).await.unwrap().counts;

    let other = store.create_tenant(&unique("other")).await.unwrap();
    assert!(
        matches!(
            store.erase_lead(other, a, 0).await,
            Err(StoreError::NotFound)
        ),
        "another tenant's lead"
    );
    let dialing_phone = store.get_lead(b, dialing).await.unwrap().phone;
    assert!(
        matches!(
            store.erase_lead(b, dialing, 0).await,
            Err(StoreError::Conflict { constraint }) if constraint == "dialing"
        ),
        "a call in flight"
    );
    assert_eq!(
        store.get_lead(b, dialing).await.unwrap().phone,
        dialing_phone,
        "a refused erasure changes nothing"
    );

    assert_eq!(store.leads_with_phone(b, &phone).await.unwrap(), vec![a]);
    let done = store.erase_lead(b, a, 5).await.unwrap();
    assert!(!done.already_erased);
    assert_eq!(done.attempts_scrubbed, 1);
    assert_eq!(done.held_events_deleted, 1);
    assert_eq!(done.tenant_store_entries_deleted, 1);
    let lead = store.get_lead(b, a).await.unwrap();
    assert_eq!(
        (lead.phone.as_str(), lead.name, lead.timezone),
        ("", None, None)
    );
    assert!(lead.attributes.is_empty());
    assert_eq!(lead.external_id, format!("erased-{a}"));
    let attempts = store.list_attempts(b, run, Page::first(10)).await.unwrap();
    let att = attempts.iter().find(|x| x.lead_id == a).unwrap();
    assert_eq!(att.note, None);
    assert!(!att.compliance.contains(&phone), "{}", att.compliance);
    assert!(att.compliance.contains(ERASED_MARK), "{}", att.compliance);
    assert_eq!(att.outcome.as_deref(), Some("busy"), "outcomes stay");
    assert_eq!(store.get_run(b, run).await.unwrap().counts, counts_before);
    assert_eq!(
        store
            .kv_get(b, "dialer:sim-dialer", "call/x")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .kv_get(b, "flow:my-flow", "last")
            .await
            .unwrap()
            .is_some(),
        "a flow's own entries are the tenant's data"
    );
    let audit = store.list_audit(Some(b), Page::first(100)).await.unwrap();
    assert!(
        audit.iter().all(|e| !e.detail.to_string().contains(&phone)),
        "{audit:?}"
    );
    assert!(store.leads_with_phone(b, &phone).await.unwrap().is_empty());
    assert!(
        store.erase_lead(b, a, 6).await.unwrap().already_erased,
        "erasing twice is harmless"
    );
    // A new run cannot name an erased lead.
    assert!(matches!(
        store
            .create_run(b, &spec(&[a], &flow, &dialer, RunSettings::default()))
            .await,
        Err(StoreError::Invalid { field, .. }) if field == "lead_ids[0]"
    ));

    // The queued job is skipped, counted by the cursor, never handed out.
    let (w2, g2) = claim_as(&store, "w2", waiting).await;
    let planned = store
        .next_jobs(&lease(waiting, g2, &w2), FAR_FUTURE, 10)
        .await
        .unwrap();
    let done = store.erase_lead(b, queued, 7).await.unwrap();
    assert_eq!(done.jobs_skipped, 1);
    let job = &store.list_jobs(b, waiting, Page::first(10)).await.unwrap()[0];
    assert_eq!(
        (job.status.as_str(), job.reason.as_deref()),
        ("skipped", Some(ERASED_JOB_REASON))
    );
    assert_eq!(store.get_run(b, waiting).await.unwrap().cursor_position, 1);
    // A worker that planned the job before the erasure: dialing it is
    // refused, and its deferral records no attempt (which would carry the
    // compliance record, and with it what the rules said about the lead).
    let l2 = lease(waiting, g2, &w2);
    assert_eq!(
        store
            .mark_dialing(&l2, &[dial(&planned[0])], 0)
            .await
            .unwrap(),
        MarkResult::Marked(vec![])
    );
    let defer = JobDecision::Defer {
        job_id: planned[0].job_id,
        lead_id: planned[0].lead_id,
        attempt: 1,
        until_ms: FAR_FUTURE,
        compliance: format!(r#"{{"verdict":"deferred","reason":"{phone}"}}"#),
    };
    store.mark_dialing(&l2, &[defer], 0).await.unwrap();
    assert!(
        store
            .list_attempts(b, waiting, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .next_jobs(&lease(waiting, g2, &w2), FAR_FUTURE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .finish_run_if_done(&lease(waiting, g2, &w2))
            .await
            .unwrap(),
        RunStatus::Completed
    );
}

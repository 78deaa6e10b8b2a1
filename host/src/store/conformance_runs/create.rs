//! Creating runs: the lead snapshot, the pinned flow, bad input.

use super::*;

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
    let field = |r: StoreResult<RunId>| match r {
        Err(StoreError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let s = RunSettings::default();
    assert_eq!(
        field(
            store
                .create_run(
                    b,
                    &spec(&[ids[0], LeadId(999_999_999)], &flow, &dialer, s.clone())
                )
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
                        &[
                            ids[0],
                            ids[1],
                            LeadId(999_999_998),
                            ids[0],
                            LeadId(999_999_997)
                        ],
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

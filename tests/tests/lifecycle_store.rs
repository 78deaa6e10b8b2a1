//! The run store's conformance cases (`dialplane::store::conformance_runs`)
//! on both engines: SQLite in a temp file and real PostgreSQL (throwaway
//! cluster or `DATABASE_URL`), one fresh database per test.

use std::sync::Arc;

use dialplane::model::WorkerId;
use dialplane::store::{self, Store};
use dialplane_tests::{pg, sqlite_url};

type Guard = Option<tempfile::TempDir>;

async fn open_sqlite() -> (Arc<dyn Store>, Guard) {
    let (url, dir) = sqlite_url().unwrap();
    (store::connect(&url).await.unwrap(), Some(dir))
}

async fn open_postgres() -> (Arc<dyn Store>, Guard) {
    let url = pg::fresh_database().await.unwrap();
    (store::connect(&url).await.unwrap(), None)
}

mod sqlite {
    dialplane::run_store_conformance_tests!(super::open_sqlite);
}

mod postgres {
    dialplane::run_store_conformance_tests!(super::open_postgres);
}

/// A stalled owner (SIGSTOP, say) can be frozen in the middle of a fenced
/// write, holding its run row's lock. Claims use `FOR UPDATE SKIP LOCKED`,
/// so without a server-side limit on idle transactions the run could never
/// be reclaimed. The URL's own setting (300 ms here) overrides the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stalled_transaction_cannot_block_reclaim() {
    use dialplane::builtin;
    use dialplane::store::WorkerInfo;
    use dialplane::store::conformance_runs;
    use dialplane::store::postgres::PgStore;
    use std::time::{Duration, Instant};

    let url = pg::fresh_database().await.unwrap();
    let (default_store, _) = PgStore::connect(&url).await.unwrap();
    let (shown,): (String,) = sqlx::query_as("SHOW idle_in_transaction_session_timeout")
        .fetch_one(default_store.pool())
        .await
        .unwrap();
    assert_eq!(shown, "10s", "the default limit applies to every session");

    let sep = if url.contains('?') { '&' } else { '?' };
    let short = format!("{url}{sep}options=-c%20idle_in_transaction_session_timeout%3D300");
    let (stalled, _) = PgStore::connect(&short).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(stalled.clone());
    let (b, leads) = conformance_runs::seed(
        &store,
        &["+33612345678"],
        Some("Europe/Paris"),
        ("default-flow", builtin::DEFAULT_FLOW),
        ("sim-dialer", builtin::SIM_DIALER),
    )
    .await;
    let spec = conformance_runs::spec(
        &leads,
        "default-flow",
        "sim-dialer",
        dialplane::lifecycle::RunSettings::default(),
    );
    let run_id = store.create_run(b, &spec).await.unwrap();
    for id in ["stalled", "heir"] {
        let info = WorkerInfo {
            id: id.into(),
            hostname: "test".into(),
            pid: 1,
        };
        store.register_worker(&info).await.unwrap();
    }
    let claimed = store
        .claim_runs(&WorkerId::from("stalled"), 10, 50)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    // Freeze mid-transaction with the run row locked, as a fenced write does.
    let mut frozen = stalled.pool().begin().await.unwrap();
    sqlx::query("SELECT id FROM runs WHERE id = $1 FOR UPDATE")
        .bind(run_id)
        .execute(&mut *frozen)
        .await
        .unwrap();

    let other: Arc<dyn Store> = Arc::new(default_store);
    let start = Instant::now();
    loop {
        let got = other
            .claim_runs(&WorkerId::from("heir"), 10, 30_000)
            .await
            .unwrap();
        if got.iter().any(|c| c.lease.run == run_id) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the stalled session's lock kept the run from being reclaimed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server ended the frozen transaction: its connection is gone.
    assert!(
        frozen.commit().await.is_err(),
        "the stalled write must not commit"
    );
}

/// The race behind a lost final callback (issue 10): an event's UPDATE
/// finds no recorded call, the worker's pending row commits, and only then
/// does the event look for the call, finding it behind the event. A
/// statement trigger holds the event's first UPDATE on an advisory lock so
/// the commit lands exactly in that gap; the event must still apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_call_recorded_between_an_events_update_and_look_is_applied() {
    use dialplane::model::{CallEvent, CallState};
    use dialplane::runtime::Outcome;
    use dialplane::store::conformance_runs::{self as cr, FAR_FUTURE};
    use dialplane::store::postgres::PgStore;
    use dialplane::store::{CallEventApplied, idempotency_key};
    use sqlx::Connection;

    let url = pg::fresh_database().await.unwrap();
    let (pg_store, _) = PgStore::connect(&url).await.unwrap();
    let pool = pg_store.pool().clone();
    let store: Arc<dyn Store> = Arc::new(pg_store);
    let (b, run_id, w, g) = cr::claimed_run(&store, 1, "w").await;
    let lease = cr::lease(run_id, g, &w);
    let jobs = store.next_jobs(&lease, FAR_FUTURE, 10).await.unwrap();
    store
        .mark_dialing(&lease, &[cr::dial(&jobs[0])], 0)
        .await
        .unwrap();

    // The first UPDATE of `attempts` (its transaction takes lock 41) waits
    // on lock 42, which the test holds; later ones pass once 42 is free.
    sqlx::raw_sql(
        "CREATE FUNCTION hold_first_update() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF pg_try_advisory_xact_lock(41) THEN PERFORM pg_advisory_xact_lock(42); END IF; \
           RETURN NULL; \
         END $$; \
         CREATE TRIGGER hold_first_update AFTER UPDATE ON attempts \
           FOR EACH STATEMENT EXECUTE FUNCTION hold_first_update();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut gate = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(42)")
        .execute(&mut gate)
        .await
        .unwrap();

    let key = idempotency_key(run_id, jobs[0].job_id, 1);
    let pcid = format!("prov-{key}");
    let ended = CallEvent {
        provider_call_id: pcid.clone(),
        state: CallState::Ended,
        report: Some(cr::report(Outcome::Busy, &pcid)),
    };
    let callback = tokio::spawn({
        let store = store.clone();
        async move { store.apply_call_event(b, &ended).await }
    });
    // Signal, not a sleep: the event's UPDATE is waiting on the gate.
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_locks \
             WHERE locktype = 'advisory' AND objid = 42 AND NOT granted",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !callback.is_finished(),
            "the event did not wait on the gate"
        );
        tokio::task::yield_now().await;
    }
    let (_, recorded) = cr::record_first_call_pending(&store, run_id, g, &w, &jobs[0], 3_000).await;
    assert_eq!(recorded, pcid);
    sqlx::query("SELECT pg_advisory_unlock(42)")
        .execute(&mut gate)
        .await
        .unwrap();

    assert_eq!(
        callback.await.unwrap().unwrap(),
        CallEventApplied::Applied,
        "the call was recorded behind the event: it must move, not be ignored"
    );
    let dialing = store.dialing_jobs(&lease).await.unwrap();
    assert_eq!(dialing.len(), 1);
    assert_eq!(
        dialing[0].call_state.as_deref(),
        Some("ended"),
        "{:?}",
        dialing[0]
    );
}

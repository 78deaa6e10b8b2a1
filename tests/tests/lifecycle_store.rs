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

//! The PostgreSQL harness itself: a dedicated cluster can be stopped and
//! restarted under a live store (which reports Unavailable, then recovers),
//! and dropping it removes its files.

use std::time::{Duration, Instant};

use dialplane::store::{self, StoreError};
use dialplane_tests::pg::PgCluster;

/// Polls `f` until it returns true, or panics after `deadline`.
async fn eventually<F, Fut>(what: &str, deadline: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedicated_cluster_stop_restart_and_cleanup() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .unwrap()
        .expect("start a dedicated cluster");
    let url = cluster.create_database().await.unwrap();
    let db = store::connect(&url).await.unwrap();
    let tenant = db.create_tenant("Restart Co").await.unwrap();

    cluster.stop().unwrap();
    match db.get_tenant(tenant).await {
        Err(StoreError::Unavailable { url: named, .. }) => {
            assert!(named.contains(&cluster.port().to_string()))
        }
        other => panic!("a stopped server must be Unavailable, got {other:?}"),
    }

    cluster.start_again().unwrap();
    // The pool drops dead connections and reconnects: the data is still there.
    eventually(
        "store works again after restart",
        Duration::from_secs(30),
        || async { db.get_tenant(tenant).await.is_ok() },
    )
    .await;

    cluster.restart().unwrap();
    eventually(
        "store works after restart()",
        Duration::from_secs(30),
        || async { db.ping().await.is_ok() },
    )
    .await;
    assert_eq!(db.get_tenant(tenant).await.unwrap().name, "Restart Co");

    let port = cluster.port();
    drop(db);
    drop(cluster);
    // Dropped: the server is gone.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

//! The lifecycle with real `dialplane worker` processes, on SQLite and on
//! real PostgreSQL: cancel races, SIGKILL takeover, SIGSTOP zombies, and a
//! PostgreSQL restart mid-run. Calls are counted from the sim dialer's
//! ledger in the tenant store, never from the workers' own records.

use std::time::Duration;

use dialplane::lifecycle::cancel_run;
use dialplane::store::{Page, RunStatus};
use dialplane_tests::lifecycle::*;
use dialplane_tests::pg::PgCluster;
use rand::Rng;

const WAIT: Duration = Duration::from_secs(90);

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Sqlite).await } )+ }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Db::Postgres).await } )+ }
    };
}

both!(
    cancel_race_no_call_after_cancel_returns,
    sigkill_mid_run_another_process_takes_over,
    sigstopped_zombie_writes_nothing_and_places_no_call,
);

async fn ended(db: &TestDb, b: i64, run_id: i64) -> dialplane::store::RunView {
    wait_for(WAIT, "run to end", || async {
        let r = run_view(&db.store, b, run_id).await;
        r.status.is_terminal().then_some(r)
    })
    .await
}

/// Each cancel-race run's pace: 400 leads take at least 8 s.
const CANCEL_RACE_CALLS_PER_SECOND: f64 = 50.0;

async fn cancel_race_no_call_after_cancel_returns(engine: Db) {
    let db = open(engine).await;
    let mut runs = Vec::new();
    // Paced so that no run can finish before its turn to be cancelled, on
    // a loaded machine too (the cancels are sent one run after another).
    let mut paced = settings(2);
    paced.calls_per_second = Some(CANCEL_RACE_CALLS_PER_SECOND);
    for i in 0..4 {
        let phones = human_phones(400, 10 + i);
        runs.push(seed_run(&db.store, &phones, Some("Europe/Paris"), paced.clone(), &[]).await);
    }
    let workers: Vec<_> = (0..3)
        .map(|i| spawn_worker_process(&db.url, &format!("race-{i}")))
        .collect();
    for (b, run_id, _) in &runs {
        let at_least = rand::rng().random_range(1..40);
        wait_for(WAIT, "calls under way", || async {
            (run_view(&db.store, *b, *run_id).await.cursor_position >= at_least).then_some(())
        })
        .await;
        let c = cancel_run(
            &*db.store,
            (*b).into(),
            (*run_id).into(),
            None,
            Duration::from_secs(20),
        )
        .await
        .expect("cancel returns");
        let returned_at = now_ms();
        let run = ended(&db, *b, *run_id).await;
        assert_eq!(run.status, RunStatus::Cancelled);
        assert_eq!(run.cursor_position, run.total_leads);
        let placed = ledger(&db.store, *b).await;
        let late: Vec<_> = placed
            .iter()
            .filter(|e| e.placed_at_unix_ms > returned_at)
            .collect();
        assert!(
            late.is_empty(),
            "run {run_id}: {} calls placed after cancel returned ({c:?}): {late:?}",
            late.len()
        );
        assert!(placed.len() < 400, "the cancel stopped the run early");
        let attempts = db
            .store
            .list_attempts((*b).into(), (*run_id).into(), Page::first(1000))
            .await
            .unwrap();
        assert_eq!(
            attempts.iter().filter(|a| a.placed).count(),
            placed.len(),
            "every placed call has its attempt row"
        );
    }
    drop(workers);
}

async fn sigkill_mid_run_another_process_takes_over(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(300, 20);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), settings(2), &[]).await;
    let mut first = spawn_worker_process(&db.url, "doomed");
    wait_for(WAIT, "the first worker to make progress", || async {
        let r = run_view(&db.store, b, run_id).await;
        (r.cursor_position >= 30 && r.owner_worker.as_deref() == Some("doomed")).then_some(())
    })
    .await;
    signal(&first, "KILL");
    let _ = first.wait().await;
    let killed_at = std::time::Instant::now();
    let _second = spawn_worker_process(&db.url, "heir");
    let run = ended(&db, b, run_id).await;
    let reclaim = killed_at.elapsed();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.owner_worker.as_deref(), Some("heir"));
    assert_eq!(run.cursor_position, run.total_leads);
    assert!(run.lease_generation.0 >= 2, "the run was taken over");
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    eprintln!("reclaim + finish after SIGKILL: {reclaim:?}");
}

async fn sigstopped_zombie_writes_nothing_and_places_no_call(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(300, 30);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), settings(1), &[]).await;
    let zombie = spawn_worker_process(&db.url, "zombie");
    wait_for(WAIT, "the zombie-to-be to make progress", || async {
        (run_view(&db.store, b, run_id).await.cursor_position >= 20).then_some(())
    })
    .await;
    signal(&zombie, "STOP");
    // SQLite has one writer and no server to end a frozen transaction: a
    // process paused while it holds the write lock blocks every process on
    // that file until it resumes (PostgreSQL ends such a transaction; see
    // `postgres_stalled_transaction_cannot_block_reclaim`). The scenario
    // here is a zombie paused between writes, so on SQLite pause it again
    // until it is not holding the lock.
    if engine == Db::Sqlite {
        while sqlite_write_locked(&db.url).await {
            signal(&zombie, "CONT");
            tokio::task::yield_now().await;
            signal(&zombie, "STOP");
        }
    }
    let stopped_at = now_ms();
    let _heir = spawn_worker_process(&db.url, "heir");
    let run = ended(&db, b, run_id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let placed_before = ledger(&db.store, b).await;
    signal(&zombie, "CONT");
    // Wait until the zombie is demonstrably awake: its worker row's
    // heartbeat moves past the moment it was resumed.
    let resumed_at = now_ms();
    wait_for(WAIT, "the zombie to heartbeat again", || async {
        let seen = worker_last_seen(&db, "zombie").await;
        (seen > resumed_at).then_some(())
    })
    .await;
    // And a few more of its heartbeats, so any write it would make has been tried.
    let later = now_ms() + 300;
    wait_for(WAIT, "more zombie heartbeats", || async {
        (worker_last_seen(&db, "zombie").await > later).then_some(())
    })
    .await;
    let placed_after = ledger(&db.store, b).await;
    assert_eq!(
        placed_before.len(),
        placed_after.len(),
        "the zombie placed no call"
    );
    assert_each_called_once(&placed_after, &phones);
    let attempts = db
        .store
        .list_attempts(b.into(), run_id.into(), Page::first(1000))
        .await
        .unwrap();
    let zombie_writes: Vec<_> = attempts
        .iter()
        .filter(|a| a.worker_id == "zombie" && a.decided_at > stopped_at)
        .collect();
    assert!(zombie_writes.is_empty(), "zombie wrote {zombie_writes:?}");
    let after = run_view(&db.store, b, run_id).await;
    assert_eq!(after.status, RunStatus::Completed);
    assert_eq!(after.cursor_position, after.total_leads);
    assert_eq!(after.owner_worker.as_deref(), Some("heir"));
    drop(zombie);
}

/// Is another connection holding the SQLite write lock right now?
async fn sqlite_write_locked(url: &str) -> bool {
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    let opts = SqliteConnectOptions::from_str(url)
        .unwrap()
        .busy_timeout(Duration::ZERO);
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts)
        .await
        .unwrap();
    match sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await {
        Ok(_) => {
            sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            false
        }
        Err(e) if e.to_string().contains("locked") || e.to_string().contains("busy") => true,
        Err(e) => panic!("probing the SQLite write lock: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_mid_run_workers_reconnect_nothing_lost_or_duplicated() {
    let cluster = PgCluster::start().expect("dedicated cluster");
    let url = cluster.create_database().await.unwrap();
    let store = dialplane::store::connect(&url).await.unwrap();
    let phones = human_phones(600, 40);
    let (b, run_id, _) = seed_run(&store, &phones, Some("Europe/Paris"), settings(2), &[]).await;
    let _w1 = spawn_worker_process(&url, "pg-a");
    let _w2 = spawn_worker_process(&url, "pg-b");
    wait_for(WAIT, "progress before the restart", || async {
        (run_view(&store, b, run_id).await.cursor_position >= 60).then_some(())
    })
    .await;
    cluster.restart().expect("restart postgres");
    let run = wait_for(WAIT, "run to complete after the restart", || async {
        match store.get_run(b.into(), run_id.into()).await {
            Ok(r) if r.status.is_terminal() => Some(r),
            _ => None,
        }
    })
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, run.total_leads);
    assert_each_called_once(&ledger(&store, b).await, &phones);
}

//! The lifecycle's own log lines, as an operator reads them: a real
//! `dialplane worker` at the default level with `--log-format json`, and
//! every event of a run's life at `info` with its tenant and run —
//! claimed, paused (pause seen, then parked), resumed, cancel seen,
//! finished, the deferred-leads summary, and a takeover after SIGKILL.

use std::process::Stdio;
use std::time::Duration;

use dialplane::lifecycle::{cancel_run, pause_run, resume_run};
use dialplane::model::CallingWindow;
use dialplane::store::{Page, RunStatus};
use dialplane_tests::lifecycle::*;
use serde_json::Value;
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(90);

/// A worker process like [`spawn_worker_process`], with JSON logs on a
/// pipe drained as they come (a full pipe would stall the worker).
struct LoggingWorker {
    child: tokio::process::Child,
    lines: tokio::task::JoinHandle<String>,
}

fn logging_worker(url: &str, id: &str) -> LoggingWorker {
    let mut child = tokio::process::Command::new(dialplane_tests::dialplane_bin().unwrap())
        .args([
            "--log-format",
            "json",
            "worker",
            "--database-url",
            url,
            "--heartbeat-interval",
            "100ms",
            "--lease-ttl",
            "1000ms",
            "--poll-interval",
            "20ms",
            "--worker-id",
            id,
        ])
        .env_remove("DATABASE_URL")
        .env_remove("DIALPLANE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dialplane worker");
    let mut err = child.stderr.take().unwrap();
    let lines = tokio::spawn(async move {
        let mut out = String::new();
        let _ = err.read_to_string(&mut out).await;
        out
    });
    LoggingWorker { child, lines }
}

/// Ends the worker and returns its stderr lines, each parsed as JSON.
async fn stderr_lines(mut w: LoggingWorker) -> Vec<Value> {
    let _ = w.child.start_kill();
    let _ = w.child.wait().await;
    let err = w.lines.await.unwrap();
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect()
}

/// A field of a JSON log line, at the top or under `fields`.
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get("fields")
        .and_then(|f| f.get(name))
        .or_else(|| line.get(name))
}

/// The `info` lines saying `message` about `run_id`, each naming tenant `b`.
fn events<'a>(lines: &'a [Value], message: &str, b: i64, run_id: i64) -> Vec<&'a Value> {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| field(l, "message").and_then(Value::as_str) == Some(message))
        .filter(|l| field(l, "run_id").and_then(Value::as_i64) == Some(run_id))
        .collect();
    for l in &found {
        assert_eq!(l["level"], "INFO", "{l}");
        assert_eq!(field(l, "tenant").and_then(Value::as_i64), Some(b), "{l}");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_events_are_logged_at_info_with_tenant_and_run() {
    let db = open(Db::Sqlite).await;
    let mut paced = settings(2);
    paced.calls_per_second = Some(40.0);
    let (a, run_a, _) = seed_run(
        &db.store,
        &human_phones(300, 50),
        Some("Etc/UTC"),
        paced,
        &[],
    )
    .await;
    // A window that is closed now (UTC leads): every lead is deferred.
    let now_min = chrono::Timelike::hour(&chrono::Utc::now()) * 60;
    let mut closed = settings(2);
    closed.calling_window = if now_min < 720 {
        CallingWindow {
            start_minute: 1380,
            end_minute: 1440,
        }
    } else {
        CallingWindow {
            start_minute: 0,
            end_minute: 60,
        }
    };
    let (b, run_b, _) = seed_run(
        &db.store,
        &human_phones(5, 51),
        Some("Etc/UTC"),
        closed,
        &[],
    )
    .await;
    let w1 = logging_worker(&db.url, "logs-1");

    wait_for(WAIT, "calls under way", || async {
        (run_view(&db.store, a, run_a).await.cursor_position >= 5).then_some(())
    })
    .await;
    wait_for(WAIT, "leads deferred", || async {
        let attempts = db
            .store
            .list_attempts(b.into(), run_b.into(), Page::first(100))
            .await
            .unwrap();
        (attempts.iter().filter(|x| x.decision == "deferred").count() >= 5).then_some(())
    })
    .await;
    pause_run(&*db.store, a.into(), run_a.into(), Duration::from_secs(20))
        .await
        .unwrap();
    pause_run(&*db.store, b.into(), run_b.into(), Duration::from_secs(20))
        .await
        .unwrap();
    for (t, r) in [(a, run_a), (b, run_b)] {
        wait_for(WAIT, "parked", || async {
            (run_view(&db.store, t, r).await.status == RunStatus::Paused).then_some(())
        })
        .await;
    }
    resume_run(&*db.store, a.into(), run_a.into())
        .await
        .unwrap();
    wait_for(WAIT, "claimed again", || async {
        (run_view(&db.store, a, run_a).await.status == RunStatus::Running).then_some(())
    })
    .await;
    cancel_run(
        &*db.store,
        a.into(),
        run_a.into(),
        None,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    wait_for(WAIT, "cancelled", || async {
        (run_view(&db.store, a, run_a).await.status == RunStatus::Cancelled).then_some(())
    })
    .await;

    // A takeover: the first worker is killed while it owns a run.
    let (c, run_c, _) = seed_run(
        &db.store,
        &human_phones(300, 52),
        Some("Etc/UTC"),
        {
            let mut s = settings(2);
            s.calls_per_second = Some(40.0);
            s
        },
        &[],
    )
    .await;
    wait_for(WAIT, "the first worker to drive the third run", || async {
        let r = run_view(&db.store, c, run_c).await;
        (r.cursor_position >= 3 && r.owner_worker.as_deref() == Some("logs-1")).then_some(())
    })
    .await;
    signal(&w1.child, "KILL");
    let w2 = logging_worker(&db.url, "logs-2");
    wait_for(WAIT, "the heir to take over", || async {
        (run_view(&db.store, c, run_c).await.owner_worker.as_deref() == Some("logs-2"))
            .then_some(())
    })
    .await;
    cancel_run(
        &*db.store,
        c.into(),
        run_c.into(),
        None,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    wait_for(WAIT, "the third run to end", || async {
        run_view(&db.store, c, run_c)
            .await
            .status
            .is_terminal()
            .then_some(())
    })
    .await;

    let first = stderr_lines(w1).await;
    let heir = stderr_lines(w2).await;
    assert_eq!(
        events(&first, "claimed run", a, run_a).len(),
        2,
        "claimed, and claimed again after the resume: {first:#?}"
    );
    assert!(
        events(&first, "took over run", a, run_a).is_empty(),
        "a resumed run is not a takeover"
    );
    assert!(!events(&first, "pause seen: no new call starts", a, run_a).is_empty());
    assert_eq!(events(&first, "run paused", a, run_a).len(), 1);
    assert_eq!(events(&first, "run paused", b, run_b).len(), 1);
    assert_eq!(
        events(&first, "cancel seen: no new call starts", a, run_a).len(),
        1
    );
    let finished = events(&first, "run finished", a, run_a);
    assert_eq!(finished.len(), 1, "{first:#?}");
    assert_eq!(
        field(finished[0], "status").and_then(Value::as_str),
        Some("cancelled")
    );
    let deferred = events(&first, "leads deferred by the platform rules", b, run_b);
    assert!(
        !deferred.is_empty(),
        "the summary is written when the run stops here"
    );
    assert!(field(deferred[0], "deferred").and_then(Value::as_u64) >= Some(5));
    assert!(
        field(deferred[0], "by_rule")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("calling-window")),
        "{}",
        deferred[0]
    );
    assert!(
        first
            .iter()
            .filter(|l| field(l, "message").and_then(Value::as_str)
                == Some("leads deferred by the platform rules"))
            .count()
            <= 2,
        "a summary, not a line per lead"
    );
    assert_eq!(
        events(&heir, "took over run", c, run_c).len(),
        1,
        "{heir:#?}"
    );
    assert!(!events(&heir, "run finished", c, run_c).is_empty());
}

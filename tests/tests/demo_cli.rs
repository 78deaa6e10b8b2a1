//! `dialplane demo`, run as the real binary: on SQLite (the README's first
//! command, with fewer leads) and on PostgreSQL; the closing table must show
//! zero calls after the cancel, counted from the sim dialer's ledger.

use std::process::Output;

use dialplane_tests::{dialplane_bin, pg};

async fn demo(args: &[&str]) -> Output {
    let bin = dialplane_bin().expect("dialplane binary");
    tokio::process::Command::new(bin)
        .arg("demo")
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .expect("run dialplane demo")
}

/// The cells of the summary row `name` (campaign, cancelled).
fn row(stdout: &str, name: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no summary row {name:?} in:\n{stdout}"));
    line[name.len()..]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn num(cell: &str) -> u64 {
    cell.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {cell:?}"))
}

/// What every successful demo must show, whatever the time of day.
fn check_summary(out: &Output, leads: u64) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let status = row(&stdout, "status");
    // The campaign completes, or ends with a drain cancel when some leads
    // live in zones outside the calling window right now.
    assert!(
        status[0] == "completed" || status[0] == "cancelled",
        "{status:?}"
    );
    assert_eq!(status[1], "cancelled");
    assert_eq!(row(&stdout, "calls after cancel")[1], "0");
    let leads_row = row(&stdout, "leads");
    assert_eq!(num(&leads_row[0]), leads);
    assert_eq!(num(&row(&stdout, "leads finished (cursor)")[0]), leads);
    let placed = row(&stdout, "calls placed (sim ledger)");
    let dnc = num(&row(&stdout, "skipped: do-not-call list")[0]);
    let deferred = num(&row(&stdout, "deferred: calling window")[0]);
    assert!(dnc >= 1, "the demo puts some numbers on the DNC list");
    // Every other lead was dialed at least once.
    assert!(num(&placed[0]) >= leads - dnc - deferred, "{placed:?}");
    // The cancelled run stopped part-way: not every lead was called.
    assert!(num(&placed[1]) < leads, "{placed:?}");
    assert!(num(&placed[1]) > 0, "{placed:?}");
    // Every sim outcome appears.
    for outcome in [
        "answered-human",
        "answered-machine",
        "busy",
        "no-answer",
        "invalid-number",
        "network-error",
        "rejected",
    ] {
        assert!(
            num(&row(&stdout, &format!("  outcome {outcome}"))[0]) > 0,
            "{outcome}"
        );
    }
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_on_sqlite_runs_a_campaign_and_cancels_with_zero_calls_after() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("kept");
    let out = demo(&["--leads", "120", "--dir", db_dir.to_str().unwrap()]).await;
    let stdout = check_summary(&out, 120);
    // --dir keeps the database and says how to watch it.
    assert!(db_dir.join("demo.db").is_file());
    assert!(
        stdout.contains("dialplane serve --database-url sqlite://"),
        "{stdout}"
    );
    // Not a terminal: plain progress lines, no escape codes.
    assert!(stdout.contains("campaign: 0/120 leads finished") || stdout.contains("campaign: "));
    assert!(!stdout.contains('\x1b') && !stdout.contains('\r'));
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_on_postgres_runs_the_same() {
    let url = pg::fresh_database().await.expect("postgres");
    let out = demo(&["--leads", "80", "--database-url", &url]).await;
    let stdout = check_summary(&out, 80);
    assert!(stdout.contains("database: postgres"), "{stdout}");
}

#[tokio::test]
async fn demo_with_too_few_leads_is_refused() {
    let out = demo(&["--leads", "5"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--leads must be at least 20, got 5"),
        "{stderr}"
    );
}

#[tokio::test]
async fn demo_against_an_unreachable_database_names_it_without_the_password() {
    let out = demo(&[
        "--database-url",
        "postgres://demo:s3cret-pw@127.0.0.1:1/nowhere",
    ])
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("127.0.0.1:1/nowhere"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("refused"),
        "cause missing: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_tenant_run_job_and_plugin_spans() {
    let bin = dialplane_bin().expect("dialplane binary");
    let out = tokio::process::Command::new(bin)
        .args(["--log-format", "json", "demo", "--leads", "20"])
        .env_remove("DATABASE_URL")
        // Plugins' own lines are debug.
        .env("DIALPLANE_LOG", "info,dialplane::runtime::log_sink=debug")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // A plugin's own log line, inside run → job → plugin spans.
    let line = lines
        .iter()
        .find(|l| {
            l["target"] == "dialplane::runtime::log_sink"
                && l["spans"].as_array().is_some_and(|s| s.len() == 3)
        })
        .unwrap_or_else(|| panic!("no plugin log line with spans in:\n{stderr}"));
    let spans = line["spans"].as_array().unwrap();
    assert_eq!(spans[0]["name"], "run");
    assert!(
        spans[0]["tenant"].is_i64() && spans[0]["run"].is_i64(),
        "{line}"
    );
    assert_eq!(spans[1]["name"], "job");
    assert!(
        spans[1]["job"].is_i64() && spans[1]["lead"].is_i64(),
        "{line}"
    );
    assert_eq!(spans[2]["name"], "plugin");
    assert!(spans[2]["plugin"].is_string(), "{line}");
    assert!(line["level"] == "DEBUG" && line["timestamp"].is_string());
    // What the spans carry is not repeated: not in the event's fields, not
    // in a `span` beside `spans`.
    for key in ["tenant", "plugin", "run_id", "fields"] {
        assert!(line["fields"].get(key).is_none(), "{key} repeated: {line}");
    }
    assert!(line.get("span").is_none(), "{line}");
}

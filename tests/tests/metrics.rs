//! `/metrics` (per node) and `/metrics/fleet` (fleet-wide gauges from the
//! runs' live job counters) after a small campaign run by a real worker on
//! both engines; two API nodes on one PostgreSQL database; the Grafana
//! dashboard asks only for what the endpoints serve.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::api_common::{Api, Tenant};

const LEADS: usize = 12;

/// Samples of `name` (exact metric name): (label text, value).
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => {
                    let (labels, v) = r.split_once("} ")?;
                    (labels.to_string(), v)
                }
                None => (String::new(), rest.strip_prefix(' ')?),
            };
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

/// The value of `name{labels}` (labels as encoded, `""` for none); 0 when absent.
fn value(text: &str, name: &str, labels: &str) -> f64 {
    samples(text, name)
        .into_iter()
        .find(|(l, _)| l == labels)
        .map_or(0.0, |(_, v)| v)
}

fn total(text: &str, name: &str) -> f64 {
    samples(text, name).iter().map(|(_, v)| v).sum()
}

/// A completed run of [`LEADS`] leads on the sim dialer: its JSON.
async fn small_campaign(api: &mut Api) -> (Tenant, Value) {
    let t = api.tenant("metrics-co").await;
    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, LEADS).await;
    api.worker(|_| {}).await;
    let run = api.create_run(&t, &leads, 4).await;
    let id = run["id"].as_i64().unwrap();
    let done = api
        .wait_run(&t, id, Duration::from_secs(60), |v| {
            v["status"] == "completed"
        })
        .await;
    // Nothing moves after this: the numbers below are final.
    api.stop_workers().await;
    (t, done)
}

async fn families_after_a_small_run(mut api: Api) {
    let (t, run) = small_campaign(&mut api).await;
    let id = run["id"].as_i64().unwrap();
    let m = api.metrics().await;
    let fleet = api.fleet_metrics().await;

    assert_eq!(
        value(
            &m,
            "dialplane_build_info",
            &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
        ),
        1.0,
        "{m}"
    );
    assert!(
        value(&m, "dialplane_process_start_time_seconds", "") > 1.0e9,
        "{m}"
    );
    assert!(value(&m, "dialplane_heartbeats_total", "") >= 1.0, "{m}");
    let pool_max = value(&m, "dialplane_db_pool_max", "pool=\"api\"");
    assert!(pool_max >= 1.0, "{m}");
    assert!(value(&m, "dialplane_db_pool_connections", "pool=\"api\"") <= pool_max);
    assert!(
        value(&m, "dialplane_db_pool_idle", "pool=\"api\"")
            <= value(&m, "dialplane_db_pool_connections", "pool=\"api\"")
    );
    // Both pools' waits were timed: every query takes a connection.
    for pool in ["api", "worker"] {
        let label = format!("pool=\"{pool}\"");
        let acquires = value(
            &m,
            "dialplane_db_pool_acquire_duration_seconds_count",
            &label,
        );
        // A worker queries for each lead; the API at least per request.
        let floor = if pool == "worker" { LEADS as f64 } else { 1.0 };
        assert!(acquires >= floor, "{pool}: {m}");
        assert_eq!(
            value(
                &m,
                "dialplane_db_pool_acquire_duration_seconds_bucket",
                &format!("le=\"+Inf\",{label}")
            ),
            acquires,
            "{m}"
        );
    }
    // The process's own figures, read from /proc at scrape.
    for name in [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
        "process_cpu_seconds_total",
    ] {
        assert_ne!(value(&m, name, ""), 0.0, "{name}: {m}");
    }
    assert!(
        value(&m, "process_open_fds", "") <= value(&m, "process_max_fds", "")
            || value(&m, "process_max_fds", "") == -1.0,
        "{m}"
    );
    assert_eq!(value(&m, "dialplane_leases_lost_total", ""), 0.0, "{m}");
    assert_eq!(value(&m, "dialplane_takeovers_total", ""), 0.0, "{m}");

    // Calls by outcome: what the run's jobs ended with, plus one per retry.
    let counts = run["counts"].as_object().unwrap();
    let finished: f64 = counts
        .iter()
        .filter(|(o, _)| o.as_str() != "not-dialed")
        .map(|(_, n)| n.as_f64().unwrap())
        .sum();
    let retries = value(&m, "dialplane_retries_total", "");
    assert_eq!(
        total(&m, "dialplane_calls_total"),
        finished + retries,
        "{m}\n{run}"
    );
    if retries == 0.0 {
        for (outcome, n) in counts.iter().filter(|(o, _)| o.as_str() != "not-dialed") {
            assert_eq!(
                value(
                    &m,
                    "dialplane_calls_total",
                    &format!("outcome=\"{outcome}\",dialer=\"sim-dialer\"")
                ),
                n.as_f64().unwrap(),
                "{outcome}: {m}"
            );
        }
    }

    // Every lead was judged allowed at plan and at placement.
    for stage in ["plan", "placement"] {
        assert_eq!(
            value(
                &m,
                "dialplane_compliance_decisions_total",
                &format!("stage=\"{stage}\",rule=\"all\",verdict=\"allowed\"")
            ),
            (LEADS as f64) + retries,
            "{stage}: {m}"
        );
    }
    assert!(
        value(
            &m,
            "dialplane_plugin_call_duration_seconds_count",
            "kind=\"plan\""
        ) >= LEADS as f64,
        "{m}"
    );
    assert!(
        value(
            &m,
            "dialplane_plugin_call_duration_seconds_count",
            "kind=\"place-call\""
        ) >= LEADS as f64,
        "{m}"
    );
    assert!(
        value(&m, "dialplane_plugin_compile_duration_seconds_count", "") >= 1.0,
        "the uploads compiled at least one component: {m}"
    );

    // Requests by route template, never by raw path.
    let polled = value(
        &m,
        "dialplane_http_requests_total",
        "route=\"/api/outbound/runs/{id}\",method=\"GET\",status=\"200\"",
    );
    assert!(polled >= 1.0, "{m}");
    assert!(!m.contains(&format!("/api/outbound/runs/{id}\"")), "{m}");
    let before = polled;
    api.get("/api/outbound/runs/999999999", "not-a-key").await;
    api.get(&format!("/api/outbound/runs/{id}"), &t.key).await;
    // A plugin error and a refused callback, so those families have
    // samples for the dashboard check below.
    api.raw(
        reqwest::Method::PUT,
        "/api/plugins/flows/not-a-flow",
        Some(&t.key),
        "application/wasm",
        dialplane::builtin::SIM_DIALER.to_vec(),
    )
    .await;
    let (_, tok) = api
        .call(
            reqwest::Method::POST,
            "/api/dialer-config/sim-dialer/callback-token",
            Some(&t.key),
            None,
        )
        .await;
    let token = tok["token"].as_str().unwrap();
    api.raw(
        reqwest::Method::POST,
        &format!("/api/callbacks/{token}"),
        None,
        "application/x-www-form-urlencoded",
        b"CallSid=CA-unknown&CallStatus=ringing".to_vec(),
    )
    .await;
    let m2 = api.metrics().await;
    assert_eq!(
        value(
            &m2,
            "dialplane_plugin_errors_total",
            "cause=\"wrong-world\""
        ),
        1.0,
        "{m2}"
    );
    assert!(total(&m2, "dialplane_callbacks_total") >= 1.0, "{m2}");
    assert_eq!(
        value(
            &m2,
            "dialplane_http_requests_total",
            "route=\"/api/outbound/runs/{id}\",method=\"GET\",status=\"401\""
        ),
        1.0,
        "{m2}"
    );
    assert!(
        value(
            &m2,
            "dialplane_http_request_duration_seconds_count",
            "route=\"/api/outbound/runs/{id}\",method=\"GET\""
        ) >= before + 1.0,
        "{m2}"
    );

    // Fleet gauges: the run's counters, summed over runs.
    let jobs = run["jobs"].as_object().unwrap();
    for (state, n) in jobs {
        assert_eq!(
            value(&fleet, "dialplane_jobs", &format!("state=\"{state}\"")),
            n.as_f64().unwrap(),
            "{state}: {fleet}"
        );
    }
    assert_eq!(
        value(&fleet, "dialplane_jobs", "state=\"completed\""),
        LEADS as f64
    );
    assert_eq!(
        value(&fleet, "dialplane_runs", "state=\"completed\""),
        1.0,
        "{fleet}"
    );
    assert_eq!(
        value(&fleet, "dialplane_runs", "state=\"paused\""),
        0.0,
        "{fleet}"
    );
    assert_eq!(
        value(&fleet, "dialplane_calls_in_flight", ""),
        0.0,
        "{fleet}"
    );
    for (outcome, n) in counts {
        assert_eq!(
            value(
                &fleet,
                "dialplane_job_outcomes",
                &format!("outcome=\"{outcome}\"")
            ),
            n.as_f64().unwrap(),
            "{fleet}"
        );
    }
    // Per node and fleet-wide families never mix.
    assert!(samples(&m, "dialplane_jobs").is_empty(), "{m}");
    assert!(
        samples(&fleet, "dialplane_calls_total").is_empty(),
        "{fleet}"
    );

    grafana_asks_only_for_served_names(&[&m2, &fleet]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_after_a_small_run_on_postgres() {
    families_after_a_small_run(Api::pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_after_a_small_run_on_sqlite() {
    families_after_a_small_run(Api::sqlite().await).await;
}

/// Two API nodes on one database: each counts what it did; both serve the
/// same fleet gauges (so one target is scraped for them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_count_their_own_work_and_agree_on_the_fleet() {
    let mut a = Api::pg().await;
    let b = Api::pg_at(a.url.clone()).await;
    let (_t, run) = small_campaign(&mut a).await;
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    assert!(total(&ma, "dialplane_calls_total") >= LEADS as f64, "{ma}");
    assert_eq!(
        total(&mb, "dialplane_calls_total"),
        0.0,
        "node b placed nothing: {mb}"
    );
    assert!(value(&ma, "dialplane_heartbeats_total", "") >= 1.0, "{ma}");
    assert_eq!(value(&mb, "dialplane_heartbeats_total", ""), 0.0, "{mb}");
    let route = "route=\"/api/outbound/runs/{id}\",method=\"GET\",status=\"200\"";
    assert!(
        value(&ma, "dialplane_http_requests_total", route) >= 1.0,
        "{ma}"
    );
    assert_eq!(
        value(&mb, "dialplane_http_requests_total", route),
        0.0,
        "{mb}"
    );

    let (fa, fb) = (a.fleet_metrics().await, b.fleet_metrics().await);
    let sorted = |t: &str| {
        let mut l: Vec<String> = t.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(
        sorted(&fa),
        sorted(&fb),
        "every node serves the same fleet gauges"
    );
    assert_eq!(
        value(&fa, "dialplane_jobs", "state=\"completed\""),
        run["jobs"]["completed"].as_f64().unwrap()
    );
}

/// Every metric name in the dashboard's PromQL is served (as a sample, or
/// as a declared family whose label sets have not been seen yet).
fn grafana_asks_only_for_served_names(served: &[&str]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/grafana/dialplane.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = BTreeSet::new();
    for text in served {
        for line in text.lines() {
            if let Some(decl) = line.strip_prefix("# TYPE ") {
                let (name, kind) = decl.split_once(' ').unwrap();
                names.insert(name.to_string());
                match kind {
                    "counter" => {
                        names.insert(format!("{name}_total"));
                    }
                    "histogram" => {
                        for s in ["_bucket", "_sum", "_count"] {
                            names.insert(format!("{name}{s}"));
                        }
                    }
                    _ => {}
                }
            } else if !line.starts_with('#') && !line.is_empty() {
                let end = line.find(['{', ' ']).unwrap_or(line.len());
                names.insert(line[..end].to_string());
            }
        }
    }
    let mut asked = 0;
    let mut missing = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = ["dialplane_", "process_"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min()
            {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..end];
                if !names.contains(name) {
                    missing.push(format!("{}: {name}", panel["title"]));
                }
                asked += 1;
                rest = &tail[end..];
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not served: {missing:?}\nserved: {names:?}"
    );
    assert!(asked >= 15, "the dashboard names {asked} metrics");
}

/// A `dialplane worker` process (no API) serves its own counters with
/// `--metrics-listen`: the calls it placed, its heartbeats, its decisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_its_own_metrics() {
    use dialplane_tests::lifecycle::*;
    use tokio::io::AsyncBufReadExt;
    let db = open(Db::Sqlite).await;
    let phones = human_phones(LEADS, 60);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Etc/UTC"), settings(2), &[]).await;
    let mut child = tokio::process::Command::new(dialplane_tests::dialplane_bin().unwrap())
        .args([
            "worker",
            "--database-url",
            &db.url,
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(["--heartbeat-interval", "100ms", "--poll-interval", "20ms"])
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dialplane worker");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the worker says where");
        if let Some(rest) = line.split("worker metrics on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the worker never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    wait_for(Duration::from_secs(90), "the run to finish", || async {
        run_view(&db.store, b, run_id)
            .await
            .status
            .is_terminal()
            .then_some(())
    })
    .await;
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert_eq!(
        total(&text, "dialplane_calls_total"),
        LEADS as f64,
        "every call this worker placed: {text}"
    );
    assert!(total(&text, "dialplane_heartbeats_total") >= 1.0, "{text}");
    assert!(
        total(&text, "dialplane_compliance_decisions_total") >= LEADS as f64,
        "{text}"
    );
    assert!(text.contains("dialplane_build_info"), "{text}");
    assert!(
        value(
            &text,
            "dialplane_db_pool_acquire_duration_seconds_count",
            "pool=\"worker\""
        ) >= LEADS as f64,
        "the worker's queries waited on its pool: {text}"
    );
    assert!(
        value(&text, "dialplane_db_pool_max", "pool=\"worker\"") >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "process_resident_memory_bytes", "") > 0.0,
        "{text}"
    );
    let _ = child.start_kill();
}

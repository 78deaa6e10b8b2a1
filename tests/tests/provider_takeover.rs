//! Issue 10's hardest case, all real: PostgreSQL (and SQLite, one worker at
//! a time), a `dialplane serve
//! --no-workers` process, two `dialplane worker` processes running the real
//! `http-dialer` against the Twilio simulator (`dialplane_tests::twilio_sim`,
//! in this test process) with duplicated, reordered and early-final
//! callbacks, 429s and slow answers. Mid-campaign the worker that owns the
//! run is SIGKILLed — most likely inside `place-call` — and the other one
//! takes over. Every lead must still be called exactly once, nothing may end
//! `interrupted`, and each job's outcome must be the one the simulator ended
//! its call with. Calls are counted from the simulator's ledger; jobs are
//! read through the public API.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialplane::store::Store;
use dialplane_tests::twilio_sim::{Ledger, Scenario, TwilioSim, TwilioSimConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A campaign of this many leads, each with its own number.
const LEADS: usize = 1000;
/// The run's owner is killed once the simulator has placed this many calls.
const KILL_AFTER_PLACEMENTS: usize = 250;
/// Wall-clock length of one simulated second.
const SIM_SECOND: Duration = Duration::from_millis(5);
/// The two worker processes' ids (`--worker-id`), so the run's owner names one.
const WORKER_IDS: [&str; 2] = ["takeover-a", "takeover-b"];
/// Worker timings: a takeover within a few seconds, yet a lease that a
/// loaded 2-core machine does not lose by accident.
const HEARTBEAT_INTERVAL: &str = "200ms";
const LEASE_TTL: &str = "2s";
const POLL_INTERVAL: &str = "20ms";
/// How long the API process may take to print its address.
const START_WITHIN: Duration = Duration::from_secs(60);
/// How long the first worker may take to reach the kill point.
const KILL_POINT_WITHIN: Duration = Duration::from_secs(180);
/// Ample time for the whole run after the kill on a loaded machine.
const RUN_WITHIN: Duration = Duration::from_secs(300);
/// How long the simulator may take to send its last callbacks after the run.
const SETTLE_WITHIN: Duration = Duration::from_secs(10);
/// How often the test asks the API for the run's status.
const POLL_EVERY: Duration = Duration::from_millis(75);
/// Lines of each process's output kept for a failure message.
const LOG_TAIL: usize = 30;

/// A `dialplane` process whose output is drained (so it never blocks on a
/// full pipe) and whose last lines are kept; killed when dropped.
struct Process {
    name: String,
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    /// Starts `dialplane <args>`; every output line also goes to `lines`.
    fn spawn(name: &str, args: &[&str], lines: Option<mpsc::UnboundedSender<String>>) -> Process {
        let mut child = Command::new(dialplane_tests::dialplane_bin().unwrap())
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn dialplane {name}: {e}"));
        let log = Arc::new(Mutex::new(VecDeque::new()));
        drain(child.stdout.take().unwrap(), log.clone(), lines.clone());
        drain(child.stderr.take().unwrap(), log.clone(), lines);
        Process {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let lines: Vec<&str> = log.iter().map(String::as_str).collect();
        format!("--- {} (last lines) ---\n{}", self.name, lines.join("\n"))
    }
}

fn drain(
    out: impl AsyncRead + Unpin + Send + 'static,
    log: Arc<Mutex<VecDeque<String>>>,
    lines: Option<mpsc::UnboundedSender<String>>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(out).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            let mut log = log.lock().unwrap();
            if log.len() == LOG_TAIL {
                log.pop_front();
            }
            log.push_back(line);
        }
    });
}

/// `dialplane serve --no-workers` on a free port; returns it with its base
/// URL. Its public URL defaults to that address, which is where the
/// simulator posts the callbacks.
async fn start_api(url: &str) -> (Process, String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = Process::spawn(
        "serve",
        &[
            "serve",
            "--no-workers",
            "--database-url",
            url,
            "--listen",
            "127.0.0.1:0",
        ],
        Some(tx),
    );
    let base = tokio::time::timeout(START_WITHIN, async {
        while let Some(line) = rx.recv().await {
            if let Some(addr) = line.split("dialplane API listening on ").nth(1) {
                return Some(addr.trim().to_string());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("the API never printed its address\n{}", api.tail()));
    (api, base)
}

fn start_worker(url: &str, id: &str) -> Process {
    Process::spawn(
        id,
        &[
            "worker",
            "--database-url",
            url,
            "--heartbeat-interval",
            HEARTBEAT_INTERVAL,
            "--lease-ttl",
            LEASE_TTL,
            "--poll-interval",
            POLL_INTERVAL,
            "--worker-id",
            id,
        ],
        None,
    )
}

/// A JSON client of the API process.
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn request(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some((ct, bytes)) = body {
            rb = rb.header("content-type", ct).body(bytes);
        }
        let resp = rb.send().await.expect("request to the API process");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.request(method, path, key, Some(("application/json", bytes)))
            .await
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, key, None).await
    }
}

/// What the simulator did with the calls to `to`, for a failure message.
fn call_story(ledger: &Ledger, to: &str, killed_at: chrono::DateTime<chrono::Utc>) -> String {
    let calls: Vec<String> = ledger
        .placements_to(to)
        .iter()
        .map(|p| {
            format!(
                "sim: {} placed {} ms before the kill, answered {}, final {:?}, \
                 early-final {}, duplicated {}, reordered {}, callbacks {:?}",
                p.sid,
                (killed_at - p.created_at).num_milliseconds(),
                p.create_answer,
                p.final_status,
                p.early_final,
                p.duplicates,
                p.out_of_order,
                p.callbacks
                    .iter()
                    .map(|c| format!("{}{:?}", c.status, c.answers))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    if calls.is_empty() {
        "sim: never placed".into()
    } else {
        calls.join("; ")
    }
}

fn phone(i: usize) -> String {
    format!("+1415555{i:04}")
}

/// Installs http-dialer (admin) and default-flow, configures the dialer for
/// `sim` with a callback URL, imports [`LEADS`] leads `L-1..` and creates the
/// run; returns the run id.
async fn create_campaign(api: &Client, admin: &str, key: &str, sim: &TwilioSim) -> i64 {
    let wasm = |b: &[u8]| Some(("application/wasm", b.to_vec()));
    let (st, v) = api
        .request(
            Method::PUT,
            "/api/admin/dialers/http-dialer",
            admin,
            wasm(dialplane::builtin::HTTP_DIALER),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = api
        .request(
            Method::PUT,
            "/api/plugins/flows/default-flow",
            key,
            wasm(dialplane::builtin::DEFAULT_FLOW),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, cb) = api
        .request(
            Method::POST,
            "/api/dialer-config/http-dialer/callback-token",
            key,
            None,
        )
        .await;
    assert!(st.is_success(), "{cb}");
    let callback_url = cb["callback_url"].as_str().expect("callback_url");
    let config: BTreeMap<String, String> =
        sim.http_dialer_config(callback_url).into_iter().collect();
    let (st, v) = api
        .json(
            Method::PUT,
            "/api/dialer-config/http-dialer",
            key,
            json!({ "config": config }),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");

    let leads: Vec<Value> = (1..=LEADS)
        .map(|i| {
            json!({"external_id": format!("L-{i}"), "phone": phone(i),
                            "timezone": "America/New_York"})
        })
        .collect();
    let (st, v) = api
        .json(Method::POST, "/api/leads", key, Value::Array(leads))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["errors"], json!([]), "{v}");
    let lead_ids: Vec<i64> = v["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(lead_ids.len(), LEADS);

    let (st, v) = api
        .json(
            Method::POST,
            "/api/outbound/runs",
            key,
            json!({"lead_ids": lead_ids, "flow": "default-flow", "dialer": "http-dialer",
                   "settings": {"concurrency": 16, "max_attempts": 1, "call_timeout_secs": 120,
                                "calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Every job of the run, with its attempts, through the paged jobs API.
async fn all_jobs(api: &Client, key: &str, run: i64) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/outbound/runs/{run}/jobs?limit=500&cursor={c}"),
            None => format!("/api/outbound/runs/{run}/jobs?limit=500"),
        };
        let (st, v) = api.get(&path, key).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        jobs.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return jobs,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sigkill_of_the_owner_mid_place_call_loses_and_doubles_no_call() {
    let url = dialplane_tests::pg::fresh_database()
        .await
        .expect("postgres");
    owner_killed_mid_place_call(&url, Successor::AlreadyRunning).await;
}

/// SQLite: one worker at a time (a single-node install); its replacement
/// starts after the kill, as a supervisor would restart it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sigkill_of_the_only_worker_mid_place_call_loses_and_doubles_no_call() {
    let (url, _dir) = dialplane_tests::sqlite_url().expect("a temp database");
    owner_killed_mid_place_call(&url, Successor::StartedAfterTheKill).await;
}

/// When the worker that takes the run over starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Successor {
    /// Both workers run from the start (a fleet).
    AlreadyRunning,
    /// Only the owner runs; the successor starts once it is killed.
    StartedAfterTheKill,
}

/// The campaign on the database at `url`, its owner SIGKILLed mid
/// `place-call`, the successor started as `successor` says.
async fn owner_killed_mid_place_call(url: &str, successor: Successor) {
    let started = Instant::now();
    let url = url.to_string();
    // The owner's store (no RLS): keys, and the run's owner, which the
    // API does not show.
    let db: Arc<dyn Store> = dialplane::store::connect(&url).await.unwrap();
    let tenant = db.create_tenant("acme").await.unwrap();
    let key = db.create_api_key(Some(tenant)).await.unwrap().plaintext;
    let admin = db.create_api_key(None).await.unwrap().plaintext;

    let sim = TwilioSim::start(
        TwilioSimConfig::new(12)
            .credentials("AC0123456789abcdef0123456789abcdef", "sim-auth-token")
            .time_scale(SIM_SECOND)
            .durations(3, 4)
            .max_call_secs(20)
            .duplicates(0.3)
            .out_of_order(0.3)
            .early_final(0.2)
            .rate_limited(0.03, 1)
            .slow_answers(0.05, Duration::from_millis(600), Duration::from_millis(900)),
    )
    .await
    .unwrap();
    let (api_process, base) = start_api(&url).await;
    let api = Client {
        base,
        http: reqwest::Client::new(),
    };
    let run = create_campaign(&api, &admin, &key, &sim).await;
    let at_start = match successor {
        Successor::AlreadyRunning => &WORKER_IDS[..],
        Successor::StartedAfterTheKill => &WORKER_IDS[..1],
    };
    let mut workers: BTreeMap<&str, Process> = at_start
        .iter()
        .map(|id| (*id, start_worker(&url, id)))
        .collect();
    let logs = |workers: &BTreeMap<&str, Process>| {
        let mut all = vec![api_process.tail()];
        all.extend(workers.values().map(Process::tail));
        all.join("\n")
    };

    // Mid-campaign, find the run's owner; then kill it just after a slow
    // create request began (its call placed, the answer 600–900 ms away):
    // SIGKILL inside `place-call`, with other calls in flight.
    let reached = sim
        .wait_for(KILL_POINT_WITHIN, |l| {
            l.placements.len() >= KILL_AFTER_PLACEMENTS
        })
        .await
        .unwrap_or_else(|e| {
            let short: String = e.to_string().chars().take(300).collect();
            panic!(
                "no {KILL_AFTER_PLACEMENTS} placements: {short}\n{}",
                logs(&workers)
            )
        });
    let owner = db
        .get_run(tenant, run.into())
        .await
        .unwrap()
        .owner_worker
        .expect("the run has an owner");
    let mut doomed = workers
        .remove(owner.as_str())
        .unwrap_or_else(|| panic!("owner {owner} is not one of {WORKER_IDS:?}"));
    let slow_before = reached.counters.slow_answers;
    sim.wait_for(KILL_POINT_WITHIN, |l| l.counters.slow_answers > slow_before)
        .await
        .expect("another slow answer");
    doomed.child.kill().await.expect("SIGKILL the owner");
    let killed_at = Instant::now();
    let killed_at_utc = chrono::Utc::now();
    let placed_at_kill = sim.ledger().placements.len();
    // Only the killed worker could have been the owner until now (the
    // other takes over only after the lease TTL).
    let at_kill = db.get_run(tenant, run.into()).await.unwrap();
    assert_eq!(at_kill.owner_worker.as_deref(), Some(owner.as_str()));
    assert_eq!(at_kill.status.as_str(), "running", "killed mid-run");
    if successor == Successor::StartedAfterTheKill {
        workers.insert(WORKER_IDS[1], start_worker(&url, WORKER_IDS[1]));
    }

    // The other worker takes over and finishes the run.
    let end = tokio::time::Instant::now() + RUN_WITHIN;
    let final_run = loop {
        let (st, v) = api.get(&format!("/api/outbound/runs/{run}"), &key).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if !matches!(v["status"].as_str(), Some("running" | "queued")) {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "run {run} not finished {RUN_WITHIN:?} after the kill: {v}\n{}",
            logs(&workers)
        );
        tokio::time::sleep(POLL_EVERY).await;
    };
    let finish_after_kill = killed_at.elapsed();
    let after = db.get_run(tenant, run.into()).await.unwrap();
    let jobs = all_jobs(&api, &key, run).await;
    // Callbacks still in flight change nothing asserted below (placements
    // are recorded when made), only the report of callbacks. An early-final
    // call whose create request died with the worker never settles (the
    // simulator sends that callback inside the request), hence the bound.
    let ledger = sim
        .wait_settled(SETTLE_WITHIN)
        .await
        .unwrap_or_else(|_| sim.ledger());

    // What the simulator placed, per number.
    let mut per_number: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &ledger.placements {
        per_number.entry(&p.to).or_default().push(&p.sid);
    }
    let phones: Vec<String> = (1..=LEADS).map(phone).collect();
    let missing: Vec<&str> = phones
        .iter()
        .map(String::as_str)
        .filter(|p| !per_number.contains_key(p))
        .collect();
    let doubled: Vec<(&str, &Vec<&str>)> = per_number
        .iter()
        .filter(|(_, sids)| sids.len() > 1)
        .map(|(to, sids)| (*to, sids))
        .collect();
    let strangers: Vec<&str> = per_number
        .keys()
        .copied()
        .filter(|to| !phones.iter().any(|p| p == to))
        .collect();

    // What the run recorded, per job, against the ledger.
    let sid_to: BTreeMap<&str, &str> = ledger
        .placements
        .iter()
        .map(|p| (p.sid.as_str(), p.to.as_str()))
        .collect();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut interrupted = Vec::new();
    let mut wrong = Vec::new();
    for j in &jobs {
        let state = j["state"].as_str().unwrap_or("?").to_string();
        *states.entry(state.clone()).or_default() += 1;
        let lead = j["lead_external_id"].as_str().unwrap_or("?");
        let to = lead
            .strip_prefix("L-")
            .and_then(|i| i.parse().ok())
            .map(phone)
            .unwrap_or_default();
        if state == "interrupted" {
            interrupted.push(format!(
                "{lead} {to}: reason {}; attempts {}; {}",
                j["reason"],
                j["attempts"],
                call_story(&ledger, &to, killed_at_utc)
            ));
            continue;
        }
        let placed: Vec<&Value> = j["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["placed"] == true)
            .collect();
        let sid = match placed.as_slice() {
            [a] => a["provider_call_id"].as_str().unwrap_or("(none)"),
            _ => {
                wrong.push(format!("{lead}: {} placed attempts: {j}", placed.len()));
                continue;
            }
        };
        if sid_to.get(sid) != Some(&to.as_str()) {
            wrong.push(format!("{lead}: sid {sid} is not a call to {to}: {j}"));
        } else if j["outcome"].as_str() != Some(Scenario::by_last_digit(&to).run_outcome()) {
            wrong.push(format!(
                "{lead}: outcome {} (the simulator ended {to} as {}): {j}; {}",
                j["outcome"],
                Scenario::by_last_digit(&to).run_outcome(),
                call_story(&ledger, &to, killed_at_utc)
            ));
        }
    }
    let refused: Vec<String> = ledger
        .placements
        .iter()
        .flat_map(|p| p.callbacks.iter().map(move |cb| (p, cb)))
        .filter(|(_, cb)| !cb.delivered())
        .map(|(p, cb)| format!("{} {} {:?}", p.to, cb.status, cb.answers))
        .collect();

    eprintln!(
        "provider_takeover: killed {owner} at {placed_at_kill} placements; run {} \
         {finish_after_kill:?} later (test {:?}); owner now {:?}, lease generation {}; \
         jobs {states:?}; ledger {} placements, missing {}, doubled {}; \
         callbacks not accepted {refused:?}; counters {:?}",
        final_run["status"],
        started.elapsed(),
        after.owner_worker,
        after.lease_generation.0,
        ledger.placements.len(),
        missing.len(),
        doubled.len(),
        ledger.counters,
    );

    let mut failures = Vec::new();
    if final_run["status"] != "completed" {
        failures.push(format!("the run ended {final_run}"));
    }
    if jobs.len() != LEADS {
        failures.push(format!("{} jobs, not {LEADS}", jobs.len()));
    }
    if !interrupted.is_empty() {
        failures.push(format!(
            "{} jobs interrupted:\n  {}",
            interrupted.len(),
            interrupted.join("\n  ")
        ));
    }
    if !missing.is_empty() {
        failures.push(format!("{} leads never called: {missing:?}", missing.len()));
    }
    if !doubled.is_empty() {
        failures.push(format!("{} leads called twice: {doubled:?}", doubled.len()));
    }
    if !strangers.is_empty() {
        failures.push(format!("calls to numbers of no lead: {strangers:?}"));
    }
    if !wrong.is_empty() {
        failures.push(format!(
            "{} jobs disagree with the ledger:\n  {}",
            wrong.len(),
            wrong.join("\n  ")
        ));
    }
    if after.owner_worker.as_deref() == Some(owner.as_str()) || after.lease_generation.0 < 2 {
        failures.push(format!(
            "the run was not taken over: owner {:?}, generation {}",
            after.owner_worker, after.lease_generation.0
        ));
    }
    // The faults were really there.
    let c = &ledger.counters;
    if c.rate_limited == 0 || c.slow_answers == 0 {
        failures.push(format!("no 429 or no slow answer: {c:?}"));
    }
    if !(ledger.placements.iter().any(|p| p.early_final)
        && ledger.placements.iter().any(|p| p.duplicates)
        && ledger.placements.iter().any(|p| p.out_of_order))
    {
        failures.push("no early, duplicated or reordered callbacks".into());
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        logs(&workers)
    );
    drop(doomed);
}

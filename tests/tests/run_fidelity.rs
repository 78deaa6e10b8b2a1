//! What `plugin test` shows is what a run does. The same flow
//! (`business-rules-flow`, retrying busy and unanswered calls, tagging with
//! a lead attribute) over the same leads, once through `dialplane plugin
//! test` (the real binary, its YAML transcript) and once through a real run
//! (the API, an in-process worker, the sim dialer) on SQLite and on
//! PostgreSQL. Everything the transcript says the flow returned must be
//! what the run persisted, read back through the public API: each lead's
//! status and tags (`GET /api/leads`), each attempt's outcome, note, lead
//! status and tags, and the number of attempts (`GET
//! /api/outbound/runs/{id}/jobs`). A tag the store cannot hold (empty, over
//! 256 characters) is dropped and named in the attempt's note, as the
//! transcript's `follow_up_refused` says.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_common::{Api, Tenant};

/// Attempts per lead, in the transcript and in the run.
const MAX_ATTEMPTS: u32 = 3;
/// Ample time for a dozen calls on a loaded 2-core machine.
const RUN_WITHIN: Duration = Duration::from_secs(60);
/// The longest lead status or tag the store holds (`LEAD_TEXT_MAX`).
const LABEL_MAX: usize = 256;

/// The flow's run settings: retry at once, tag with the `campaign` attribute.
fn flow_settings() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([("retry_delay_secs", "0"), ("tag_attr", "campaign")])
}

/// One lead as both sides get it; `tags` are the lead's own before the run
/// (the transcript's leads have none: a run adds to them).
struct LeadSpec {
    id: &'static str,
    phone: &'static str,
    attributes: Vec<(&'static str, String)>,
    tags: Vec<&'static str>,
}

fn leads() -> Vec<LeadSpec> {
    let lead = |id, phone, attributes: &[(&'static str, String)], tags: &[&'static str]| LeadSpec {
        id,
        phone,
        attributes: attributes.to_vec(),
        tags: tags.to_vec(),
    };
    let campaign = |v: &str| ("campaign", v.to_string());
    vec![
        // busy three times: two retries, then `unreachable`.
        lead("busy-0", "+14155550100", &[campaign("spring")], &["vip"]),
        // no-answer three times, each with an empty tag the store refuses.
        lead("noanswer-1", "+14155550111", &[campaign("")], &[]),
        // A tag over the limit, refused; the status still applies.
        lead(
            "machine-2",
            "+14155550122",
            &[campaign(&"x".repeat(LABEL_MAX + 1))],
            &[],
        ),
        lead("invalid-3", "+14155550133", &[], &[]),
        lead("neterr-4", "+14155550144", &[campaign("spring")], &[]),
        lead("rejected-5", "+14155550155", &[], &["spring"]),
        // Tags it already has are not added twice.
        lead(
            "human-6",
            "+14155550166",
            &[campaign("spring")],
            &["answered", "spring"],
        ),
        // Skipped by the flow: never dialed, never touched.
        lead(
            "dnc-7",
            "+14155550177",
            &[("do_not_call_reason", "asked".into())],
            &["old"],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_run_does_what_plugin_test_shows() {
    run_does_what_plugin_test_shows(Api::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_run_does_what_plugin_test_shows() {
    run_does_what_plugin_test_shows(Api::pg().await).await;
}

async fn run_does_what_plugin_test_shows(mut api: Api) {
    let leads = leads();
    let transcript = plugin_test(&leads);
    assert_eq!(transcript["failures"], json!(0), "{transcript:#}");

    let admin = api.admin_key().await;
    api.install_sim_dialer(&admin).await;
    api.worker(|_| {}).await;
    let t = api.tenant("fidelity").await;
    let ids = import(&api, &t, &leads).await;
    let run = create_run(&api, &t, &ids).await;
    let done = api
        .wait_run(&t, run, RUN_WITHIN, |v| {
            v["status"] != "queued" && v["status"] != "running"
        })
        .await;
    assert_eq!(done["status"], "completed", "{done:#}");

    let jobs = jobs_by_lead(&api, &t, run).await;
    let stored = leads_by_external_id(&api, &t).await;
    let by_lead: BTreeMap<&str, &Value> = transcript["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["lead"].as_str().unwrap(), l))
        .collect();
    let mut retries = 0;
    for spec in &leads {
        let shown = &by_lead[spec.id]["attempts"];
        let job = &jobs[spec.id];
        let lead = &stored[spec.id];
        retries += same_effects(spec, shown, job, lead);
    }
    // busy and no-answer each retried twice (attempts 1 and 2 of 3).
    assert_eq!(retries, 4, "retries in the transcript");
}

/// Asserts that the run's effects on one lead are the transcript's; returns
/// how many of its attempts asked for (and got) a retry.
fn same_effects(spec: &LeadSpec, shown: &Value, job: &Value, lead: &Value) -> usize {
    let shown = shown.as_array().unwrap();
    let ctx = format!(
        "lead {}: transcript {shown:#?}\njob {job:#}\nlead {lead:#}",
        spec.id
    );
    let dialed: Vec<&Value> = shown.iter().filter(|a| a["decision"] == "dial").collect();
    let mut status = "new".to_string();
    let mut tags: Vec<String> = spec.tags.iter().map(|t| t.to_string()).collect();
    if dialed.is_empty() {
        // Skipped: the job says why, the lead is as imported.
        let why = shown[0]["decision"]
            .as_str()
            .unwrap()
            .strip_prefix("skip: ");
        assert_eq!(job["state"], "skipped", "{ctx}");
        assert_eq!(
            job["reason"].as_str(),
            why.map(|w| format!("flow skipped: {w}")).as_deref(),
            "{ctx}"
        );
    } else {
        let placed: Vec<&Value> = job["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["placed"] == true)
            .collect();
        assert_eq!(placed.len(), dialed.len(), "one call per attempt: {ctx}");
        assert_eq!(job["attempt"], json!(dialed.len()), "{ctx}");
        assert_eq!(job["state"], "completed", "{ctx}");
        for (want, got) in dialed.iter().zip(&placed) {
            let follow = &want["follow_up"];
            assert_eq!(got["attempt"], want["attempt"], "{ctx}");
            assert_eq!(got["outcome"], want["report"]["outcome"], "{ctx}");
            let (accepted, refused) = accepted_tags(follow);
            assert_eq!(
                want.get("follow_up_refused")
                    .and_then(Value::as_str)
                    .is_some(),
                refused,
                "the transcript names what a run refuses: {ctx}"
            );
            let note = match (follow["note"].as_str(), want["follow_up_refused"].as_str()) {
                (Some(n), Some(r)) => Some(format!("{n} ({r})")),
                (n, r) => n.or(r).map(str::to_string),
            };
            assert_eq!(got["note"].as_str(), note.as_deref(), "{ctx}");
            assert_eq!(got["lead_status"], follow["lead_status"], "{ctx}");
            assert_eq!(got["lead_tags"], json!(accepted), "{ctx}");
            if let Some(s) = follow["lead_status"].as_str() {
                status = s.to_string();
            }
            for t in accepted {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        let last = dialed.last().unwrap();
        assert_eq!(job["outcome"], last["report"]["outcome"], "{ctx}");
        assert_eq!(job["note"], placed.last().unwrap()["note"], "{ctx}");
    }
    assert_eq!(lead["status"], json!(status), "{ctx}");
    assert_eq!(lead["tags"], json!(tags), "{ctx}");
    dialed
        .iter()
        .filter(|a| !a["follow_up"]["retry_after_secs"].is_null())
        .count()
}

/// The follow-up's tags a lead can hold (1 to 256 characters, each once),
/// and whether any was refused.
fn accepted_tags(follow: &Value) -> (Vec<String>, bool) {
    let mut accepted = Vec::new();
    let mut refused = false;
    for t in follow["tags"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        if t.is_empty() || t.chars().count() > LABEL_MAX {
            refused = true;
        } else if !accepted.iter().any(|a| a == t) {
            accepted.push(t.to_string());
        }
    }
    (accepted, refused)
}

/// `dialplane plugin test` over `leads`, as the real binary prints it.
fn plugin_test(leads: &[LeadSpec]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("business-rules-flow.wasm");
    std::fs::write(&flow, dialplane::builtin::BUSINESS_RULES_FLOW).unwrap();
    let file: Vec<Value> = leads
        .iter()
        .map(|l| {
            json!({"id": l.id, "phone": l.phone, "timezone": "America/New_York",
                   "attributes": attributes(l)})
        })
        .collect();
    let leads_path = dir.path().join("leads.json");
    std::fs::write(&leads_path, serde_json::to_vec(&file).unwrap()).unwrap();
    let mut cmd = Command::new(dialplane_tests::dialplane_bin().expect("dialplane binary"));
    cmd.args(["plugin", "test"])
        .arg(&flow)
        .arg("--leads")
        .arg(&leads_path)
        .args(["--max-attempts", &MAX_ATTEMPTS.to_string()])
        .env("DIALPLANE_LOG", "off");
    for (k, v) in flow_settings() {
        cmd.args(["--set", &format!("{k}={v}")]);
    }
    let out = cmd.output().expect("run dialplane plugin test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn attributes(l: &LeadSpec) -> Value {
    l.attributes
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Uploads the flow and imports the leads with their own tags: lead ids in
/// the order of `leads`.
async fn import(api: &Api, t: &Tenant, leads: &[LeadSpec]) -> Vec<i64> {
    api.install_flow(
        t,
        "business-rules-flow",
        dialplane::builtin::BUSINESS_RULES_FLOW,
    )
    .await;
    let body: Vec<Value> = leads
        .iter()
        .map(|l| {
            json!({"external_id": l.id, "phone": l.phone, "timezone": "America/New_York",
                   "attributes": attributes(l), "tags": l.tags})
        })
        .collect();
    let (st, v) = api.post("/api/leads", &t.key, Value::Array(body)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["errors"], json!([]), "{v}");
    v["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn create_run(api: &Api, t: &Tenant, ids: &[i64]) -> i64 {
    let (st, v) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": ids, "flow": "business-rules-flow", "dialer": "sim-dialer",
                   "settings": {"concurrency": 2, "max_attempts": MAX_ATTEMPTS,
                                "calling_window": {"start": "00:00", "end": "24:00"},
                                "flow": flow_settings()}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// The run's jobs (with attempts) by the lead's external id.
async fn jobs_by_lead(api: &Api, t: &Tenant, run: i64) -> BTreeMap<String, Value> {
    let (st, v) = api
        .get(&format!("/api/outbound/runs/{run}/jobs?limit=100"), &t.key)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["next_cursor"].is_null(), "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["lead_external_id"].as_str().unwrap().to_string(),
                j.clone(),
            )
        })
        .collect()
}

/// The tenant's leads by external id, through `GET /api/leads`.
async fn leads_by_external_id(api: &Api, t: &Tenant) -> BTreeMap<String, Value> {
    let (st, v) = api.get("/api/leads?limit=100", &t.key).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["next_cursor"].is_null(), "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["external_id"].as_str().unwrap().to_string(), l.clone()))
        .collect()
}

//! `--json` through the real binary: every command that prints a result has
//! it (found by walking `--help`), prints exactly one JSON object on stdout
//! with the fields that matter, and agrees with its text mode; and the
//! plugin log lines: `debug`, phone numbers masked, typed fields, rate-limited.

use std::path::Path;
use std::process::{Command, Output};

use dialplane::builtin;
use dialplane_tests::dialplane_bin;
use serde_json::Value;

fn dialplane_env(args: &[&str], log: &str) -> Output {
    Command::new(dialplane_bin().expect("dialplane binary"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DIALPLANE_LOG_FORMAT")
        .env("DIALPLANE_LOG", log)
        .output()
        .expect("run dialplane")
}

fn dialplane(args: &[&str]) -> Output {
    dialplane_env(args, "warn")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout as exactly one JSON document, an object, on one line.
fn document(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line on stdout, got:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert!(v.is_object(), "{v}");
    v
}

/// Subcommands `dialplane <path…> --help` lists (without `help`).
fn subcommands(path: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let out = dialplane(&args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    let help = text(&out.stdout);
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Commands without `--json`, and why. `serve` and `worker` run until
/// stopped and print only logs (`--log-format json`).
const NO_JSON: &[(&str, &str)] = &[
    (
        "serve",
        "long-running; its output is logs, see --log-format json",
    ),
    (
        "worker",
        "long-running; its output is logs, see --log-format json",
    ),
];

#[test]
fn every_command_that_prints_a_result_has_json() {
    let mut leaves = Vec::new();
    let mut todo: Vec<Vec<String>> = subcommands(&[]).into_iter().map(|s| vec![s]).collect();
    while let Some(path) = todo.pop() {
        let subs = subcommands(&path);
        if subs.is_empty() {
            leaves.push(path);
        } else {
            todo.extend(subs.into_iter().map(|s| {
                let mut p = path.clone();
                p.push(s);
                p
            }));
        }
    }
    assert!(leaves.len() >= 12, "the walk found too little: {leaves:?}");
    let mut missing = Vec::new();
    for path in &leaves {
        let joined = path.join(" ");
        if NO_JSON.iter().any(|(c, _)| *c == joined) {
            continue;
        }
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = text(&dialplane(&args).stdout);
        if !help.lines().any(|l| l.trim_start().starts_with("--json")) {
            missing.push(joined);
        }
    }
    assert!(missing.is_empty(), "without --json: {missing:?}");
    // The exemptions name commands that exist.
    for (c, _) in NO_JSON {
        assert!(leaves.iter().any(|p| p.join(" ") == *c), "{c}");
    }
}

#[test]
fn migrate_json_says_what_was_applied() {
    let (url, _dir) = dialplane_tests::sqlite_url().unwrap();
    let first = dialplane(&["migrate", "--database-url", &url, "--json"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let v = document(&first);
    let applied = v["applied"].as_array().expect("applied");
    assert!(!applied.is_empty(), "{v}");
    let highest = applied
        .iter()
        .map(|a| a["version"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(v["schema_version"], highest, "{v}");
    assert!(applied.iter().all(|a| a["description"].is_string()), "{v}");
    assert!(v["database"].as_str().unwrap().contains("test.db"), "{v}");

    let again = document(&dialplane(&["migrate", "--database-url", &url, "--json"]));
    assert_eq!(again["applied"], serde_json::json!([]), "{again}");
    assert_eq!(
        again["already_applied"].as_array().unwrap().len(),
        applied.len()
    );
    assert_eq!(again["schema_version"], highest);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn plugin_check_json_gives_the_verdict_world_and_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(dir.path(), "default-flow.wasm", builtin::DEFAULT_FLOW);
    let out = dialplane(&["plugin", "check", &flow, "--json", "--no-compile-cache"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = document(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["kind"], "flow");
    assert_eq!(v["world"], "dialplane:plugin/call-flow@0.2.0");
    assert_eq!(v["wit_version"], "0.2.0");
    assert_eq!(v["error"], Value::Null);
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        names("exports").contains(&"dialplane:plugin/flow@0.2.0".to_string()),
        "{v}"
    );
    assert!(
        names("imports").contains(&"dialplane:plugin/log@0.2.0".to_string()),
        "{v}"
    );
    // The same lists as text mode prints.
    let plain = text(&dialplane(&["plugin", "check", &flow, "--no-compile-cache"]).stdout);
    for i in names("imports").iter().chain(&names("exports")) {
        assert!(
            plain.contains(&format!("  - {i}\n")),
            "{i} not in:\n{plain}"
        );
    }
    let warned = text(&dialplane(&["plugin", "check", &flow, "--no-compile-cache"]).stderr)
        .matches("warning: imports")
        .count();
    assert_eq!(v["warnings"].as_array().unwrap().len(), warned, "{v}");

    // A dialer checked as a flow: the verdict, and the error on stderr too.
    let dialer = write(dir.path(), "sim-dialer.wasm", builtin::SIM_DIALER);
    let out = dialplane(&[
        "plugin",
        "check",
        &dialer,
        "--kind",
        "flow",
        "--json",
        "--no-compile-cache",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = document(&out);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["kind"], "flow");
    assert_eq!(v["world"], Value::Null);
    let error = v["error"].as_str().unwrap();
    assert!(
        error.starts_with("does not implement dialplane:plugin/call-flow"),
        "{v}"
    );
    assert!(text(&out.stderr).contains(error), "{}", text(&out.stderr));

    // Not a component at all: still one document, ok false.
    let junk = write(dir.path(), "junk.wasm", b"not wasm");
    let v = document(&dialplane(&["plugin", "check", &junk, "--json"]));
    assert_eq!(v["ok"], false);
    assert!(v["error"].is_string(), "{v}");
}

const LEADS: &str = r#"[
  {"id": "a", "phone": "+14155550127"},
  {"id": "b", "phone": "+14155550120"},
  {"id": "c", "phone": "+14155550124"}
]"#;

#[test]
fn plugin_test_json_is_the_text_transcript_and_expect_gives_changes() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(dir.path(), "default-flow.wasm", builtin::DEFAULT_FLOW);
    let leads = write(dir.path(), "leads.json", LEADS.as_bytes());
    let base = ["plugin", "test", &flow, "--leads", &leads];
    let plain = dialplane(&base);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&plain.stdout).unwrap();
    let as_json: Value = serde_json::to_value(&yaml).unwrap();

    let mut args = base.to_vec();
    args.push("--json");
    let v = document(&dialplane(&args));
    assert_eq!(
        v["transcript"], as_json,
        "the transcript differs from text mode"
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["failures"], 0);
    assert_eq!(v["expect"], Value::Null);
    assert_eq!(v["transcript"]["leads"].as_array().unwrap().len(), 3);

    // --expect --update creates the file; then it matches.
    let expect = dir.path().join("transcript.yaml");
    let expect_s = expect.to_str().unwrap();
    let mut update = args.clone();
    update.extend(["--expect", expect_s, "--update"]);
    let v = document(&dialplane(&update));
    assert_eq!(v["expect"]["action"], "created", "{v}");
    let mut compare = args.clone();
    compare.extend(["--expect", expect_s]);
    let v = document(&dialplane(&compare));
    assert_eq!(v["expect"]["action"], "matched", "{v}");
    assert_eq!(v["expect"]["changes"], serde_json::json!([]));

    // A changed outcome: exit 1, the change as data, nothing but JSON on stdout.
    let written = std::fs::read_to_string(&expect).unwrap();
    let outcome = as_json["leads"][0]["attempts"][0]["report"]["outcome"]
        .as_str()
        .unwrap()
        .to_string();
    let edited = written.replacen(&format!("outcome: {outcome}"), "outcome: busy-edited", 1);
    assert_ne!(edited, written);
    std::fs::write(&expect, edited).unwrap();
    let out = dialplane(&compare);
    assert_eq!(out.status.code(), Some(1));
    let v = document(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["expect"]["action"], "changed");
    assert_eq!(
        v["expect"]["changes"],
        serde_json::json!([{
            "lead": "a",
            "attempt": "1",
            "field": "report.outcome",
            "expected": "busy-edited",
            "actual": outcome,
        }]),
        "{v}"
    );
    assert!(
        text(&out.stderr).contains("the transcript changed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_new_json_lists_the_files_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("my-flow");
    let out = dialplane(&[
        "plugin",
        "new",
        "my-flow",
        "--dir",
        root.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = document(&out);
    assert_eq!(v["directory"], root.to_str().unwrap());
    assert_eq!(v["lang"], "rust");
    assert_eq!(v["component"], "target/wasm32-wasip2/release/my_flow.wasm");
    let mut listed: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut on_disk = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                on_disk.push(p.strip_prefix(&root).unwrap().to_str().unwrap().to_string());
            }
        }
    }
    on_disk.sort();
    assert_eq!(listed, on_disk);
    assert!(listed.contains(&"transcript.yaml".to_string()));
}

#[test]
fn plugin_builtin_json_lists_and_reports_a_file_and_refuses_stdout() {
    let v = document(&dialplane(&["plugin", "builtin", "--json"]));
    let sim = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sim-dialer")
        .unwrap_or_else(|| panic!("no sim-dialer in {v}"))
        .clone();
    assert_eq!(sim["kind"], "dialer");
    assert_eq!(sim["bytes"], builtin::SIM_DIALER.len());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.wasm");
    let path_s = path.to_str().unwrap();
    let v = document(&dialplane(&[
        "plugin",
        "builtin",
        "sim-dialer",
        "-o",
        path_s,
        "--json",
    ]));
    assert_eq!(v["written"], path_s);
    assert_eq!(v["component"], sim);
    assert_eq!(std::fs::read(&path).unwrap(), builtin::SIM_DIALER);

    let out = dialplane(&["plugin", "builtin", "sim-dialer", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing but the error");
    assert!(
        text(&out.stderr).contains("use -o FILE with --json"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_json_totals_are_the_runs_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dialplane(&[
        "demo",
        "--leads",
        "20",
        "--dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = document(&out);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{v}");
    assert_eq!(runs[1]["status"], "cancelled");
    assert_eq!(runs[1]["calls_after_cancel"], 0);
    assert!(v["kept"]["api_key"].is_string(), "{v}");
    // Progress and notes went to stderr.
    assert!(
        text(&out.stderr).contains("leads finished"),
        "{}",
        text(&out.stderr)
    );

    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let store = dialplane::store::connect(&url).await.unwrap();
    let tenant = dialplane::model::TenantId(v["tenant"].as_i64().unwrap());
    for (i, r) in runs.iter().enumerate() {
        let run = store
            .get_run(tenant, r["run_id"].as_i64().unwrap().into())
            .await
            .unwrap();
        assert_eq!(r["status"], run.status.as_str(), "{r}");
        assert_eq!(r["total_leads"], run.total_leads, "{r}");
        assert_eq!(r["total_leads"], 20, "{r}");
        assert_eq!(r["cursor_position"], run.cursor_position, "{r}");
        for (state, n) in &run.counts.by_status {
            assert_eq!(r["jobs"][state], *n, "{state}: {r}");
        }
        if i > 0 {
            // The cancelled run's hung-up calls need not all have an outcome.
            continue;
        }
        let outcomes: u64 = r["outcomes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(outcomes, r["calls_placed"].as_u64().unwrap(), "{r}");
    }
    assert!(runs[0]["elapsed_secs"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_plugin_and_api_agree_on_their_json() {
    let plugin = document(&dialplane(&["bench", "plugin", "--json", "--leads", "200"]));
    assert_eq!(plugin["bench"], "plugin", "{plugin}");
    assert_eq!(plugin["leads"], 200);
    let api = document(&dialplane(&["bench", "api", "--json", "--secs", "1"]));
    assert_eq!(api["bench"], "api", "{api}");
    assert_eq!(api["engine"], "sqlite");
    assert!(api["get_run"]["requests"].as_u64().unwrap() > 0, "{api}");
    // Each endpoint says how it used the API's pool: every GET takes at
    // least one connection (the key lookup), and the wait is a number.
    for endpoint in ["get_run", "callback"] {
        assert!(
            api[endpoint]["pool_acquires_per_request"].as_f64().unwrap() >= 1.0,
            "{endpoint}: {api}"
        );
        assert!(
            api[endpoint]["pool_wait_mean_us"].is_u64(),
            "{endpoint}: {api}"
        );
    }
    // `bench lifecycle` (minutes of work) prints through the same code; its
    // `--json` is checked by the walk above.
}

/// The JSON log lines on stderr of `out`.
fn log_lines(out: &Output) -> Vec<Value> {
    text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn plugin_log_lines_are_debug_masked_typed_and_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(dir.path(), "default-flow.wasm", builtin::DEFAULT_FLOW);
    let leads = write(dir.path(), "leads.json", LEADS.as_bytes());
    let args = [
        "--log-format",
        "json",
        "plugin",
        "test",
        &flow,
        "--leads",
        &leads,
        "--json",
    ];
    // At info (and the default warn) no plugin line appears.
    let out = dialplane_env(&args, "info");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plugin_lines = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["fields"]["plugin_level"].is_string())
            .cloned()
            .collect()
    };
    assert!(
        plugin_lines(&log_lines(&out)).is_empty(),
        "{}",
        text(&out.stderr)
    );

    let out = dialplane_env(&args, "dialplane::runtime=debug");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = plugin_lines(&log_lines(&out));
    // sim-dialer logs `placed <id> to <phone>: <outcome>` for every call.
    let placed: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap()
                .starts_with("placed ")
        })
        .collect();
    let calls = document(&out)["transcript"]["leads"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["attempts"].as_array().unwrap())
        .filter(|a| a["report"].is_object())
        .count();
    assert!(calls >= 3, "{calls}");
    assert_eq!(placed.len(), calls, "{lines:?}");
    for l in &lines {
        assert_eq!(l["level"], "DEBUG", "{l}");
        let f = &l["fields"];
        assert!(f["tenant"].is_i64(), "{l}");
        assert_eq!(f["run_id"], dialplane::testing::TRANSCRIPT_RUN_ID, "{l}");
        assert!(f["plugin"].is_string(), "{l}");
        for nested in ["fields", "scope"] {
            assert!(f.get(nested).is_none(), "no nested field string: {l}");
        }
        assert!(l.get("span").is_none(), "{l}");
        let message = f["message"].as_str().unwrap();
        assert!(!message.contains("+1415555012"), "phone not masked: {l}");
    }
    let masked = placed.iter().any(|l| {
        l["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("+1415***0127")
    });
    assert!(masked, "{placed:?}");
}

#[test]
fn plugin_log_lines_over_the_budget_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(dir.path(), "default-flow.wasm", builtin::DEFAULT_FLOW);
    let leads: Vec<Value> = (0..300)
        .map(|i| serde_json::json!({"id": format!("l{i}"), "phone": format!("+1415555{i:04}")}))
        .collect();
    let leads = write(
        dir.path(),
        "leads.json",
        serde_json::to_string(&leads).unwrap().as_bytes(),
    );
    let started = std::time::Instant::now();
    let out = dialplane_env(
        &[
            "--log-format",
            "json",
            "plugin",
            "test",
            &flow,
            "--leads",
            &leads,
            "--json",
        ],
        "dialplane::runtime=debug",
    );
    let secs = started.elapsed().as_secs();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let transcript = &document(&out)["transcript"];
    // Every line the plugins wrote, as the transcript keeps them.
    let written: usize = transcript["leads"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["attempts"].as_array().unwrap())
        .map(|a| {
            ["flow_log", "dialer_log"]
                .iter()
                .map(|k| a[k].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        })
        .sum();
    let lines = log_lines(&out);
    let passed = lines
        .iter()
        .filter(|l| l["fields"]["plugin_level"].is_string())
        .count();
    let suppressed: u64 = lines
        .iter()
        .filter_map(|l| l["fields"]["suppressed"].as_u64())
        .sum();
    assert!(written >= 300, "{written}");
    assert!(suppressed > 0, "nothing suppressed of {written} lines");
    assert_eq!(passed as u64 + suppressed, written as u64);
    // The flow's and the dialer's scope, 20 a second each.
    let budget = dialplane::config::PLUGIN_LOG_LINES_PER_SECOND_DEFAULT as u64;
    assert!(
        passed as u64 <= 2 * budget * (secs + 1),
        "{passed} in {secs} s"
    );
}

//! A Python client generated from the served OpenAPI document, with the
//! pinned `openapi-python-client` (`dialplane_tests::openapi_tools`), covers
//! every operation and runs the README's tour (`tests/openapi_client/tour.py`:
//! upload the sim dialer and a flow, import leads, create a run, list its
//! jobs, cancel it, read it) against a live `dialplane serve` process on
//! SQLite, asserting on the generated model classes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dialplane_tests::serve_process::spawn_serve;
use dialplane_tests::{dialplane_bin, openapi_tools, sqlite_url};
use serde_json::Value;
use tokio::process::Command;

/// How long the tour may take (its run is cancelled early; the in-flight
/// call ends within the sim dialer's call time).
const TOUR_WITHIN: Duration = Duration::from_secs(180);
/// The warnings the generator may give, each with what it must say:
/// - it cannot generate a body that is either a JSON array or a file, so
///   `import_leads` takes JSON only (the tour posts its CSV through the
///   client's HTTP client);
/// - it has no type for OpenMetrics text, so the two metrics operations
///   return the raw response (Prometheus, not this client, reads them).
const KNOWN_WARNINGS: &[(&str, &str)] = &[
    ("WARNING parsing POST /api/leads", "text/csv"),
    (
        "WARNING parsing GET /metrics within",
        "Unsupported content_type application/openmetrics-text",
    ),
    (
        "WARNING parsing GET /metrics/fleet within",
        "Unsupported content_type application/openmetrics-text",
    ),
];

fn checked_in(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi_client")
        .join(name)
}

/// The value of `name: ` in a CLI's output.
fn printed(out: &std::process::Output, name: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no `{name}:` in {stdout}"))
        .trim()
        .to_string()
}

async fn dialplane(args: &[&str]) -> std::process::Output {
    Command::new(dialplane_bin().unwrap())
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap()
}

/// The generated operation modules: `api/<tag>/<operation>.py`.
fn generated_operations(package: &Path) -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for tag in std::fs::read_dir(package.join("api")).unwrap() {
        let tag = tag.unwrap().path();
        if !tag.is_dir() {
            continue;
        }
        for module in std::fs::read_dir(&tag).unwrap() {
            let module = module.unwrap().path();
            let stem = module.file_stem().unwrap().to_string_lossy().to_string();
            if module.extension().is_some_and(|e| e == "py") && stem != "__init__" {
                let code = std::fs::read_to_string(&module).unwrap();
                assert!(code.contains("def sync_detailed("), "{}", module.display());
                ops.insert(stem);
            }
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_python_client_covers_every_operation_and_runs_the_tour() {
    let python = openapi_tools::venv_python();
    let (url, _db) = sqlite_url().unwrap();
    let admin = printed(
        &dialplane(&["admin-key", "create", "--database-url", &url]).await,
        "admin_key",
    );
    let tenant = printed(
        &dialplane(&["tenant", "create", "Acme Plumbing", "--database-url", &url]).await,
        "api_key",
    );
    let (_server, base) = spawn_serve(&url, &[]).await;

    let doc = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let doc_path = work.path().join("openapi.json");
    std::fs::write(&doc_path, &doc).unwrap();
    let package = work.path().join("dialplane_client");
    let out = Command::new(&python)
        .args([
            "-m",
            "openapi_python_client",
            "generate",
            "--meta",
            "none",
            "--path",
        ])
        .arg(&doc_path)
        .arg("--config")
        .arg(checked_in("config.yaml"))
        .arg("--output-path")
        .arg(&package)
        .output()
        .await
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "openapi-python-client failed:\n{report}"
    );
    let warnings: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("WARNING"))
        .collect();
    assert!(
        warnings.iter().all(|w| KNOWN_WARNINGS
            .iter()
            .any(|(start, says)| w.starts_with(start) && report.contains(says))),
        "unexpected generator warnings:\n{report}"
    );

    let doc: Value = serde_json::from_str(&doc).unwrap();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_string())
        .collect();
    let generated = generated_operations(&package);
    assert_eq!(
        generated, documented,
        "one generated function per operation"
    );
    eprintln!("generated client: {} operations", generated.len());

    let dir = tempfile::tempdir().unwrap();
    let component = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let sim = component("sim_dialer.wasm", dialplane::builtin::SIM_DIALER);
    let flow = component("default_flow.wasm", dialplane::builtin::DEFAULT_FLOW);
    let tour = Command::new(&python)
        .arg(checked_in("tour.py"))
        .env("PYTHONPATH", work.path())
        .env("DIALPLANE_API", &base)
        .env("DIALPLANE_ADMIN_KEY", &admin)
        .env("DIALPLANE_TENANT_KEY", &tenant)
        .env("DIALPLANE_SIM_DIALER", &sim)
        .env("DIALPLANE_DEFAULT_FLOW", &flow)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(TOUR_WITHIN, tour)
        .await
        .expect("the tour did not finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("tour ok"),
        "the tour failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

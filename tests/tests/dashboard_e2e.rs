//! The dashboard end to end in headless Chromium, driven over the W3C
//! WebDriver protocol (chromedriver started by the test on a free port; the
//! protocol is a handful of JSON calls, so a small client here does it).
//!
//! A real server (API + dashboard) over SQLite with a real worker: log in
//! with a tenant key, create a run through the API and watch its row move
//! live to 100% (an intermediate percentage must be seen: the page really
//! streams), open its outcome counts and attempts, then cancel a second run
//! with the page's button and see it stop — with zero calls placed after the
//! cancel according to the sim dialer's ledger.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::api_common::{Api, Tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Generous: the first Chromium start on a cold machine is slow.
const DEADLINE: Duration = Duration::from_secs(60);

struct Chromedriver {
    child: Child,
    base: String,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        let cd = Chromedriver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = http.get(format!("{}/status", cd.base)).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == json!(true)
            {
                return cd;
            }
            assert!(tokio::time::Instant::now() < end, "chromedriver not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn new(driver: &Chromedriver) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v: Value = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Browser {
            http,
            session: format!("{}/session/{id}", driver.base),
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        assert!(
            v["value"].get("error").is_none(),
            "WebDriver {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Polls `script` until it returns something truthy; returns it.
    async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let v = self.js(script, args.clone()).await;
            if !(v.is_null() || v == json!(false)) {
                return v;
            }
            if tokio::time::Instant::now() > end {
                let body = self.js("return document.body.innerText", json!([])).await;
                panic!("timed out waiting for {what}; page text:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap());
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    } as u32;
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

/// A paced run (so progress is visible) over `lead_ids`, dialing at any hour.
async fn paced_run(api: &Api, t: &Tenant, lead_ids: &[i64], cps: f64) -> i64 {
    let (st, v) = api
        .post(
            "/api/outbound/runs",
            &t.key,
            json!({"lead_ids": lead_ids, "flow": "default-flow", "dialer": "sim-dialer",
                   "settings": {"concurrency": 2, "max_attempts": 1, "calls_per_second": cps,
                                "calling_window": {"start": "00:00", "end": "24:00"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

const ROW: &str = "const r = document.querySelector(`#runs tr[data-run-id=\"${arguments[0]}\"]`); \
                   return r ? {status: r.dataset.status, percent: Number(r.dataset.percent)} : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_logs_in_streams_progress_and_cancels() {
    let mut api = Api::sqlite().await;
    // Small batches: the cursor (and so the bar) moves several times per run.
    api.worker(|c| c.batch_size = 4).await;
    let admin = api.admin_key().await;
    let t = api.tenant("dashboard").await;
    api.install_sim_dialer(&admin).await;
    api.install_default_flow(&t).await;
    let leads = api.import_leads(&t, 240).await;

    let driver = Chromedriver::start().await;
    let browser = Browser::new(&driver).await;
    browser.goto(&format!("{}/", api.base)).await;

    // A wrong key is refused with a message; the right one logs in.
    browser.type_into("#api-key", "dp_wrong_key").await;
    browser.click("#login-button").await;
    let err = browser
        .wait_for(
            "the login error",
            "const e = document.getElementById('login-error'); return !e.hidden && e.textContent;",
            json!([]),
        )
        .await;
    assert!(err.as_str().unwrap().contains("401"), "{err}");
    browser.type_into("#api-key", &t.key).await;
    browser.click("#login-button").await;
    browser
        .wait_for(
            "the runs panel",
            "return document.body.dataset.loggedIn === 'true' && !document.getElementById('runs-panel').hidden;",
            json!([]),
        )
        .await;
    let stored = browser
        .js(
            "return sessionStorage.getItem('dialplane.apiKey')",
            json!([]),
        )
        .await;
    assert_eq!(stored, json!(t.key), "the key is kept in sessionStorage");

    // Run 1: created after login; the page picks it up and streams it to 100%.
    // Paced to take ~5 s: longer than the page's list refresh, which is how
    // it discovers new runs.
    let run1 = paced_run(&api, &t, &leads[..40], 8.0).await;
    let mut seen = std::collections::BTreeSet::new();
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let row = browser.js(ROW, json!([run1])).await;
        if let Some(p) = row.get("percent").and_then(Value::as_i64) {
            seen.insert(p);
        }
        if row["status"] == json!("completed") && row["percent"] == json!(100) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "run {run1} row: {row}; seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.iter().any(|&p| p > 0 && p < 100),
        "progress jumped straight to 100%: {seen:?}"
    );

    // Its detail: outcome counts and the latest attempts.
    browser
        .click(&format!("#runs tr[data-run-id=\"{run1}\"] td.run-id"))
        .await;
    let outcomes = browser
        .wait_for(
            "outcome counts",
            "const rows = [...document.querySelectorAll('#detail-outcomes tbody tr[data-label]')]; \
             return document.getElementById('detail').dataset.status === 'completed' && rows.length > 0 \
               && rows.map(r => [r.dataset.label, Number(r.cells[1].textContent)]);",
            json!([]),
        )
        .await;
    let total: i64 = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .sum();
    let (_, api_run) = api.get(&format!("/api/outbound/runs/{run1}"), &t.key).await;
    let api_total: i64 = api_run["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(total, api_total, "page {outcomes} vs API {api_run}");
    let attempts = browser
        .wait_for(
            "latest attempts",
            "const n = document.querySelectorAll('#detail-attempts tbody tr').length; \
             return n > 1 && n;",
            json!([]),
        )
        .await;
    assert!(attempts.as_i64().unwrap() >= 20, "{attempts}");
    // Each attempt shows the compliance record: the lead's zone and local time.
    let zone = browser
        .js(
            "const r = document.querySelector('#detail-attempts tbody tr'); \
             return [r.cells[6].textContent, r.cells[7].textContent];",
            json!([]),
        )
        .await;
    assert_eq!(zone[0], json!("America/New_York"), "{zone}");
    assert_ne!(zone[1], json!("—"), "{zone}");
    // And the flow's note, as the jobs API returns it (default-flow writes
    // none: "—").
    let note = browser
        .js(
            "const h = [...document.querySelectorAll('#detail-attempts thead th')]; \
             const r = document.querySelector('#detail-attempts tbody tr'); \
             return [h[8].textContent, r.cells[8].textContent];",
            json!([]),
        )
        .await;
    assert_eq!(note, json!(["Note", "—"]), "{note}");
    let shot = browser.screenshot("dashboard-completed.png").await;
    eprintln!("screenshot: {}", shot.display());

    // Run 2: slow; cancel it from the page once it is moving.
    let run2 = paced_run(&api, &t, &leads[40..], 10.0).await;
    browser
        .wait_for(
            "run 2 moving",
            "const r = document.querySelector(`#runs tr[data-run-id=\"${arguments[0]}\"]`); \
             return r && r.dataset.status === 'running' && Number(r.dataset.percent) > 0;",
            json!([run2]),
        )
        .await;
    browser
        .click(&format!("button.cancel[data-run-id=\"{run2}\"]"))
        .await;
    browser
        .wait_for(
            "run 2 cancelled",
            "const r = document.querySelector(`#runs tr[data-run-id=\"${arguments[0]}\"]`); \
             return r && r.dataset.status === 'cancelled';",
            json!([run2]),
        )
        .await;
    let row = browser.js(ROW, json!([run2])).await;
    assert_eq!(row["status"], json!("cancelled"));
    let cancelled_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // The cancel button is gone for a finished run.
    let buttons = browser
        .js(
            "return document.querySelectorAll(`button.cancel[data-run-id=\"${arguments[0]}\"]`).length",
            json!([run2]),
        )
        .await;
    assert_eq!(buttons, json!(0));
    let (_, v) = api.get(&format!("/api/outbound/runs/{run2}"), &t.key).await;
    assert_eq!(v["status"], json!("cancelled"), "{v}");
    assert!(v["cancel_requested"] == json!(true), "{v}");

    // The run stopped: no call placed by the sim dialer after the page saw
    // it cancelled, and far fewer calls than leads.
    let placements =
        dialplane::demo::sim_ledger::placements_of_run(api.db.as_ref(), t.id.into(), run2)
            .await
            .unwrap();
    assert_eq!(
        dialplane::demo::sim_ledger::placed_after(&placements, cancelled_at),
        0
    );
    assert!(placements.len() < 200, "{} calls", placements.len());
    let shot = browser.screenshot("dashboard-cancelled.png").await;
    eprintln!("screenshot: {}", shot.display());

    // Logging out forgets the key.
    browser.click("#logout").await;
    let stored = browser
        .js(
            "return sessionStorage.getItem('dialplane.apiKey')",
            json!([]),
        )
        .await;
    assert_eq!(stored, Value::Null);
    browser.quit().await;
}

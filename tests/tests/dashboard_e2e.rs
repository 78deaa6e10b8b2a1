//! The dashboard end to end in headless Chromium, driven over the W3C
//! WebDriver protocol (chromedriver started by the test on a free port; the
//! protocol is a handful of JSON calls, so a small client here does it).
//!
//! A real server (API + dashboard) over SQLite with a real worker: log in
//! with a tenant key, create a run through the API and watch its row move
//! live to 100% (an intermediate percentage must be seen: the page really
//! streams); open the run by its URL (`#/runs/N`): outcome counts as the
//! API says, one page of jobs fetched once (resource timing counts the
//! fetches); filter by outcome (the server filters; one more fetch); open a
//! job's timeline and go back; pause, resume and cancel a second run through
//! the in-page confirmation (calling the first cancel off) and see it stop —
//! zero calls placed after the cancel by the sim dialer's ledger, and a bar
//! that is not a full 100%; at 420 and 360 px no view scrolls sideways; dark
//! mode (emulated `prefers-color-scheme`) gives a dark page. Every
//! screenshot is decoded and checked: the viewport's size, and light or
//! dark by its mean luminance.

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

    /// Clicks the element `css` selects; if the page replaced it between
    /// the lookup and the click (a live update), looks it up again.
    async fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.element(css).await;
            let v: Value = self
                .http
                .post(format!("{}/element/{id}/click", self.session))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match v["value"].get("error").and_then(Value::as_str) {
                None => return,
                Some("stale element reference") => continue,
                Some(_) => panic!("WebDriver click {css}: {}", v["value"]),
            }
        }
        panic!("{css} kept being replaced");
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

    /// Takes a screenshot, saves it under the target's tmp dir and checks
    /// it: a PNG exactly the size of the viewport (CSS px × device pixel
    /// ratio). Returns its mean luminance (0..=255).
    async fn screenshot(&self, name: &str) -> f64 {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap());
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, &png).unwrap();
        let shot = Png::decode(&png);
        let view = self
            .js(
                "return [Math.round(innerWidth * devicePixelRatio), \
                         Math.round(innerHeight * devicePixelRatio)]",
                json!([]),
            )
            .await;
        assert_eq!(
            json!([shot.width, shot.height]),
            view,
            "{name}: the screenshot is the viewport"
        );
        eprintln!(
            "screenshot {}: {}x{}, mean luminance {:.0}",
            path.display(),
            shot.width,
            shot.height,
            shot.luminance
        );
        shot.luminance
    }

    /// Resizes the window so that the viewport is `width` CSS px wide.
    async fn viewport_width(&self, width: i64) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": 900})),
        )
        .await;
        // Headless windows have no frame, but check rather than assume.
        let inner = self.js("return innerWidth", json!([])).await;
        if inner != json!(width) {
            let outer = width + (width - inner.as_i64().unwrap());
            self.cmd(
                reqwest::Method::POST,
                "/window/rect",
                Some(json!({"width": outer, "height": 900})),
            )
            .await;
        }
        self.wait_for(
            "the viewport width",
            "return innerWidth === arguments[0]",
            json!([width]),
        )
        .await;
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// A decoded screenshot: its size and mean luminance.
struct Png {
    width: u32,
    height: u32,
    luminance: f64,
}

impl Png {
    fn decode(bytes: &[u8]) -> Png {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).expect("a PNG frame");
        let channels = frame.color_type.samples();
        assert!(channels >= 3, "{:?}", frame.color_type);
        let px = &buf[..frame.buffer_size()];
        let (mut sum, mut n) = (0f64, 0f64);
        for p in px.chunks(channels) {
            sum += 0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64;
            n += 1.0;
        }
        Png {
            width: frame.width,
            height: frame.height,
            luminance: sum / n,
        }
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

/// The run view's state: `[status, percent done, percent never called]`.
const DETAIL: &str = "const d = document.getElementById('detail'); \
     const p = document.getElementById('detail-progress'); \
     return d.hidden ? null : [d.dataset.status, Number(p.dataset.percent), Number(p.dataset.cancelled)];";

/// The page's fetches of job pages (`/jobs?...`, not one job's detail).
const JOB_FETCHES: &str = "return performance.getEntriesByType('resource') \
     .filter(e => /\\/jobs\\?/.test(e.name)).map(e => [e.name, e.encodedBodySize]);";

/// No horizontal scroll of the page itself.
const NO_SIDEWAYS: &str = "return [document.documentElement.scrollWidth, innerWidth];";

async fn assert_fits(browser: &Browser, what: &str) {
    let v = browser.js(NO_SIDEWAYS, json!([])).await;
    assert!(
        v[0].as_i64().unwrap() <= v[1].as_i64().unwrap(),
        "{what}: the page scrolls sideways (scrollWidth, innerWidth) = {v}"
    );
}

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

    // Run 1: created after login; the list (polled while on screen) picks it
    // up and its event stream moves it to 100%. Paced to take ~10 s: longer
    // than the list's refresh, which is how the page discovers new runs.
    let run1 = paced_run(&api, &t, &leads[..40], 4.0).await;
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
    let light = browser.screenshot("dashboard-runs.png").await;
    assert!(light > 170.0, "the light page is light: {light:.0}");

    // The run's own URL, opened directly (a fresh load: the key comes back
    // from sessionStorage, the hash names the view).
    browser.goto(&format!("{}/#/runs/{run1}", api.base)).await;
    let outcomes = browser
        .wait_for(
            "outcome counts",
            "const rows = [...document.querySelectorAll('#detail-outcomes tbody tr[data-label]')]; \
             return document.getElementById('detail').dataset.status === 'completed' && rows.length > 0 \
               && rows.map(r => [r.dataset.label, Number(r.cells[1].textContent)]);",
            json!([]),
        )
        .await;
    let (_, api_run) = api.get(&format!("/api/outbound/runs/{run1}"), &t.key).await;
    let page_counts: serde_json::Map<String, Value> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].clone()))
        .collect();
    assert_eq!(
        Value::Object(page_counts),
        api_run["counts"],
        "page vs API {api_run}"
    );
    let rows = browser
        .wait_for(
            "the jobs page",
            "const n = document.querySelectorAll('#detail-attempts tbody tr[data-job-id]').length; \
             return n > 0 && n;",
            json!([]),
        )
        .await;
    assert_eq!(rows, json!(40), "one page holds the run's 40 jobs");
    // Each job shows the compliance record: allowed, the lead's zone and
    // local time; and the flow's note (default-flow writes none: "—").
    let first = browser
        .js(
            "const h = [...document.querySelectorAll('#detail-attempts thead th')].map(c => c.textContent); \
             const r = document.querySelector('#detail-attempts tbody tr'); \
             return [h, [...r.cells].map(c => c.textContent)];",
            json!([]),
        )
        .await;
    assert_eq!(first[0][5], json!("Verdict"), "{first}");
    assert_eq!(
        first[1][5],
        json!("allowed"),
        "an allowed call names no rule: {first}"
    );
    assert_eq!(first[1][6], json!("America/New_York"), "{first}");
    assert_ne!(first[1][7], json!("—"), "{first}");
    assert_eq!((&first[0][8], &first[1][8]), (&json!("Note"), &json!("—")));
    // Times are UTC with Z.
    assert!(first[1][9].as_str().unwrap().ends_with('Z'), "{first}");
    let fetches = browser.js(JOB_FETCHES, json!([])).await;
    assert_eq!(
        fetches.as_array().unwrap().len(),
        1,
        "a finished run's page fetches its job page once: {fetches}"
    );
    assert!(
        fetches[0][0].as_str().unwrap().contains("limit=50"),
        "{fetches}"
    );

    // Filter by an outcome: the server returns only those jobs.
    let (outcome, n) = api_run["counts"]
        .as_object()
        .unwrap()
        .iter()
        .max_by_key(|(_, n)| n.as_i64().unwrap())
        .map(|(o, n)| (o.clone(), n.as_i64().unwrap()))
        .unwrap();
    browser.type_into("#f-outcome", &outcome).await;
    browser.click("#f-apply").await;
    let filtered = browser
        .wait_for(
            "the filtered page",
            "if (!location.hash.includes('outcome=')) return null; \
             const rows = [...document.querySelectorAll('#detail-attempts tbody tr[data-job-id]')]; \
             return rows.length > 0 && rows.every(r => r.dataset.outcome === arguments[0]) \
               && rows.length;",
            json!([outcome]),
        )
        .await;
    assert_eq!(filtered, json!(n), "{outcome}: page vs API counts");
    let fetches = browser.js(JOB_FETCHES, json!([])).await;
    let fetches = fetches.as_array().unwrap();
    assert_eq!(fetches.len(), 2, "{fetches:?}");
    let filtered_url = fetches[1][0].as_str().unwrap();
    assert!(
        filtered_url.contains(&format!("outcome={outcome}")) && filtered_url.contains("limit=50"),
        "the filter is applied by the server: {filtered_url}"
    );
    eprintln!("job page fetches: {fetches:?}");

    // A job's detail: the attempt timeline, and back to the filtered page.
    let job_id = browser
        .js(
            "return Number(document.querySelector('#detail-attempts tbody tr[data-job-id]').dataset.jobId)",
            json!([]),
        )
        .await;
    browser
        .click(&format!(
            "#detail-attempts tr[data-job-id=\"{job_id}\"] td.job-id a"
        ))
        .await;
    let facts = browser
        .wait_for(
            "the job view",
            "const j = document.getElementById('job'); \
             const items = document.querySelectorAll('#job-timeline li[data-decision]'); \
             if (j.hidden || items.length === 0) return null; \
             const f = {}; \
             for (const dd of document.querySelectorAll('#job dd')) f[dd.dataset.fact] = dd.textContent; \
             return [location.hash, f, items[0].querySelector('.attempt-head').textContent];",
            json!([]),
        )
        .await;
    assert_eq!(
        facts[0],
        json!(format!("#/runs/{run1}/jobs/{job_id}")),
        "{facts}"
    );
    assert_eq!(facts[1]["Outcome"], json!(outcome), "{facts}");
    assert_eq!(facts[1]["Verdict"], json!("allowed"), "{facts}");
    assert!(
        facts[1]["Phone"].as_str().unwrap().starts_with("+1415555"),
        "{facts}"
    );
    assert!(
        facts[1]["Placed"].as_str().unwrap().ends_with('Z'),
        "{facts}"
    );
    assert!(
        facts[1]["Ended"].as_str().unwrap().ends_with('Z'),
        "{facts}"
    );
    assert!(facts[2].as_str().unwrap().contains("allowed"), "{facts}");
    browser.screenshot("dashboard-job.png").await;
    browser.js("history.back()", json!([])).await;
    browser
        .wait_for(
            "back on the filtered run",
            "return !document.getElementById('detail').hidden \
               && document.getElementById('f-outcome').value === arguments[0] \
               && document.querySelectorAll('#detail-attempts tbody tr[data-job-id]').length === arguments[1];",
            json!([outcome, n]),
        )
        .await;

    // Run 2: slow. Pause it (confirmed), resume it, then cancel it: the
    // first cancel is called off in the dialog, the second confirmed.
    let run2 = paced_run(&api, &t, &leads[40..], 10.0).await;
    browser.goto(&format!("{}/#/runs/{run2}", api.base)).await;
    browser
        .wait_for(
            "run 2 moving",
            &format!(
                "const v = (() => {{ {DETAIL} }})(); return v && v[0] === 'running' && v[1] > 0;"
            ),
            json!([]),
        )
        .await;
    // A job marked for a batch says `reserved` until its call is placed,
    // then `placed`: the page never shows the stored `dialing`.
    let states = browser
        .wait_for(
            "run 2's jobs page",
            "const rows = [...document.querySelectorAll('#detail-attempts tbody tr[data-job-id]')]; \
             return rows.length > 0 && rows.map(r => r.dataset.state);",
            json!([]),
        )
        .await;
    assert!(
        states.as_array().unwrap().iter().all(|s| s != "dialing"),
        "{states}"
    );
    browser.click("#detail-actions button.pause").await;
    browser
        .wait_for(
            "the pause dialog",
            "return document.getElementById('confirm').open",
            json!([]),
        )
        .await;
    browser.click("#confirm-ok").await;
    browser
        .wait_for(
            "run 2 paused",
            &format!("const v = (() => {{ {DETAIL} }})(); return v && v[0] === 'paused';"),
            json!([]),
        )
        .await;
    let (_, v) = api.get(&format!("/api/outbound/runs/{run2}"), &t.key).await;
    assert_eq!(v["status"], json!("paused"), "{v}");
    browser.screenshot("dashboard-paused.png").await;
    browser.click("#detail-actions button.resume").await;
    browser
        .wait_for(
            "run 2 resumed",
            &format!(
                "const v = (() => {{ {DETAIL} }})(); return v && v[0] === 'running' \
                      && document.querySelector('#detail-actions button.pause');"
            ),
            json!([]),
        )
        .await;
    browser
        .click(&format!(
            "#detail-actions button.cancel[data-run-id=\"{run2}\"]"
        ))
        .await;
    browser
        .wait_for(
            "the cancel dialog",
            "return document.getElementById('confirm').open",
            json!([]),
        )
        .await;
    browser.click("#confirm-no").await;
    let kept = browser
        .js(
            &format!("const v = (() => {{ {DETAIL} }})(); return [document.getElementById('confirm').open, v[0]];"),
            json!([]),
        )
        .await;
    assert_eq!(
        kept,
        json!([false, "running"]),
        "calling the cancel off keeps the run"
    );
    let (_, v) = api.get(&format!("/api/outbound/runs/{run2}"), &t.key).await;
    assert_eq!(v["cancel_requested"], json!(false), "{v}");
    browser
        .click(&format!(
            "#detail-actions button.cancel[data-run-id=\"{run2}\"]"
        ))
        .await;
    browser
        .wait_for(
            "the cancel dialog again",
            "return document.getElementById('confirm').open",
            json!([]),
        )
        .await;
    browser.click("#confirm-ok").await;
    let cancelled = browser
        .wait_for(
            "run 2 cancelled",
            &format!("const v = (() => {{ {DETAIL} }})(); return v && v[0] === 'cancelled' && v;"),
            json!([]),
        )
        .await;
    let cancelled_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // The bar shows what was called and what never will be, not a full 100%.
    let (done, never) = (
        cancelled[1].as_i64().unwrap(),
        cancelled[2].as_i64().unwrap(),
    );
    assert!(
        done < 100 && never > 0 && done + never <= 100,
        "{cancelled}"
    );
    // No action is left for a finished run.
    let buttons = browser
        .js(
            "return document.querySelectorAll('#detail-actions button').length",
            json!([]),
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
    browser.screenshot("dashboard-cancelled.png").await;

    // 200 jobs: the page holds 50, and Next fetches the next 50 only.
    let first_page = browser
        .wait_for(
            "run 2's first page",
            "const ids = [...document.querySelectorAll('#detail-attempts tbody tr[data-job-id]')] \
               .map(r => Number(r.dataset.jobId)); \
             return ids.length === 50 && !document.getElementById('page-next').disabled && ids;",
            json!([]),
        )
        .await;
    browser.click("#page-next").await;
    let second_page = browser
        .wait_for(
            "run 2's second page",
            "if (!location.hash.includes('cursor=')) return null; \
             const ids = [...document.querySelectorAll('#detail-attempts tbody tr[data-job-id]')] \
               .map(r => Number(r.dataset.jobId)); \
             return ids.length === 50 && ids[0] > arguments[0] && ids;",
            json!([first_page[49]]),
        )
        .await;
    assert!(second_page[0].as_i64() > first_page[49].as_i64());
    let fetches = browser.js(JOB_FETCHES, json!([])).await;
    let bytes: i64 = fetches
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[1].as_i64().unwrap())
        .sum();
    assert!(
        fetches
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f[0].as_str().unwrap().contains("limit=50")),
        "{fetches}"
    );
    eprintln!(
        "run 2 (200 jobs): {} job page fetches, {bytes} bytes",
        fetches.as_array().unwrap().len()
    );

    // A phone: at 420 and 360 px nothing scrolls sideways (tables become
    // cards), on every view.
    for width in [420, 360] {
        browser.viewport_width(width).await;
        browser.goto(&format!("{}/#/", api.base)).await;
        browser
            .wait_for(
                "the runs list",
                "return document.querySelectorAll('#runs tbody tr').length >= 2",
                json!([]),
            )
            .await;
        assert_fits(&browser, &format!("runs at {width} px")).await;
        browser
            .screenshot(&format!("dashboard-runs-{width}.png"))
            .await;
        browser.goto(&format!("{}/#/runs/{run2}", api.base)).await;
        browser
            .wait_for(
                "the run view",
                "return document.querySelectorAll('#detail-attempts tbody tr[data-job-id]').length > 0",
                json!([]),
            )
            .await;
        assert_fits(&browser, &format!("run at {width} px")).await;
        browser
            .screenshot(&format!("dashboard-run-{width}.png"))
            .await;
        browser
            .goto(&format!("{}/#/runs/{run1}/jobs/{job_id}", api.base))
            .await;
        browser
            .wait_for(
                "the job view",
                "return document.querySelectorAll('#job-timeline li[data-decision]').length > 0",
                json!([]),
            )
            .await;
        assert_fits(&browser, &format!("job at {width} px")).await;
    }

    // Dark mode, as the system asks for it (emulated through CDP): a dark
    // background, and a dark screenshot.
    browser
        .cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await;
    browser.goto(&format!("{}/#/runs/{run1}", api.base)).await;
    let bg = browser
        .wait_for(
            "the dark page",
            "if (document.querySelectorAll('#detail-attempts tbody tr[data-job-id]').length === 0) return null; \
             const m = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number); \
             return 0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2] < 60 && m;",
            json!([]),
        )
        .await;
    let dark = browser.screenshot("dashboard-dark.png").await;
    assert!(dark < 70.0, "the dark page is dark: {dark:.0} (body {bg})");
    // The theme button overrides the system's choice.
    browser.click("#theme").await; // auto → light
    let light_bg = browser
        .js(
            "return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]",
            json!([]),
        )
        .await;
    assert_eq!(light_bg[0], json!("light"), "{light_bg}");
    assert_eq!(light_bg[1], json!("rgb(246, 247, 249)"), "{light_bg}");

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

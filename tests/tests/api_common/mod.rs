//! Shared by the `api_*` tests: a real server on 127.0.0.1:0 over a real
//! database, a real HTTP client, tenants and keys, and small helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dialplane::api::{ApiConfig, AppState};
use dialplane::lifecycle::{StopHandle, Worker, WorkerConfig, stop_pair};
use dialplane::runtime::PluginHost;
use dialplane::store::{self, Store};
use dialplane_tests::pg;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    /// The owner's store (no RLS): fixtures and checks behind the API's back.
    pub db: Arc<dyn Store>,
    pub url: String,
    pub plugins: Arc<PluginHost>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    workers: Vec<(StopHandle, tokio::task::JoinHandle<anyhow::Result<()>>)>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Tenant {
    pub id: i64,
    pub key: String,
}

impl Api {
    /// A server on a fresh PostgreSQL database.
    pub async fn pg() -> Api {
        Self::pg_with(ApiConfig::default()).await
    }

    pub async fn pg_with(config: ApiConfig) -> Api {
        let url = pg::fresh_database().await.expect("postgres");
        Self::start(url, config, None).await
    }

    /// A server on the PostgreSQL database at `url`.
    pub async fn pg_at(url: String) -> Api {
        Self::start(url, ApiConfig::default(), None).await
    }

    /// A server on a fresh SQLite file.
    pub async fn sqlite() -> Api {
        let (url, dir) = dialplane_tests::sqlite_url().unwrap();
        Self::start(url, ApiConfig::default(), Some(dir)).await
    }

    async fn start(url: String, config: ApiConfig, dir: Option<tempfile::TempDir>) -> Api {
        let plugins = Arc::new(dialplane_tests::host());
        let state = AppState::connect(&url, Arc::clone(&plugins), config)
            .await
            .expect("api state");
        let db = store::connect(&url).await.expect("owner store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        tokio::spawn(async move {
            dialplane::api::serve(listener, st, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Api {
            base,
            // A fresh connection per request: the server closes a
            // connection whose request body it refused unread (413, bad
            // JSON), and a pooled client could send the next request on it
            // as it closes (hyper's `IncompleteMessage`, seen in CI).
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("http client"),
            state,
            db,
            url,
            plugins,
            stop: Some(tx),
            workers: Vec::new(),
            _dir: dir,
        }
    }

    /// Starts an in-process worker on the same database.
    pub async fn worker(&mut self, cfg: impl FnOnce(&mut WorkerConfig)) {
        let mut c = WorkerConfig::new();
        c.poll_interval = Duration::from_millis(20);
        cfg(&mut c);
        let (handle, stop) = stop_pair();
        let db = store::connect(&self.url).await.unwrap();
        // As `dialplane serve` does: the worker counts into the API's metrics.
        let w = Worker::reporting_to(
            db,
            Arc::clone(&self.plugins),
            None,
            c,
            stop,
            self.state.metrics.clone(),
        )
        .await
        .unwrap();
        self.workers.push((handle, tokio::spawn(w.start())));
    }

    /// Stops the in-process workers and waits until they have ended, so
    /// nothing but requests changes the data afterwards.
    pub async fn stop_workers(&mut self) {
        for (handle, task) in self.workers.drain(..) {
            handle.stop();
            task.await.expect("worker task").expect("worker");
        }
    }

    pub async fn tenant(&self, name: &str) -> Tenant {
        let id = self.db.create_tenant(name).await.unwrap();
        let key = self.db.create_api_key(Some(id)).await.unwrap().plaintext;
        Tenant { id: id.get(), key }
    }

    pub async fn admin_key(&self) -> String {
        self.db.create_api_key(None).await.unwrap().plaintext
    }

    /// A request with an optional bearer key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    /// A request with a raw body and content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        ct: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", ct)
            .body(body);
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Installs the built-in sim-dialer through the admin API.
    pub async fn install_sim_dialer(&self, admin: &str) {
        self.install_dialer(admin, "sim-dialer", dialplane::builtin::SIM_DIALER)
            .await;
    }

    /// Installs (and, being the first version, activates) dialer `name`.
    pub async fn install_dialer(&self, admin: &str, name: &str, wasm: &[u8]) {
        let (st, v) = self
            .raw(
                Method::PUT,
                &format!("/api/admin/dialers/{name}"),
                Some(admin),
                "application/wasm",
                wasm.to_vec(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }

    /// Uploads (and, being the first version, activates) flow `name` for `t`.
    pub async fn install_flow(&self, t: &Tenant, name: &str, wasm: &[u8]) {
        let (st, v) = self
            .raw(
                Method::PUT,
                &format!("/api/plugins/flows/{name}"),
                Some(&t.key),
                "application/wasm",
                wasm.to_vec(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }

    /// Uploads the built-in default-flow for tenant `t`.
    pub async fn install_default_flow(&self, t: &Tenant) {
        self.install_flow(t, "default-flow", dialplane::builtin::DEFAULT_FLOW)
            .await;
    }

    /// Waits until the first job of `run` has a placed call and returns its
    /// provider call id (panics after 30 s).
    pub async fn placed_call_id(&self, t: &Tenant, run: i64) -> String {
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (_, j) = self
                .get(&format!("/api/outbound/runs/{run}/jobs"), &t.key)
                .await;
            let id = j["items"][0]["attempts"]
                .as_array()
                .and_then(|a| a.iter().find_map(|a| a["provider_call_id"].as_str()))
                .map(str::to_string);
            if let Some(id) = id {
                return id;
            }
            assert!(tokio::time::Instant::now() < end, "call never placed: {j}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Imports `n` leads `L-1..L-n` with phones ending in `digit` pattern.
    pub async fn import_leads(&self, t: &Tenant, n: usize) -> Vec<i64> {
        let leads: Vec<Value> = (1..=n)
            .map(|i| json!({"external_id": format!("L-{i}"), "phone": format!("+1415555{:04}", i % 10000),
                            "timezone": "America/New_York", "tags": ["t"]}))
            .collect();
        let (st, v) = self.post("/api/leads", &t.key, Value::Array(leads)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["errors"], json!([]), "{v}");
        v["stored"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }

    /// Creates a run over `lead_ids` with default-flow and sim-dialer, dialing at any hour.
    pub async fn create_run(&self, t: &Tenant, lead_ids: &[i64], concurrency: u32) -> Value {
        let (st, v) = self
            .post(
                "/api/outbound/runs",
                &t.key,
                json!({"lead_ids": lead_ids, "flow": "default-flow", "dialer": "sim-dialer",
                       "settings": {"concurrency": concurrency, "max_attempts": 1,
                                    "calling_window": {"start": "00:00", "end": "24:00"}}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v
    }

    /// The Prometheus text of `/metrics` (no key needed).
    pub async fn metrics(&self) -> String {
        self.metrics_at("/metrics").await
    }

    /// The fleet-wide gauges (`/metrics/fleet`).
    pub async fn fleet_metrics(&self) -> String {
        self.metrics_at("/metrics/fleet").await
    }

    async fn metrics_at(&self, path: &str) -> String {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }

    /// Polls the run until `cond` holds (or panics after `within`).
    pub async fn wait_run(
        &self,
        t: &Tenant,
        id: i64,
        within: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let end = tokio::time::Instant::now() + within;
        loop {
            let (st, v) = self.get(&format!("/api/outbound/runs/{id}"), &t.key).await;
            assert_eq!(st, StatusCode::OK, "{v}");
            if cond(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "run {id} never reached the condition: {v}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        for (w, _) in &self.workers {
            w.stop();
        }
    }
}

/// Asserts the error shape and returns the code.
pub fn error_code(v: &Value) -> String {
    let e = v.get("error").unwrap_or_else(|| {
        let t = v.to_string();
        panic!("not an error body: {}", &t[..t.len().min(500)])
    });
    assert!(e["message"].is_string(), "{v}");
    assert!(e.get("field").is_some(), "{v}");
    e["code"].as_str().unwrap().to_string()
}

//! `dialplane bench api [--database-url URL] [--json]`: an HTTP load check
//! on loopback. Starts the real API (no workers) on 127.0.0.1:0 over the
//! given database (a temporary SQLite file by default), creates a tenant, a
//! run and a callback token, then drives two endpoints in turn with
//! [`CONNECTIONS`] keep-alive HTTP/1.1 connections for `--secs` each:
//!
//! - `GET /api/outbound/runs/{id}` (auth, RLS scope, run + counts + flow)
//!   of a run of `--run-jobs` jobs ([`RUN_JOBS_DEFAULT`]);
//! - `POST /api/callbacks/{token}` (token lookup, the sim-dialer's
//!   `parse-callback` in a fresh wasm instance, the call state machine —
//!   for a provider call id no attempt has, i.e. the full lookup path);
//! - the timing-tell pair: `GET /api/outbound/runs/{id}` by a second
//!   tenant for the first one's run (404, plus a security event written off
//!   the response path) and for a run nobody has (404), interleaved on the
//!   same connections as a prober would send them. Their medians should
//!   match: the answer must not reveal which ids exist.
//!
//! Prints requests/s and p50/p99 latency per endpoint as one JSON line, and
//! for each the API pool's connections handed out per request and their
//! mean wait (`pool_acquires_per_request`, `pool_wait_mean_us`): how much
//! of the latency is queueing for a database connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;

use crate::api::{ApiConfig, AppState};
use crate::lifecycle::RunSettings;
use crate::model::LeadId;
use crate::process_metrics::{API_POOL, Metrics};
use crate::runtime::{Limits, PluginHost, PluginKind};
use crate::store::{LeadInput, RunSpec};

/// Concurrent connections, as the issue asks.
pub const CONNECTIONS: usize = 64;
/// Jobs in the run `GET /api/outbound/runs/{id}` reads (its counts must
/// not cost more with more jobs).
pub const RUN_JOBS_DEFAULT: usize = 100_000;
/// Leads upserted per store call while building the run.
const LEAD_CHUNK: usize = 5_000;
/// A run id no tenant has (the timing-tell pair's "nonexistent" side).
const MISSING_RUN_ID: i64 = 999_999_999;

#[derive(Debug, clap::Args)]
pub struct ApiBenchArgs {
    /// postgres://… or sqlite:… (default: a temporary SQLite file). Only
    /// this flag: a load test never follows `DATABASE_URL` to whatever
    /// database the environment points at.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Seconds of load per endpoint.
    #[arg(long, default_value_t = 5)]
    pub secs: u64,
    /// Jobs in the run the GET reads.
    #[arg(long, default_value_t = RUN_JOBS_DEFAULT)]
    pub run_jobs: usize,
    /// Print one JSON object (otherwise a short table).
    #[arg(long)]
    pub json: bool,
}

struct Load {
    requests: usize,
    errors: usize,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
}

/// The API pool's acquires and their summed wait, read before and after a
/// load.
#[derive(Clone, Copy)]
struct PoolWaits {
    acquires: u64,
    waited: Duration,
}

impl PoolWaits {
    fn now(metrics: &Metrics) -> PoolWaits {
        let (acquires, waited) = metrics.pool_wait_totals(API_POOL);
        PoolWaits { acquires, waited }
    }

    /// `load`'s JSON, with its connections per request and their mean wait
    /// since `before`.
    fn load_json(self, before: PoolWaits, load: &Load) -> serde_json::Value {
        let acquires = self.acquires.saturating_sub(before.acquires);
        let waited = self.waited.saturating_sub(before.waited);
        serde_json::json!({
            "requests": load.requests, "errors": load.errors, "rps": load.rps.round(),
            "p50_us": load.p50_us, "p99_us": load.p99_us,
            "pool_acquires_per_request":
                (acquires as f64 / load.requests.max(1) as f64 * 100.0).round() / 100.0,
            "pool_wait_mean_us": waited.as_micros() as u64 / acquires.max(1),
        })
    }
}

type MakeRequest = Arc<dyn Fn() -> Request<Full<Bytes>> + Send + Sync>;

async fn drive(addr: std::net::SocketAddr, secs: u64, make: MakeRequest) -> anyhow::Result<Load> {
    let mut loads = drive_mix(addr, secs, vec![make]).await?;
    Ok(loads.remove(0))
}

/// Drives `makes` interleaved: each connection sends them in turn, so every
/// kind of request sees the same load (and the same background work, such
/// as the security events one kind queues). One [`Load`] per kind.
async fn drive_mix(
    addr: std::net::SocketAddr,
    secs: u64,
    makes: Vec<MakeRequest>,
) -> anyhow::Result<Vec<Load>> {
    let kinds = makes.len();
    let makes = Arc::new(makes);
    let end = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..CONNECTIONS {
        let makes = Arc::clone(&makes);
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut send, conn_task) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn_task);
            let mut lat = vec![Vec::new(); kinds];
            let mut errors = vec![0usize; kinds];
            let mut i = conn;
            while Instant::now() < end {
                let kind = i % kinds;
                i += 1;
                let t0 = Instant::now();
                let resp = send.send_request(makes[kind]()).await?;
                let ok = resp.status().is_success();
                resp.into_body().collect().await?;
                lat[kind].push(t0.elapsed().as_micros() as u64);
                if !ok {
                    errors[kind] += 1;
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    let mut all = vec![Vec::new(); kinds];
    let mut errors = vec![0usize; kinds];
    for t in tasks {
        let (lat, e) = t.await??;
        for k in 0..kinds {
            all[k].extend_from_slice(&lat[k]);
            errors[k] += e[k];
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(all
        .into_iter()
        .zip(errors)
        .map(|(mut lat, errors)| {
            lat.sort_unstable();
            let pct = |p: f64| {
                lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0)
            };
            Load {
                requests: lat.len(),
                errors,
                rps: lat.len() as f64 / elapsed,
                p50_us: pct(0.50),
                p99_us: pct(0.99),
            }
        })
        .collect())
}

pub async fn run(a: ApiBenchArgs) -> anyhow::Result<std::process::ExitCode> {
    if a.database_url.is_none() && std::env::var_os("DATABASE_URL").is_some() {
        anyhow::bail!(
            "bench api does not load-test the database in DATABASE_URL: pass it as --database-url to mean it, or unset DATABASE_URL for a temporary SQLite file"
        );
    }
    let dir = tempfile_dir()?;
    let url = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.display()));
    let plugins = Arc::new(PluginHost::new(Limits::default())?);
    let state = AppState::connect(&url, plugins, ApiConfig::default()).await?;
    let db = crate::store::connect(&url).await?;

    // Fixtures, straight through the store (the bench measures reads).
    // Tenant names are unique: a database kept between runs gets new ones.
    let run = rand::random::<u32>();
    let bid = db.create_tenant(&format!("bench-{run:08x}")).await?;
    let key = db.create_api_key(Some(bid)).await?.plaintext;
    db.insert_plugin_version(
        PluginKind::Dialer,
        None,
        "sim-dialer",
        crate::builtin::SIM_DIALER,
    )
    .await?;
    db.activate_plugin_version(PluginKind::Dialer, None, "sim-dialer", 1)
        .await?;
    db.insert_plugin_version(
        PluginKind::Flow,
        Some(bid),
        "default-flow",
        crate::builtin::DEFAULT_FLOW,
    )
    .await?;
    db.activate_plugin_version(PluginKind::Flow, Some(bid), "default-flow", 1)
        .await?;
    let mut ids: Vec<LeadId> = Vec::with_capacity(a.run_jobs);
    for chunk_start in (0..a.run_jobs.max(1)).step_by(LEAD_CHUNK) {
        let leads: Vec<LeadInput> = (chunk_start
            ..(chunk_start + LEAD_CHUNK).min(a.run_jobs.max(1)))
            .map(|i| LeadInput {
                external_id: format!("L-{i}"),
                phone: format!("+1415{i:07}"),
                timezone: Some("America/New_York".into()),
                ..LeadInput::default()
            })
            .collect();
        for r in db.upsert_leads(bid, &leads).await? {
            ids.push(match r? {
                crate::store::LeadUpsert::Created(id) | crate::store::LeadUpsert::Updated(id) => id,
            });
        }
    }
    let run_id = db
        .create_run(
            bid,
            &RunSpec {
                lead_ids: ids,
                flow: "default-flow".into(),
                flow_version: None,
                dialer: "sim-dialer".into(),
                settings: RunSettings::default(),
            },
        )
        .await?;
    let token = db.create_callback_token(bid, "sim-dialer").await?;
    let intruder = db
        .create_tenant(&format!("bench-intruder-{run:08x}"))
        .await?;
    let intruder_key = db.create_api_key(Some(intruder)).await?.plaintext;

    let metrics = Arc::clone(&state.metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::serve(listener, state, async move {
        let _ = rx.await;
    }));

    let get_path = format!("/api/outbound/runs/{run_id}");
    let auth = format!("Bearer {key}");
    let get_req: MakeRequest = Arc::new(move || {
        Request::get(get_path.as_str())
            .header("host", "127.0.0.1")
            .header("authorization", auth.as_str())
            .body(Full::new(Bytes::new()))
            .expect("request")
    });
    let cb_path = format!("/api/callbacks/{token}");
    let cb_req: MakeRequest = Arc::new(move || {
        Request::post(cb_path.as_str())
            .header("host", "127.0.0.1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(
                b"CallSid=CA0000bench&CallStatus=ringing",
            )))
            .expect("request")
    });
    let intruder_get = |path: String| -> MakeRequest {
        let auth = format!("Bearer {intruder_key}");
        Arc::new(move || {
            Request::get(path.as_str())
                .header("host", "127.0.0.1")
                .header("authorization", auth.as_str())
                .body(Full::new(Bytes::new()))
                .expect("request")
        })
    };
    let foreign_req = intruder_get(format!("/api/outbound/runs/{run_id}"));
    let missing_req = intruder_get(format!("/api/outbound/runs/{}", MISSING_RUN_ID));
    // Warm-up: compile the adapter once, fill pools.
    drive(addr, 1, Arc::clone(&cb_req)).await?;
    let before_get = PoolWaits::now(&metrics);
    let get = drive(addr, a.secs, get_req).await?;
    let before_cb = PoolWaits::now(&metrics);
    let cb = drive(addr, a.secs, cb_req).await?;
    let after_cb = PoolWaits::now(&metrics);
    let get_json = before_cb.load_json(before_get, &get);
    let cb_json = after_cb.load_json(before_cb, &cb);
    // Interleaved, as a prober would send them: the two answers compared
    // under the same load.
    let mut pair = drive_mix(addr, a.secs, vec![foreign_req, missing_req]).await?;
    let missing = pair.pop().expect("two kinds");
    let foreign = pair.pop().expect("two kinds");
    let _ = tx.send(());
    let _ = server.await;

    let engine = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let line = serde_json::json!({
        "bench": "api",
        "engine": engine,
        "connections": CONNECTIONS,
        "run_jobs": a.run_jobs.max(1),
        "secs_per_endpoint": a.secs,
        "get_run": get_json,
        "callback": cb_json,
        // Every answer is a 404 here, counted under `errors`.
        "get_run_cross_tenant_404": {"requests": foreign.requests, "rps": foreign.rps.round(), "p50_us": foreign.p50_us, "p99_us": foreign.p99_us},
        "get_run_missing_404": {"requests": missing.requests, "rps": missing.rps.round(), "p50_us": missing.p50_us, "p99_us": missing.p99_us},
        "timing_tell_p50_ratio": (foreign.p50_us as f64 / missing.p50_us.max(1) as f64 * 100.0).round() / 100.0,
    });
    if a.json {
        super::json_output::print(&line)?;
    } else {
        println!(
            "GET /api/outbound/runs/{{id}}: {:.0} req/s, p99 {} µs ({} errors)",
            get.rps, get.p99_us, get.errors
        );
        println!(
            "POST /api/callbacks/{{token}}: {:.0} req/s, p99 {} µs ({} errors)",
            cb.rps, cb.p99_us, cb.errors
        );
        println!(
            "GET another tenant's run / a missing run (404): p50 {} / {} µs",
            foreign.p50_us, missing.p50_us
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(std::process::ExitCode::SUCCESS)
}

/// A fresh private directory under the system temp dir.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "dialplane-bench-api-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

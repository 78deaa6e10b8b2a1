//! A Twilio-compatible provider simulator over real HTTP (127.0.0.1, port
//! 0), for end-to-end tests of the real provider path (`http-dialer`, the
//! callback endpoint). It speaks the Calls API (create, modify = hang up,
//! fetch, list) with basic auth, plays each call out by a rule the test
//! can compute (`To`'s last digit by default) on a scaled clock, posts
//! signed status callbacks with retries, and can duplicate, reorder and
//! pre-empt callbacks and inject 429/5xx/slow answers, deterministically
//! from a seed. Everything it did is in its [`Ledger`].
//!
//! - [`config`]: [`TwilioSimConfig`] (builder), [`Scenario`] and the default
//!   outcome rule.
//! - [`ledger`]: [`Ledger`], [`Placement`], [`CallbackSent`], [`Hangup`],
//!   [`Counters`].
//! - `api`: the REST routes, basic auth, Twilio's JSON errors and call
//!   resource.
//! - `calls`: a call's timeline, hang-ups, and callback delivery with
//!   [`signature`].

mod api;
mod calls;
pub mod config;
pub mod ledger;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinHandle};

pub use calls::signature;
pub use config::{OutcomeRule, Scenario, TwilioSimConfig};
pub use ledger::{CallbackSent, Counters, Hangup, Ledger, Placement};

/// A running simulator. Dropping it stops the server and every call.
pub struct TwilioSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl TwilioSim {
    /// Listens on 127.0.0.1 (a free port) and serves until shut down.
    pub async fn start(cfg: TwilioSimConfig) -> anyhow::Result<TwilioSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .timeout(cfg.callback_timeout)
            .build()?;
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::default(),
            version: watch::Sender::new(0),
            client,
        });
        let app = api::router(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(TwilioSim {
            shared,
            addr,
            stop: Some(stop),
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: http-dialer's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &TwilioSimConfig {
        &self.shared.cfg
    }

    /// An http-dialer configuration for this simulator: its `base_url` and
    /// credentials, `from`, a TwiML URL, `status_callback` and machine
    /// detection on.
    pub fn http_dialer_config(&self, status_callback: &str) -> Vec<(String, String)> {
        [
            ("base_url", self.base_url().as_str()),
            ("account_sid", &self.shared.cfg.account_sid),
            ("auth_token", &self.shared.cfg.auth_token),
            ("from", "+15005550006"),
            ("twiml_url", "https://twiml.example.test/voice.xml"),
            ("status_callback", status_callback),
            ("machine_detection", "Enable"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub fn ledger(&self) -> Ledger {
        self.shared.ledger()
    }

    pub fn placements_to(&self, to: &str) -> Vec<Placement> {
        self.ledger()
            .placements
            .into_iter()
            .filter(|p| p.to == to)
            .collect()
    }

    pub fn hangups(&self) -> Vec<Hangup> {
        self.ledger().hangups().into_iter().cloned().collect()
    }

    pub fn counters(&self) -> Counters {
        self.shared.state.lock().unwrap().counters.clone()
    }

    /// Waits (on change notifications, no polling) until `cond` holds for
    /// the ledger, and returns that ledger; an error showing the last
    /// ledger after `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        mut cond: impl FnMut(&Ledger) -> bool,
    ) -> anyhow::Result<Ledger> {
        let mut changes = self.shared.version.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            changes.borrow_and_update();
            let ledger = self.ledger();
            if cond(&ledger) {
                return Ok(ledger);
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                anyhow::bail!("twilio-sim: condition not met within {within:?}; {ledger:#?}");
            }
        }
    }

    /// Waits until every placed call has ended and sent all its callbacks.
    pub async fn wait_settled(&self, within: Duration) -> anyhow::Result<Ledger> {
        self.wait_for(within, Ledger::settled).await
    }

    /// Stops accepting requests and stops every call (no further callbacks).
    pub async fn shutdown(mut self) {
        self.shared.abort_calls();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A slow answer in flight may hold a connection open: don't wait long.
        let server = &mut self.server;
        if tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .is_err()
        {
            self.server.abort();
        }
    }
}

impl Drop for TwilioSim {
    fn drop(&mut self) {
        self.shared.abort_calls();
        self.server.abort();
    }
}

/// State shared by the routes and the call tasks.
pub(crate) struct Shared {
    pub cfg: TwilioSimConfig,
    pub state: Mutex<State>,
    /// Bumped on every change, for [`TwilioSim::wait_for`].
    pub version: watch::Sender<u64>,
    pub client: reqwest::Client,
}

#[derive(Default)]
pub(crate) struct State {
    pub calls: Vec<Call>,
    pub index: HashMap<String, usize>,
    /// Create requests per `To`: the second half of a call's key.
    pub attempts: HashMap<String, u32>,
    pub counters: Counters,
    pub tasks: Vec<AbortHandle>,
}

/// A call as the provider tracks it: the ledger entry plus live state.
pub(crate) struct Call {
    pub placement: Placement,
    pub status: &'static str,
    pub answered_at: Option<tokio::time::Instant>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub duration: Option<u32>,
    pub ended: bool,
    /// Ended by a hang-up whose final callback is not yet sent.
    pub hangup_pending: bool,
    /// The request's `Timeout` (ring time before no-answer).
    pub timeout_secs: u32,
    /// `StatusCallbackEvent`s subscribed to.
    pub events: Vec<String>,
    pub next_sequence: u32,
    /// Wakes the call's task early on a hang-up.
    pub wake: Arc<Notify>,
}

impl Shared {
    /// Runs `f` on the state and announces a change.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.state.lock().unwrap());
        self.version.send_modify(|v| *v += 1);
        r
    }

    pub fn ledger(&self) -> Ledger {
        let st = self.state.lock().unwrap();
        Ledger {
            placements: st.calls.iter().map(|c| c.placement.clone()).collect(),
            counters: st.counters.clone(),
        }
    }

    fn abort_calls(&self) {
        for task in self.state.lock().unwrap().tasks.drain(..) {
            task.abort();
        }
    }
}

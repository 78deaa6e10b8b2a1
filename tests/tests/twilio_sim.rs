//! The Twilio simulator (`dialplane_tests::twilio_sim`) itself, mostly
//! through the real http-dialer component: placements reach the ledger,
//! basic auth is enforced, status callbacks reach a receiving server in
//! order with a correct `X-Twilio-Signature` (checked with an independent
//! HMAC-SHA1), hang-ups end live calls with one final callback, and the
//! duplicates, out-of-order and early-final callbacks and the 429/5xx/slow
//! create answers happen as configured, reproducibly from the seed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use dialplane::builtin;
use dialplane::runtime::{
    AnsweredBy, CallRequest, CallState, DialError, DialerInstance, Limits, Outcome, Placement,
    PluginHost, PluginKind, Properties,
};
use dialplane_tests::twilio_sim::{Scenario, TwilioSim, TwilioSimConfig, signature};
use dialplane_tests::*;
use hmac::{Hmac, Mac};
use tokio::sync::mpsc;

/// Generous: these waits end on a condition, long before this on a sane machine.
const WAIT: Duration = Duration::from_secs(20);

/// One status callback as the receiving server saw it.
#[derive(Debug, Clone)]
struct Received {
    path_and_query: String,
    signature: Option<String>,
    content_type: Option<String>,
    fields: Vec<(String, String)>,
}

impl Received {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A server that receives status callbacks, answering from `answers` (then
/// 200), and hands each one to the test.
struct Receiver {
    /// Full callback URL (with a query, which the signature covers).
    url: String,
    got: mpsc::UnboundedReceiver<Received>,
}

type ReceiverState = (mpsc::UnboundedSender<Received>, Arc<Mutex<VecDeque<u16>>>);

async fn receive(
    State((tx, answers)): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |n: &str| Some(headers.get(n)?.to_str().ok()?.to_string());
    let _ = tx.send(Received {
        path_and_query: uri.to_string(),
        signature: header("x-twilio-signature"),
        content_type: header("content-type"),
        fields: form_urlencoded::parse(&body).into_owned().collect(),
    });
    let status = answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    async fn start(answers: Vec<u16>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/callbacks/7?tenant=acme&run=1",
            listener.local_addr().unwrap()
        );
        let (tx, got) = mpsc::unbounded_channel();
        let state: ReceiverState = (tx, Arc::new(Mutex::new(answers.into())));
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.got.recv())
            .await
            .expect("a callback within the wait")
            .expect("receiver open")
    }

    /// Callbacks until one with this `CallStatus` (included).
    async fn until(&mut self, status: &str) -> Vec<Received> {
        let mut seen = Vec::new();
        loop {
            let r = self.next().await;
            let done = r.get("CallStatus") == Some(status);
            seen.push(r);
            if done {
                return seen;
            }
        }
    }

    /// Checks the signature independently: HMAC-SHA1 (the `hmac` and `sha1`
    /// crates) over the URL and the sorted fields, `base64` crate encoding.
    fn assert_signed(&self, r: &Received, auth_token: &str) {
        assert!(self.url.ends_with(&r.path_and_query), "{r:?}");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.signature.as_deref(),
            Some(independent_signature(auth_token, &self.url, &r.fields).as_str()),
            "{r:?}"
        );
    }
}

fn independent_signature(token: &str, url: &str, fields: &[(String, String)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let data: String = sorted.iter().fold(url.to_string(), |mut s, (k, v)| {
        s.push_str(k);
        s.push_str(v);
        s
    });
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn statuses(rs: &[Received]) -> Vec<&str> {
    rs.iter().map(|r| r.get("CallStatus").unwrap()).collect()
}

/// A plugin host whose deadline leaves room for loopback HTTP on a busy
/// machine (the shared test deadline is 300 ms).
fn dialer_host() -> PluginHost {
    PluginHost::new(Limits {
        deadline: Duration::from_secs(5),
        ..test_limits()
    })
    .unwrap()
}

/// An http-dialer instance allowed to reach the simulator only.
async fn dialer(host: &PluginHost, cfg: &Properties) -> DialerInstance {
    let p = prepare(
        host,
        PluginKind::Dialer,
        "http-dialer",
        builtin::HTTP_DIALER,
    );
    host.dialer(&p, scope(7, &p, memory_kv()).allow_base_url_of(cfg))
        .await
        .unwrap()
}

fn request(to: &str, key: &str) -> CallRequest {
    CallRequest {
        to: to.into(),
        caller_id: None,
        timeout_secs: 25,
        idempotency_key: key.into(),
        metadata: vec![],
    }
}

async fn place(d: &mut DialerInstance, cfg: &Properties, to: &str, key: &str) -> String {
    match d.place_call(cfg, &request(to, key)).await {
        Ok(Ok(Placement::Pending(sid))) => sid,
        other => panic!("place-call to {to}: {other:?}"),
    }
}

/// A create request straight to the simulator (no adapter in between).
async fn create(sim: &TwilioSim, to: &str, callback: Option<&str>) -> reqwest::Response {
    let cfg = sim.config();
    let mut form = vec![
        ("To", to),
        ("From", "+15005550006"),
        ("Url", "https://twiml.example.test/voice.xml"),
        ("StatusCallbackEvent", "completed"),
    ];
    if let Some(url) = callback {
        form.push(("StatusCallback", url));
    }
    reqwest::Client::new()
        .post(format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            sim.base_url(),
            cfg.account_sid
        ))
        .basic_auth(&cfg.account_sid, Some(&cfg.auth_token))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[test]
fn signature_matches_twilios_documented_example() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        signature("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    assert_eq!(
        independent_signature("12345", url, &owned),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[tokio::test]
async fn a_call_through_http_dialer_is_in_the_ledger_and_its_signed_callbacks_arrive() {
    let mut rx = Receiver::start(vec![]).await;
    let sim = TwilioSim::start(TwilioSimConfig::new(1)).await.unwrap();
    let cfg = sim.http_dialer_config(&rx.url);
    let host = dialer_host();
    let mut d = dialer(&host, &cfg).await;
    let to = "+14155550120";
    assert_eq!(
        sim.config().scenario_for(to),
        Scenario::Completed {
            answered_by: "human"
        }
    );
    let sid = place(&mut d, &cfg, to, "key-1").await;
    assert!(sid.starts_with("CA") && sid.len() == 34, "{sid}");

    let placed = sim.placements_to(to);
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].sid, sid);
    assert_eq!(placed[0].from, "+15005550006");
    assert_eq!(placed[0].create_answer, 201);
    assert!(placed[0].machine_detection);

    let got = rx.until("completed").await;
    assert_eq!(
        statuses(&got),
        ["initiated", "ringing", "in-progress", "completed"]
    );
    for (i, r) in got.iter().enumerate() {
        rx.assert_signed(r, &sim.config().auth_token);
        assert_eq!(r.get("CallSid"), Some(sid.as_str()));
        assert_eq!(r.get("AccountSid"), Some(sim.config().account_sid.as_str()));
        assert_eq!(
            (r.get("To"), r.get("From")),
            (Some(to), Some("+15005550006"))
        );
        assert_eq!(r.get("SequenceNumber"), Some(i.to_string().as_str()));
        assert!(r.get("Timestamp").is_some_and(|t| t.ends_with("+0000")));
    }
    let last = &got[3];
    assert_eq!(last.get("CallDuration"), Some("5"));
    assert_eq!(last.get("AnsweredBy"), Some("human"));

    // The adapter authenticates and decodes what the simulator sends.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&last.fields)
        .finish();
    let req = dialplane_tests::callback_signing::signed_callback(
        &sim.config().auth_token,
        &rx.url,
        body.as_bytes(),
    );
    let ev = d
        .parse_callback(&cfg, &req)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.state, CallState::Ended);
    let report = ev.report.unwrap();
    assert_eq!(report.outcome, Outcome::Answered(AnsweredBy::Human));
    assert_eq!(report.talk_secs, 5);

    let ledger = sim.wait_settled(WAIT).await.unwrap();
    let p = ledger.placement(&sid).unwrap();
    assert_eq!(p.final_status.as_deref(), Some("completed"));
    assert!(p.callbacks.iter().all(|c| c.answers == [Ok(200)]), "{p:?}");

    // lookup fetches the call resource.
    let report = ended(d.lookup(&cfg, "key-1").await.unwrap().unwrap());
    assert_eq!(
        Some((report.outcome, report.talk_secs)),
        Some((Outcome::Answered(AnsweredBy::Human), 5))
    );
    // list by To, newest first.
    let second = place(&mut d, &cfg, to, "key-2").await;
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            sim.base_url(),
            sim.config().account_sid
        ))
        .query(&[("To", to)])
        .basic_auth(&sim.config().account_sid, Some(&sim.config().auth_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sids: Vec<&str> = list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [second.as_str(), sid.as_str()]);
    sim.shutdown().await;
}

#[tokio::test]
async fn basic_auth_is_enforced() {
    let sim = TwilioSim::start(TwilioSimConfig::new(2)).await.unwrap();
    let cfg = sim.config().clone();
    let calls_url = format!(
        "{}/2010-04-01/Accounts/{}/Calls.json",
        sim.base_url(),
        cfg.account_sid
    );
    let form = [
        ("To", "+14155550120"),
        ("From", "+1500"),
        ("Url", "https://x.test/"),
    ];
    let client = reqwest::Client::new();
    for req in [
        client.post(&calls_url).form(&form),
        client
            .post(&calls_url)
            .basic_auth(&cfg.account_sid, Some("wrong"))
            .form(&form),
        client.get(&calls_url),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            (&body["code"], &body["message"], &body["status"]),
            (&20003.into(), &"Authenticate".into(), &401.into())
        );
    }

    // Through the adapter: a wrong token is a rejection naming Twilio's code.
    let mut dialer_cfg = sim.http_dialer_config("http://127.0.0.1:9/cb");
    for (k, v) in &mut dialer_cfg {
        if k == "auth_token" {
            *v = "not-the-token".into();
        }
    }
    let host = dialer_host();
    let mut d = dialer(&host, &dialer_cfg).await;
    match d
        .place_call(&dialer_cfg, &request("+14155550120", "k"))
        .await
    {
        Ok(Err(DialError::Rejected(m))) => assert!(m.contains("401") && m.contains("20003"), "{m}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let ledger = sim.ledger();
    assert!(ledger.placements.is_empty());
    assert_eq!(ledger.counters.unauthorized, 4);
    assert_eq!(ledger.counters.create_requests, 0);
}

#[tokio::test]
async fn hangup_ends_a_live_call_with_one_final_callback() {
    let mut rx = Receiver::start(vec![]).await;
    // …9 talks until hung up, …8 rings until hung up; neither ends on its
    // own within the test.
    let sim_cfg = TwilioSimConfig::new(3)
        .max_call_secs(100_000)
        .outcome(|to| match to.chars().last() {
            Some('8') => Scenario::RingsUntilHangup,
            _ => Scenario::by_last_digit(to),
        });
    let sim = TwilioSim::start(sim_cfg).await.unwrap();
    let cfg = sim.http_dialer_config(&rx.url);
    let host = dialer_host();
    let mut d = dialer(&host, &cfg).await;

    let talking = place(&mut d, &cfg, "+14155550129", "k-talk").await;
    assert_eq!(
        statuses(&rx.until("in-progress").await),
        ["initiated", "ringing", "in-progress"]
    );
    assert_eq!(d.hangup(&cfg, &talking).await.unwrap(), Ok(()));
    let last = rx.next().await;
    assert_eq!(last.get("CallStatus"), Some("completed"));
    assert_eq!(last.get("CallSid"), Some(talking.as_str()));
    assert_eq!(last.get("AnsweredBy"), Some("human"));
    rx.assert_signed(&last, &sim.config().auth_token);

    let ringing = place(&mut d, &cfg, "+14155550128", "k-ring").await;
    assert_eq!(
        statuses(&rx.until("ringing").await),
        ["initiated", "ringing"]
    );
    assert_eq!(d.hangup(&cfg, &ringing).await.unwrap(), Ok(()));
    assert_eq!(rx.next().await.get("CallStatus"), Some("canceled"));

    let ledger = sim.wait_settled(WAIT).await.unwrap();
    for (sid, end, before) in [
        (&talking, "completed", "in-progress"),
        (&ringing, "canceled", "ringing"),
    ] {
        let p = ledger.placement(sid).unwrap();
        assert_eq!(p.final_status.as_deref(), Some(end));
        assert_eq!(p.callback_statuses().last(), Some(&end));
        assert_eq!(p.hangups.len(), 1);
        assert_eq!(p.hangups[0].requested, "completed");
        assert_eq!(p.hangups[0].status_before, before);
        assert!(p.hangups[0].ended_call);
    }
    // Settled means no task is left to send anything: nothing after the end.
    assert!(rx.got.try_recv().is_err());

    // Hanging up an ended call changes nothing; an unknown sid is 404.
    assert_eq!(d.hangup(&cfg, &talking).await.unwrap(), Ok(()));
    let hangups = sim.hangups();
    assert_eq!(hangups.len(), 3);
    assert!(
        !hangups
            .iter()
            .find(|h| h.sid == talking && h.status_before == "completed")
            .unwrap()
            .ended_call
    );
    match d
        .hangup(&cfg, "CA00000000000000000000000000000000")
        .await
        .unwrap()
    {
        Err(DialError::Rejected(m)) => assert!(m.contains("404") && m.contains("20404"), "{m}"),
        other => panic!("expected 404, got {other:?}"),
    }
    assert_eq!(sim.counters().hangup_requests, 3);
}

#[tokio::test]
async fn duplicates_and_out_of_order_callbacks_are_sent() {
    let mut rx = Receiver::start(vec![]).await;
    let sim = TwilioSim::start(TwilioSimConfig::new(4).duplicates(1.0).out_of_order(1.0))
        .await
        .unwrap();
    let cfg = sim.http_dialer_config(&rx.url);
    let host = dialer_host();
    let mut d = dialer(&host, &cfg).await;
    let sid = place(&mut d, &cfg, "+14155550121", "k").await;

    let ledger = sim.wait_settled(WAIT).await.unwrap();
    let p = ledger.placement(&sid).unwrap();
    assert!(p.duplicates && p.out_of_order && !p.early_final);
    let expected = [
        "initiated",
        "initiated",
        "in-progress",
        "in-progress",
        "completed",
        "completed",
        "ringing",
        "ringing",
    ];
    assert_eq!(p.callback_statuses(), expected);
    let got: Vec<Received> = {
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            got.push(rx.next().await);
        }
        got
    };
    assert_eq!(statuses(&got), expected);
    // A duplicate is the same callback again; the late `ringing` keeps its
    // original sequence number.
    assert_eq!(got[4].fields, got[5].fields);
    assert_eq!(
        got.iter()
            .map(|r| r.get("SequenceNumber").unwrap())
            .collect::<Vec<_>>(),
        ["0", "0", "2", "2", "3", "3", "1", "1"]
    );
    assert!(p.callbacks[6].late && p.callbacks[7].duplicate);
    for r in &got {
        rx.assert_signed(r, &sim.config().auth_token);
    }
}

#[tokio::test]
async fn an_early_final_callback_is_answered_before_the_create_answer() {
    let mut rx = Receiver::start(vec![]).await;
    let sim = TwilioSim::start(TwilioSimConfig::new(5).early_final(1.0))
        .await
        .unwrap();
    let cfg = sim.http_dialer_config(&rx.url);
    let host = dialer_host();
    let mut d = dialer(&host, &cfg).await;
    let sid = place(&mut d, &cfg, "+14155550125", "k").await;
    // Already there when place-call returns: no waiting.
    let first = rx.got.try_recv().expect("the final callback came first");
    assert_eq!(first.get("CallSid"), Some(sid.as_str()));
    assert_eq!(first.get("CallStatus"), Some("busy"));
    rx.assert_signed(&first, &sim.config().auth_token);

    let p = sim.wait_settled(WAIT).await.unwrap().placements[0].clone();
    assert!(p.early_final);
    assert_eq!(p.callback_statuses(), ["busy"]);
    assert_eq!(p.callbacks[0].answers, [Ok(200)]);
    assert!(
        rx.got.try_recv().is_err(),
        "nothing after the final callback"
    );
}

/// With fractions below one, some calls get each treatment and some do
/// not, and the same seed picks the same calls and sids again.
#[tokio::test]
async fn fractions_pick_calls_reproducibly_from_the_seed() {
    let numbers: Vec<String> = (0..16).map(|i| format!("+1415555{:04}", i * 10)).collect();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let rx = Receiver::start(vec![]).await;
        let sim = TwilioSim::start(
            TwilioSimConfig::new(42)
                .duplicates(0.5)
                .out_of_order(0.5)
                .early_final(0.3)
                .time_scale(Duration::from_millis(2)),
        )
        .await
        .unwrap();
        for to in &numbers {
            assert_eq!(create(&sim, to, Some(&rx.url)).await.status(), 201);
        }
        runs.push(sim.wait_settled(WAIT).await.unwrap());
        drop(rx);
    }
    let picks = |l: &dialplane_tests::twilio_sim::Ledger| {
        l.placements
            .iter()
            .map(|p| (p.sid.clone(), p.duplicates, p.out_of_order, p.early_final))
            .collect::<Vec<_>>()
    };
    assert_eq!(picks(&runs[0]), picks(&runs[1]));
    let ledger = &runs[0];
    let count = |f: fn(&dialplane_tests::twilio_sim::Placement) -> bool| {
        ledger.placements.iter().filter(|p| f(p)).count()
    };
    for (what, n) in [
        ("duplicates", count(|p| p.duplicates)),
        ("out of order", count(|p| p.out_of_order)),
        ("early final", count(|p| p.early_final)),
    ] {
        assert!(
            n > 0 && n < numbers.len(),
            "{what}: {n} of {}",
            numbers.len()
        );
    }
    // Only `completed` was subscribed: one final callback, or two.
    for p in &ledger.placements {
        let expected = if p.duplicates { 2 } else { 1 };
        assert_eq!(p.callbacks.len(), expected, "{p:?}");
        assert!(p.callbacks.iter().all(|c| c.delivered()));
    }
}

#[tokio::test]
async fn create_faults_are_injected_as_configured() {
    let host = dialer_host();

    // 429: nothing placed, Retry-After reaches the adapter.
    let sim = TwilioSim::start(TwilioSimConfig::new(6).rate_limited(1.0, 7))
        .await
        .unwrap();
    let cfg = sim.http_dialer_config("http://127.0.0.1:9/cb");
    let mut d = dialer(&host, &cfg).await;
    assert_eq!(
        d.place_call(&cfg, &request("+14155550120", "k"))
            .await
            .unwrap(),
        Err(DialError::RateLimited(7))
    );
    let resp = create(&sim, "+14155550120", None).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 20429);
    assert!(sim.ledger().placements.is_empty());
    assert_eq!(sim.counters().rate_limited, 2);

    // 5xx before placing: transient, nothing placed.
    let sim = TwilioSim::start(TwilioSimConfig::new(6).server_errors(1.0))
        .await
        .unwrap();
    let cfg = sim.http_dialer_config("http://127.0.0.1:9/cb");
    let mut d = dialer(&host, &cfg).await;
    match d
        .place_call(&cfg, &request("+14155550120", "k"))
        .await
        .unwrap()
    {
        Err(DialError::Transient(m)) => assert!(m.contains("500"), "{m}"),
        other => panic!("expected transient, got {other:?}"),
    }
    assert!(sim.ledger().placements.is_empty());
    assert_eq!(sim.counters().server_errors_before_place, 1);

    // 5xx after placing: the call exists and plays out.
    let sim = TwilioSim::start(TwilioSimConfig::new(6).server_errors_after_place(1.0))
        .await
        .unwrap();
    assert_eq!(create(&sim, "+14155550125", None).await.status(), 500);
    let ledger = sim.wait_settled(WAIT).await.unwrap();
    assert_eq!(ledger.placements.len(), 1);
    assert_eq!(ledger.placements[0].create_answer, 500);
    assert_eq!(ledger.placements[0].final_status.as_deref(), Some("busy"));

    // Slow answers take at least the configured delay.
    let slow = Duration::from_millis(600);
    let sim = TwilioSim::start(TwilioSimConfig::new(6).slow_answers(1.0, slow, slow * 3 / 2))
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(create(&sim, "+14155550120", None).await.status(), 201);
    assert!(started.elapsed() >= slow, "{:?}", started.elapsed());
    assert_eq!(sim.counters().slow_answers, 1);

    // Fractions: the answers match the counters, the same seed gives the
    // same answers.
    let mut answers = Vec::new();
    for _ in 0..2 {
        let sim = TwilioSim::start(
            TwilioSimConfig::new(8)
                .rate_limited(0.25, 1)
                .server_errors(0.25),
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        for i in 0..40 {
            got.push(
                create(&sim, &format!("+1415555{i:04}"), None)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        let c = sim.counters();
        let n = |s: u16| got.iter().filter(|&&g| g == s).count() as u32;
        assert_eq!(c.create_requests, 40);
        assert_eq!(
            (c.rate_limited, c.server_errors_before_place, c.placed),
            (n(429), n(500), n(201))
        );
        assert!(n(429) > 0 && n(500) > 0 && n(201) > 0, "{got:?}");
        assert_eq!(sim.ledger().placements.len() as u32, n(201));
        answers.push(got);
    }
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn callbacks_are_retried_on_5xx_and_connection_errors() {
    let mut rx = Receiver::start(vec![503, 500]).await;
    let sim =
        TwilioSim::start(TwilioSimConfig::new(9).callback_retries(3, Duration::from_millis(5)))
            .await
            .unwrap();
    assert_eq!(
        create(&sim, "+14155550127", Some(&rx.url)).await.status(),
        201
    );
    let ledger = sim.wait_settled(WAIT).await.unwrap();
    let p = &ledger.placements[0];
    assert_eq!(p.callback_statuses(), ["failed"]);
    assert_eq!(p.callbacks[0].answers, [Ok(503), Ok(500), Ok(200)]);
    assert!(p.callbacks[0].delivered());
    let tries = [rx.next().await, rx.next().await, rx.next().await];
    assert!(tries.iter().all(|r| r.fields == tries[0].fields));
    assert_eq!(tries[0].get("SipResponseCode"), Some("404"));
    rx.assert_signed(&tries[2], &sim.config().auth_token);

    // Nobody listening: every attempt fails and is recorded.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/cb", l.local_addr().unwrap())
    };
    assert_eq!(
        create(&sim, "+14155550127", Some(&closed)).await.status(),
        201
    );
    let ledger = sim.wait_settled(WAIT).await.unwrap();
    let p = &ledger.placements[1];
    assert_eq!(p.callbacks[0].answers.len(), 3);
    assert!(p.callbacks[0].answers.iter().all(Result::is_err), "{p:?}");
    assert!(!p.callbacks[0].delivered());
}

//! The embedded components (`plugins/`, via `builtin`) behave as their crate
//! docs say, run through the real runtime: flows' decisions, the sim-dialer's
//! outcome table and ledger, http-dialer against a fake Twilio-style server,
//! and the hostile components' sandbox probe and world checks.

use std::sync::Arc;

use dialplane::builtin;
use dialplane::runtime::{
    AnsweredBy, CallRequest, CallState, CallbackError, Decision, DialError, Lead, Limits, MemoryKv,
    Outcome, Placement, PluginHost, PluginKind, PluginMeta, PluginScope, Properties, RunContext,
    TenantKv,
};
use dialplane_tests::callback_signing::callback_request;

/// Where the sim-dialer's callbacks are said to arrive (it checks no signature).
const SIM_CALLBACK_URL: &str = "http://127.0.0.1:8080/api/callbacks/dp_cb_x";

fn meta(kind: PluginKind, name: &str) -> PluginMeta {
    PluginMeta {
        kind,
        name: name.into(),
        version: 1,
    }
}

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lead(id: &str, phone: &str, attrs: &[(&str, &str)]) -> Lead {
    Lead {
        id: id.into(),
        phone: phone.into(),
        name: None,
        timezone: None,
        attributes: props(attrs),
    }
}

fn ctx(attempt: u32, settings: &[(&str, &str)]) -> RunContext {
    RunContext {
        run_id: "run-1".into(),
        attempt,
        max_attempts: 3,
        settings: props(settings),
    }
}

fn request(to: &str, key: &str) -> CallRequest {
    CallRequest {
        to: to.into(),
        caller_id: None,
        timeout_secs: 30,
        idempotency_key: key.into(),
        metadata: vec![],
    }
}

fn host() -> PluginHost {
    PluginHost::new(Limits::default()).expect("plugin host")
}

#[tokio::test]
async fn default_flow_dials_and_retries_busy_until_max_attempts() {
    let host = host();
    let m = meta(PluginKind::Flow, "default-flow");
    let p = host.prepare(m.clone(), builtin::DEFAULT_FLOW).unwrap();
    let kv: Arc<dyn TenantKv> = Arc::new(MemoryKv::new());
    let mut flow = host.flow(&p, PluginScope::new(1, &m, kv)).await.unwrap();
    let l = lead("l1", "+14155550120", &[]);
    let Decision::Dial(req) = flow
        .plan(&ctx(1, &[("timeout_secs", "20")]), &l)
        .await
        .unwrap()
    else {
        panic!("default-flow must dial")
    };
    assert_eq!((req.to.as_str(), req.timeout_secs), ("+14155550120", 20));
    let busy = dialplane::runtime::CallReport {
        outcome: Outcome::Busy,
        provider_call_id: None,
        ring_secs: 3,
        talk_secs: 0,
        provider_code: None,
        detail: None,
    };
    let f = flow.on_result(&ctx(1, &[]), &l, &busy).await.unwrap();
    assert_eq!(f.retry_after_secs, Some(300));
    assert_eq!(f.tags, vec!["busy".to_string()]);
    let f = flow.on_result(&ctx(3, &[]), &l, &busy).await.unwrap();
    assert_eq!(f.retry_after_secs, None);
    assert!(f.tags.contains(&"attempts-exhausted".to_string()));
    let bad = flow
        .plan(&ctx(1, &[("timeout_secs", "soon")]), &l)
        .await
        .unwrap();
    assert_eq!(
        bad,
        Decision::Skip("setting `timeout_secs` = \"soon\" is not a valid u32".into())
    );
    assert!(!flow.take_logs().is_empty(), "one log line per decision");
}

#[tokio::test]
async fn business_rules_flow_skips_and_caps_per_day() {
    let host = host();
    let m = meta(PluginKind::Flow, "business-rules-flow");
    let p = host
        .prepare(m.clone(), builtin::BUSINESS_RULES_FLOW)
        .unwrap();
    let kv = Arc::new(MemoryKv::new());
    let mut flow = host
        .flow(&p, PluginScope::new(7, &m, kv.clone()))
        .await
        .unwrap();
    let settings = [("skip_segments", "gold,silver"), ("daily_cap", "2")];
    let c = ctx(1, &settings);
    assert_eq!(
        flow.plan(
            &c,
            &lead("a", "+14155550127", &[("do_not_call_reason", "asked")])
        )
        .await
        .unwrap(),
        Decision::Skip("do_not_call_reason: asked".into())
    );
    assert_eq!(
        flow.plan(&c, &lead("b", "+14155550127", &[("segment", "gold")]))
            .await
            .unwrap(),
        Decision::Skip("segment gold is excluded".into())
    );
    for id in ["c", "d"] {
        assert!(matches!(
            flow.plan(&c, &lead(id, "+14155550127", &[])).await.unwrap(),
            Decision::Dial(_)
        ));
    }
    assert_eq!(
        flow.plan(&c, &lead("e", "+14155550127", &[]))
            .await
            .unwrap(),
        Decision::Skip("daily cap of 2 calls reached".into())
    );
    let counters: Vec<_> = kv
        .dump()
        .into_iter()
        .filter(|(t, _, k, _)| *t == 7 && k.starts_with("calls/"))
        .collect();
    assert_eq!(counters.len(), 1);
    assert_eq!(counters[0].3, b"2");
}

#[tokio::test]
async fn sim_dialer_follows_its_table_and_keeps_an_exact_ledger() {
    let host = host();
    let m = meta(PluginKind::Dialer, "sim-dialer");
    let p = host.prepare(m.clone(), builtin::SIM_DIALER).unwrap();
    let kv = Arc::new(MemoryKv::new());
    let mut d = host
        .dialer(&p, PluginScope::new(3, &m, kv.clone()))
        .await
        .unwrap();
    let cfg = props(&[]);
    let expected = [
        ("+14155550120", Outcome::Busy),
        ("+14155550121", Outcome::NoAnswer),
        ("+14155550122", Outcome::Answered(AnsweredBy::Machine)),
        ("+14155550123", Outcome::InvalidNumber),
        ("+14155550124", Outcome::NetworkError),
        ("+14155550125", Outcome::Rejected),
        ("+14155550127", Outcome::Answered(AnsweredBy::Human)),
    ];
    for (i, (to, outcome)) in expected.iter().enumerate() {
        let key = format!("r-{i}-1");
        let Placement::Finished(r) = d
            .place_call(&cfg, &request(to, &key))
            .await
            .unwrap()
            .unwrap()
        else {
            panic!("sync mode finishes")
        };
        assert_eq!(&r.outcome, outcome, "{to}");
        assert_eq!(
            r.provider_call_id.as_deref(),
            Some(format!("sim-{key}").as_str())
        );
    }
    // +14155550127: ring 2 + 2, talk 30 + 10*1 + 7.
    let r = dialplane_tests::ended(d.lookup(&cfg, "r-6-1").await.unwrap().unwrap());
    assert_eq!((r.ring_secs, r.talk_secs), (4, 47));
    // Same key again: nothing new is placed.
    d.place_call(&cfg, &request("+14155550127", "r-6-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.lookup(&cfg, "never").await.unwrap().unwrap(), None);
    let ledger: Vec<serde_json::Value> = kv
        .dump()
        .into_iter()
        .filter(|(t, _, k, _)| *t == 3 && k.starts_with("call/"))
        .map(|(_, _, _, v)| serde_json::from_slice(&v).unwrap())
        .collect();
    assert_eq!(
        ledger.len(),
        expected.len(),
        "one ledger entry per placement"
    );
    assert_eq!(
        ledger
            .iter()
            .map(|e| e["repeats"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );

    // Pending mode: in flight until hung up, then canceled.
    let pending = props(&[("mode", "pending"), ("pending_secs", "3600")]);
    let placed = d
        .place_call(&pending, &request("+14155550127", "p-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed, Placement::Pending("sim-p-1".into()));
    assert_eq!(
        d.lookup(&pending, "p-1").await.unwrap(),
        Ok(Some(Placement::Pending("sim-p-1".into()))),
        "still under way"
    );
    d.hangup(&pending, "sim-p-1").await.unwrap().unwrap();
    let r = dialplane_tests::ended(d.lookup(&pending, "p-1").await.unwrap().unwrap());
    assert_eq!(r.outcome, Outcome::Canceled);

    // Bad config names the key; callbacks decode or name the bad field.
    let bad = d
        .place_call(&props(&[("mode", "async")]), &request("+1415", "x"))
        .await
        .unwrap();
    assert!(matches!(bad, Err(DialError::Config(m)) if m.contains("mode")));
    let ev = d
        .parse_callback(
            &cfg,
            &callback_request(
                SIM_CALLBACK_URL,
                b"CallSid=sim-p-1&CallStatus=completed&CallDuration=12&AnsweredBy=human",
                None,
            ),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.state, CallState::Ended);
    assert_eq!(ev.report.unwrap().talk_secs, 12);
    let err = d
        .parse_callback(
            &cfg,
            &callback_request(SIM_CALLBACK_URL, b"CallStatus=busy", None),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, CallbackError::Malformed("CallSid is required".into()));
}

#[tokio::test]
async fn hostile_sandbox_is_denied_everything() {
    let host = host();
    let m = meta(PluginKind::Flow, "hostile-sandbox");
    let p = host.prepare(m.clone(), builtin::HOSTILE_SANDBOX).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut flow = host
        .flow(&p, PluginScope::new(1, &m, Arc::new(MemoryKv::new())))
        .await
        .unwrap();
    let d = flow
        .plan(&ctx(1, &[("port", &port)]), &lead("l", "+14155550127", &[]))
        .await
        .unwrap();
    assert_eq!(d, Decision::Skip("fs=err env=none net=err".into()));
}

#[tokio::test]
async fn wrong_world_and_flow_with_http_are_refused_as_flows() {
    let host = host();
    for (name, wasm) in [
        ("wrong-world", builtin::WRONG_WORLD),
        ("flow-with-http", builtin::FLOW_WITH_HTTP),
    ] {
        let Err(err) = host.prepare(meta(PluginKind::Flow, name), wasm) else {
            panic!("{name} was accepted as a flow")
        };
        assert_eq!(err.cause.label(), "wrong-world", "{name}: {err}");
    }
    for b in builtin::all()
        .iter()
        .filter(|b| b.kind == builtin::BuiltinKind::Flow)
    {
        host.prepare(meta(PluginKind::Flow, b.name), b.wasm)
            .unwrap();
    }
}

/// A one-shot fake provider: answers each connection with the next canned
/// response and hands back the raw requests.
async fn fake_provider(
    responses: Vec<&'static str>,
) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for resp in responses {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            seen.push(String::from_utf8_lossy(&buf).to_string());
            sock.write_all(resp.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
        seen
    });
    (addr, task)
}

fn http(status: &str, extra: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

#[tokio::test]
async fn http_dialer_speaks_the_twilio_calls_api() {
    let (addr, server) = fake_provider(vec![
        http("201 Created", "", r#"{"sid":"CA123","status":"queued"}"#),
        http(
            "429 Too Many Requests",
            "retry-after: 9\r\n",
            r#"{"code":20429,"message":"slow down"}"#,
        ),
        http(
            "400 Bad Request",
            "",
            r#"{"code":21211,"message":"Invalid 'To'"}"#,
        ),
        http(
            "200 OK",
            "",
            r#"{"sid":"CA123","status":"completed","duration":"17","answered_by":"human"}"#,
        ),
        http("200 OK", "", r#"{"sid":"CA123","status":"completed"}"#),
    ])
    .await;
    let host = host();
    let m = meta(PluginKind::Dialer, "http-dialer");
    let p = host.prepare(m.clone(), builtin::HTTP_DIALER).unwrap();
    let kv = Arc::new(MemoryKv::new());
    let mut d = host
        .dialer(
            &p,
            PluginScope::new(5, &m, kv.clone()).allow_http(addr.clone()),
        )
        .await
        .unwrap();
    let base = format!("http://{addr}");
    let cfg = props(&[
        ("base_url", &base),
        ("account_sid", "AC1"),
        ("auth_token", "secret"),
        ("from", "+15550001111"),
        ("twiml_url", "http://example.test/twiml"),
        ("status_callback", "http://example.test/cb"),
    ]);
    let placed = d
        .place_call(&cfg, &request("+14155550127", "k-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed, Placement::Pending("CA123".into()));
    // Same key: no second POST (the server would hand out the 429 otherwise).
    let again = d
        .place_call(&cfg, &request("+14155550127", "k-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, Placement::Pending("CA123".into()));
    let rl = d
        .place_call(&cfg, &request("+14155550128", "k-2"))
        .await
        .unwrap();
    assert_eq!(rl, Err(DialError::RateLimited(9)));
    let rej = d.place_call(&cfg, &request("+1", "k-3")).await.unwrap();
    assert_eq!(
        rej,
        Err(DialError::Rejected("HTTP 400: 21211: Invalid 'To'".into()))
    );
    assert_eq!(
        d.lookup(&cfg, "k-2").await.unwrap().unwrap(),
        None,
        "429 placed nothing"
    );
    let r = dialplane_tests::ended(d.lookup(&cfg, "k-1").await.unwrap().unwrap());
    assert_eq!(
        (r.outcome, r.talk_secs),
        (Outcome::Answered(AnsweredBy::Human), 17)
    );
    d.hangup(&cfg, "CA123").await.unwrap().unwrap();
    let missing = d
        .place_call(&props(&[("base_url", &base)]), &request("+1", "k-4"))
        .await
        .unwrap();
    assert_eq!(
        missing,
        Err(DialError::Config("account_sid is required".into()))
    );

    let requests = server.await.unwrap();
    assert!(requests[0].starts_with("POST /2010-04-01/Accounts/AC1/Calls.json HTTP/1.1"));
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: basic qumxonnly3jlda=="),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains("To=%2B14155550127&From=%2B15550001111&Url="));
    assert!(requests[0].contains("&Timeout=30"));
    assert!(requests[3].starts_with("GET /2010-04-01/Accounts/AC1/Calls/CA123.json"));
    assert!(requests[4].starts_with("POST /2010-04-01/Accounts/AC1/Calls/CA123.json"));
    assert!(requests[4].ends_with("Status=completed"), "{}", requests[4]);
}

#[tokio::test]
async fn http_dialer_outside_its_allow_list_places_nothing() {
    let host = host();
    let m = meta(PluginKind::Dialer, "http-dialer");
    let p = host.prepare(m.clone(), builtin::HTTP_DIALER).unwrap();
    // No allow_http: every destination is refused by the host.
    let mut d = host
        .dialer(&p, PluginScope::new(5, &m, Arc::new(MemoryKv::new())))
        .await
        .unwrap();
    let cfg = props(&[
        ("base_url", "http://127.0.0.1:9"),
        ("account_sid", "AC1"),
        ("auth_token", "secret"),
        ("from", "+15550001111"),
        ("twiml_url", "http://example.test/twiml"),
        ("status_callback", "http://example.test/cb"),
    ]);
    let err = d
        .place_call(&cfg, &request("+14155550127", "k-1"))
        .await
        .unwrap();
    assert!(matches!(err, Err(DialError::Transient(_))), "{err:?}");
    // The refusal provably placed nothing, so lookup answers "never placed".
    assert_eq!(d.lookup(&cfg, "k-1").await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn hostile_flows_fail_with_the_intended_typed_error() {
    let host = host();
    let cases = [
        ("hostile-loop", builtin::HOSTILE_LOOP, "deadline"),
        ("hostile-memory", builtin::HOSTILE_MEMORY, "memory"),
        ("hostile-recursion", builtin::HOSTILE_RECURSION, "trap"),
        ("hostile-panic", builtin::HOSTILE_PANIC, "trap"),
        (
            "hostile-huge-output",
            builtin::HOSTILE_HUGE_OUTPUT,
            "invalid-output",
        ),
    ];
    for (name, wasm, label) in cases {
        let m = meta(PluginKind::Flow, name);
        let p = host.prepare(m.clone(), wasm).unwrap();
        let mut flow = host
            .flow(&p, PluginScope::new(1, &m, Arc::new(MemoryKv::new())))
            .await
            .unwrap();
        let err = flow
            .plan(&ctx(1, &[]), &lead("l", "+14155550127", &[]))
            .await
            .expect_err(name);
        assert_eq!(err.cause.label(), label, "{name}: {err}");
        if name == "hostile-panic" {
            assert!(
                err.to_string()
                    .contains("hostile-panic: deliberate panic in plan"),
                "{err}"
            );
        }
    }
}

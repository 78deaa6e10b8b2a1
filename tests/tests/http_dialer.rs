//! http-dialer against a fake Twilio-style provider on 127.0.0.1, through the
//! real runtime: the Calls API request, basic auth, error mapping, hangup,
//! callback signatures and parsing, config validation, and the host's
//! wasi:http allowlist.

use dialplane::builtin;
use dialplane::runtime::{
    AnsweredBy, CallRequest, CallState, CallbackError, DialError, DialerInstance, Outcome,
    Placement, PluginHost, PluginKind, Properties,
};
use dialplane_tests::callback_signing::{callback_request, signed_callback, twilio_signature};
use dialplane_tests::fake_provider::{Answer, FakeProvider, base64};
use dialplane_tests::*;

fn config(base_url: &str) -> Properties {
    [
        ("base_url", base_url),
        ("account_sid", "AC123"),
        ("auth_token", "s3cret"),
        ("from", "+15550001111"),
        ("twiml_url", "https://example.test/twiml"),
        ("status_callback", "https://dialplane.test/callbacks/7"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn request(key: &str) -> CallRequest {
    CallRequest {
        to: "+14155550127".into(),
        caller_id: None,
        timeout_secs: 25,
        idempotency_key: key.into(),
        metadata: vec![],
    }
}

/// An http-dialer instance allowed to reach the `base_url` of `cfg` only.
async fn dialer(host: &PluginHost, cfg: &Properties) -> DialerInstance {
    let p = prepare(
        host,
        PluginKind::Dialer,
        "http-dialer",
        builtin::HTTP_DIALER,
    );
    let scope = scope(7, &p, memory_kv()).allow_base_url_of(cfg);
    host.dialer(&p, scope).await.unwrap()
}

#[tokio::test]
async fn place_call_posts_the_calls_api_form_with_basic_auth() {
    let provider = FakeProvider::start(vec![Answer::json(
        201,
        r#"{"sid":"CA0001","status":"queued"}"#,
    )])
    .await;
    let cfg = config(&provider.base_url());
    let host = host();
    let mut d = dialer(&host, &cfg).await;
    let placed = d.place_call(&cfg, &request("run-1-job-1-1")).await.unwrap();
    assert_eq!(placed, Ok(Placement::Pending("CA0001".into())));

    let seen = provider.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/2010-04-01/Accounts/AC123/Calls.json");
    let expected_auth = format!("Basic {}", base64(b"AC123:s3cret"));
    assert_eq!(r.header("authorization"), Some(expected_auth.as_str()));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.form("To").as_deref(), Some("+14155550127"));
    assert_eq!(r.form("From").as_deref(), Some("+15550001111"));
    assert_eq!(r.form("Url").as_deref(), Some("https://example.test/twiml"));
    assert_eq!(
        r.form("StatusCallback").as_deref(),
        Some("https://dialplane.test/callbacks/7")
    );
    assert_eq!(r.form("Timeout").as_deref(), Some("25"));
}

#[tokio::test]
async fn provider_errors_map_to_dial_errors() {
    let provider = FakeProvider::start(vec![
        Answer::json(429, r#"{"code":20429,"message":"Too Many Requests"}"#)
            .header("Retry-After", "7"),
        Answer::json(
            400,
            r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#,
        ),
        Answer::json(503, r#"{"message":"Service Unavailable"}"#),
    ])
    .await;
    let cfg = config(&provider.base_url());
    let host = host();
    let mut d = dialer(&host, &cfg).await;

    let r = d.place_call(&cfg, &request("k-429")).await.unwrap();
    assert_eq!(r, Err(DialError::RateLimited(7)));

    match d.place_call(&cfg, &request("k-400")).await.unwrap() {
        Err(DialError::Rejected(m)) => assert!(m.contains("400") && m.contains("21211"), "{m}"),
        other => panic!("4xx should be rejected, got {other:?}"),
    }
    match d.place_call(&cfg, &request("k-503")).await.unwrap() {
        Err(DialError::Transient(m)) => assert!(m.contains("503"), "{m}"),
        other => panic!("5xx should be transient, got {other:?}"),
    }
    assert_eq!(provider.seen().len(), 3);
}

#[tokio::test]
async fn hangup_posts_status_completed() {
    let provider = FakeProvider::start(vec![Answer::json(
        200,
        r#"{"sid":"CA0001","status":"completed"}"#,
    )])
    .await;
    let cfg = config(&provider.base_url());
    let host = host();
    let mut d = dialer(&host, &cfg).await;
    assert_eq!(d.hangup(&cfg, "CA0001").await.unwrap(), Ok(()));
    let seen = provider.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/2010-04-01/Accounts/AC123/Calls/CA0001.json");
    assert_eq!(seen[0].form("Status").as_deref(), Some("completed"));
}

/// The public URL the host says the provider posted to.
const CALLBACK_URL: &str = "https://dialplane.test/api/callbacks/dp_cb_7?tenant=acme";

#[tokio::test]
async fn parse_callback_decodes_a_signed_status_callback() {
    let host = host();
    let cfg = config("http://127.0.0.1:9");
    let mut d = dialer(&host, &cfg).await;
    let body = b"CallSid=CA0001&CallStatus=completed&CallDuration=42&AnsweredBy=human";
    let ev = d
        .parse_callback(&cfg, &signed_callback("s3cret", CALLBACK_URL, body))
        .await
        .unwrap()
        .unwrap()
        .expect("an event");
    assert_eq!(ev.provider_call_id, "CA0001");
    assert_eq!(ev.state, CallState::Ended);
    let report = ev.report.expect("a report at the end");
    assert_eq!(report.outcome, Outcome::Answered(AnsweredBy::Human));
    assert_eq!(report.talk_secs, 42);

    let ringing = d
        .parse_callback(
            &cfg,
            &signed_callback("s3cret", CALLBACK_URL, b"CallSid=CA0001&CallStatus=ringing"),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ringing.state, CallState::Ringing);
    assert!(ringing.report.is_none());

    // Authentic but undecodable: malformed.
    let bad = d
        .parse_callback(
            &cfg,
            &signed_callback("s3cret", CALLBACK_URL, b"CallStatus=busy"),
        )
        .await
        .unwrap();
    assert!(
        matches!(bad, Err(CallbackError::Malformed(ref m)) if m.contains("CallSid")),
        "{bad:?}"
    );
}

/// Every way a callback can fail to prove it comes from the provider is
/// `unauthenticated`, checked before the body is even decoded.
#[tokio::test]
async fn parse_callback_refuses_missing_and_forged_signatures() {
    let host = host();
    let cfg = config("http://127.0.0.1:9");
    let mut d = dialer(&host, &cfg).await;
    let body: &[u8] = b"CallSid=CA0001&CallStatus=completed&AnsweredBy=human";
    let good = twilio_signature("s3cret", CALLBACK_URL, body);
    let cases = [
        ("missing", callback_request(CALLBACK_URL, body, None)),
        (
            "wrong token",
            signed_callback("not-the-token", CALLBACK_URL, body),
        ),
        (
            "other URL",
            callback_request(
                "https://evil.test/api/callbacks/dp_cb_7?tenant=acme",
                body,
                Some(&good),
            ),
        ),
        (
            "changed body",
            callback_request(
                CALLBACK_URL,
                b"CallSid=CA0001&CallStatus=completed&AnsweredBy=machine_start",
                Some(&good),
            ),
        ),
        (
            "not base64",
            callback_request(CALLBACK_URL, body, Some("%%%")),
        ),
        (
            "malformed and unsigned",
            callback_request(CALLBACK_URL, b"garbage", None),
        ),
    ];
    for (what, req) in cases {
        let r = d.parse_callback(&cfg, &req).await.unwrap();
        assert!(
            matches!(r, Err(CallbackError::Unauthenticated(_))),
            "{what}: {r:?}"
        );
    }
    // Without an auth token nothing can be verified: refused, not trusted.
    let no_token: Properties = cfg
        .iter()
        .filter(|(k, _)| k != "auth_token")
        .cloned()
        .collect();
    let r = d
        .parse_callback(&no_token, &signed_callback("s3cret", CALLBACK_URL, body))
        .await
        .unwrap();
    assert!(matches!(r, Err(CallbackError::Unauthenticated(_))), "{r:?}");
    assert!(!d.is_poisoned());
}

/// `validate-config` names the first key at fault, without any network.
#[tokio::test]
async fn validate_config_names_the_key_at_fault() {
    let host = host();
    let cfg = config("http://127.0.0.1:9");
    let mut d = dialer(&host, &cfg).await;
    assert_eq!(d.validate_config(&cfg).await.unwrap(), Ok(()));
    let with = |key: &str, value: Option<&str>| -> Properties {
        let mut p: Properties = cfg.iter().filter(|(k, _)| k != key).cloned().collect();
        if let Some(v) = value {
            p.push((key.into(), v.into()));
        }
        p
    };
    for (key, value) in [
        ("auth_token", None),
        ("auth_token", Some("")),
        ("base_url", Some("api.twilio.com")),
        ("base_url", Some("https://")),
        ("account_sid", Some("AC/../x")),
        ("status_callback", None),
        ("http_timeout_ms", Some("ten seconds")),
    ] {
        let problem = d
            .validate_config(&with(key, value))
            .await
            .unwrap()
            .expect_err(key);
        assert_eq!(problem.key, key, "{value:?}: {problem:?}");
        assert!(!problem.message.is_empty());
    }
}

/// The instance may reach only the host:port it was scoped to; a config
/// naming another destination is refused by the host and logged, and the
/// other server never sees a request.
#[tokio::test]
async fn destinations_outside_the_allowlist_are_refused() {
    let allowed = FakeProvider::start(vec![]).await;
    let other = FakeProvider::start(vec![Answer::json(201, r#"{"sid":"CA9"}"#)]).await;
    let host = host();
    let mut d = dialer(&host, &config(&allowed.base_url())).await;
    let sneaky = config(&other.base_url());
    let r = d.place_call(&sneaky, &request("k-sneaky")).await.unwrap();
    assert!(r.is_err(), "the call went through: {r:?}");
    assert!(other.seen().is_empty(), "the other server was reached");
    let logs = d.take_logs();
    assert!(
        logs.iter().any(|l| l.level == "error"
            && l.message
                .contains(&format!("outbound HTTP to {} refused", other.addr))),
        "{logs:?}"
    );
    // Not a plugin failure: the instance stays usable.
    assert!(!d.is_poisoned());
}

//! The built-in sim-dialer through the real runtime: its documented outcome
//! table, pending mode, ledger idempotency, lookup, hangup and callbacks.

use std::sync::Arc;

use dialplane::builtin;
use dialplane::runtime::{
    AnsweredBy, CallReport, CallRequest, CallState, CallbackError, DialError, DialerInstance,
    MemoryKv, Outcome, Placement, PluginKind, Properties, TenantKv,
};
use dialplane_tests::callback_signing::callback_request;
use dialplane_tests::*;

const NS: &str = "dialer:sim-dialer";

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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

/// A sim-dialer instance for tenant 7 (it keeps the engine alive by itself).
async fn sim(kv: Arc<MemoryKv>) -> DialerInstance {
    let host = host();
    let p = prepare(&host, PluginKind::Dialer, "sim-dialer", builtin::SIM_DIALER);
    host.dialer(&p, scope(7, &p, kv)).await.unwrap()
}

async fn finished(d: &mut DialerInstance, cfg: &Properties, to: &str, key: &str) -> CallReport {
    match d.place_call(cfg, &request(to, key)).await.unwrap() {
        Ok(Placement::Finished(r)) => r,
        other => panic!("{to}: {other:?}"),
    }
}

#[tokio::test]
async fn outcomes_follow_the_documented_table() {
    let mut d = sim(memory_kv()).await;
    let cfg = props(&[]);
    // (number, outcome, ring, talk) per the table in plugins/sim-dialer.
    let table = [
        ("+14155550100", Outcome::Busy, 2, 0),
        ("+14155550111", Outcome::NoAnswer, 30, 0),
        (
            "+14155550122",
            Outcome::Answered(AnsweredBy::Machine),
            4,
            21,
        ),
        ("+14155550133", Outcome::InvalidNumber, 0, 0),
        ("+14155550144", Outcome::NetworkError, 0, 0),
        ("+14155550155", Outcome::Rejected, 7, 0),
        ("+14155550127", Outcome::Answered(AnsweredBy::Human), 4, 47),
    ];
    for (i, (to, outcome, ring, talk)) in table.into_iter().enumerate() {
        let r = finished(&mut d, &cfg, to, &format!("k{i}")).await;
        assert_eq!(
            (&r.outcome, r.ring_secs, r.talk_secs),
            (&outcome, ring, talk),
            "{to}"
        );
        assert_eq!(
            r.provider_call_id.as_deref(),
            Some(format!("sim-k{i}").as_str())
        );
    }
    // Not E.164: invalid-number with SIP 484.
    let r = finished(&mut d, &cfg, "12345", "bad").await;
    assert_eq!(r.outcome, Outcome::InvalidNumber);
    assert_eq!(r.provider_code.as_deref(), Some("failed (SIP 484)"));
}

#[tokio::test]
async fn ledger_makes_place_call_idempotent() {
    let kv = memory_kv();
    let mut d = sim(kv.clone()).await;
    let cfg = props(&[]);
    let first = finished(&mut d, &cfg, "+14155550127", "run-1-job-9-1").await;
    let again = finished(&mut d, &cfg, "+14155550127", "run-1-job-9-1").await;
    assert_eq!(first, again);
    // One placement in the ledger, one refused repeat.
    let entry = kv
        .get(7.into(), NS, "call/run-1-job-9-1")
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(v["repeats"], 1);
    let placements = kv
        .dump()
        .into_iter()
        .filter(|(t, ns, k, _)| *t == 7 && ns == NS && k.starts_with("call/"))
        .count();
    assert_eq!(placements, 1);
    // lookup: known key → its report; unknown key → never placed.
    let found = d.lookup(&cfg, "run-1-job-9-1").await.unwrap().unwrap();
    assert_eq!(found, Some(Placement::Finished(first)));
    assert_eq!(d.lookup(&cfg, "never-placed").await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn pending_mode_ends_through_lookup_and_hangup_cancels() {
    let kv = memory_kv();
    let mut d = sim(kv).await;
    // Calls stay in flight for an hour: lookup says so, hangup ends them.
    let cfg = props(&[("mode", "pending"), ("pending_secs", "3600")]);
    let placed = d
        .place_call(&cfg, &request("+14155550127", "p-1"))
        .await
        .unwrap();
    assert_eq!(placed, Ok(Placement::Pending("sim-p-1".into())));
    match d.lookup(&cfg, "p-1").await.unwrap() {
        Ok(Some(Placement::Pending(id))) => assert_eq!(id, "sim-p-1"),
        other => panic!("in-flight lookup: {other:?}"),
    }
    assert_eq!(d.hangup(&cfg, "sim-p-1").await.unwrap(), Ok(()));
    let after = ended(d.lookup(&cfg, "p-1").await.unwrap().unwrap());
    assert_eq!(after.outcome, Outcome::Canceled);
    assert_eq!(after.talk_secs, 0);
    // Hanging up an unknown call is rejected.
    assert!(matches!(
        d.hangup(&cfg, "sim-nope").await.unwrap(),
        Err(DialError::Rejected(_))
    ));

    // pending_secs = 0: ended at once, with the table's outcome.
    let cfg0 = props(&[("mode", "pending")]);
    d.place_call(&cfg0, &request("+14155550100", "p-2"))
        .await
        .unwrap()
        .unwrap();
    let r = ended(d.lookup(&cfg0, "p-2").await.unwrap().unwrap());
    assert_eq!(r.outcome, Outcome::Busy);
}

#[tokio::test]
async fn bad_configuration_is_a_config_error() {
    let mut d = sim(memory_kv()).await;
    let r = d
        .place_call(
            &props(&[("mode", "sometimes")]),
            &request("+14155550127", "c-1"),
        )
        .await
        .unwrap();
    assert!(
        matches!(r, Err(DialError::Config(ref m)) if m.contains("mode")),
        "{r:?}"
    );
    // Without a ledger the simulator cannot answer lookup.
    let r = d.lookup(&props(&[("ledger", "off")]), "c-1").await.unwrap();
    assert!(matches!(r, Err(DialError::Config(_))), "{r:?}");
}

#[tokio::test]
async fn parse_callback_reads_twilio_style_events() {
    const URL: &str = "http://127.0.0.1:8080/api/callbacks/dp_cb_x";
    let mut d = sim(memory_kv()).await;
    let cfg = props(&[]);
    let ev = d
        .parse_callback(
            &cfg,
            &callback_request(URL, b"CallSid=sim-k&CallStatus=busy", None),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.provider_call_id, "sim-k");
    assert_eq!(ev.state, CallState::Ended);
    assert_eq!(ev.report.unwrap().outcome, Outcome::Busy);
    let err = d
        .parse_callback(&cfg, &callback_request(URL, b"garbage", None))
        .await
        .unwrap();
    assert!(matches!(err, Err(CallbackError::Malformed(_))), "{err:?}");
}

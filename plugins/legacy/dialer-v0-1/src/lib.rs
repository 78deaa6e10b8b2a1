//! Test dialer adapter built against the pinned `dialplane:plugin@0.1.0` WIT
//! (`wit/v0.1.0`), without the SDK: it proves that 0.1.0 adapters keep
//! loading and running (a host adapts their `parse-callback`).
//!
//! - `place-call`: `finished(answered(human))`, ring 3 s, talk 30 s,
//!   provider call id `v01-<idempotency-key>`.
//! - `parse-callback` (0.1.0: headers and body only): form `CallSid`
//!   (required, else the error `CallSid is required`) and `CallStatus`;
//!   `completed` is `ended` with an `answered(human)` report, anything else
//!   `ringing`.
//! - `hangup`: ok; `lookup`: `none`.
wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "dialplane:plugin/dialer-adapter@0.1.0",
});

use dialplane::plugin::types::{
    AnsweredBy, CallReport, CallRequest, CallState, DialError, Outcome, Placement,
};
use exports::dialplane::plugin::dialer::{CallEvent, Guest};

struct DialerV01;

fn answered(id: String) -> CallReport {
    CallReport {
        outcome: Outcome::Answered(AnsweredBy::Human),
        provider_call_id: Some(id),
        ring_secs: 3,
        talk_secs: 30,
        provider_code: Some("completed".into()),
        detail: None,
    }
}

impl Guest for DialerV01 {
    fn place_call(
        _config: Vec<(String, String)>,
        req: CallRequest,
    ) -> Result<Placement, DialError> {
        Ok(Placement::Finished(answered(format!(
            "v01-{}",
            req.idempotency_key
        ))))
    }

    fn hangup(_config: Vec<(String, String)>, _id: String) -> Result<(), DialError> {
        Ok(())
    }

    fn parse_callback(
        _config: Vec<(String, String)>,
        _headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Option<CallEvent>, String> {
        let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let sid = get("CallSid").ok_or("CallSid is required")?;
        Ok(Some(if get("CallStatus").as_deref() == Some("completed") {
            CallEvent {
                provider_call_id: sid.clone(),
                state: CallState::Ended,
                report: Some(answered(sid)),
            }
        } else {
            CallEvent {
                provider_call_id: sid,
                state: CallState::Ringing,
                report: None,
            }
        }))
    }

    fn lookup(
        _config: Vec<(String, String)>,
        _idempotency_key: String,
    ) -> Result<Option<CallReport>, DialError> {
        Ok(None)
    }
}

export!(DialerV01);

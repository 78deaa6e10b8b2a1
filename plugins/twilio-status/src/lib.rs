//! Decodes a Twilio-style status callback (`application/x-www-form-urlencoded`)
//! into a [`CallEvent`]. Shared by `sim-dialer` and `http-dialer`, so the
//! simulator accepts exactly what the real provider sends.
//!
//! | `CallStatus`  | state    | outcome (at `ended`)                          |
//! |---------------|----------|-----------------------------------------------|
//! | `queued`, `initiated` | queued | –                                     |
//! | `ringing`     | ringing  | –                                             |
//! | `in-progress` | answered | –                                             |
//! | `completed`   | ended    | `answered(<AnsweredBy>)`                      |
//! | `busy`        | ended    | `busy`                                        |
//! | `no-answer`   | ended    | `no-answer`                                   |
//! | `canceled`    | ended    | `canceled`                                    |
//! | `failed`      | ended    | by `SipResponseCode`: 404/484/604 → `invalid-number`, 403/603 → `rejected`, 5xx → `network-error`, else `failed(<code or "failed">)` |
//!
//! `AnsweredBy`: `human` → human; `machine_start`, `machine_end_beep`,
//! `machine_end_silence`, `machine_end_other` → machine; `fax` → fax;
//! `unknown` or absent → unknown. `CallDuration` (seconds) becomes
//! `talk-secs` of a completed call. A missing `CallSid` or `CallStatus`, an
//! unknown status or a non-numeric `CallDuration` is an error naming the field.

use dialplane_guest::{AnsweredBy, CallEvent, CallReport, CallState, Outcome};

/// Decodes the form body of a status callback.
pub fn parse(body: &[u8]) -> Result<CallEvent, String> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    event(
        get("CallSid").ok_or("CallSid is required")?,
        get("CallStatus").ok_or("CallStatus is required")?,
        get("CallDuration"),
        get("AnsweredBy"),
        get("SipResponseCode"),
    )
    .map_err(|e| {
        e.replace("{duration}", "CallDuration")
            .replace("{status}", "CallStatus")
    })
}

/// Builds the event from already-extracted fields (also used for the JSON
/// call resource, whose fields are `sid`, `status`, `duration`,
/// `answered_by`). Errors name the field as `{status}` / `{duration}`, which
/// callers replace with their own field name.
pub fn event(
    sid: &str,
    status: &str,
    duration: Option<&str>,
    answered_by: Option<&str>,
    sip: Option<&str>,
) -> Result<CallEvent, String> {
    let duration = match duration {
        None => 0,
        Some(d) => d
            .parse::<u32>()
            .map_err(|_| format!("{{duration}} {d:?} is not a number of seconds"))?,
    };
    let answered_by = match answered_by.unwrap_or("") {
        "human" => AnsweredBy::Human,
        "fax" => AnsweredBy::Fax,
        m if m.starts_with("machine") => AnsweredBy::Machine,
        _ => AnsweredBy::Unknown,
    };
    let (state, outcome) = match status {
        "queued" | "initiated" => (CallState::Queued, None),
        "ringing" => (CallState::Ringing, None),
        "in-progress" | "answered" => (CallState::Answered, None),
        "completed" => (CallState::Ended, Some(Outcome::Answered(answered_by))),
        "busy" => (CallState::Ended, Some(Outcome::Busy)),
        "no-answer" => (CallState::Ended, Some(Outcome::NoAnswer)),
        "canceled" => (CallState::Ended, Some(Outcome::Canceled)),
        "failed" => (CallState::Ended, Some(failed_outcome(sip))),
        other => return Err(format!("{{status}} {other:?} is not a known call status")),
    };
    let report = outcome.map(|outcome| CallReport {
        talk_secs: if outcome.is_answered() { duration } else { 0 },
        outcome,
        provider_call_id: Some(sid.to_string()),
        ring_secs: 0,
        provider_code: Some(match sip {
            Some(code) => format!("{status} (SIP {code})"),
            None => status.to_string(),
        }),
        detail: None,
    });
    Ok(CallEvent {
        provider_call_id: sid.to_string(),
        state,
        report,
    })
}

fn failed_outcome(sip: Option<&str>) -> Outcome {
    match sip {
        Some("404" | "484" | "604") => Outcome::InvalidNumber,
        Some("403" | "603") => Outcome::Rejected,
        Some(code) if code.starts_with('5') => Outcome::NetworkError,
        Some(code) => Outcome::Failed(code.to_string()),
        None => Outcome::Failed("failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_human() {
        let e =
            parse(b"CallSid=CA1&CallStatus=completed&CallDuration=42&AnsweredBy=human").unwrap();
        assert_eq!(e.provider_call_id, "CA1");
        assert_eq!(e.state, CallState::Ended);
        let r = e.report.unwrap();
        assert_eq!(
            (r.outcome, r.talk_secs),
            (Outcome::Answered(AnsweredBy::Human), 42)
        );
    }

    #[test]
    fn progress_and_failures() {
        let e = parse(b"CallSid=CA1&CallStatus=ringing").unwrap();
        assert_eq!((e.state, e.report), (CallState::Ringing, None));
        let e = parse(b"CallSid=CA1&CallStatus=failed&SipResponseCode=404").unwrap();
        assert_eq!(e.report.unwrap().outcome, Outcome::InvalidNumber);
        let e = parse(b"CallSid=CA1&CallStatus=completed&AnsweredBy=machine_start").unwrap();
        assert_eq!(
            e.report.unwrap().outcome,
            Outcome::Answered(AnsweredBy::Machine)
        );
    }

    #[test]
    fn malformed_names_the_field() {
        assert_eq!(
            parse(b"CallStatus=busy").unwrap_err(),
            "CallSid is required"
        );
        assert_eq!(parse(b"CallSid=CA1").unwrap_err(), "CallStatus is required");
        assert!(
            parse(b"CallSid=CA1&CallStatus=weird")
                .unwrap_err()
                .starts_with("CallStatus \"weird\"")
        );
        assert!(
            parse(b"CallSid=CA1&CallStatus=completed&CallDuration=x")
                .unwrap_err()
                .starts_with("CallDuration")
        );
    }
}

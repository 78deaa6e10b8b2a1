//! `sim-dialer`: a deterministic simulated telephony provider, the reference
//! for tests and `dialplane demo`.
//!
//! # Outcome table
//!
//! The outcome depends only on the dialed number. Let `h`, `t`, `u` be its
//! last three digits (hundreds, tens, units; missing digits count as 0):
//!
//! | `u` (last digit) | outcome                   | ring-secs        | talk-secs          | provider-code    |
//! |------------------|---------------------------|------------------|--------------------|------------------|
//! | 0                | `busy`                    | `min(2+t, T)`    | 0                  | `busy`           |
//! | 1                | `no-answer`               | `T`              | 0                  | `no-answer`      |
//! | 2                | `answered(machine)`       | `min(2+t, T)`    | `20 + h`           | `completed`      |
//! | 3                | `invalid-number`          | 0                | 0                  | `failed (SIP 404)` |
//! | 4                | `network-error`           | 0                | 0                  | `failed (SIP 503)` |
//! | 5                | `rejected`                | `min(2+t, T)`    | 0                  | `failed (SIP 603)` |
//! | 6–9              | `answered(human)`         | `min(2+t, T)`    | `30 + 10·h + u`    | `completed`      |
//!
//! `T` is the request's `timeout-secs`. A `to` that is not `+` followed by
//! 3–15 digits is `invalid-number` (code `failed (SIP 484)`).
//! Example: `+14155550127` → human, ring 4 s, talk 30 + 10 + 7 = 47 s.
//! The provider call id is `sim-<idempotency-key>`.
//!
//! # Configuration (all optional)
//!
//! | key            | values                 | default | meaning |
//! |----------------|------------------------|---------|---------|
//! | `mode`         | `sync`, `pending`      | `sync`  | `sync`: `place-call` returns `finished(report)`. `pending`: returns `pending(sim-<key>)`; the end comes through `parse-callback` or `lookup`. |
//! | `ledger`       | `on`, `off`            | `on`    | Record every placement in `tenant-store` (see below). |
//! | `pending_secs` | integer ≥ 0            | `0`     | `pending` mode only: for this many wall-clock seconds after placement the call is in flight (`lookup` says so, `hangup` cancels it); afterwards it has ended with the table's outcome. |
//!
//! # Ledger
//!
//! With `ledger=on`, `place-call` first writes `tenant-store` key
//! `call/<idempotency-key>` with JSON
//! `{"provider_call_id", "to", "placed_at_unix_ms", "report", "hung_up", "repeats"}`
//! (`report` is the table's outcome as
//! `{"outcome", "answered_by", "ring_secs", "talk_secs", "provider_code", "detail"}`,
//! `outcome` being a label like `answered-human`, `busy`, `canceled`). One
//! entry = one call placed: the ledger counts placements independently of the
//! host's bookkeeping. A second `place-call` with a key already in the ledger
//! places nothing, increments `repeats` and returns the recorded result
//! (`finished(report)` or `pending(id)`). If the ledger cannot be written, no
//! call is placed and the error is `transient`.
//!
//! - `lookup(key)`: `none` if the key is not in the ledger (never placed);
//!   `finished(report)` if the call has ended; `pending(sim-<key>)` while a
//!   `pending` call is in flight. With `ledger=off` it is
//!   `config(…)`: without a ledger the simulator cannot tell.
//! - `hangup(sim-<key>)`: a call in flight is marked `hung_up` and ends
//!   `canceled` (ring as in the table, talk 0, code `canceled`); hanging up
//!   a call that already ended changes nothing. Unknown ids are `rejected`.
//!   With `ledger=off` it is a no-op (`ok`).
//! - `parse-callback`: a Twilio-style status callback, decoded by the
//!   `twilio-status` crate (same table as `http-dialer`); a body it cannot
//!   decode is `malformed`. No signature is checked (the simulator has no
//!   secret). It does not touch the ledger.
//! - `validate-config`: the keys above, each optional; a value outside its
//!   range names the key.

use dialplane_guest::prelude::*;
use serde::{Deserialize, Serialize};

/// Ledger key of one placement.
pub fn ledger_key(idempotency_key: &str) -> String {
    format!("call/{idempotency_key}")
}

/// The provider call id of a placement.
pub fn provider_call_id(idempotency_key: &str) -> String {
    format!("sim-{idempotency_key}")
}

/// One line of the ledger, as stored under `call/<idempotency-key>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub provider_call_id: String,
    pub to: String,
    pub placed_at_unix_ms: u64,
    pub report: StoredReport,
    pub hung_up: bool,
    /// How many later `place-call`s with the same key were refused.
    #[serde(default)]
    pub repeats: u32,
    /// `pending` or `sync`: the mode the call was placed in.
    pub mode: String,
}

/// A call report in JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    pub outcome: String,
    pub answered_by: Option<String>,
    pub ring_secs: u32,
    pub talk_secs: u32,
    pub provider_code: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Pending,
}

struct Config {
    mode: Mode,
    ledger: bool,
    pending_secs: u32,
}

/// The configuration, or the problem with the first key at fault.
fn parse_config(props: &Properties) -> Result<Config, ConfigProblem> {
    let mode = match prop(props, "mode").unwrap_or("sync") {
        "sync" => Mode::Sync,
        "pending" => Mode::Pending,
        other => {
            return Err(ConfigProblem::new(
                "mode",
                format!("mode must be `sync` or `pending`, got {other:?}"),
            ));
        }
    };
    let ledger = match prop(props, "ledger").unwrap_or("on") {
        "on" => true,
        "off" => false,
        other => {
            return Err(ConfigProblem::new(
                "ledger",
                format!("ledger must be `on` or `off`, got {other:?}"),
            ));
        }
    };
    let pending_secs = match prop(props, "pending_secs") {
        None => 0,
        Some(v) => v.trim().parse().map_err(|_| {
            ConfigProblem::new(
                "pending_secs",
                format!("pending_secs must be a whole number of seconds, got {v:?}"),
            )
        })?,
    };
    Ok(Config {
        mode,
        ledger,
        pending_secs,
    })
}

fn config(props: &Properties) -> Result<Config, DialError> {
    parse_config(props).map_err(|p| DialError::Config(p.message))
}

/// The simulated end of a call to `to` with ring timeout `timeout_secs`
/// (the table in the crate docs).
pub fn simulate(to: &str, timeout_secs: u32) -> CallReport {
    let valid = to.len() >= 4
        && to.len() <= 16
        && to.starts_with('+')
        && to[1..].bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return report(
            Outcome::InvalidNumber,
            0,
            0,
            "failed (SIP 484)",
            "not an E.164 number",
        );
    }
    let digits: Vec<u32> = to[1..].bytes().map(|b| u32::from(b - b'0')).collect();
    let nth_from_end = |n: usize| digits.len().checked_sub(n + 1).map_or(0, |i| digits[i]);
    let (u, t, h) = (nth_from_end(0), nth_from_end(1), nth_from_end(2));
    let ring = (2 + t).min(timeout_secs);
    match u {
        0 => report(Outcome::Busy, ring, 0, "busy", "line busy"),
        1 => report(
            Outcome::NoAnswer,
            timeout_secs,
            0,
            "no-answer",
            "rang until the timeout",
        ),
        2 => report(
            Outcome::Answered(AnsweredBy::Machine),
            ring,
            20 + h,
            "completed",
            "voicemail",
        ),
        3 => report(
            Outcome::InvalidNumber,
            0,
            0,
            "failed (SIP 404)",
            "number does not exist",
        ),
        4 => report(
            Outcome::NetworkError,
            0,
            0,
            "failed (SIP 503)",
            "carrier unavailable",
        ),
        5 => report(
            Outcome::Rejected,
            ring,
            0,
            "failed (SIP 603)",
            "callee declined",
        ),
        _ => report(
            Outcome::Answered(AnsweredBy::Human),
            ring,
            30 + 10 * h + u,
            "completed",
            "conversation",
        ),
    }
}

fn report(
    outcome: Outcome,
    ring_secs: u32,
    talk_secs: u32,
    code: &str,
    detail: &str,
) -> CallReport {
    CallReport {
        outcome,
        provider_call_id: None,
        ring_secs,
        talk_secs,
        provider_code: Some(code.to_string()),
        detail: Some(detail.to_string()),
    }
}

impl StoredReport {
    pub fn from_report(r: &CallReport) -> Self {
        let (outcome, answered_by) = match &r.outcome {
            Outcome::Answered(by) => (
                "answered",
                Some(
                    match by {
                        AnsweredBy::Human => "human",
                        AnsweredBy::Machine => "machine",
                        AnsweredBy::Fax => "fax",
                        AnsweredBy::Unknown => "unknown",
                    }
                    .to_string(),
                ),
            ),
            other => (other.label(), None),
        };
        let detail = match &r.outcome {
            Outcome::Failed(code) => Some(code.clone()),
            _ => r.detail.clone(),
        };
        StoredReport {
            outcome: outcome.to_string(),
            answered_by,
            ring_secs: r.ring_secs,
            talk_secs: r.talk_secs,
            provider_code: r.provider_code.clone(),
            detail,
        }
    }

    pub fn to_report(&self, provider_call_id: &str) -> CallReport {
        let outcome = match self.outcome.as_str() {
            "answered" => Outcome::Answered(match self.answered_by.as_deref() {
                Some("human") => AnsweredBy::Human,
                Some("machine") => AnsweredBy::Machine,
                Some("fax") => AnsweredBy::Fax,
                _ => AnsweredBy::Unknown,
            }),
            "busy" => Outcome::Busy,
            "no-answer" => Outcome::NoAnswer,
            "rejected" => Outcome::Rejected,
            "invalid-number" => Outcome::InvalidNumber,
            "network-error" => Outcome::NetworkError,
            "failed" => Outcome::Failed(self.detail.clone().unwrap_or_default()),
            "canceled" => Outcome::Canceled,
            _ => Outcome::Unknown,
        };
        CallReport {
            outcome,
            provider_call_id: Some(provider_call_id.to_string()),
            ring_secs: self.ring_secs,
            talk_secs: self.talk_secs,
            provider_code: self.provider_code.clone(),
            detail: self.detail.clone(),
        }
    }
}

fn read_entry(key: &str) -> Result<Option<LedgerEntry>, DialError> {
    match store::get(&ledger_key(key)) {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            DialError::Transient(format!("ledger entry {} is corrupt: {e}", ledger_key(key)))
        }),
    }
}

fn write_entry(key: &str, entry: &LedgerEntry) -> Result<(), DialError> {
    let json = serde_json::to_vec(entry).expect("ledger entries always serialise");
    store::set(&ledger_key(key), json).map_err(|e| {
        DialError::Transient(format!(
            "cannot write ledger entry {}: {e}",
            ledger_key(key)
        ))
    })
}

impl LedgerEntry {
    /// Still ringing/talking at `now_ms`: placed in `pending` mode, not hung
    /// up, and within `pending_secs` of placement.
    fn in_flight(&self, now_ms: u64, pending_secs: u32) -> bool {
        self.mode == "pending"
            && !self.hung_up
            && now_ms
                < self
                    .placed_at_unix_ms
                    .saturating_add(u64::from(pending_secs) * 1000)
    }

    fn placement(&self) -> Placement {
        if self.mode == "pending" {
            Placement::Pending(self.provider_call_id.clone())
        } else {
            Placement::Finished(self.report.to_report(&self.provider_call_id))
        }
    }
}

pub struct SimDialer;

impl Dialer for SimDialer {
    fn validate_config(config_props: &Properties) -> Result<(), ConfigProblem> {
        parse_config(config_props).map(|_| ())
    }

    fn place_call(config_props: &Properties, req: &CallRequest) -> Result<Placement, DialError> {
        let cfg = config(config_props)?;
        if req.idempotency_key.is_empty() {
            return Err(DialError::Rejected("idempotency-key is empty".into()));
        }
        let id = provider_call_id(&req.idempotency_key);
        let mut report = simulate(&req.to, req.timeout_secs);
        report.provider_call_id = Some(id.clone());
        if cfg.ledger {
            if let Some(mut seen) = read_entry(&req.idempotency_key)? {
                seen.repeats += 1;
                write_entry(&req.idempotency_key, &seen)?;
                log::warn(format!(
                    "idempotency key {} already placed as {}; not placing it again",
                    req.idempotency_key, seen.provider_call_id
                ));
                return Ok(seen.placement());
            }
            let entry = LedgerEntry {
                provider_call_id: id.clone(),
                to: req.to.clone(),
                placed_at_unix_ms: clock::now_unix_ms(),
                report: StoredReport::from_report(&report),
                hung_up: false,
                repeats: 0,
                mode: match cfg.mode {
                    Mode::Sync => "sync".into(),
                    Mode::Pending => "pending".into(),
                },
            };
            write_entry(&req.idempotency_key, &entry)?;
        }
        log::info(format!(
            "placed {id} to {}: {}",
            req.to,
            report.outcome.label()
        ));
        Ok(match cfg.mode {
            Mode::Sync => Placement::Finished(report),
            Mode::Pending => Placement::Pending(id),
        })
    }

    fn hangup(config_props: &Properties, provider_call_id: &str) -> Result<(), DialError> {
        let cfg = config(config_props)?;
        if !cfg.ledger {
            return Ok(());
        }
        let key = provider_call_id.strip_prefix("sim-").ok_or_else(|| {
            DialError::Rejected(format!("{provider_call_id:?} is not a sim-dialer call id"))
        })?;
        let mut entry = read_entry(key)?
            .ok_or_else(|| DialError::Rejected(format!("no call {provider_call_id}")))?;
        if !entry.in_flight(clock::now_unix_ms(), cfg.pending_secs) {
            log::info(format!(
                "hangup of {provider_call_id}: the call has already ended"
            ));
            return Ok(());
        }
        entry.hung_up = true;
        entry.report.outcome = "canceled".into();
        entry.report.answered_by = None;
        entry.report.talk_secs = 0;
        entry.report.provider_code = Some("canceled".into());
        entry.report.detail = Some("hung up by the host".into());
        write_entry(key, &entry)?;
        log::info(format!("hung up {provider_call_id}"));
        Ok(())
    }

    fn lookup(
        config_props: &Properties,
        idempotency_key: &str,
    ) -> Result<Option<Placement>, DialError> {
        let cfg = config(config_props)?;
        if !cfg.ledger {
            return Err(DialError::Config(
                "lookup needs ledger=on: without a ledger the simulator cannot tell".into(),
            ));
        }
        let Some(entry) = read_entry(idempotency_key)? else {
            return Ok(None);
        };
        if entry.in_flight(clock::now_unix_ms(), cfg.pending_secs) {
            return Ok(Some(Placement::Pending(entry.provider_call_id)));
        }
        Ok(Some(Placement::Finished(
            entry.report.to_report(&entry.provider_call_id),
        )))
    }

    /// The simulator has no secret: every well-formed callback is accepted.
    fn parse_callback(
        _config: &Properties,
        req: &CallbackRequest,
    ) -> Result<Option<CallEvent>, CallbackError> {
        twilio_status::parse(&req.body)
            .map(Some)
            .map_err(CallbackError::Malformed)
    }
}

export_dialer!(SimDialer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let r = simulate("+14155550127", 30);
        assert_eq!(r.outcome, Outcome::Answered(AnsweredBy::Human));
        assert_eq!((r.ring_secs, r.talk_secs), (4, 47));
        assert_eq!(simulate("+14155550120", 30).outcome, Outcome::Busy);
        let r = simulate("+14155550121", 25);
        assert_eq!((r.outcome, r.ring_secs), (Outcome::NoAnswer, 25));
        let r = simulate("+14155550392", 30);
        assert_eq!(
            (r.outcome, r.talk_secs),
            (Outcome::Answered(AnsweredBy::Machine), 23)
        );
        assert_eq!(simulate("+14155550123", 30).outcome, Outcome::InvalidNumber);
        assert_eq!(simulate("+14155550124", 30).outcome, Outcome::NetworkError);
        assert_eq!(simulate("+14155550125", 30).outcome, Outcome::Rejected);
        assert_eq!(simulate("4155550127", 30).outcome, Outcome::InvalidNumber);
        assert_eq!(simulate("+1415x", 30).outcome, Outcome::InvalidNumber);
        assert_eq!(simulate("+14155550199", 3).ring_secs, 3);
    }

    #[test]
    fn stored_report_round_trips() {
        for d in 0..10 {
            let mut r = simulate(&format!("+1415555012{d}"), 30);
            r.provider_call_id = Some("sim-k".into());
            assert_eq!(StoredReport::from_report(&r).to_report("sim-k"), r);
        }
    }
}

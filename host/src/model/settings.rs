//! A run's settings, given when it is created and stored with it as JSON,
//! with the defaults and the ranges they are checked against.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::calling_window::{CALLING_WINDOW_DEFAULT, CallingWindow};
use super::lead::Properties;

/// Calls one run may have in flight at once.
pub const RUN_CONCURRENCY_DEFAULT: u32 = 1;
/// Attempts per lead in one run (first call plus retries).
pub const RUN_MAX_ATTEMPTS_DEFAULT: u32 = 3;
/// A `pending` call with no final report after this long becomes `interrupted`
/// with outcome `unknown`. Separate from the lease TTL: a long call never
/// makes its worker look dead.
pub const CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(120);
/// Calls per lead across all of a tenant's runs in 24 h.
pub const LEAD_DAILY_ATTEMPT_CAP_DEFAULT: u32 = 3;

/// Accepted `concurrency`.
pub const RUN_CONCURRENCY_RANGE: RangeInclusive<u32> = 1..=1000;
/// Accepted `max_attempts`.
pub const RUN_MAX_ATTEMPTS_RANGE: RangeInclusive<u32> = 1..=20;
/// Largest accepted `calls_per_second` (far above any provider's rate;
/// refuses absurd values such as 1e308).
pub const RUN_CALLS_PER_SECOND_MAX: f64 = 1000.0;
/// Accepted `call_timeout_secs` (one hour at most).
pub const CALL_TIMEOUT_SECS_RANGE: RangeInclusive<u32> = 1..=3600;

/// What cancel does with calls in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelMode {
    /// End calls in flight through the adapter (default).
    #[default]
    Hangup,
    /// Let calls in flight finish; place no new ones.
    Drain,
}

impl CancelMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelMode::Hangup => "hangup",
            CancelMode::Drain => "drain",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hangup" => Some(CancelMode::Hangup),
            "drain" => Some(CancelMode::Drain),
            _ => None,
        }
    }
}

/// Per-run knobs. Every field has a `*_DEFAULT` above (re-exported by
/// `config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Calls in flight at once for this run.
    pub concurrency: u32,
    /// Attempts per lead in this run (first call plus retries).
    pub max_attempts: u32,
    /// Local hours during which leads may be called, e.g. `09:00-20:00`.
    /// The demo and the benchmark use `00:00-24:00` so they dial at any hour.
    #[serde(with = "window_text")]
    pub calling_window: CallingWindow,
    /// Cap on calls per lead across the tenant's runs in 24 h (may only be
    /// lowered below the platform's cap).
    pub daily_attempt_cap: u32,
    /// Seconds a `pending` call may take before it counts as interrupted.
    pub call_timeout_secs: u32,
    /// Calls per second for this run (innermost token bucket); none = no limit.
    pub calls_per_second: Option<f64>,
    /// What cancel does with calls in flight.
    pub cancel_mode: CancelMode,
    /// Passed to the flow plugin as `run-context.settings`.
    pub flow: Properties,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            concurrency: RUN_CONCURRENCY_DEFAULT,
            max_attempts: RUN_MAX_ATTEMPTS_DEFAULT,
            calling_window: CALLING_WINDOW_DEFAULT,
            daily_attempt_cap: LEAD_DAILY_ATTEMPT_CAP_DEFAULT,
            call_timeout_secs: CALL_TIMEOUT_DEFAULT.as_secs() as u32,
            calls_per_second: None,
            cancel_mode: CancelMode::Hangup,
            flow: Vec::new(),
        }
    }
}

impl RunSettings {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, r: String| Err((f.to_string(), r));
        if !RUN_CONCURRENCY_RANGE.contains(&self.concurrency) {
            return bad(
                "concurrency",
                format!(
                    "must be {RUN_CONCURRENCY_RANGE:?}, got {}",
                    self.concurrency
                ),
            );
        }
        if !RUN_MAX_ATTEMPTS_RANGE.contains(&self.max_attempts) {
            return bad(
                "max_attempts",
                format!(
                    "must be {RUN_MAX_ATTEMPTS_RANGE:?}, got {}",
                    self.max_attempts
                ),
            );
        }
        if self.daily_attempt_cap == 0 || self.daily_attempt_cap > LEAD_DAILY_ATTEMPT_CAP_DEFAULT {
            return bad(
                "daily_attempt_cap",
                format!(
                    "must be 1..={}, got {}",
                    LEAD_DAILY_ATTEMPT_CAP_DEFAULT, self.daily_attempt_cap
                ),
            );
        }
        if !CALL_TIMEOUT_SECS_RANGE.contains(&self.call_timeout_secs) {
            return bad(
                "call_timeout_secs",
                format!(
                    "must be {CALL_TIMEOUT_SECS_RANGE:?}, got {}",
                    self.call_timeout_secs
                ),
            );
        }
        if let Some(cps) = self.calls_per_second
            && !(cps.is_finite() && cps > 0.0 && cps <= RUN_CALLS_PER_SECOND_MAX)
        {
            return bad(
                "calls_per_second",
                format!("must be > 0 and at most {RUN_CALLS_PER_SECOND_MAX}, got {cps}"),
            );
        }
        if let Err(e) = self.calling_window.validate() {
            return bad("calling_window", e);
        }
        Ok(())
    }
}

/// `calling_window` is `"09:00-20:00"` in JSON, not the minutes struct.
mod window_text {
    use super::CallingWindow;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(w: &CallingWindow, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(w)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CallingWindow, D::Error> {
        let s = String::deserialize(d)?;
        CallingWindow::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_errors_keep_their_wording() {
        let s = RunSettings {
            concurrency: 0,
            ..RunSettings::default()
        };
        assert_eq!(
            s.validate(),
            Err(("concurrency".into(), "must be 1..=1000, got 0".into()))
        );
        let s = RunSettings {
            max_attempts: 21,
            ..RunSettings::default()
        };
        assert_eq!(
            s.validate(),
            Err(("max_attempts".into(), "must be 1..=20, got 21".into()))
        );
        let s = RunSettings {
            call_timeout_secs: 3601,
            ..RunSettings::default()
        };
        assert_eq!(
            s.validate(),
            Err((
                "call_timeout_secs".into(),
                "must be 1..=3600, got 3601".into()
            ))
        );
        assert_eq!(RunSettings::default().validate(), Ok(()));
    }

    #[test]
    fn json_shape_is_unchanged() {
        let json = serde_json::to_value(RunSettings::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "concurrency": 1,
                "max_attempts": 3,
                "calling_window": "09:00-20:00",
                "daily_attempt_cap": 3,
                "call_timeout_secs": 120,
                "calls_per_second": null,
                "cancel_mode": "hangup",
                "flow": [],
            })
        );
        let back: RunSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, RunSettings::default());
        for mode in [CancelMode::Hangup, CancelMode::Drain] {
            assert_eq!(CancelMode::parse(mode.as_str()), Some(mode));
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
    }
}

//! A run's settings, given when it is created and stored with it as JSON.

use serde::{Deserialize, Serialize};

use super::compliance::CallingWindow;
use crate::config;
use crate::runtime::Properties;

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

/// Per-run knobs. Every field has a `*_DEFAULT` in [`crate::config`].
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
            concurrency: config::RUN_CONCURRENCY_DEFAULT,
            max_attempts: config::RUN_MAX_ATTEMPTS_DEFAULT,
            calling_window: config::CALLING_WINDOW_DEFAULT,
            daily_attempt_cap: config::LEAD_DAILY_ATTEMPT_CAP_DEFAULT,
            call_timeout_secs: config::CALL_TIMEOUT_DEFAULT.as_secs() as u32,
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
        if !(1..=1000).contains(&self.concurrency) {
            return bad(
                "concurrency",
                format!("must be 1..=1000, got {}", self.concurrency),
            );
        }
        if !(1..=20).contains(&self.max_attempts) {
            return bad(
                "max_attempts",
                format!("must be 1..=20, got {}", self.max_attempts),
            );
        }
        if self.daily_attempt_cap == 0
            || self.daily_attempt_cap > config::LEAD_DAILY_ATTEMPT_CAP_DEFAULT
        {
            return bad(
                "daily_attempt_cap",
                format!(
                    "must be 1..={}, got {}",
                    config::LEAD_DAILY_ATTEMPT_CAP_DEFAULT,
                    self.daily_attempt_cap
                ),
            );
        }
        if !(1..=3600).contains(&self.call_timeout_secs) {
            return bad(
                "call_timeout_secs",
                format!("must be 1..=3600, got {}", self.call_timeout_secs),
            );
        }
        if let Some(cps) = self.calls_per_second
            && !(cps.is_finite() && cps > 0.0)
        {
            return bad("calls_per_second", format!("must be > 0, got {cps}"));
        }
        if let Err(e) = self.calling_window.validate() {
            return bad("calling_window", e);
        }
        Ok(())
    }
}

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

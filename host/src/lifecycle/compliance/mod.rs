//! Platform guarantees no plugin can override. The plan step asks
//! [`judge`] after the flow's `plan` said "dial" and before the job is
//! marked `dialing`; the verdict and everything it was based on are stored
//! with the attempt, so "why was this person called at that hour?" has an
//! answer.
//!
//! - [`calling_window`]: local hours a lead may be called, by its timezone.
//! - [`dnc`]: the do-not-call list.
//! - [`attempt_cap`]: attempts per lead per 24 hours.
//! - [`call_slots`]: a tenant's calls in flight on this worker (its fleet share).
//! - [`rate_limit`]: calls per second, nested account → tenant → run buckets.

pub mod attempt_cap;
pub mod call_slots;
pub mod calling_window;
pub mod dnc;
pub mod rate_limit;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use calling_window::CallingWindow;

/// What was checked and what it said; stored as JSON on the attempt row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRecord {
    /// `allowed`, `deferred` or `skipped`.
    pub verdict: String,
    /// The rule that decided (`calling-window`, `dnc`, `attempt-cap`, `timezone`).
    pub rule: String,
    pub window: String,
    pub timezone: Option<String>,
    pub local_time: Option<String>,
    pub dnc_checked: bool,
    pub dnc_listed: bool,
    pub attempts_24h: u32,
    pub reason: Option<String>,
}

impl ComplianceRecord {
    /// The JSON stored with the attempt.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// What the platform says about one lead right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow(ComplianceRecord),
    Defer {
        until: DateTime<Utc>,
        record: ComplianceRecord,
    },
    Skip {
        reason: String,
        record: ComplianceRecord,
    },
}

impl Verdict {
    /// (rule, verdict) for `dialplane_compliance_decisions_total`: an
    /// allowed lead passed every rule (`all`); otherwise the rule that said
    /// no. Both come from fixed sets (bounded labels).
    pub fn metric_labels(&self) -> (&str, &'static str) {
        match self {
            Verdict::Allow(_) => ("all", "allowed"),
            Verdict::Defer { record, .. } => (&record.rule, "deferred"),
            Verdict::Skip { record, .. } => (&record.rule, "skipped"),
        }
    }
}

/// The facts about a lead the store hands out with its job.
#[derive(Debug, Clone)]
pub struct LeadFacts<'a> {
    pub phone: &'a str,
    pub timezone: Option<&'a str>,
    pub dnc_listed: bool,
    pub attempts_24h: u32,
}

/// Applies DNC, the attempt cap and the calling window, in that order.
pub fn judge(
    lead: &LeadFacts<'_>,
    window: CallingWindow,
    attempt_cap: u32,
    now: DateTime<Utc>,
) -> Verdict {
    let mut record = ComplianceRecord {
        verdict: "allowed".into(),
        rule: "calling-window".into(),
        window: window.to_string(),
        timezone: None,
        local_time: None,
        dnc_checked: true,
        dnc_listed: lead.dnc_listed,
        attempts_24h: lead.attempts_24h,
        reason: None,
    };
    let skip = |mut record: ComplianceRecord, rule: &str, reason: String| {
        record.verdict = "skipped".into();
        record.rule = rule.into();
        record.reason = Some(reason.clone());
        Verdict::Skip { reason, record }
    };
    if let Some(reason) = dnc::check(lead.dnc_listed, lead.phone) {
        return skip(record, "dnc", reason);
    }
    if let Some(reason) = attempt_cap::check(lead.attempts_24h, attempt_cap) {
        return skip(record, "attempt-cap", reason);
    }
    match calling_window::check(window, lead.timezone, lead.phone, now) {
        calling_window::WindowVerdict::Open { tz, local } => {
            record.timezone = Some(tz);
            record.local_time = Some(local);
            Verdict::Allow(record)
        }
        calling_window::WindowVerdict::Closed { tz, local, until } => {
            record.verdict = "deferred".into();
            record.reason = Some(format!(
                "outside the calling window {} at {local}; next opening {until}",
                window
            ));
            record.timezone = Some(tz);
            record.local_time = Some(local);
            Verdict::Defer { until, record }
        }
        calling_window::WindowVerdict::UnknownTimezone { reason } => {
            skip(record, "timezone", reason)
        }
    }
}

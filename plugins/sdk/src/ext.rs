//! Convenience methods on the generated WIT types.

use crate::{
    AnsweredBy, CallReport, CallRequest, CallbackRequest, ConfigProblem, DialError, FollowUp, Lead,
    Outcome, RunContext,
};
use std::str::FromStr;

/// The value of `key` in a property list (first match), if any.
pub fn prop<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The non-empty value of config key `key`, else `DialError::Config("<key> is required")`.
pub fn require_prop<'a>(props: &'a [(String, String)], key: &str) -> Result<&'a str, DialError> {
    match prop(props, key) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(DialError::Config(format!("{key} is required"))),
    }
}

impl ConfigProblem {
    /// The problem with configuration key `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl CallbackRequest {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A run setting that is present but does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: String,
    pub value: String,
    pub expected: &'static str,
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "setting `{}` = {:?} is not a valid {}",
            self.key, self.value, self.expected
        )
    }
}

impl std::error::Error for SettingError {}

impl Lead {
    /// The lead's attribute `key` (an import column), if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        prop(&self.attributes, key)
    }

    /// A call request to this lead's number with a 30 s ring timeout. The
    /// host fills in the idempotency key.
    pub fn call(&self) -> CallRequest {
        CallRequest {
            to: self.phone.clone(),
            caller_id: None,
            timeout_secs: 30,
            idempotency_key: String::new(),
            metadata: Vec::new(),
        }
    }
}

impl RunContext {
    /// The run setting `key`, if given.
    pub fn setting(&self, key: &str) -> Option<&str> {
        prop(&self.settings, key)
    }

    /// The run setting `key` parsed as `T`, `default` when absent or blank,
    /// and an error naming the setting when it does not parse.
    pub fn setting_parsed<T: FromStr>(&self, key: &str, default: T) -> Result<T, SettingError> {
        match self.setting(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| SettingError {
                key: key.to_string(),
                value: v.to_string(),
                expected: std::any::type_name::<T>(),
            }),
        }
    }

    /// Like [`RunContext::setting_parsed`], but falls back to `default` (and
    /// logs a warning) when the value does not parse.
    pub fn setting_or<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.setting(key).map(str::trim) {
            None | Some("") => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                crate::log::warn(format!(
                    "setting `{key}` = {v:?} is invalid; using the default"
                ));
                default
            }),
        }
    }

    /// True when another attempt is allowed after this one.
    pub fn can_retry(&self) -> bool {
        self.attempt < self.max_attempts
    }
}

impl CallRequest {
    /// Seconds to let the phone ring.
    pub fn timeout(mut self, secs: u32) -> Self {
        self.timeout_secs = secs;
        self
    }
    /// Number shown to the callee.
    pub fn caller_id(mut self, number: impl Into<String>) -> Self {
        self.caller_id = Some(number.into());
        self
    }
    /// Adds a metadata pair passed through to the adapter.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

impl FollowUp {
    /// Nothing to do.
    pub fn none() -> Self {
        FollowUp {
            retry_after_secs: None,
            lead_status: None,
            note: None,
            tags: Vec::new(),
        }
    }
    /// Call again after `secs` seconds.
    pub fn retry_after(secs: u32) -> Self {
        FollowUp {
            retry_after_secs: Some(secs),
            ..FollowUp::none()
        }
    }
    /// Adds a tag to the lead.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
    /// Sets the lead's status.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.lead_status = Some(status.into());
        self
    }
    /// Stores a note with the attempt.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl Outcome {
    /// A stable kebab-case label: `answered-human`, `busy`, `failed`, …
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Answered(AnsweredBy::Human) => "answered-human",
            Outcome::Answered(AnsweredBy::Machine) => "answered-machine",
            Outcome::Answered(AnsweredBy::Fax) => "answered-fax",
            Outcome::Answered(AnsweredBy::Unknown) => "answered-unknown",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Rejected => "rejected",
            Outcome::InvalidNumber => "invalid-number",
            Outcome::NetworkError => "network-error",
            Outcome::Failed(_) => "failed",
            Outcome::Canceled => "canceled",
            Outcome::Unknown => "unknown",
        }
    }

    /// True for any kind of pick-up.
    pub fn is_answered(&self) -> bool {
        matches!(self, Outcome::Answered(_))
    }
}

impl CallReport {
    /// A report with `outcome` and nothing else filled in.
    pub fn new(outcome: Outcome) -> Self {
        CallReport {
            outcome,
            provider_call_id: None,
            ring_secs: 0,
            talk_secs: 0,
            provider_code: None,
            detail: None,
        }
    }
}

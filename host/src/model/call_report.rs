//! [`CallReport`]: what became of one placed call, and its [`Outcome`]
//! (the WIT `call-report` and `outcome`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnsweredBy {
    Human,
    Machine,
    Fax,
    Unknown,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Answered(AnsweredBy),
    Busy,
    NoAnswer,
    Rejected,
    InvalidNumber,
    NetworkError,
    Failed(String),
    Canceled,
    Unknown,
}

impl Outcome {
    /// A stable label for counters, metrics and SQL (`answered-human`, `busy`, …).
    pub fn label(&self) -> String {
        match self {
            Outcome::Answered(by) => format!(
                "answered-{}",
                match by {
                    AnsweredBy::Human => "human",
                    AnsweredBy::Machine => "machine",
                    AnsweredBy::Fax => "fax",
                    AnsweredBy::Unknown => "unknown",
                }
            ),
            Outcome::Busy => "busy".into(),
            Outcome::NoAnswer => "no-answer".into(),
            Outcome::Rejected => "rejected".into(),
            Outcome::InvalidNumber => "invalid-number".into(),
            Outcome::NetworkError => "network-error".into(),
            Outcome::Failed(_) => "failed".into(),
            Outcome::Canceled => "canceled".into(),
            Outcome::Unknown => "unknown".into(),
        }
    }
}

/// What became of one placed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    pub outcome: Outcome,
    pub provider_call_id: Option<String>,
    pub ring_secs: u32,
    pub talk_secs: u32,
    pub provider_code: Option<String>,
    pub detail: Option<String>,
}

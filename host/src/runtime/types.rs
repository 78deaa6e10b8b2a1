//! Host-side mirror of the WIT types (`wit/types.wit`, `wit/flow.wit`,
//! `wit/dialer.wit`).
//!
//! The rest of the host (lifecycle, store, API, transcripts) speaks these
//! plain serde types, never the bindgen-generated ones, so that a new WIT
//! version only touches `runtime/bindings/`.
//!
//! The mirrors that are also domain records (a lead, a call's report, state
//! and events) are defined in [`crate::model`], so `store/` can use them
//! without the plugin host; they are re-exported here. What only the plugin
//! interface speaks (requests, decisions, errors) stays below.

use serde::{Deserialize, Serialize};

pub use crate::model::{AnsweredBy, CallEvent, CallReport, CallState, Lead, Outcome, Properties};

/// How to place one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRequest {
    pub to: String,
    pub caller_id: Option<String>,
    pub timeout_secs: u32,
    pub idempotency_key: String,
    pub metadata: Properties,
}

/// The answer to `place-call`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    Finished(CallReport),
    /// The provider's call id; the end arrives later.
    Pending(String),
}

/// Why a request to the provider did not go through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum DialError {
    #[error("rate limited, retry after {0} s")]
    RateLimited(u32),
    #[error("rejected by provider: {0}")]
    Rejected(String),
    #[error("transient provider error: {0}")]
    Transient(String),
    #[error("adapter configuration: {0}")]
    Config(String),
}

/// The run a flow call belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunContext {
    pub run_id: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub settings: Properties,
}

/// A flow's answer to `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Dial(CallRequest),
    Skip(String),
}

/// A flow's answer to `on-result`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub retry_after_secs: Option<u32>,
    pub lead_status: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// `dialplane:plugin/call-flow`, uploaded by tenants.
    Flow,
    /// `dialplane:plugin/dialer-adapter`, installed by platform engineers.
    Dialer,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Flow => "flow",
            PluginKind::Dialer => "dialer",
        }
    }
}

/// Why a dialer adapter refused a configuration (`validate-config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigProblem {
    /// The configuration key at fault.
    pub key: String,
    pub message: String,
}

/// One provider callback as the host received it (`parse-callback`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// The full public URL the provider posted to: the host's configured
    /// public URL + the request's path and query.
    pub url: String,
    /// Header names in lowercase.
    pub headers: Properties,
    pub body: Vec<u8>,
}

/// Why a dialer adapter refused a callback (`parse-callback`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackError {
    /// Not a callback the adapter understands (400).
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// Not proven to come from the provider (403 and a security event).
    #[error("unauthenticated callback: {0}")]
    Unauthenticated(String),
}

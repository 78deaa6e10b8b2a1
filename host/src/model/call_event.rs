//! [`CallEvent`]: one provider event decoded by a dialer's `parse-callback`
//! (the WIT `call-event`).

use serde::{Deserialize, Serialize};

use super::call_report::CallReport;
use super::status::CallState;

/// One provider event decoded by `parse-callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub provider_call_id: String,
    pub state: CallState,
    pub report: Option<CallReport>,
}

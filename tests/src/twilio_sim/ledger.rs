//! What the simulator did, for assertions: every placed call, the
//! callbacks sent for it and how each was answered, hang-ups, and counters
//! of the faults injected.

use chrono::{DateTime, Utc};

use super::config::Scenario;

/// One call the simulator placed.
#[derive(Debug, Clone)]
pub struct Placement {
    /// `CA` + 32 hex digits.
    pub sid: String,
    pub to: String,
    pub from: String,
    /// An `Idempotency-Key` or `I-Twilio-Idempotency-Token` header of the
    /// create request, if it had one.
    pub idempotency_hint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub scenario: Scenario,
    pub status_callback: Option<String>,
    pub machine_detection: bool,
    /// Every callback of this call was sent twice.
    pub duplicates: bool,
    /// The `ringing` callback was held back until after the final one.
    pub out_of_order: bool,
    /// The final callback was sent (and answered) before the create answer.
    pub early_final: bool,
    /// HTTP status of the create answer: 201, or 500 when a fault was
    /// injected after placing.
    pub create_answer: u16,
    /// The final status once the call has ended (sent as a callback when
    /// the request subscribed to `completed`).
    pub final_status: Option<String>,
    pub hangups: Vec<Hangup>,
    pub callbacks: Vec<CallbackSent>,
    /// No further callback will be sent for this call.
    pub done: bool,
}

impl Placement {
    /// `CallStatus` of each callback sent, in sending order (duplicates
    /// included).
    pub fn callback_statuses(&self) -> Vec<&str> {
        self.callbacks.iter().map(|c| c.status.as_str()).collect()
    }
}

/// A modify request (`Status=completed|canceled`) for a placed call.
#[derive(Debug, Clone)]
pub struct Hangup {
    pub sid: String,
    /// The `Status` the request asked for.
    pub requested: String,
    pub at: DateTime<Utc>,
    /// The call's status when the request arrived.
    pub status_before: String,
    /// False when the call had already ended (nothing changed).
    pub ended_call: bool,
}

/// One status callback sent.
#[derive(Debug, Clone)]
pub struct CallbackSent {
    pub status: String,
    pub sequence_number: u32,
    /// The second copy of a duplicated callback.
    pub duplicate: bool,
    /// Sent after the final callback, out of order.
    pub late: bool,
    /// One entry per attempt: the HTTP status, or why no answer came.
    pub answers: Vec<Result<u16, String>>,
}

impl CallbackSent {
    /// The last attempt was answered 2xx.
    pub fn delivered(&self) -> bool {
        matches!(self.answers.last(), Some(Ok(s)) if (200..300).contains(s))
    }
}

/// Counts of create/modify requests and of the faults injected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Authenticated create requests.
    pub create_requests: u32,
    /// Requests refused 401 (any route).
    pub unauthorized: u32,
    pub rate_limited: u32,
    pub server_errors_before_place: u32,
    pub server_errors_after_place: u32,
    pub slow_answers: u32,
    pub placed: u32,
    pub hangup_requests: u32,
}

/// A snapshot of everything the simulator did.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// In creation order.
    pub placements: Vec<Placement>,
    pub counters: Counters,
}

impl Ledger {
    pub fn placement(&self, sid: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.sid == sid)
    }

    pub fn placements_to(&self, to: &str) -> Vec<&Placement> {
        self.placements.iter().filter(|p| p.to == to).collect()
    }

    /// Every hang-up request for a known call, in arrival order per call.
    pub fn hangups(&self) -> Vec<&Hangup> {
        self.placements.iter().flat_map(|p| &p.hangups).collect()
    }

    /// Every placed call has ended and all its callbacks were sent.
    pub fn settled(&self) -> bool {
        self.placements.iter().all(|p| p.done)
    }
}

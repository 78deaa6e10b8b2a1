//! What happens to one lead, step by step; the batch pipeline
//! ([`super::pipeline`]) runs these for many leads at once.
//!
//! - [`plan`]: flow `plan`, then compliance (calling window, DNC, attempt cap).
//! - [`place`]: dialer `place-call` under the limits and the dialing gate.
//! - [`placement_check`]: the platform's rules again once the waits are
//!   over, right before `place-call` (the window may have closed meanwhile).
//! - [`after_call`]: flow `on-result` on a call that ended: retry or finish.

pub mod after_call;
pub mod place;
pub mod placement_check;
pub mod plan;

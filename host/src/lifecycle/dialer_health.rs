//! Failures of a run's dialer that no retry fixes: the adapter says its
//! configuration is wrong (`dial-error::config`, naming the key), or it
//! tried to reach a destination other than the `host:port` of the
//! `base_url` its tenant configured (the allowlist refused it). Either halts
//! the run ([`RunControl::halt`](super::run_control::RunControl::halt)): it
//! places nothing more and ends `failed` with this reason, logged once. A
//! transient fault or a throttle is not here: those keep their backoff.

use super::run_state::RunState;
use crate::runtime::DialError;

/// Why the dialer cannot work, if `result` (with what the allowlist
/// recorded meanwhile) says so. Call right after each adapter call: the
/// allowlist's record is taken.
pub fn unusable<T, E>(run: &RunState, result: &Result<Result<T, DialError>, E>) -> Option<String> {
    let dialer = run.plugins.dialer_name();
    if let Some(dest) = run.plugins.take_http_refusal() {
        return Some(format!(
            "dialer {dialer}: outbound HTTP to {dest} refused (it may reach {})",
            run.plugins.http_allowed()
        ));
    }
    match result {
        Ok(Err(DialError::Config(m))) => Some(format!("dialer {dialer}: configuration: {m}")),
        _ => None,
    }
}

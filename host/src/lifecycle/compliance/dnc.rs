//! The tenant's do-not-call list. The store answers "is this number listed"
//! with the batch of jobs it hands out; this module turns it into a verdict
//! a plugin cannot override.

/// `Some(reason)` when the lead must be skipped.
pub fn check(listed: bool, phone: &str) -> Option<String> {
    listed.then(|| format!("{phone} is on the tenant's do-not-call list"))
}

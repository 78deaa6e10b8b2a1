//! The per-lead attempt cap across all of a tenant's runs in the last 24 h:
//! protects a person from being called by five campaigns in one day.

/// `Some(reason)` when the lead has had `cap` calls or more in 24 h.
pub fn check(attempts_24h: u32, cap: u32) -> Option<String> {
    (attempts_24h >= cap).then(|| {
        format!(
            "lead already called {attempts_24h} times in 24 h across the tenant's runs (cap {cap})"
        )
    })
}

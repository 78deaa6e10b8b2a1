//! The deferred-leads summary of one run: leads the platform rules put off
//! (calling window, rate, …) are counted by rule, and one `info` line per
//! [`DEFERRAL_SUMMARY_EVERY`] says how many, instead of a line per lead.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest time between two summaries while leads keep being deferred.
pub const DEFERRAL_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// std Mutex, not tokio's: nothing awaits while it is held.
#[derive(Default)]
pub struct DeferralTally {
    state: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    since: Option<Instant>,
    by_rule: BTreeMap<String, u64>,
}

impl DeferralTally {
    /// One lead deferred by `rule`.
    pub fn record(&self, rule: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.since.get_or_insert_with(Instant::now);
        *s.by_rule.entry(rule.to_string()).or_default() += 1;
    }

    /// The counts since the last summary, if one is due (`force`: the run
    /// is ending or stopping here, so say what is left).
    pub fn take_due(&self, force: bool) -> Option<BTreeMap<String, u64>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let due = s
            .since
            .is_some_and(|t| force || t.elapsed() >= DEFERRAL_SUMMARY_EVERY);
        if !due {
            return None;
        }
        s.since = None;
        Some(std::mem::take(&mut s.by_rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_rule_and_summarises_when_due_or_forced() {
        let t = DeferralTally::default();
        assert_eq!(t.take_due(true), None, "nothing deferred, nothing to say");
        t.record("calling-window");
        t.record("calling-window");
        t.record("rate");
        assert_eq!(t.take_due(false), None, "not due yet");
        let s = t.take_due(true).unwrap();
        assert_eq!(s.get("calling-window"), Some(&2));
        assert_eq!(s.get("rate"), Some(&1));
        assert_eq!(t.take_due(true), None, "the counts were taken");
    }
}

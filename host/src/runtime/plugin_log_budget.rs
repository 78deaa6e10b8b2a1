//! How many of a scope's plugin log lines reach `tracing`: at most
//! [`PLUGIN_LOG_LINES_PER_SECOND_DEFAULT`] a second, shared by every instance
//! made from one [`PluginScope`](super::PluginScope) (a worker's run: its
//! flow and dialer instances), so a plugin that logs every call floods no
//! log collector. Lines over the budget are counted and said once, as
//! "N plugin log lines suppressed", before the next line that passes (or
//! when the scope ends). The per-instance buffer (job records, transcripts)
//! is not affected.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::config::PLUGIN_LOG_LINES_PER_SECOND_DEFAULT;

/// The window the budget counts in.
const WINDOW: Duration = Duration::from_secs(1);

/// Cloned into every instance of a scope; clones share the count.
#[derive(Clone)]
pub struct PluginLogBudget(Arc<Mutex<Window>>);

struct Window {
    per_window: u32,
    started: Option<Instant>,
    used: u32,
    suppressed: u64,
}

/// Whether a line may be logged.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Log it, after saying that this many lines were suppressed before it.
    Yes { suppressed_before: u64 },
    /// Over the budget: counted, not logged.
    No,
}

impl PluginLogBudget {
    /// At most `per_second` lines a second (0 logs none).
    pub fn new(per_second: u32) -> Self {
        PluginLogBudget(Arc::new(Mutex::new(Window {
            per_window: per_second,
            started: None,
            used: 0,
            suppressed: 0,
        })))
    }

    /// The budget, lines a second.
    pub fn per_second(&self) -> u32 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).per_window
    }

    /// Asks for one line now.
    pub fn admit(&self) -> Admit {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Admit {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if w.started.is_none_or(|t| now.duration_since(t) >= WINDOW) {
            w.started = Some(now);
            w.used = 0;
        }
        if w.used >= w.per_window {
            w.suppressed += 1;
            return Admit::No;
        }
        w.used += 1;
        Admit::Yes {
            suppressed_before: std::mem::take(&mut w.suppressed),
        }
    }
}

impl Default for PluginLogBudget {
    fn default() -> Self {
        PluginLogBudget::new(PLUGIN_LOG_LINES_PER_SECOND_DEFAULT)
    }
}

impl Drop for Window {
    /// Lines suppressed at the end of the scope are still counted once.
    fn drop(&mut self) {
        if self.suppressed > 0 {
            tracing::debug!(
                suppressed = self.suppressed,
                "{} plugin log lines suppressed (over {} a second)",
                self.suppressed,
                self.per_window
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_over_the_budget_are_counted_and_said_before_the_next_window() {
        let b = PluginLogBudget::new(2);
        let t0 = Instant::now();
        assert_eq!(
            b.admit_at(t0),
            Admit::Yes {
                suppressed_before: 0
            }
        );
        assert_eq!(
            b.admit_at(t0),
            Admit::Yes {
                suppressed_before: 0
            }
        );
        assert_eq!(b.admit_at(t0), Admit::No);
        // A clone (another instance of the scope) shares the count.
        let other = b.clone();
        assert_eq!(other.admit_at(t0 + Duration::from_millis(999)), Admit::No);
        let next = t0 + WINDOW;
        assert_eq!(
            b.admit_at(next),
            Admit::Yes {
                suppressed_before: 2
            }
        );
        assert_eq!(
            other.admit_at(next),
            Admit::Yes {
                suppressed_before: 0
            }
        );
        assert_eq!(b.admit_at(next), Admit::No);
    }

    #[test]
    fn a_zero_budget_logs_nothing() {
        let b = PluginLogBudget::new(0);
        assert_eq!(b.admit(), Admit::No);
        assert_eq!(b.admit(), Admit::No);
    }
}

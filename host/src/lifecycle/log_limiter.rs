//! At most one log line per interval for a repeating condition (a provider
//! throttling or failing every call of a run), with the count of lines left
//! out since the last one, so a bad hour is a few lines, not one per lead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default interval between two lines about the same condition.
pub const LOG_LINE_EVERY: Duration = Duration::from_secs(10);

/// std Mutex, not tokio's: nothing awaits while it is held.
pub struct LogLimiter {
    every: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogLimiter {
    pub fn new(every: Duration) -> Self {
        LogLimiter {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(lines left out since the last one)` when a line may be written
    /// now; `None` (and counted) otherwise.
    pub fn admit(&self) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match s.0 {
            Some(last) if now.duration_since(last) < self.every => {
                s.1 += 1;
                None
            }
            _ => {
                let skipped = s.1;
                *s = (Some(now), 0);
                Some(skipped)
            }
        }
    }
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new(LOG_LINE_EVERY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_first_line_then_counts_until_the_interval_passes() {
        let l = LogLimiter::new(Duration::from_secs(3600));
        assert_eq!(l.admit(), Some(0));
        assert_eq!(l.admit(), None);
        assert_eq!(l.admit(), None);
        let zero = LogLimiter::new(Duration::ZERO);
        assert_eq!(zero.admit(), Some(0));
        assert_eq!(zero.admit(), Some(0), "a zero interval admits every line");
    }
}

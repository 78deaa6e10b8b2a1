//! Calls per second as nested token buckets: adapter account → tenant → run.
//! A call needs a token from every level, so a tenant can never exceed its
//! share of the account and a run never its tenant's. Buckets live in the
//! worker process; the account and tenant rates they are given are this
//! worker's share of the fleet-wide rates ([`crate::lifecycle::fleet_share`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One bucket: `rate` tokens per second, up to `burst` stored.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        let burst = rate.max(1.0);
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.at = now;
    }
    /// Time until one token is available (zero if available now).
    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}

/// Which buckets a call draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    Account(String),
    Tenant(i64),
    Run(i64),
}

/// The worker's buckets. A level without a configured rate is unlimited.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<Level, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one token from every level that has a rate, waiting as needed.
    /// Tokens are taken from all levels at once or not at all, so a call
    /// blocked at the account level does not burn its run's tokens.
    pub async fn acquire(&self, levels: &[(Level, Option<f64>)]) {
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let mut wait = Duration::ZERO;
                for (level, rate) in levels {
                    let Some(rate) = rate.filter(|r| *r > 0.0) else {
                        continue;
                    };
                    let b = buckets
                        .entry(level.clone())
                        .or_insert_with(|| Bucket::new(rate));
                    b.refill(now);
                    // The rate follows the worker's fleet share.
                    b.rate = rate;
                    b.burst = rate.max(1.0);
                    b.tokens = b.tokens.min(b.burst);
                    wait = wait.max(b.wait());
                }
                if wait.is_zero() {
                    for (level, rate) in levels {
                        if rate.filter(|r| *r > 0.0).is_some()
                            && let Some(b) = buckets.get_mut(level)
                        {
                            b.tokens -= 1.0;
                        }
                    }
                }
                wait
            };
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Forgets a finished run's bucket.
    pub fn forget(&self, level: &Level) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn innermost_rate_caps_and_levels_nest() {
        let rl = RateLimiter::new();
        let levels = [
            (Level::Account("sim".into()), Some(100.0)),
            (Level::Tenant(1), Some(10.0)),
            (Level::Run(7), Some(2.0)),
        ];
        let start = tokio::time::Instant::now();
        for _ in 0..6 {
            rl.acquire(&levels).await;
        }
        // burst of 2, then 2/s: 4 more tokens need 2 s of (paused) time.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1900), "{took:?}");
        assert!(took < Duration::from_millis(2600), "{took:?}");
        // The run's limit did not starve another run of the same tenant.
        let other = [
            (Level::Account("sim".into()), Some(100.0)),
            (Level::Tenant(1), Some(10.0)),
            (Level::Run(8), Some(2.0)),
        ];
        let t = tokio::time::Instant::now();
        rl.acquire(&other).await;
        assert!(t.elapsed() < Duration::from_millis(10));
    }
}

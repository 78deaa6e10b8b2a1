//! The local lease deadline zombie safety relies on: a worker may call the
//! adapter only while `now < sent + ttl - margin`, where `sent` is when the
//! last successful claim or heartbeat was *sent* (so the database's
//! `lock_ts` is never earlier). One per run (in its
//! [`RunControl`](super::run_control::RunControl)) and one per worker (when
//! it last heartbeated). State only: the heartbeater renews it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A tenth of the TTL is kept as a safety margin...
const MARGIN_TTL_DIVISOR: u32 = 10;
/// ...but never less than this.
const MARGIN_MIN: Duration = Duration::from_millis(5);

/// The local view of this worker's leases.
#[derive(Debug)]
pub struct LeaseClock {
    ttl: Duration,
    valid_until: Mutex<Option<Instant>>,
    last_sent: Mutex<Option<Instant>>,
}

impl LeaseClock {
    pub fn new(ttl: Duration) -> Self {
        LeaseClock {
            ttl,
            valid_until: Mutex::new(None),
            last_sent: Mutex::new(None),
        }
    }

    /// Safety margin: a tenth of the TTL, at least [`MARGIN_MIN`].
    fn margin(&self) -> Duration {
        (self.ttl / MARGIN_TTL_DIVISOR).max(MARGIN_MIN)
    }

    /// A claim or heartbeat sent at `sent` succeeded.
    pub fn renewed(&self, sent: Instant) {
        let until = sent + self.ttl.saturating_sub(self.margin());
        let mut v = self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        if v.is_none_or(|cur| cur < until) {
            *v = Some(until);
        }
        *self.last_sent.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
    }

    /// May this worker still act on its leases (call adapters)?
    pub fn valid(&self) -> bool {
        self.valid_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| Instant::now() < t)
    }

    /// Time since the last successful heartbeat was sent.
    pub fn age(&self) -> Option<Duration> {
        self.last_sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }
}

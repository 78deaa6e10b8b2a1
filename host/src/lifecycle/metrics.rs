//! In-process lifecycle measurements: leads finished, always counted, and
//! claim-to-finish latency per lead (a batch's leads share it), kept only
//! when [`LifecycleMetrics::enable_latency_samples`] was called — by
//! `dialplane bench lifecycle`, not by a normal worker, whose memory must not
//! grow with every batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Most batches whose latency is kept (later ones are not recorded).
const MAX_SAMPLES: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct LifecycleMetrics {
    leads_finished: AtomicU64,
    /// (claim-to-finish in µs, leads in the batch); `None` until enabled.
    samples: OnceLock<Mutex<Vec<(u64, u32)>>>,
}

impl LifecycleMetrics {
    /// Starts keeping per-batch latency samples for
    /// [`Self::claim_to_finish`] (a benchmark's worker, before it starts).
    pub fn enable_latency_samples(&self) {
        self.samples.get_or_init(Mutex::default);
    }

    /// A batch of `leads` was claimed `latency` before its results committed.
    pub fn record_batch(&self, latency: Duration, leads: usize) {
        self.leads_finished
            .fetch_add(leads as u64, Ordering::Relaxed);
        let Some(samples) = self.samples.get() else {
            return;
        };
        let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < MAX_SAMPLES {
            s.push((latency.as_micros() as u64, leads as u32));
        }
    }

    pub fn leads_finished(&self) -> u64 {
        self.leads_finished.load(Ordering::Relaxed)
    }

    /// Per-lead claim-to-finish latency at quantile `q` (0..=1); `None`
    /// without samples (none recorded, or samples not enabled).
    pub fn claim_to_finish(&self, q: f64) -> Option<Duration> {
        let mut s = self
            .samples
            .get()?
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let total: u64 = s.iter().map(|(_, n)| u64::from(*n)).sum();
        if total == 0 {
            return None;
        }
        s.sort_unstable();
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, n) in s {
            seen += u64::from(n);
            if seen >= target {
                return Some(Duration::from_micros(us));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantiles() {
        let m = LifecycleMetrics::default();
        m.enable_latency_samples();
        m.record_batch(Duration::from_millis(10), 98);
        m.record_batch(Duration::from_millis(50), 2);
        assert_eq!(m.claim_to_finish(0.5), Some(Duration::from_millis(10)));
        assert_eq!(m.claim_to_finish(0.99), Some(Duration::from_millis(50)));
        assert_eq!(m.leads_finished(), 100);
    }

    #[test]
    fn a_normal_worker_only_counts() {
        let m = LifecycleMetrics::default();
        m.record_batch(Duration::from_millis(10), 98);
        assert_eq!(m.claim_to_finish(0.5), None);
        assert_eq!(m.leads_finished(), 98);
    }
}

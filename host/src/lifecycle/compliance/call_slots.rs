//! A tenant's calls in flight on this worker, up to a limit that can change
//! while calls run: the worker's share of the tenant's fleet-wide cap (see
//! [`crate::lifecycle::fleet_share`]). A semaphore cannot shrink while its
//! permits are out; this counts, and waiters re-check on every release.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug)]
pub struct CallSlots {
    /// (in flight, limit). std Mutex: never held across an await.
    state: Mutex<(usize, usize)>,
    changed: Notify,
}

/// One call in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct CallSlot(Arc<CallSlots>);

impl CallSlots {
    pub fn new(limit: usize) -> Arc<CallSlots> {
        Arc::new(CallSlots {
            state: Mutex::new((0, limit.max(1))),
            changed: Notify::new(),
        })
    }

    /// New limit (at least 1, so a tenant's runs never stall). Calls above
    /// a lowered limit finish; no new one starts until below it.
    pub fn set_limit(&self, limit: usize) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = limit.max(1);
        self.changed.notify_waiters();
    }

    pub fn limit(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    pub fn in_flight(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// Waits for a free slot.
    pub async fn acquire(self: &Arc<Self>) -> CallSlot {
        loop {
            // Registered before the check, so a release in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if s.0 < s.1 {
                    s.0 += 1;
                    return CallSlot(self.clone());
                }
            }
            changed.await;
        }
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner()).0 -= 1;
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn limit_holds_and_follows_changes() {
        let slots = CallSlots::new(2);
        let a = slots.acquire().await;
        let b = slots.acquire().await;
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a third call waits at limit 2");
        // Lowered below what is in flight: releasing one is not enough.
        slots.set_limit(1);
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "1 in flight at limit 1");
        drop(b);
        let c = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("a slot is freed")
            .unwrap();
        assert_eq!(slots.in_flight(), 1);
        // Raised: a waiter starts at once.
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire().await }
        });
        tokio::task::yield_now().await;
        slots.set_limit(3);
        let d = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("raised limit lets it in")
            .unwrap();
        assert_eq!(slots.in_flight(), 2);
        drop((c, d));
        assert_eq!(slots.in_flight(), 0);
        slots.set_limit(0);
        assert_eq!(slots.limit(), 1, "never below one");
    }
}

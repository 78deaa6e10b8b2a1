//! The heartbeat: one statement refreshes `lock_ts` of every run this worker
//! owns (per-run heartbeats are what overload a database at scale), and
//! reports which leases it still holds and which runs were cancelled.
//!
//! It also keeps the *local* lease deadline that zombie safety relies on: a
//! worker may call the adapter only while `now < sent + ttl - margin`, where
//! `sent` is when the last successful heartbeat was *sent* (so the database's
//! `lock_ts` is never earlier). A worker paused by SIGSTOP wakes with an
//! expired local lease and places no call until a heartbeat succeeds — and
//! that heartbeat tells it first whether the run was cancelled or taken.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::shutdown::Stop;
use super::worker::WorkerCtx;

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

    /// Safety margin: a tenth of the TTL, at least 5 ms.
    fn margin(&self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(5))
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

/// One heartbeat: refresh, then apply what it says to the run drivers
/// (cancel → close the dialing gate and acknowledge; missing → lease lost).
/// The local lease is extended only after cancels are applied.
pub async fn run_once(ctx: &Arc<WorkerCtx>) -> anyhow::Result<()> {
    let sent = Instant::now();
    let leases = ctx.store.heartbeat(&ctx.cfg.worker_id).await?;
    let held: std::collections::HashMap<i64, _> = leases.iter().map(|l| (l.run_id, *l)).collect();
    for ctl in ctx.active_runs() {
        match held.get(&ctl.run_id) {
            Some(l) if l.generation == ctl.generation => {
                if l.cancel_requested && !l.cancel_acked {
                    ctl.cancel_seen(ctx).await;
                }
                ctl.lease.renewed(sent);
            }
            _ => ctl.lease_lost(),
        }
    }
    // Worker-level: only "when did we last heartbeat" (for beat_if_older).
    ctx.lease.renewed(sent);
    // Limits are fleet-wide: re-take this worker's share. A failure keeps
    // the last shares; the lease is what safety depends on, not this.
    if let Err(e) = super::fleet_share::refresh(ctx).await {
        tracing::warn!(worker = %ctx.cfg.worker_id, "fleet load unavailable: {e:#}");
    }
    Ok(())
}

/// Heartbeats on `interval` until `stop` fires. Failures are logged and
/// retried on the next tick; the local lease simply runs out meanwhile.
pub async fn start(ctx: Arc<WorkerCtx>, stop: Stop) {
    let mut tick = tokio::time::interval(ctx.cfg.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait() => return,
        }
        if let Err(e) = run_once(&ctx).await {
            tracing::warn!(worker = %ctx.cfg.worker_id, "heartbeat failed: {e:#}");
        }
    }
}

/// Refreshes now if the last heartbeat is older than `max_age` ("heartbeat
/// before each batch", without a statement per batch at high throughput).
pub async fn beat_if_older(ctx: &Arc<WorkerCtx>, max_age: Duration) -> anyhow::Result<()> {
    if ctx.lease.age().is_none_or(|a| a >= max_age) {
        run_once(ctx).await?;
    }
    Ok(())
}

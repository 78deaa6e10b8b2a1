//! What the worker's other loops tell one run's driver: cancel or pause
//! seen (the dialing gate), lease lost, reconcile needed, calls still
//! pending, and
//! what a placement tells it: the dialer cannot work (halt). State only,
//! shared between the driver and the worker's loops through the worker
//! context.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, RwLock, RwLockReadGuard};

use super::deferral_tally::DeferralTally;
use super::lease::LeaseClock;
use super::log_limiter::LogLimiter;
use crate::model::{Lease, TenantId};
use crate::store::{ClaimedRun, Fenced, LeaseState, Store};

/// What the worker's other loops (heartbeat, cancel listener) tell a driver.
pub struct RunControl {
    /// The lease the run was claimed under; every fenced write presents it.
    pub claim: Lease,
    pub tenant: TenantId,
    /// This run's lease, as far as this worker can tell locally.
    pub lease: LeaseClock,
    /// `true` (closed) once cancel or pause is seen. Placements hold the
    /// read side while they check it and call the adapter; cancel and pause
    /// take the write side, so when they are acknowledged no placement is
    /// starting or will start. A resume reopens it (unless cancelled).
    gate: RwLock<bool>,
    cancelled: AtomicBool,
    paused: AtomicBool,
    lost: AtomicBool,
    reconcile: AtomicBool,
    /// Calls placed in `pending` mode that have not ended: they count
    /// toward the run's concurrency like calls being placed.
    pending: AtomicUsize,
    /// The adapter has answered `pending` at least once: fetch only as
    /// many jobs as there is room for, instead of whole batches.
    async_adapter: AtomicBool,
    /// Why the run must stop placing calls: its dialer cannot work (a
    /// config error, a refused destination), which no retry fixes. The
    /// first reason wins. std Mutex: nothing awaits while it is held.
    halt: Mutex<Option<String>>,
    /// Throttles the run's log lines about transient dialer errors.
    pub transient_log: LogLimiter,
    /// Leads deferred by the platform rules, for the summary line.
    pub deferrals: DeferralTally,
    pub wake: Notify,
}

impl RunControl {
    pub fn new(run: &ClaimedRun, ttl: Duration) -> Self {
        RunControl {
            claim: run.lease.clone(),
            tenant: run.tenant,
            lease: LeaseClock::new(ttl),
            gate: RwLock::new(run.cancel_requested || run.pause_requested),
            cancelled: AtomicBool::new(run.cancel_requested),
            paused: AtomicBool::new(run.pause_requested),
            lost: AtomicBool::new(false),
            // A new owner first settles what earlier owners left dialing.
            reconcile: AtomicBool::new(true),
            pending: AtomicUsize::new(0),
            async_adapter: AtomicBool::new(false),
            halt: Mutex::new(None),
            transient_log: LogLimiter::default(),
            deferrals: DeferralTally::default(),
            wake: Notify::new(),
        }
    }

    /// Closes the dialing gate, then acknowledges the cancel (fenced).
    pub async fn cancel_seen(&self, store: &dyn Store) {
        {
            let mut g = self.gate.write().await;
            *g = true;
        }
        if !self.cancelled.swap(true, Ordering::SeqCst) {
            tracing::info!(
                tenant = self.tenant.0,
                run_id = self.claim.run.0,
                "cancel seen: no new call starts"
            );
        }
        match store.ack_cancel(&self.claim).await {
            Ok(Fenced::Done) => {}
            Ok(Fenced::LeaseLost) => self.lease_lost(),
            // The next heartbeat sees the unacknowledged cancel and retries.
            Err(e) => tracing::warn!(run_id = self.claim.run.0, "cancel ack failed: {e}"),
        }
        self.wake.notify_waiters();
    }

    /// Closes the dialing gate, then acknowledges the pause (fenced). The
    /// driver then lets calls in flight end and parks the run.
    pub async fn pause_seen(&self, store: &dyn Store) {
        {
            let mut g = self.gate.write().await;
            *g = true;
        }
        if !self.paused.swap(true, Ordering::SeqCst) {
            tracing::info!(
                tenant = self.tenant.0,
                run_id = self.claim.run.0,
                "pause seen: no new call starts"
            );
        }
        match store.ack_pause(&self.claim).await {
            Ok(Fenced::Done) => {}
            Ok(Fenced::LeaseLost) => self.lease_lost(),
            // The next heartbeat sees the unacknowledged pause and retries.
            Err(e) => tracing::warn!(run_id = self.claim.run.0, "pause ack failed: {e}"),
        }
        self.wake.notify_waiters();
    }

    /// The pause was withdrawn before the run was parked: reopen the gate
    /// (a cancel keeps it closed).
    pub async fn resume_seen(&self) {
        {
            let mut g = self.gate.write().await;
            self.paused.store(false, Ordering::SeqCst);
            *g = self.is_cancelled();
        }
        tracing::info!(
            tenant = self.tenant.0,
            run_id = self.claim.run.0,
            "pause withdrawn: dialing again"
        );
        self.wake.notify_waiters();
    }

    /// Applies what a heartbeat or a notice read of this run's flags.
    pub async fn apply(&self, state: &LeaseState, store: &dyn Store) {
        if state.cancel_requested && !state.cancel_acked {
            self.cancel_seen(store).await;
        }
        if state.pause_requested {
            if !state.pause_acked || !self.is_paused() {
                self.pause_seen(store).await;
            }
        } else if self.is_paused() {
            self.resume_seen().await;
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub fn lease_lost(&self) {
        self.lose_lease();
    }

    /// [`Self::lease_lost`], true the first time (logged and counted once).
    pub fn lose_lease(&self) -> bool {
        let first = !self.lost.swap(true, Ordering::SeqCst);
        if first {
            tracing::info!(
                tenant = self.tenant.0,
                run_id = self.claim.run.0,
                generation = self.claim.generation.0,
                "lease lost: this worker stops driving the run"
            );
        }
        self.wake.notify_waiters();
        first
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn needs_reconcile(&self) {
        self.reconcile.store(true, Ordering::SeqCst);
    }

    /// A reconcile was asked for and has not run yet.
    pub fn reconcile_due(&self) -> bool {
        self.reconcile.load(Ordering::SeqCst)
    }

    /// The reconcile asked for is under way.
    pub fn reconcile_started(&self) {
        self.reconcile.store(false, Ordering::SeqCst);
    }

    /// Stops placements (the gate refuses from now on) and tells the
    /// driver why, once; later reasons are dropped.
    pub fn halt(&self, reason: String) {
        let mut h = self.halt.lock().unwrap_or_else(|p| p.into_inner());
        if h.is_none() {
            *h = Some(reason);
        }
        drop(h);
        self.wake.notify_waiters();
    }

    /// Why the run was halted, if it was.
    pub fn halted(&self) -> Option<String> {
        self.halt.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn add_pending(&self, n: usize) {
        if n > 0 {
            self.async_adapter.store(true, Ordering::SeqCst);
        }
        self.pending.fetch_add(n, Ordering::SeqCst);
    }

    /// The adapter has answered `pending` at least once (so batch sizes
    /// follow the room left, see `async_adapter`).
    pub fn is_async_adapter(&self) -> bool {
        self.async_adapter.load(Ordering::SeqCst)
    }

    /// Calls still with the provider (placed pending, not ended).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// After counting the calls still with the provider afresh.
    pub fn set_pending(&self, n: usize) {
        self.pending.store(n, Ordering::SeqCst);
    }

    /// Permission to call the adapter now: the gate is open (no cancel or
    /// pause), the run is not
    /// halted, the lease is ours and not (locally) expired. Hold the guard
    /// across `place-call`.
    pub async fn dial_guard(&self) -> Option<RwLockReadGuard<'_, bool>> {
        let g = self.gate.read().await;
        if *g || self.is_lost() || !self.lease.valid() || self.halted().is_some() {
            return None;
        }
        Some(g)
    }
}

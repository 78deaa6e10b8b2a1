//! Pausing and resuming a run: the API's requests ([`ApiRunPause`]) and the
//! owner's side ([`WorkerRunPause`]).
//!
//! Pause works like cancel up to the point where no new call can start: the
//! request sets `pause_requested` and notifies the owner (the cancel
//! channel; the heartbeat reports it too), the owner closes its dialing gate
//! and acknowledges, and `mark_dialing` refuses to mark while it is set.
//! Then, instead of ending the run, the owner lets its calls in flight end,
//! puts what it marked but did not place back in the queue, and *parks* the
//! run: `queued` with `pause_requested`, no owner, the generation bumped so
//! nothing it still holds can write. Claimers skip a parked run; resume
//! clears `pause_requested` and a claimer picks the run up at its cursor.
//!
//! A run nobody owns (never claimed, or its owner's lease expired with no
//! call left `dialing`) is parked by the request itself. One whose owner
//! died with calls `dialing` waits for a new owner, which reconciles those
//! calls (as after any takeover) and then parks it.

use async_trait::async_trait;

use super::runs::{Fenced, LeaseState, RunStatus};
use super::{StoreError, StoreResult};
use crate::model::{Lease, RunId, TenantId};

/// What [`WorkerRunPause::park_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parked {
    /// The run is paused; this owner's lease is gone (generation bumped).
    Parked,
    /// The pause is no longer requested (resumed meanwhile, or the run is
    /// being cancelled, which wins): carry on.
    NotRequested,
    /// A job is still `dialing`: settle it first.
    Busy,
    /// The lease moved on: nothing was written.
    LeaseLost,
}

/// The API's side: tenant-scoped, another tenant's run is `NotFound`.
#[async_trait]
pub trait ApiRunPause {
    /// Asks for the run to pause and notifies its owner; parks it at once if
    /// nobody owns it. Returns the run's status after the request:
    /// `paused`, or `running` while the owner still has to close its gate.
    /// Idempotent on a paused run. A finished run, or one being cancelled,
    /// is `Invalid { field: "status" }`.
    async fn request_pause(&self, tenant: TenantId, run: RunId) -> StoreResult<RunStatus>;

    /// True once no worker can place another call for the run under the
    /// pause: it is parked or finished, or the pause was withdrawn, or the
    /// current owner acknowledged it, or there is no live owner (an owner
    /// whose lease expired does not dial). Another tenant's run: true.
    async fn pause_settled(&self, tenant: TenantId, run: RunId) -> StoreResult<bool>;

    /// Withdraws the pause: a parked run becomes `queued` (claimable, at
    /// its cursor); a run still being parked keeps its owner, which reopens
    /// its gate when it hears of it. Returns the status after. A run that
    /// is neither paused nor pausing is `Invalid { field: "status" }`.
    async fn request_resume(&self, tenant: TenantId, run: RunId) -> StoreResult<RunStatus>;
}

/// The owner's side: every write is fenced by the lease.
#[async_trait]
pub trait WorkerRunPause {
    /// The owner of `lease` has closed its dialing gate for the pause.
    /// `Done` also when the pause was withdrawn meanwhile (nothing to ack).
    async fn ack_pause(&self, lease: &Lease) -> StoreResult<Fenced>;

    /// Parks the run if its pause is still requested and nothing is
    /// `dialing`: `queued`, unowned, `paused_at` stamped, generation bumped.
    async fn park_run(&self, lease: &Lease) -> StoreResult<Parked>;

    /// The cancel and pause flags of the run as `lease` sees it (`None`:
    /// the lease moved on). Read on a notice, which does not say which of
    /// the two it is about.
    async fn lease_state(&self, lease: &Lease) -> StoreResult<Option<LeaseState>>;
}

/// The stored status of a run a pause may act on (`queued` or `running`),
/// or why not: a finished run or one being cancelled. Both drivers' check.
pub(crate) fn refuse_pause(run: RunId, stored: &str, cancel: bool) -> StoreResult<RunStatus> {
    let status = RunStatus::parse(stored)?;
    if status.is_terminal() {
        return Err(StoreError::invalid(
            "status",
            format!("run {run} is {status}; only a queued or running run can be paused"),
        ));
    }
    if cancel {
        return Err(StoreError::invalid(
            "status",
            format!("run {run} is being cancelled; it cannot be paused"),
        ));
    }
    Ok(status)
}

/// The stored status of a run a resume may act on (a pause is requested),
/// or why not.
pub(crate) fn refuse_resume(run: RunId, stored: &str, pause: bool) -> StoreResult<RunStatus> {
    let status = RunStatus::parse(stored)?;
    if status.is_terminal() {
        return Err(StoreError::invalid(
            "status",
            format!("run {run} is {status}; only a paused run can be resumed"),
        ));
    }
    if !pause {
        return Err(StoreError::invalid(
            "status",
            format!("run {run} is {status}, not paused; only a paused run can be resumed"),
        ));
    }
    Ok(status)
}

//! The cancel operation the API calls (`POST …/runs/{id}/cancel`,
//! `POST /api/outbound/stop-queue`).
//!
//! 1. [`crate::store::ApiRunStore::request_cancel`]: one transaction sets
//!    `cancel_requested` and cancels every queued job; the owner is
//!    notified (PostgreSQL `NOTIFY`, the in-process channel on SQLite, and
//!    in any case its next heartbeat).
//! 2. Wait until no worker can place another call for the run: the owner
//!    closed its dialing gate and acknowledged, or the run has no live
//!    owner (queued, finished, or lease expired — an owner whose lease
//!    expired does not dial, see [`super::heartbeater`]).
//!
//! Jobs already marked `dialing` but not yet handed to the adapter are
//! cancelled by the owner, never dialed: the gate is checked under a lock
//! that the acknowledgement waits for.
//!
//! An operation, not a service: it has no loop of its own and runs on the
//! caller's task. The owner's side is the
//! [`cancel_listener`](super::cancel_listener) (and every heartbeat).

use std::time::{Duration, Instant};

use super::settings::CancelMode;
use crate::model::{RunId, TenantId};
use crate::store::{ApiStore, RunStatus, StoreError};

/// First pause between two looks at whether the cancel settled; doubles up
/// to [`SETTLED_MAX_POLL`] (a cancel usually settles within milliseconds).
const SETTLED_FIRST_POLL: Duration = Duration::from_millis(1);
const SETTLED_MAX_POLL: Duration = Duration::from_millis(20);

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// Run status when the cancel returned (`running` while calls in flight
    /// are still being hung up or drained; then `cancelled`).
    pub status: RunStatus,
    /// Queued jobs cancelled by the request.
    pub jobs_cancelled: u64,
    /// From the request to "no new call can start".
    pub latency: Duration,
}

/// Cancels a run and returns once no new call can be placed for it.
/// Another tenant's run is `NotFound`. Waiting longer than `wait` (the owner
/// is alive but unresponsive) is `Unavailable`: the cancel stays requested
/// and the owner's next heartbeat or the TTL settles it.
pub async fn cancel_run(
    store: &dyn ApiStore,
    tenant: TenantId,
    run: RunId,
    mode: Option<CancelMode>,
    wait: Duration,
) -> Result<Cancelled, StoreError> {
    let t0 = Instant::now();
    let req = store.request_cancel(tenant, run, mode).await?;
    let mut poll = SETTLED_FIRST_POLL;
    loop {
        if store.cancel_settled(tenant, run).await? {
            break;
        }
        if t0.elapsed() > wait {
            return Err(StoreError::Unavailable {
                url: store.redacted_url().to_string(),
                cause: format!(
                    "run {run}: the owner did not acknowledge the cancel within {wait:?}"
                ),
            });
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(SETTLED_MAX_POLL);
    }
    let status = store.get_run(tenant, run).await?.status;
    Ok(Cancelled {
        status,
        jobs_cancelled: req.jobs_cancelled,
        latency: t0.elapsed(),
    })
}

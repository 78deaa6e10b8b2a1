//! The pause and resume operations the API calls
//! (`POST /api/outbound/runs/{id}/pause|resume`).
//!
//! Pause: [`crate::store::ApiRunPause::request_pause`] sets `pause_requested`
//! (or parks a run nobody owns at once) and notifies the owner; then this
//! waits, as cancel does, until no worker can place another call for the
//! run: the owner closed its dialing gate and acknowledged, or the run has
//! no live owner. Calls already with the provider end as they would; the
//! owner then parks the run (`paused`) at its cursor ([`super::run_driver`]).
//!
//! Resume: withdraws the pause. A parked run is `queued` again and the next
//! claim carries on from its cursor; an owner still draining reopens its
//! gate. Neither operation has a loop of its own: they run on the caller's
//! task.

use std::time::{Duration, Instant};

use crate::model::{RunId, TenantId};
use crate::store::{ApiStore, RunStatus, StoreError};

/// First pause between two looks at whether the pause settled; doubles up
/// to [`SETTLED_MAX_POLL`] (as for cancel: it usually settles within
/// milliseconds).
const SETTLED_FIRST_POLL: Duration = Duration::from_millis(1);
const SETTLED_MAX_POLL: Duration = Duration::from_millis(20);

/// What a pause did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    /// Run status when the pause returned: `paused`, or `running` while
    /// calls in flight end before the owner parks it.
    pub status: RunStatus,
    /// From the request to "no new call can start".
    pub latency: Duration,
}

/// Pauses a run and returns once no new call can be placed for it. Another
/// tenant's run is `NotFound`; a finished or cancelling one is `Invalid {
/// field: "status" }`. Waiting longer than `wait` (the owner is alive but
/// unresponsive) is `Unavailable`: the pause stays requested and the
/// owner's next heartbeat or the TTL settles it.
pub async fn pause_run(
    store: &dyn ApiStore,
    tenant: TenantId,
    run: RunId,
    wait: Duration,
) -> Result<Paused, StoreError> {
    let t0 = Instant::now();
    store.request_pause(tenant, run).await?;
    let mut poll = SETTLED_FIRST_POLL;
    while !store.pause_settled(tenant, run).await? {
        if t0.elapsed() > wait {
            return Err(StoreError::Unavailable {
                url: store.redacted_url().to_string(),
                cause: format!(
                    "run {run}: the owner did not acknowledge the pause within {wait:?}"
                ),
            });
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(SETTLED_MAX_POLL);
    }
    let status = store.get_run(tenant, run).await?.status;
    Ok(Paused {
        status,
        latency: t0.elapsed(),
    })
}

/// Resumes a paused (or pausing) run; returns its status after: `queued`
/// until a worker claims it, or `running` if its owner never let go.
pub async fn resume_run(
    store: &dyn ApiStore,
    tenant: TenantId,
    run: RunId,
) -> Result<RunStatus, StoreError> {
    store.request_resume(tenant, run).await
}

//! Provider callbacks into the per-call state machine
//! (queued < ringing < answered < ended): the API's callback endpoint
//! resolves its token to (tenant, dialer), lets the adapter's
//! `parse-callback` decode the request, and hands the event here.
//! Duplicates and out-of-order events are ignored. The run's owner picks up
//! ended calls on its next step and runs the flow's `on-result`.

use crate::model::TenantId;
use crate::runtime::CallEvent;
use crate::store::{CallEventApplied, Store, StoreResult};

/// Applies one decoded provider event for `tenant`'s call.
pub async fn apply_call_event(
    store: &dyn Store,
    tenant: TenantId,
    event: &CallEvent,
) -> StoreResult<CallEventApplied> {
    store.apply_call_event(tenant, event).await
}

//! Provider call events for both drivers: the per-call state machine
//! (queued < ringing < answered < ended) and the inbox of early events
//! (`early_call_events`, migration 0006).
//!
//! An event can reach the callback endpoint before the worker has recorded
//! the call's provider id: the provider may post the final callback before
//! its create answer returns, and a worker records a batch's pending calls
//! only once the batch's calls are placed. Such an event waits in the inbox.
//! The two sides write, commit, then read the other's table:
//!
//! - callback: find the call → none: upsert the inbox, commit, find the call
//!   again (and, found, drop the inbox row);
//! - worker: record the pending calls, commit, apply the inbox to them.
//!
//! Whichever side commits last sees the other's row, so no event is lost;
//! when both see it, applying twice is harmless (events only move forward).

/// Implements the call-event methods for a driver type with `pool` and
/// `err`; `$engine` is `postgres` or `sqlite`. The trait methods of each
/// engine ([`crate::store::ApiRunStore::apply_call_event`],
/// [`crate::store::WorkerRunStore::record_pending`]) call these.
macro_rules! impl_call_events {
    ($store:ty, $engine:ident) => {
        const _: () = {
            use chrono::Utc;

            use $crate::model::{CallState, TenantId};
            use $crate::runtime::CallEvent;
            use $crate::store::portable::pg_cast;
            use $crate::store::portable::run_rows::call_state_rank as rank;
            use $crate::store::{CallEventApplied, StoreError, StoreResult};

            /// Rank of a stored `call_state` in SQL, for "only forward".
            const RANK_OF_CALL_STATE: &str = "(CASE call_state WHEN 'queued' THEN 0 \
                WHEN 'ringing' THEN 1 WHEN 'answered' THEN 2 WHEN 'ended' THEN 3 ELSE -1 END)";

            /// UPDATE-then-look rounds before a call that keeps changing
            /// under an event is an error (one retry is all a race needs).
            const MOVE_CALL_FORWARD_TRIES: usize = 4;

            /// (outcome label, report JSON) of an `ended` event; none before.
            fn ended_parts(event: &CallEvent) -> StoreResult<(Option<String>, Option<String>)> {
                if event.state != CallState::Ended {
                    return Ok((None, None));
                }
                let outcome = event
                    .report
                    .as_ref()
                    .map(|r| r.outcome.label())
                    .unwrap_or_else(|| "unknown".into());
                let report = match &event.report {
                    Some(r) => Some(
                        serde_json::to_string(r).map_err(|e| StoreError::Other(e.to_string()))?,
                    ),
                    None => None,
                };
                Ok((Some(outcome), report))
            }

            impl $store {
                /// Moves `tenant`'s call forward; an event for a call not
                /// recorded yet waits in the inbox ([`CallEventApplied::Held`]).
                pub(crate) async fn apply_call_event_once(
                    &self,
                    tenant: TenantId,
                    event: &CallEvent,
                ) -> StoreResult<CallEventApplied> {
                    match self.move_call_forward(tenant, event).await? {
                        CallEventApplied::Held => {}
                        known => return Ok(known),
                    }
                    self.hold_early_event(tenant, event).await?;
                    // The worker may have recorded the call meanwhile (and
                    // looked at the inbox before our row was there).
                    match self.move_call_forward(tenant, event).await? {
                        CallEventApplied::Held => Ok(CallEventApplied::Held),
                        known => {
                            self.drop_early_event(tenant, &event.provider_call_id).await?;
                            Ok(known)
                        }
                    }
                }

                /// The state machine step: `Applied`, `Ignored` (the call is
                /// at or past this state) or `Held` (no such call yet).
                ///
                /// The UPDATE and the SELECT that explains a no-op are two
                /// statements: the worker's pending row can commit between
                /// them. Then the SELECT sees a call behind this event that
                /// the UPDATE did not, and the UPDATE runs again (taking it
                /// for `Ignored` lost ~1 in 300 fast-ending calls on PG).
                async fn move_call_forward(
                    &self,
                    tenant: TenantId,
                    event: &CallEvent,
                ) -> StoreResult<CallEventApplied> {
                    for _ in 0..MOVE_CALL_FORWARD_TRIES {
                        if self.update_call_state(tenant, event).await? {
                            return Ok(CallEventApplied::Applied);
                        }
                        match self.stored_call_rank(tenant, &event.provider_call_id).await? {
                            None => return Ok(CallEventApplied::Held),
                            Some(r) if r >= i64::from(rank(event.state)) => {
                                return Ok(CallEventApplied::Ignored)
                            }
                            // Recorded after the UPDATE looked: try again.
                            Some(_) => {}
                        }
                    }
                    Err(StoreError::Other(format!(
                        "call {} did not move forward after {MOVE_CALL_FORWARD_TRIES} tries",
                        event.provider_call_id
                    )))
                }

                /// One forward-only UPDATE; whether it moved the call.
                async fn update_call_state(
                    &self,
                    tenant: TenantId,
                    event: &CallEvent,
                ) -> StoreResult<bool> {
                    let (outcome, report) = ended_parts(event)?;
                    let done = sqlx::query(&format!(
                        "UPDATE attempts SET call_state = $3, \
                             outcome = COALESCE($5, outcome), \
                             report = COALESCE($6{}, report), \
                             ended_at = CASE WHEN $3 = 'ended' THEN $7 ELSE ended_at END \
                         WHERE business_id = $1 AND provider_call_id = $2 AND placed \
                           AND {RANK_OF_CALL_STATE} < $4",
                        pg_cast!($engine, "::jsonb")
                    ))
                    .bind(tenant)
                    .bind(&event.provider_call_id)
                    .bind(event.state.as_str())
                    .bind(rank(event.state))
                    .bind(outcome)
                    .bind(report)
                    .bind(Utc::now().timestamp_millis())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    Ok(done > 0)
                }

                /// The furthest state rank among the placed calls with this
                /// provider id; `None` when no such call is recorded.
                async fn stored_call_rank(
                    &self,
                    tenant: TenantId,
                    provider_call_id: &str,
                ) -> StoreResult<Option<i64>> {
                    let (r,): (Option<i64>,) = sqlx::query_as(&format!(
                        "SELECT CAST(MAX({RANK_OF_CALL_STATE}) AS BIGINT) FROM attempts \
                         WHERE business_id = $1 AND provider_call_id = $2 AND placed"
                    ))
                    .bind(tenant)
                    .bind(provider_call_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(r)
                }

                /// Keeps the furthest event received for a call not recorded yet.
                async fn hold_early_event(
                    &self,
                    tenant: TenantId,
                    event: &CallEvent,
                ) -> StoreResult<()> {
                    let (outcome, report) = ended_parts(event)?;
                    sqlx::query(&format!(
                        "INSERT INTO early_call_events (business_id, provider_call_id, \
                             call_state, state_rank, outcome, report, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6{}, $7) \
                         ON CONFLICT (business_id, provider_call_id) DO UPDATE SET \
                             call_state = excluded.call_state, state_rank = excluded.state_rank, \
                             outcome = excluded.outcome, report = excluded.report, \
                             received_at = excluded.received_at \
                         WHERE early_call_events.state_rank < excluded.state_rank",
                        pg_cast!($engine, "::jsonb")
                    ))
                    .bind(tenant)
                    .bind(&event.provider_call_id)
                    .bind(event.state.as_str())
                    .bind(rank(event.state))
                    .bind(outcome)
                    .bind(report)
                    .bind(Utc::now().timestamp_millis())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(())
                }

                /// Empties the inbox of what the recorded call has reached:
                /// another callback of the same call may have held a later
                /// event there meanwhile, which must stay until applied.
                async fn drop_early_event(
                    &self,
                    tenant: TenantId,
                    provider_call_id: &str,
                ) -> StoreResult<()> {
                    sqlx::query(&format!(
                        "DELETE FROM early_call_events AS e \
                         WHERE e.business_id = $1 AND e.provider_call_id = $2 \
                           AND e.state_rank <= (SELECT MAX({RANK_OF_CALL_STATE}) FROM attempts \
                               WHERE business_id = $1 AND provider_call_id = $2 AND placed)"
                    ))
                    .bind(tenant)
                    .bind(provider_call_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(())
                }

                /// Applies the inbox to run `run_id`'s recorded calls and
                /// empties it of what they have reached (never of an event
                /// not applied yet). Called after the worker's pending
                /// calls are committed; returns how many calls moved.
                pub(crate) async fn apply_early_call_events(&self, run_id: i64) -> StoreResult<u64> {
                    let moved = sqlx::query(
                        "UPDATE attempts AS a SET call_state = e.call_state, \
                             outcome = COALESCE(e.outcome, a.outcome), \
                             report = COALESCE(e.report, a.report), \
                             ended_at = CASE WHEN e.call_state = 'ended' \
                                 THEN e.received_at ELSE a.ended_at END \
                         FROM early_call_events AS e \
                         WHERE e.business_id = a.business_id \
                           AND e.provider_call_id = a.provider_call_id \
                           AND a.run_id = $1 AND a.placed \
                           AND (CASE a.call_state WHEN 'queued' THEN 0 WHEN 'ringing' THEN 1 \
                                WHEN 'answered' THEN 2 WHEN 'ended' THEN 3 ELSE -1 END) \
                               < e.state_rank",
                    )
                    .bind(run_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected();
                    sqlx::query(
                        "DELETE FROM early_call_events WHERE EXISTS (SELECT 1 FROM attempts a \
                             WHERE a.business_id = early_call_events.business_id \
                               AND a.provider_call_id = early_call_events.provider_call_id \
                               AND a.run_id = $1 \
                               AND (CASE a.call_state WHEN 'queued' THEN 0 WHEN 'ringing' THEN 1 \
                                    WHEN 'answered' THEN 2 WHEN 'ended' THEN 3 ELSE -1 END) \
                                   >= early_call_events.state_rank)",
                    )
                    .bind(run_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    Ok(moved)
                }
            }
        };
    };
}
pub(crate) use impl_call_events;

//! Step 4 for one marked lead: dialer `place-call`, under the tenant's call
//! slots, the nested rate limits (account, tenant, run) and the run's
//! dialing gate (closed by cancel), with the local lease checked so a
//! stalled worker never dials and the platform's rules judged again once
//! the waits are over ([`placement_check`]). A call that ends at once goes
//! through step 5.

use std::sync::Arc;

use chrono::Utc;

use super::after_call::{CallOf, after_call};
use super::placement_check;
use crate::lifecycle::compliance::rate_limit::Level;
use crate::lifecycle::context::WorkerCtx;
use crate::lifecycle::dialer_health;
use crate::lifecycle::job_result::JobAttempt;
use crate::lifecycle::reconciler::{self, Reconciled};
use crate::lifecycle::run_state::RunState;
use crate::runtime::{CallRequest, DialError, Placement};
use crate::store::{JobResult, JobStatus, JobWork, PendingCall};

/// Seconds before a placement that failed transiently (nothing placed) is
/// tried again.
const TRANSIENT_RETRY_SECS: u32 = 1;

/// What a placement came to.
// `Done` is the common case and is moved into the batch's results at once:
// boxing it would cost an allocation per call to save a few bytes on a
// short-lived value.
#[allow(clippy::large_enum_variant)]
pub enum Placed {
    Done(JobResult),
    Pending(PendingCall),
    /// Not placed because the local lease may have expired: the job stays
    /// `dialing` and is reconciled once the lease is confirmed (or by the
    /// next owner).
    Abandoned,
}

/// What becomes of a job its run no longer dials: cancelled (never
/// placed), or back to the queue with the same attempt and key (paused, or
/// halted by a broken dialer). `None` while the run may dial.
fn refused(ctx: &Arc<WorkerCtx>, run: &RunState, at: &JobAttempt) -> Option<Placed> {
    if run.ctl.is_cancelled() {
        return Some(Placed::Done(JobResult::cancelled_before_placing(
            at.clone(),
        )));
    }
    if run.ctl.halted().is_some() || run.ctl.is_paused() {
        let now = ctx.clock.now().timestamp_millis();
        return Some(Placed::Done(JobResult::requeue(at.clone(), now)));
    }
    None
}

/// Step 4 (and 5) for one marked job, fetched (with its DNC entry) at
/// `fetched_at`.
#[tracing::instrument(level = "info", name = "job", skip_all, fields(job = job.job_id.get(), lead = job.lead_id.get(), attempt = job.attempt + 1))]
pub async fn place_one(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    job: &JobWork,
    mut req: CallRequest,
    fetched_at: std::time::Instant,
) -> Placed {
    let attempt = job.attempt + 1;
    let run_id = run.claimed.lease.run.0;
    let at = JobAttempt::next_of(run.claimed.lease.run, job);
    let key = at.idempotency_key.clone();
    // Stopped already (cancel, pause, a broken dialer): settle the job now
    // instead of after the slot and rate waits, so a paced batch drains at
    // once and the run ends or parks without waiting out its pace.
    if let Some(done) = refused(ctx, run, &at) {
        return done;
    }
    let _slot = ctx.tenant_slots(run.claimed.tenant).acquire().await;
    ctx.rate
        .acquire(&[
            (
                Level::Account(run.claimed.dialer.clone()),
                ctx.cfg
                    .account_calls_per_second
                    .map(|r| r * ctx.fleet.account(&run.claimed.dialer)),
            ),
            (
                Level::Tenant(run.claimed.tenant.0),
                ctx.cfg
                    .tenant_calls_per_second
                    .map(|r| r * ctx.fleet.tenant(run.claimed.tenant)),
            ),
            (Level::Run(run_id), run.claimed.settings.calls_per_second),
        ])
        .await;
    // The gate: cancel takes the write side, so once it is acknowledged no
    // placement can start; the lease is checked under it.
    let Some(gate) = run.ctl.dial_guard().await else {
        return refused(ctx, run, &at).unwrap_or(Placed::Abandoned);
    };
    // The waits are over: judged again now, under the gate (so a cancel
    // still wins), and nothing placed if the answer is "not now".
    let compliance = match placement_check::check(ctx, run, job, &at, fetched_at.elapsed()).await {
        Ok(record) => Some(record),
        Err(not_now) => return Placed::Done(not_now),
    };
    req.idempotency_key = key.clone();
    req.to = job.lead.phone.clone();
    let (dialer_version, r) = run.plugins.place_call(&req).await;
    drop(gate);
    if let Some(why) = dialer_health::unusable(run, &r) {
        run.ctl.halt(why);
        if matches!(r, Ok(Err(_))) {
            // The adapter says it placed nothing: same attempt, same key.
            return Placed::Done(JobResult::requeue(at, ctx.clock.now().timestamp_millis()));
        }
    }
    // "Placed" = the provider has it: stamped when place-call returned.
    let placed_at = Utc::now().timestamp_millis();
    // A call the provider has, still under way: its callbacks settle it.
    let pending_call = |provider_call_id: String| PendingCall {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt,
        idempotency_key: key.clone(),
        provider_call_id,
        placed_at,
        call_deadline: placed_at + i64::from(run.claimed.settings.call_timeout_secs) * 1000,
        dialer_version,
        compliance: compliance.clone(),
    };
    let placed = match r {
        Ok(Ok(Placement::Finished(report))) => Placed::Done(
            after_call(
                ctx,
                run,
                CallOf {
                    job_id: job.job_id,
                    lead_id: job.lead_id,
                    lead: &job.lead,
                    attempt,
                    placed_at: Some(placed_at),
                    dialer_version: Some(dialer_version),
                },
                report,
            )
            .await,
        ),
        Ok(Ok(Placement::Pending(provider_call_id))) => {
            Placed::Pending(pending_call(provider_call_id))
        }
        // Nothing was placed (throttled, or a passing fault such as the
        // adapter's own storage being down): try again later without using
        // up an attempt, under the same idempotency key.
        Ok(Err(e @ (DialError::RateLimited(_) | DialError::Transient(_)))) => {
            let secs = match e {
                DialError::RateLimited(s) => s.max(1),
                _ => TRANSIENT_RETRY_SECS,
            };
            if let Some(skipped) = run.ctl.transient_log.admit() {
                tracing::warn!(
                    dialer = %run.claimed.dialer,
                    similar_lines_skipped = skipped,
                    "placement not made, retrying in {secs}s: {e}"
                );
            }
            let not_before_ms = ctx.clock.now().timestamp_millis() + i64::from(secs) * 1000;
            Placed::Done(JobResult::requeue(at, not_before_ms))
        }
        Ok(Err(e)) => Placed::Done(JobResult::finished(
            at,
            JobStatus::Failed,
            "not-placed",
            Some(format!("dialer refused the call: {e}")),
        )),
        // The adapter failed mid-call: the call may or may not exist. Never
        // re-dial blindly; ask the adapter what became of this key first.
        Err(e) => {
            let call = CallOf {
                job_id: job.job_id,
                lead_id: job.lead_id,
                lead: &job.lead,
                attempt,
                placed_at: Some(placed_at),
                dialer_version: Some(dialer_version),
            };
            match reconciler::lookup(run, &key).await {
                Reconciled::NeverPlaced => {
                    Placed::Done(JobResult::requeue(at, ctx.clock.now().timestamp_millis()))
                }
                Reconciled::Ended(report) => Placed::Done(after_call(ctx, run, call, report).await),
                Reconciled::InFlight(provider_call_id) => {
                    Placed::Pending(pending_call(provider_call_id))
                }
                Reconciled::CannotTell(why) => Placed::Done(JobResult::interrupted(
                    at,
                    format!("dialer failed during place-call: {e}; lookup {why}; not re-dialed"),
                )),
                // The run is halted; the job stays `dialing` for whoever
                // can ask the adapter again.
                Reconciled::DialerUnusable => Placed::Abandoned,
            }
        }
    };
    // The attempt keeps the verdict it was dialed under.
    match placed {
        Placed::Done(result) => Placed::Done(result.with_compliance(compliance)),
        other => other,
    }
}

//! The reconciler: settles jobs left `dialing` without knowing whether
//! their call reached the provider. Telephony APIs have no idempotency key
//! on call creation, so a blind retry could ring a person twice; instead
//! the adapter's `lookup(idempotency key)` says what happened, through one
//! path with one retry rule ([`lookup`]), used
//!
//! - by [`reconcile`], before a new owner dials anything: the jobs a
//!   previous owner left `dialing` (it died or stalled, or this worker lost
//!   its own lease for a while). The takeover itself (claiming a run whose
//!   lease expired) is the store's `claim_runs`; this only reconciles;
//! - by [`place_one`](super::steps::place::place_one) when `place-call`
//!   itself failed, so the call may or may not exist.
//!
//! What `lookup` says:
//!
//! - a report (`finished`) with the provider's call id → recorded as a
//!   pending call, so a final callback held while nobody had recorded the
//!   call settles it with the provider's own detail (SIP code, answered-by);
//!   the lookup's coarser report applies only when no callback came;
//! - a report without a call id → the attempt is recorded (and the flow's
//!   `on-result` runs);
//! - `pending(call id)` → the call is still under way at the provider: it is
//!   recorded as a pending call and ends through its callbacks (or the
//!   run's call timeout), like any call this worker placed;
//! - `none` → never placed: the job goes back to the queue with the **same**
//!   attempt number, hence the same key (an adapter that did place it late
//!   will refuse the duplicate);
//! - no answer after [`LOOKUP_TRIES`] tries, or a definite "cannot tell" →
//!   `interrupted` with outcome `unknown`, never re-dialed.
//!
//! A pending call whose provider id was recorded is not looked up: it is
//! left to the callback / call-timeout path.
//!
//! No loop of its own: the run driver calls [`reconcile`] when a run is
//! claimed or asks for it, on the run's own task.

use std::sync::Arc;
use std::time::Duration;

use super::commit;
use super::context::WorkerCtx;
use super::dialer_health;
use super::job_result::JobAttempt;
use super::run_state::RunState;
use super::steps::after_call::{CallOf, after_call};
use crate::model::{CallEvent, CallState};
use crate::runtime::{CallReport, DialError, Placement};
use crate::store::{DialingJob, JobResult, PendingCall};

/// How many times a worker asks the adapter about one key (e.g. its
/// storage went away during a database restart).
pub const LOOKUP_TRIES: u32 = 8;
/// First pause between those lookups; doubles up to [`LOOKUP_MAX_DELAY`].
pub const LOOKUP_FIRST_DELAY: Duration = Duration::from_millis(100);
pub const LOOKUP_MAX_DELAY: Duration = Duration::from_secs(2);

/// What the adapter says about a placement nobody knows the fate of.
pub enum Reconciled {
    /// `lookup` answered `none`: nothing reached the provider; safe to dial
    /// again under the same key.
    NeverPlaced,
    /// The call exists and has ended.
    Ended(CallReport),
    /// The call exists and is still under way, with this provider call id.
    InFlight(String),
    /// The adapter could not tell (still in flight, or lookup kept
    /// failing): why, as "could not tell: …" or "failed: …".
    CannotTell(String),
    /// The dialer cannot work at all ([`dialer_health`]): the run is halted
    /// and the job's fate stays unknown, so it is left `dialing`.
    DialerUnusable,
}

/// Asks the adapter, with bounded retries, what became of `key`: a lost
/// answer must neither ring a person twice nor drop a lead that was never
/// called. A definite "cannot tell" (`config`, `rejected`) is not retried.
pub async fn lookup(run: &RunState, key: &str) -> Reconciled {
    let mut delay = LOOKUP_FIRST_DELAY;
    let mut last = String::from("not tried");
    for _ in 0..LOOKUP_TRIES {
        let r = run.plugins.lookup(key).await;
        if let Some(why) = dialer_health::unusable(run, &r) {
            run.ctl.halt(why);
            return Reconciled::DialerUnusable;
        }
        match r {
            Ok(Ok(None)) => return Reconciled::NeverPlaced,
            Ok(Ok(Some(Placement::Finished(report)))) => return Reconciled::Ended(report),
            Ok(Ok(Some(Placement::Pending(id)))) => return Reconciled::InFlight(id),
            Ok(Err(e @ (DialError::Config(_) | DialError::Rejected(_)))) => {
                return Reconciled::CannotTell(format!("could not tell: {e}"));
            }
            Ok(Err(e)) => last = format!("could not tell: {e}"),
            Err(e) => last = format!("failed: {e}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(LOOKUP_MAX_DELAY);
    }
    Reconciled::CannotTell(last)
}

/// Settles the run's `dialing` jobs that have no recorded pending call
/// (at takeover, and after this worker abandoned placements).
pub async fn reconcile(ctx: &Arc<WorkerCtx>, run: &RunState) -> anyhow::Result<()> {
    let dialing = ctx.store.dialing_jobs(&run.claimed.lease).await?;
    let mut results = Vec::new();
    let mut in_flight = Vec::new();
    let mut lookup_reports = Vec::new();
    let mut pending = 0;
    for j in dialing {
        if j.provider_call_id.is_some() {
            pending += 1;
            continue;
        }
        let result = match lookup(run, &j.idempotency_key).await {
            // A call the provider knows by id: recorded as pending, so the
            // final callback held while nobody had recorded it (with what
            // the call resource lacks: SIP code, answered-by) settles it;
            // the lookup's report applies only if no callback came.
            Reconciled::Ended(report) if report.provider_call_id.is_some() => {
                let provider_call_id = report.provider_call_id.clone().unwrap_or_default();
                in_flight.push(pending_call(run, &j, provider_call_id.clone()));
                lookup_reports.push(CallEvent {
                    provider_call_id,
                    state: CallState::Ended,
                    report: Some(report),
                });
                continue;
            }
            Reconciled::Ended(report) => {
                let now = chrono::Utc::now().timestamp_millis();
                let mut r = after_call(
                    ctx,
                    run,
                    CallOf {
                        job_id: j.job_id,
                        lead_id: j.lead_id,
                        lead: &j.lead,
                        attempt: j.attempt,
                        placed_at: Some(now),
                        dialer_version: None,
                    },
                    report,
                )
                .await;
                r.note = Some(
                    r.note
                        .map(|n| format!("{n} (reconciled through lookup after takeover)"))
                        .unwrap_or_else(|| "reconciled through lookup after takeover".into()),
                );
                r
            }
            Reconciled::InFlight(provider_call_id) => {
                in_flight.push(pending_call(run, &j, provider_call_id));
                continue;
            }
            Reconciled::NeverPlaced => JobResult::requeue(JobAttempt::dialing(&j), 0),
            Reconciled::CannotTell(why) => interrupted(&j, format!("lookup {why}")),
            // Halted: left `dialing`, and the driver fails the run.
            Reconciled::DialerUnusable => break,
        };
        results.push(result);
    }
    if !in_flight.is_empty() {
        // Recorded like this worker's own pending calls: their callbacks
        // (or events held while nobody had recorded them) now apply.
        commit::record_pending(ctx, run, &in_flight).await?;
        pending += in_flight.len();
        // After the held events: a call already ended by its own callback
        // ignores the coarser lookup report (events only move forward).
        for event in &lookup_reports {
            ctx.store
                .apply_call_event(run.claimed.tenant, event)
                .await?;
        }
    }
    run.ctl.add_pending(pending);
    if !results.is_empty() {
        tracing::info!(
            run_id = run.claimed.lease.run.0,
            settled = results.len(),
            "reconciled jobs left dialing"
        );
        commit::commit_results(ctx, run, &results).await?;
    }
    Ok(())
}

/// A call found at the provider, recorded like one this worker placed.
fn pending_call(run: &RunState, j: &DialingJob, provider_call_id: String) -> PendingCall {
    let now = chrono::Utc::now().timestamp_millis();
    PendingCall {
        job_id: j.job_id,
        lead_id: j.lead_id,
        attempt: j.attempt,
        idempotency_key: j.idempotency_key.clone(),
        provider_call_id,
        placed_at: now,
        call_deadline: now + i64::from(run.claimed.settings.call_timeout_secs) * 1000,
        dialer_version: run.plugins.dialer_version(),
        compliance: None,
    }
}

fn interrupted(j: &DialingJob, why: String) -> JobResult {
    let reason = format!("owner died mid-call; {why}; not re-dialed");
    JobResult::interrupted(JobAttempt::dialing(j), reason).with_note(Some(why))
}

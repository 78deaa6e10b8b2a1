//! The run driver: one task per claimed run, from the cursor to the end.
//!
//! Loop: (reconcile if needed) → settle pending calls → heartbeat if stale →
//! next batch of due jobs → [`super::pipeline`] → repeat; when nothing is
//! due, finish the run if nothing is left, else sleep until the next
//! `not_before` or a wake-up (cancel, lease loss, stop). A cancelled run
//! stops placing calls at once (the gate), hangs up or drains calls in
//! flight, and ends `cancelled`. A paused run stops placing calls the same
//! way, lets calls in flight end, and is parked at its cursor for a later
//! claim. A run whose dialer cannot work (see
//! [`super::dialer_health`]) stops placing calls and ends `failed`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::commit;
use super::context::WorkerCtx;
use super::heartbeater;
use super::job_result::JobAttempt;
use super::pipeline::{self, Batch, Marked, Uncommitted};
use super::reconciler;
use super::run_control::RunControl;
use super::run_plugins::RunPlugins;
use super::run_state::RunState;
use super::settings::CancelMode;
use super::steps::after_call::{CallOf, after_call};
use crate::runtime::{CallReport, Outcome};
use crate::store::{ClaimedRun, Fenced, JobResult, JobStatus, Parked, RunStatus};

/// A driver heartbeats before a batch when the last beat is older than the
/// heartbeat interval divided by this, and re-checks a stalled lease as
/// often: a quarter interval.
const BATCH_HEARTBEAT_DIVISOR: u32 = 4;
/// First pause after a failed step (database outage and the like); doubles
/// up to [`STEP_RETRY_MAX_DELAY`].
const STEP_RETRY_FIRST_DELAY: Duration = Duration::from_millis(50);
const STEP_RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// Drives one run until it ends, the lease is lost, or the worker stops.
pub async fn drive(ctx: Arc<WorkerCtx>, claimed: ClaimedRun, ctl: Arc<RunControl>) {
    let run_id = claimed.lease.run.0;
    // Every log line of this run (and its jobs and plugin calls) carries the
    // tenant and run. Error level: one span per run, present at any filter.
    let span = tracing::error_span!(
        "run",
        tenant = claimed.tenant.0,
        run = run_id,
        generation = claimed.lease.generation.0
    );
    let inner = tracing::Instrument::instrument(drive_inner(&ctx, claimed, &ctl), span);
    if let Err(e) = inner.await {
        tracing::warn!(run_id, worker = %ctx.cfg.worker_id, "run driver stopped: {e:#}");
    }
    ctx.remove_run(&ctl);
}

async fn drive_inner(
    ctx: &Arc<WorkerCtx>,
    claimed: ClaimedRun,
    ctl: &Arc<RunControl>,
) -> anyhow::Result<()> {
    let plugins = match RunPlugins::load(ctx, &claimed, ctl).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(se) = e.downcast_ref::<crate::store::StoreError>()
                && se.is_unavailable()
            {
                return Err(e); // try again on the next claim
            }
            ctx.store
                .fail_run(&claimed.lease, &format!("cannot load plugins: {e:#}"))
                .await?;
            return Ok(());
        }
    };
    // A configuration the adapter rejects would fail every placement: the
    // run fails now, before it dials, with the adapter's words.
    if let Some(why) = plugins.dialer_config_problem().await {
        ctl.halt(why);
    }
    let run = RunState {
        claimed,
        ctl: ctl.clone(),
        plugins,
    };
    let mut backoff = STEP_RETRY_FIRST_DELAY;
    // The last batch's results, committed while the next batch runs.
    let mut pending = Uncommitted::default();
    // The next batch, when it was marked while the last one was placed.
    let mut next = None;
    loop {
        if ctl.is_lost() {
            return Ok(());
        }
        if ctx.stop.is_stopped() {
            pipeline::flush(ctx, &run, &mut pending).await?;
            return pipeline::unmark(ctx, &run, next.take()).await;
        }
        if let Some(by_rule) = ctl.deferrals.take_due(false) {
            log_deferrals(&run, &by_rule);
        }
        match step(ctx, &run, &mut pending, &mut next).await {
            Ok(Step::Continue) => backoff = STEP_RETRY_FIRST_DELAY,
            Ok(Step::Idle(d)) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = ctl.wake.notified() => {}
                    _ = ctx.stop.wait() => {}
                }
            }
            Ok(Step::Done) => {
                if let Some(by_rule) = ctl.deferrals.take_due(true) {
                    log_deferrals(&run, &by_rule);
                }
                return Ok(());
            }
            Err(e) => {
                // Database outage and the like: the lease protects us while
                // we retry; if it runs out another worker resumes the run.
                tracing::warn!(run_id = run.claimed.lease.run.0, "run step failed: {e:#}");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = ctx.stop.wait() => {}
                }
                backoff = (backoff * 2).min(STEP_RETRY_MAX_DELAY);
            }
        }
    }
}

/// The deferred-leads summary ([`super::deferral_tally`]).
fn log_deferrals(run: &RunState, by_rule: &std::collections::BTreeMap<String, u64>) {
    tracing::info!(
        tenant = run.claimed.tenant.0,
        run_id = run.claimed.lease.run.0,
        deferred = by_rule.values().sum::<u64>(),
        by_rule = %serde_json::to_string(by_rule).unwrap_or_default(),
        "leads deferred by the platform rules"
    );
}

enum Step {
    Continue,
    Idle(Duration),
    Done,
}

async fn step(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    pending: &mut Uncommitted,
    next: &mut Option<Marked>,
) -> anyhow::Result<Step> {
    let ctl = &run.ctl;
    let lease = &run.claimed.lease;
    let run_id = lease.run.0;
    // Heartbeat before each batch (at most every quarter interval).
    heartbeater::beat_if_older(ctx, ctx.cfg.heartbeat_interval / BATCH_HEARTBEAT_DIVISOR).await?;
    if ctl.is_lost() {
        return Ok(Step::Done);
    }
    if !ctl.lease.valid() {
        // Stalled (GC pause, SIGSTOP, database outage): wait for a
        // heartbeat to confirm the lease before touching anything.
        return Ok(Step::Idle(
            ctx.cfg.heartbeat_interval / BATCH_HEARTBEAT_DIVISOR,
        ));
    }
    if !ctl.is_cancelled()
        && let Some(reason) = ctl.halted()
    {
        return fail_halted(ctx, run, pending, next, &reason).await;
    }
    if ctl.reconcile_due() {
        // Our own placed-but-uncommitted jobs are `dialing` too: commit them
        // first so reconcile sees only jobs nobody handed to the adapter.
        // A batch marked ahead is not placed: back to the queue first.
        pipeline::flush(ctx, run, pending).await?;
        pipeline::unmark(ctx, run, next.take()).await?;
        ctl.reconcile_started();
        reconciler::reconcile(ctx, run).await?;
    }
    if ctl.is_cancelled() {
        // A batch marked ahead is never placed: cancel settles its jobs
        // as it does any marked-but-unplaced job.
        *next = None;
        pipeline::flush(ctx, run, pending).await?;
        return finish_cancelled(ctx, run).await;
    }
    if ctl.is_paused() {
        return pause(ctx, run, pending, next).await;
    }
    if pending.failed() {
        // Never dial more while results of placed calls cannot be committed.
        pipeline::flush(ctx, run, pending).await?;
    }
    settle_pending(ctx, run).await?;
    // Calls at once = placements under way + calls still with the provider.
    let concurrency = run.claimed.settings.concurrency.max(1) as usize;
    let room = concurrency.saturating_sub(ctl.pending());
    if room == 0 {
        pipeline::flush(ctx, run, pending).await?;
        return Ok(Step::Idle(ctx.cfg.poll_interval));
    }
    let limit = match ctl.is_async_adapter() {
        true => ctx.cfg.batch_size.min(room as u32),
        false => ctx.cfg.batch_size,
    };
    let now_ms = ctx.clock.now().timestamp_millis();
    if let Some(marked) = next.take() {
        pipeline::run_batch(ctx, run, Batch::Marked(marked), pending, next).await?;
        return Ok(Step::Continue);
    }
    let claimed_at = std::time::Instant::now();
    let jobs = ctx.store.next_jobs(lease, now_ms, limit).await?;
    tracing::debug!(
        run_id,
        fetch_us = claimed_at.elapsed().as_micros() as u64,
        "next_jobs"
    );
    if !jobs.is_empty() {
        let batch = Batch::Fetched { jobs, claimed_at };
        pipeline::run_batch(ctx, run, batch, pending, next).await?;
        return Ok(Step::Continue);
    }
    if !pending.is_empty() {
        // Requeued jobs may be due again once committed: look once more.
        pipeline::flush(ctx, run, pending).await?;
        return Ok(Step::Continue);
    }
    match ctx.store.finish_run_if_done(lease).await? {
        RunStatus::Running => {}
        status => {
            tracing::info!(
                tenant = run.claimed.tenant.0,
                run_id,
                status = status.as_str(),
                "run finished"
            );
            return Ok(Step::Done);
        }
    }
    // Nothing due: sleep until the next not_before (injectable clock) or a
    // poll interval, whichever is sooner.
    let wait = match ctx.store.next_due(lease.run).await? {
        Some(due) if due > now_ms => Duration::from_millis((due - now_ms) as u64),
        _ => ctx.cfg.poll_interval,
    };
    Ok(Step::Idle(wait.min(ctx.cfg.poll_interval)))
}

/// A halted run ([`super::dialer_health`]): what was placed is committed,
/// what was marked ahead goes back to the queue, and the run ends `failed`
/// with the reason, in one log line for the run rather than one per lead.
async fn fail_halted(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    pending: &mut Uncommitted,
    next: &mut Option<Marked>,
    reason: &str,
) -> anyhow::Result<Step> {
    pipeline::flush(ctx, run, pending).await?;
    pipeline::unmark(ctx, run, next.take()).await?;
    let lease = &run.claimed.lease;
    match ctx.store.fail_run(lease, reason).await? {
        Fenced::Done => tracing::error!(
            run_id = lease.run.0,
            dialer = %run.claimed.dialer,
            reason,
            "run failed: its dialer cannot place calls"
        ),
        Fenced::LeaseLost => run.ctl.lease_lost(),
    }
    Ok(Step::Done)
}

/// A paused run: no new calls (the gate is closed); what was placed is
/// committed, what was marked ahead goes back to the queue, calls in flight
/// end as they would (callbacks, the call timeout); then the run is parked
/// at its cursor and this worker lets go of it. A resume before that
/// reopens the gate and the run carries on here.
async fn pause(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    pending: &mut Uncommitted,
    next: &mut Option<Marked>,
) -> anyhow::Result<Step> {
    pipeline::flush(ctx, run, pending).await?;
    pipeline::unmark(ctx, run, next.take()).await?;
    settle_pending(ctx, run).await?;
    if run.ctl.pending() > 0 {
        return Ok(Step::Idle(ctx.cfg.poll_interval));
    }
    let lease = &run.claimed.lease;
    match ctx.store.park_run(lease).await? {
        Parked::Parked => {
            tracing::info!(
                tenant = run.claimed.tenant.0,
                run_id = lease.run.0,
                "run paused"
            );
            Ok(Step::Done)
        }
        Parked::NotRequested => {
            run.ctl.resume_seen().await;
            Ok(Step::Continue)
        }
        // A job left `dialing` that is not a pending call of ours (an
        // earlier owner's): settle it through the adapter's lookup first.
        Parked::Busy => {
            run.ctl.needs_reconcile();
            Ok(Step::Idle(ctx.cfg.poll_interval))
        }
        Parked::LeaseLost => {
            run.ctl.lease_lost();
            Ok(Step::Done)
        }
    }
}

/// Completes pending calls whose end arrived (callbacks through
/// `apply_call_event`), and gives up on those past the run's call timeout.
async fn settle_pending(ctx: &Arc<WorkerCtx>, run: &RunState) -> anyhow::Result<()> {
    if run.ctl.pending() == 0 {
        return Ok(());
    }
    ctx.store.apply_held_call_events(&run.claimed.lease).await?;
    let dialing = ctx.store.dialing_jobs(&run.claimed.lease).await?;
    let now = Utc::now().timestamp_millis();
    let mut results = Vec::new();
    let mut still = 0;
    for j in dialing {
        if j.provider_call_id.is_none() {
            continue;
        }
        if j.call_state.as_deref() == Some("ended") {
            let report = j
                .report
                .clone()
                .unwrap_or_else(|| unknown_report(&j.provider_call_id));
            results.push(
                after_call(
                    ctx,
                    run,
                    CallOf {
                        job_id: j.job_id,
                        lead_id: j.lead_id,
                        lead: &j.lead,
                        attempt: j.attempt,
                        placed_at: None,
                        dialer_version: None,
                    },
                    report,
                )
                .await,
            );
        } else if j.call_deadline.is_some_and(|d| d < now) {
            results.push(JobResult::interrupted(
                JobAttempt::dialing(&j),
                "no final report within the run's call timeout".into(),
            ));
        } else {
            still += 1;
        }
    }
    run.ctl.set_pending(still);
    if !results.is_empty() {
        commit::commit_results(ctx, run, &results).await?;
    }
    Ok(())
}

fn unknown_report(provider_call_id: &Option<String>) -> CallReport {
    CallReport {
        outcome: Outcome::Unknown,
        provider_call_id: provider_call_id.clone(),
        ring_secs: 0,
        talk_secs: 0,
        provider_code: None,
        detail: Some("ended without a report".into()),
    }
}

/// A cancelled run: no new calls (the gate is closed). `hangup` ends calls
/// in flight through the adapter; `drain` waits for them. Then the run
/// ends `cancelled`.
async fn finish_cancelled(ctx: &Arc<WorkerCtx>, run: &RunState) -> anyhow::Result<Step> {
    let lease = &run.claimed.lease;
    let mode = run
        .claimed
        .cancel_mode
        .or(fresh_cancel_mode(ctx, run).await)
        .unwrap_or(run.claimed.settings.cancel_mode);
    let dialing = ctx.store.dialing_jobs(lease).await?;
    let mut results = Vec::new();
    let mut in_flight = 0;
    for j in &dialing {
        match (&j.provider_call_id, mode) {
            (Some(pcid), CancelMode::Hangup) if j.call_state.as_deref() != Some("ended") => {
                let detail = match run.plugins.hangup(pcid).await {
                    Ok(Ok(())) => "hung up by cancel".to_string(),
                    Ok(Err(e)) => format!("hang-up refused: {e}"),
                    Err(e) => format!("hang-up failed: {e}"),
                };
                let reason = Some("run cancelled (hangup)".into());
                let r = JobResult::finished(
                    JobAttempt::dialing(j),
                    JobStatus::Cancelled,
                    "canceled",
                    reason,
                );
                results.push(r.with_note(Some(detail)));
            }
            (Some(_), _) => in_flight += 1,
            // Marked dialing but never handed to the adapter by us: the
            // reconcile step already settled earlier owners' jobs.
            (None, _) => results.push(JobResult::cancelled_before_placing(JobAttempt::dialing(j))),
        }
    }
    if !results.is_empty() {
        commit::commit_results(ctx, run, &results).await?;
    }
    if in_flight > 0 {
        // drain: let them end (callbacks / call timeout).
        run.ctl.set_pending(in_flight);
        settle_pending(ctx, run).await?;
        return Ok(Step::Idle(ctx.cfg.poll_interval));
    }
    match ctx.store.finish_run_if_done(lease).await? {
        RunStatus::Running => Ok(Step::Idle(ctx.cfg.poll_interval)),
        status => {
            tracing::info!(
                tenant = run.claimed.tenant.0,
                run_id = lease.run.0,
                status = status.as_str(),
                "run finished"
            );
            Ok(Step::Done)
        }
    }
}

async fn fresh_cancel_mode(ctx: &Arc<WorkerCtx>, run: &RunState) -> Option<CancelMode> {
    ctx.store
        .get_run(run.claimed.tenant, run.claimed.lease.run)
        .await
        .ok()
        .and_then(|r| r.cancel_mode)
}

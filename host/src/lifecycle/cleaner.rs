//! The cleaner (River's `job_cleaner`): deletes the jobs and attempts of
//! runs finished (completed, failed, cancelled) longer ago than their
//! tenant's retention (`retention_days`, default
//! [`RETENTION_DAYS_DEFAULT`](crate::config::RETENTION_DAYS_DEFAULT)), in
//! transactions of at most `cleaner_batch_size` rows. A run's job counts
//! are frozen onto the run first, so its view keeps its totals. Provider
//! events held for calls never recorded go after the same retention.
//!
//! Every worker runs one; on PostgreSQL each batch takes its run with
//! `SKIP LOCKED`, so cleaners on several workers share the work and never
//! wait on or undo each other ([`crate::store::CleanerStore`]).
//! [`start`] runs [`run_once`] every `cleaner_interval` (default
//! [`CLEANER_INTERVAL_DEFAULT`](crate::config::CLEANER_INTERVAL_DEFAULT)).

use std::sync::Arc;

use super::context::WorkerCtx;
use crate::store::Store;

/// What one [`run_once`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub runs_purged: u64,
    pub jobs: u64,
    pub attempts: u64,
    pub held_events: u64,
}

/// Deletes batch after batch until no finished run is past its retention.
/// `now_ms` is epoch milliseconds (injectable for tests).
pub async fn run_once(
    store: &dyn Store,
    default_days: u32,
    batch_size: u32,
    now_ms: i64,
) -> anyhow::Result<Cleaned> {
    let mut done = Cleaned::default();
    loop {
        let b = store.purge_batch(default_days, now_ms, batch_size).await?;
        if b.run.is_none() {
            break;
        }
        done.runs_purged += u64::from(b.run_purged);
        done.jobs += b.jobs;
        done.attempts += b.attempts;
        done.held_events += b.held_events;
    }
    // Events held for calls no attempt ever recorded hang off nothing.
    loop {
        let n = store
            .purge_held_events(default_days, now_ms, batch_size)
            .await?;
        done.held_events += n;
        if n < u64::from(batch_size) {
            break;
        }
    }
    Ok(done)
}

/// Cleans every `cleaner_interval` until the worker stops. Failures are
/// logged and retried on the next tick.
pub async fn start(ctx: Arc<WorkerCtx>) {
    let stop = ctx.stop.clone();
    let mut tick = tokio::time::interval(ctx.cfg.cleaner_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait() => return,
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        match run_once(
            &*ctx.store,
            ctx.cfg.retention_days,
            ctx.cfg.cleaner_batch_size,
            now_ms,
        )
        .await
        {
            Ok(c) if c == Cleaned::default() => {}
            Ok(c) => tracing::info!(
                worker = %ctx.cfg.worker_id,
                runs_purged = c.runs_purged,
                jobs = c.jobs,
                attempts = c.attempts,
                held_events = c.held_events,
                "cleaner deleted finished runs' rows past retention"
            ),
            Err(e) => tracing::warn!(worker = %ctx.cfg.worker_id, "cleaner failed: {e:#}"),
        }
    }
}

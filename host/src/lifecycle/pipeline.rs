//! The batch pipeline: the per-lead [`steps`](super::steps) done for a
//! batch of leads at a time, so the database sees three statements per
//! batch, not per lead.
//!
//! 1. flow `plan` (the tenant's plugin decides whether and how to call);
//! 2. compliance (calling window, DNC, attempt cap — the plugin cannot
//!    override them; a request to any number but the lead's is refused);
//! 3. mark `dialing` in one committed transaction guarded by
//!    `NOT cancel_requested AND lease_generation` — before any call;
//! 4. dialer `place-call`, under the run's concurrency, the tenant's cap,
//!    the nested rate limits, and the run's dialing gate (closed by cancel)
//!    with the local lease checked (a stalled worker never dials), and
//!    step 2's rules judged again once those waits are over;
//! 5. flow `on-result` (retry? note?);
//! 6. record attempts, job states and the cursor in one transaction, while
//!    the next batch goes through 4–5 ([`Uncommitted`], [`run_batch`]) and
//!    the one after it through 1–3 (`look_ahead`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::commit::{self, commit_results};
use super::context::WorkerCtx;
use super::job_result::JobAttempt;
use super::run_state::RunState;
use super::steps::place::{Placed, place_one};
use super::steps::plan::plan_one;
use crate::model::{JobId, RunId};
use crate::runtime::CallRequest;
use crate::store::{JobResult, JobWork, MarkResult};

/// Results of placed calls not committed yet. A batch's results are
/// committed while the next batch is planned, marked and placed
/// ([`run_batch`]). Until then the jobs stay `dialing` in the database, so
/// the driver flushes this before anything that reads `dialing` jobs
/// (reconcile, cancel, end of run) and before it stops.
#[derive(Default)]
pub struct Uncommitted {
    results: Vec<JobResult>,
    /// (claimed at, leads) of the batches whose results these are.
    batches: Vec<(Instant, usize)>,
    /// The last commit failed: commit before dialing anything new.
    failed: bool,
}

impl Uncommitted {
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.batches.is_empty()
    }

    /// A commit of these results failed (they are kept for the next try).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The results were committed: count the calls (by outcome and the
    /// run's dialer) and retries, and record claim-to-finish latency.
    fn committed(&mut self, ctx: &WorkerCtx, dialer: &str) {
        for r in self.results.iter().filter(|r| r.placed_at.is_some()) {
            let outcome = r.report.as_ref().map(|c| c.outcome.label());
            ctx.process_metrics
                .call(outcome.as_deref().unwrap_or("unknown"), dialer);
            if matches!(r.next, crate::store::JobNext::Requeue { .. }) {
                ctx.process_metrics.retry();
            }
        }
        self.results.clear();
        self.failed = false;
        for (claimed_at, n) in self.batches.drain(..) {
            ctx.metrics.record_batch(claimed_at.elapsed(), n);
        }
    }
}

/// Results of at least this many jobs commit as two transactions at once
/// where the database has concurrent writers ([`flush`]).
const SPLIT_COMMIT_MIN_RESULTS: usize = 256;

/// Commits what is uncommitted. A lost lease drops it: the next owner
/// reconciles those jobs through the adapter's `lookup`.
///
/// On PostgreSQL a large batch commits as two transactions on two
/// connections at once: this commit is what the next step waits for, and
/// one backend writing it alone leaves the other core idle. Each half is
/// fenced and moves the cursor by its own jobs, so either can fail alone;
/// what failed is kept for the next try. SQLite has one writer, so there a
/// split would only add a transaction.
pub async fn flush(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    pending: &mut Uncommitted,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let n = pending.results.len();
    if n > 0 {
        let parts = match ctx.store.engine().concurrent_writers() && n >= SPLIT_COMMIT_MIN_RESULTS {
            true => 2,
            false => 1,
        };
        let chunks: Vec<&[JobResult]> = pending.results.chunks(n.div_ceil(parts)).collect();
        let outcomes =
            futures::future::join_all(chunks.iter().map(|c| commit_results(ctx, run, c))).await;
        let mut failed = None;
        let mut kept = Vec::new();
        for (chunk, outcome) in chunks.into_iter().zip(outcomes) {
            if let Err(e) = outcome {
                kept.extend_from_slice(chunk);
                failed.get_or_insert(e);
            }
        }
        if let Some(e) = failed {
            pending.results = kept;
            pending.failed = true;
            return Err(e);
        }
    }
    pending.committed(ctx, &run.claimed.dialer);
    Ok(())
}

/// What one batch came to after its placements.
struct PlacedBatch {
    results: Vec<JobResult>,
    /// Jobs marked but not placed because the local lease may have expired.
    abandoned: bool,
    /// When the batch was fetched, and how many leads it had.
    claimed_at: Instant,
    leads: usize,
}

/// A batch after steps 1–3: planned, and its calls marked `dialing`.
pub struct Marked {
    jobs: Vec<JobWork>,
    /// The calls to place: index into `jobs`, and the flow's request.
    calls: Vec<(usize, CallRequest)>,
    /// When its jobs were fetched (claim-to-finish latency counts from then).
    claimed_at: Instant,
}

/// The batch a step works on.
pub enum Batch {
    /// Due jobs just fetched.
    Fetched {
        jobs: Vec<JobWork>,
        claimed_at: Instant,
    },
    /// A batch the previous step already planned and marked.
    Marked(Marked),
}

/// Fetches, plans and marks the next batch while this one's calls are
/// placed, so the database reads and marks it while the worker runs the
/// dialer, and the worker plans it while the database writes, rather than
/// each waiting for the other. Its jobs are `dialing` from then on like any
/// marked job: if the step that should place them does not (cancel, lost
/// lease, reconcile, stop), the driver drops the batch and they are settled
/// as marked-but-never-placed jobs are (cancelled, or found unplaced by
/// `lookup` and requeued). Not with an asynchronous adapter: there the
/// batch size depends on how many calls are still with the provider once
/// this batch is placed. A failed fetch is only a lost head start; a failed
/// mark may have committed, so it asks for a reconcile.
async fn look_ahead(ctx: &Arc<WorkerCtx>, run: &RunState) -> Option<Marked> {
    if run.ctl.is_async_adapter() {
        return None;
    }
    let claimed_at = Instant::now();
    let now_ms = ctx.clock.now().timestamp_millis();
    let r = ctx
        .store
        .next_jobs(&run.claimed.lease, now_ms, ctx.cfg.batch_size)
        .await;
    let jobs = match r {
        Ok(jobs) if !jobs.is_empty() => jobs,
        Ok(_) => return None,
        Err(e) => {
            tracing::debug!(
                run_id = run.claimed.lease.run.0,
                "look-ahead fetch failed: {e}"
            );
            return None;
        }
    };
    match plan_mark(ctx, run, jobs, claimed_at).await {
        Ok(marked) => marked,
        Err(e) => {
            tracing::debug!(
                run_id = run.claimed.lease.run.0,
                "look-ahead mark failed: {e}"
            );
            run.ctl.needs_reconcile();
            None
        }
    }
}

/// Runs steps 1–5 for a batch while step 6 of the previous batch
/// (`pending`) commits concurrently, on another connection: the database
/// writes one batch's results while this worker places the next. The two
/// touch disjoint jobs; both are fenced, and the results commit takes the
/// run row's lock only at its end (see
/// [`crate::store::WorkerRunStore::finish_jobs`]), so neither waits for the other
/// longer than a commit. This batch's results are left in `pending`; the
/// batch after it, when it could be marked meanwhile, goes to `next` (also
/// when this returns an error: its jobs are marked and must be placed or
/// unmarked, never forgotten).
pub async fn run_batch(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    batch: Batch,
    pending: &mut Uncommitted,
    next: &mut Option<Marked>,
) -> anyhow::Result<()> {
    let mut previous = std::mem::take(pending);
    let work = async {
        let marked = match batch {
            Batch::Fetched { jobs, claimed_at } => plan_mark(ctx, run, jobs, claimed_at).await?,
            Batch::Marked(m) => Some(m),
        };
        match marked {
            Some(m) => place_batch(ctx, run, m, next).await.map(Some),
            None => Ok(None),
        }
    };
    let (committed, placed) = tokio::join!(flush(ctx, run, &mut previous), work);
    // Empty unless its commit failed: then it is retried with the next one.
    *pending = previous;
    match placed {
        Ok(Some(batch)) => {
            pending.results.extend(batch.results);
            pending.batches.push((batch.claimed_at, batch.leads));
            if batch.abandoned {
                run.ctl.needs_reconcile();
            }
            committed
        }
        Ok(None) => committed,
        Err(e) => {
            committed?;
            Err(e)
        }
    }
}

/// A marked job that was not handed to the adapter, back to the queue with
/// the same attempt (so the same idempotency key) from `now_ms`.
fn unplaced(run: RunId, job: &JobWork, now_ms: i64) -> JobResult {
    JobResult::requeue(JobAttempt::next_of(run, job), now_ms)
}

/// Puts the calls of a batch marked ahead but not placed back in the queue
/// (same attempt, so the same idempotency key): before a reconcile, which
/// would otherwise ask the adapter about each, and when the worker stops.
pub async fn unmark(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    marked: Option<Marked>,
) -> anyhow::Result<()> {
    let Some(marked) = marked else {
        return Ok(());
    };
    let now = ctx.clock.now().timestamp_millis();
    let results: Vec<JobResult> = marked
        .calls
        .iter()
        .map(|(i, _)| unplaced(run.claimed.lease.run, &marked.jobs[*i], now))
        .collect();
    if results.is_empty() {
        return Ok(());
    }
    commit_results(ctx, run, &results).await
}

/// Steps 1–3 for one batch; `None` when nothing was marked because the run
/// was cancelled or the lease lost.
async fn plan_mark(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    jobs: Vec<JobWork>,
    claimed_at: Instant,
) -> anyhow::Result<Option<Marked>> {
    let run_id = run.claimed.lease.run.0;
    let t_plan = Instant::now();
    let mut decisions = Vec::with_capacity(jobs.len());
    let mut requests: HashMap<JobId, (usize, CallRequest)> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let (d, req) = plan_one(ctx, run, job).await;
        if let Some(req) = req {
            requests.insert(job.job_id, (i, req));
        }
        decisions.push(d);
    }
    let now_ms = ctx.clock.now().timestamp_millis();
    let t_mark = Instant::now();
    let marked = match ctx
        .store
        .mark_dialing(&run.claimed.lease, &decisions, now_ms)
        .await?
    {
        MarkResult::Marked(ids) => ids,
        MarkResult::Cancelled => {
            run.ctl.cancel_seen(&*ctx.store).await;
            return Ok(None);
        }
        MarkResult::Paused => {
            run.ctl.pause_seen(&*ctx.store).await;
            return Ok(None);
        }
        MarkResult::LeaseLost => {
            run.ctl.lease_lost();
            return Ok(None);
        }
    };
    let calls = marked.iter().filter_map(|id| requests.remove(id)).collect();
    tracing::debug!(
        run_id,
        leads = jobs.len(),
        plan_us = (t_mark - t_plan).as_micros() as u64,
        mark_us = t_mark.elapsed().as_micros() as u64,
        "batch marked"
    );
    Ok(Some(Marked {
        jobs,
        calls,
        claimed_at,
    }))
}

/// Steps 4–5 for a marked batch, while the next one is fetched, planned and
/// marked ([`look_ahead`]) into `next`.
async fn place_batch(
    ctx: &Arc<WorkerCtx>,
    run: &RunState,
    marked: Marked,
    next: &mut Option<Marked>,
) -> anyhow::Result<PlacedBatch> {
    let run_id = run.claimed.lease.run.0;
    let Marked {
        jobs,
        calls,
        claimed_at,
    } = marked;
    let t_place = Instant::now();
    let concurrency = run.claimed.settings.concurrency.max(1) as usize;
    let mut placed: Vec<Placed> = Vec::with_capacity(calls.len());
    let mut queue = calls.into_iter().map(|(i, req)| (&jobs[i], req));
    let placing = async {
        let mut in_flight = futures::stream::FuturesUnordered::new();
        // Calls at once: placements under way plus calls still with the
        // provider (pending, from earlier batches and from this one).
        let mut pending_here = 0;
        loop {
            while in_flight.len() + run.ctl.pending() + pending_here < concurrency {
                match queue.next() {
                    Some((job, req)) => in_flight.push(place_one(ctx, run, job, req, claimed_at)),
                    None => break,
                }
            }
            match in_flight.next().await {
                Some(p) => {
                    pending_here += usize::from(matches!(p, Placed::Pending(_)));
                    placed.push(p);
                }
                None => break,
            }
        }
    };
    let (ahead, ()) = tokio::join!(look_ahead(ctx, run), placing);
    *next = ahead;
    // No room left (every slot holds a pending call): the rest go back to
    // the queue unplaced, same attempt, to be fetched once calls end.
    let now = ctx.clock.now().timestamp_millis();
    for (job, _) in queue {
        placed.push(Placed::Done(unplaced(run.claimed.lease.run, job, now)));
    }
    let t_record = Instant::now();
    let mut batch = PlacedBatch {
        results: Vec::with_capacity(placed.len()),
        abandoned: false,
        claimed_at,
        leads: jobs.len(),
    };
    let mut pending_calls = Vec::new();
    for p in placed {
        match p {
            Placed::Done(r) => batch.results.push(r),
            Placed::Pending(c) => pending_calls.push(c),
            Placed::Abandoned => batch.abandoned = true,
        }
    }
    if !pending_calls.is_empty() {
        // Recorded at once: callbacks must find these calls.
        run.ctl.add_pending(pending_calls.len());
        commit::record_pending(ctx, run, &pending_calls).await?;
    }
    tracing::debug!(
        run_id,
        leads = jobs.len(),
        place_us = (t_record - t_place).as_micros() as u64,
        "batch placed"
    );
    Ok(batch)
}

//! Conformance cases of the run store ([`ApiRunStore`] and
//! [`WorkerRunStore`]), run on both drivers by
//! `tests/tests/lifecycle_store.rs` through
//! [`crate::run_store_conformance_tests!`]. They exercise the store alone
//! (plugins are stored as opaque bytes); the worker end to end, with real
//! components and worker processes, is in `tests/tests/lifecycle_*.rs`.
//! This file holds the macro and the fixtures; the cases, by concern:
//!
//! - [`create`]: the lead snapshot, the pinned flow, bad input.
//! - [`leases`]: claims, fencing, takeover, the fleet's load.
//! - [`cancel`]: cancelling runs and jobs.
//! - [`counters`]: the run's live job counters against its jobs after
//!   every transition.
//! - [`calls`]: the cursor, retries, provider events, repeated commits.
//! - [`follow_up`]: a flow's lead status and tags, committed fenced with
//!   the result.
//! - [`pause`]: pausing and resuming runs, across a takeover.
//! - [`retention`]: the cleaner's batches and frozen counts, cleaners at
//!   once, erasing a lead.
//! - [`jobs`]: the dashboard's job reads: filters, reserved vs placed,
//!   paging, one job's detail.

pub mod calls;
pub mod cancel;
pub mod counters;
pub mod create;
pub mod follow_up;
pub mod jobs;
pub mod leases;
pub mod pause;
pub mod retention;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::model::{CancelMode, LeadId, Lease, RunId, RunSettings, TenantId, WorkerId};
use crate::runtime::{CallEvent, CallReport, CallState, Outcome, PluginKind};

pub use calls::*;
pub use cancel::*;
pub use counters::*;
pub use create::*;
pub use follow_up::*;
pub use jobs::*;
pub use leases::*;
pub use pause::*;
pub use retention::*;

/// Stamps out one `#[tokio::test]` per case; `$open` as for
/// [`crate::store_conformance_tests!`].
#[macro_export]
macro_rules! run_store_conformance_tests {
    ($open:path) => {
        $crate::run_store_conformance_tests!($open;
            run_create_snapshots_leads_and_pins_flow,
            run_duplicate_lead_is_rejected_by_the_database,
            run_create_names_the_bad_field,
            run_claim_bumps_generation_and_fences_old_owner,
            run_cancel_cancels_queued_jobs_and_blocks_dialing,
            run_cancel_of_unowned_run_is_immediate,
            run_cursor_counts_finished_jobs_and_retries_reuse_the_row,
            run_call_events_are_monotonic_and_tenant_scoped,
            run_early_call_event_is_held_then_applied,
            run_cancel_job_only_when_queued,
            run_dialing_jobs_after_takeover,
            run_fleet_load_counts_live_runs_by_owner,
            run_stale_owner_results_write_nothing,
            run_finish_upserts_recorded_calls_and_repeats_harmlessly,
            run_lead_update_commits_with_the_result_under_the_fence,
            run_pause_of_unowned_run_parks_it_and_resume_requeues_it,
            run_pause_of_owned_run_blocks_marking_and_parks_at_the_cursor,
            run_resume_before_the_owner_parks_withdraws_the_pause,
            run_pause_survives_takeover,
            retention_cleaner_deletes_in_batches_and_keeps_counts,
            retention_cleaners_at_once_share_the_work,
            erase_lead_wipes_personal_data_and_keeps_counts,
            run_jobs_filter_by_state_outcome_lead_and_time,
            run_job_counters_follow_every_transition
        );
    };
    ($open:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $open().await;
                $crate::store::conformance_runs::$case(store).await;
            }
        )+
    };
}

fn unique(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}-{:08x}", rand::rng().next_u32())
}

/// A tenant with `phones.len()` leads (ids in order), an active flow named
/// `flow` and a platform dialer named `dialer`, both stored with the given
/// bytes (opaque to the store). Returns (tenant, lead ids).
pub async fn seed(
    store: &Arc<dyn Store>,
    phones: &[&str],
    timezone: Option<&str>,
    flow: (&str, &[u8]),
    dialer: (&str, &[u8]),
) -> (TenantId, Vec<LeadId>) {
    let b = store
        .create_tenant(&unique("lifecycle"))
        .await
        .expect("create tenant");
    let leads: Vec<LeadInput> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| LeadInput {
            external_id: format!("lead-{i}"),
            phone: p.to_string(),
            name: Some(format!("Lead {i}")),
            timezone: timezone.map(str::to_string),
            attributes: BTreeMap::new(),
            status: None,
            tags: vec![],
        })
        .collect();
    let mut ids = Vec::with_capacity(leads.len());
    for chunk in leads.chunks(1000) {
        for r in store.upsert_leads(b, chunk).await.expect("upsert leads") {
            match r.expect("valid lead") {
                LeadUpsert::Created(id) | LeadUpsert::Updated(id) => ids.push(id),
            }
        }
    }
    ensure_plugin(store, PluginKind::Flow, Some(b), flow.0, flow.1).await;
    ensure_plugin(store, PluginKind::Dialer, None, dialer.0, dialer.1).await;
    (b, ids)
}

/// Stores and activates `bytes` as `name` unless an active version with the
/// same bytes exists.
pub async fn ensure_plugin(
    store: &Arc<dyn Store>,
    kind: PluginKind,
    owner: Option<TenantId>,
    name: &str,
    bytes: &[u8],
) {
    if let Ok(active) = store.get_active_plugin(kind, owner, name).await
        && active.bytes == bytes
    {
        return;
    }
    let v = store
        .insert_plugin_version(kind, owner, name, bytes)
        .await
        .expect("insert plugin");
    store
        .activate_plugin_version(kind, owner, name, v.version)
        .await
        .expect("activate plugin");
}

/// A spec over `leads` with the seeded flow/dialer names.
pub fn spec(leads: &[LeadId], flow: &str, dialer: &str, settings: RunSettings) -> RunSpec {
    RunSpec {
        lead_ids: leads.to_vec(),
        flow: flow.into(),
        flow_version: None,
        dialer: dialer.into(),
        settings,
    }
}

async fn setup(store: &Arc<dyn Store>, n: usize) -> (TenantId, Vec<LeadId>, String, String) {
    let flow = unique("flow");
    let dialer = unique("dialer");
    let phones: Vec<String> = (0..n).map(|i| format!("+3361234{i:04}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let (b, ids) = seed(
        store,
        &phones,
        Some("Europe/Paris"),
        (&flow, b"flow-bytes"),
        (&dialer, b"dialer-bytes"),
    )
    .await;
    (b, ids, flow, dialer)
}

/// A new worker named after `worker` claims `run_id`: (worker id, lease
/// generation).
async fn claim_as(store: &Arc<dyn Store>, worker: &str, run_id: RunId) -> (String, i64) {
    let w = unique(worker);
    let g = store
        .claim_runs(&WorkerId::from(w.as_str()), 100, 60_000)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.lease.run == run_id)
        .unwrap()
        .lease
        .generation
        .0;
    (w, g)
}

/// The lease `worker` holds (or held) on `run_id` at `generation`.
pub fn lease(run: RunId, generation: i64, worker: &str) -> Lease {
    Lease::new(run, generation, worker)
}

/// A run of `n` leads with default settings, claimed by a new worker named
/// after `worker`: (tenant, run, worker id, lease generation).
pub async fn claimed_run(
    store: &Arc<dyn Store>,
    n: usize,
    worker: &str,
) -> (TenantId, RunId, String, i64) {
    let (b, ids, flow, dialer) = setup(store, n).await;
    let run_id = store
        .create_run(b, &spec(&ids, &flow, &dialer, RunSettings::default()))
        .await
        .unwrap();
    let (w, g) = claim_as(store, worker, run_id).await;
    (b, run_id, w, g)
}

/// Records `job`'s first attempt as placed `pending` at `placed_at`, by
/// dialer version 7 (the provider call id is `prov-<key>`): (key, call id).
pub async fn record_first_call_pending(
    store: &Arc<dyn Store>,
    run_id: RunId,
    g: i64,
    w: &str,
    job: &JobWork,
    placed_at: i64,
) -> (String, String) {
    let key = idempotency_key(run_id, job.job_id, 1);
    let pcid = format!("prov-{key}");
    store
        .record_pending(
            &lease(run_id, g, w),
            &[PendingCall {
                job_id: job.job_id,
                lead_id: job.lead_id,
                attempt: 1,
                idempotency_key: key.clone(),
                provider_call_id: pcid.clone(),
                placed_at,
                call_deadline: FAR_FUTURE,
                dialer_version: 7,
                compliance: None,
            }],
        )
        .await
        .unwrap();
    (key, pcid)
}

pub fn dial(job: &JobWork) -> JobDecision {
    JobDecision::Dial {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt: job.attempt + 1,
        compliance: r#"{"verdict":"allowed"}"#.into(),
    }
}

pub fn report(outcome: Outcome, pcid: &str) -> CallReport {
    CallReport {
        outcome,
        provider_call_id: Some(pcid.into()),
        ring_secs: 3,
        talk_secs: 10,
        provider_code: None,
        detail: None,
    }
}

/// The adapter version [`done`] says placed its call.
const DONE_DIALER_VERSION: i64 = 3;

/// The result the owner commits for a job it found `dialing` (settled or
/// reconciled): nothing placed by this result itself.
fn settle(job: &DialingJob, report: Option<CallReport>, next: JobNext) -> JobResult {
    JobResult {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt: job.attempt,
        idempotency_key: job.idempotency_key.clone(),
        placed_at: None,
        dialer_version: None,
        report,
        note: None,
        lead_update: None,
        compliance: None,
        next,
    }
}

/// [`done`], finished `completed` with outcome `busy`.
fn completed_busy(run_id: RunId, job: &JobWork) -> JobResult {
    done(
        run_id,
        job,
        JobNext::Finish {
            status: JobStatus::Completed,
            outcome: "busy".into(),
            reason: None,
        },
    )
}

fn done(run_id: RunId, job: &JobWork, next: JobNext) -> JobResult {
    let attempt = job.attempt + 1;
    JobResult {
        job_id: job.job_id,
        lead_id: job.lead_id,
        attempt,
        idempotency_key: idempotency_key(run_id, job.job_id, attempt),
        placed_at: Some(1_000),
        dialer_version: Some(DONE_DIALER_VERSION),
        report: Some(report(
            Outcome::Busy,
            &format!("p-{}", idempotency_key(run_id, job.job_id, attempt)),
        )),
        note: None,
        lead_update: None,
        compliance: None,
        next,
    }
}

/// A `now` after every not-before in the fixtures.
pub const FAR_FUTURE: i64 = 4_000_000_000_000;

//! What the demo learned about one run, from the database (attempt rows,
//! job counts) and the sim dialer's own ledger: the [`RunReport`] its
//! summary shows.

use std::collections::BTreeMap;
use std::time::Duration;

use super::sim_ledger;
use super::summary::RunReport;
use crate::model::TenantId;
use crate::store::{self, Page, Store};

/// Distinct jobs per compliance outcome, from the attempt rows.
#[derive(Debug, Default)]
pub struct Decisions {
    pub deferred_window: u64,
    pub skipped_dnc: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub retries: u64,
}

pub async fn count_decisions(
    store: &dyn Store,
    tenant: TenantId,
    run_id: i64,
) -> anyhow::Result<Decisions> {
    let mut d = Decisions::default();
    let mut deferred = std::collections::BTreeSet::new();
    let mut dnc = std::collections::BTreeSet::new();
    let mut after = None;
    loop {
        let page = store
            .list_attempts(
                tenant,
                run_id.into(),
                Page {
                    after,
                    limit: store::PAGE_LIMIT_MAX,
                },
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for a in &page {
            let rule = serde_json::from_str::<serde_json::Value>(&a.compliance)
                .ok()
                .and_then(|v| v.get("rule").and_then(|r| r.as_str()).map(str::to_string))
                .unwrap_or_default();
            if a.placed {
                if let Some(o) = &a.outcome {
                    *d.outcomes.entry(o.clone()).or_default() += 1;
                }
                if a.attempt > 1 {
                    d.retries += 1;
                }
            } else if a.decision == "deferred" && rule == "calling-window" {
                deferred.insert(a.job_id);
            } else if a.decision == "skipped" && rule == "dnc" {
                dnc.insert(a.job_id);
            }
        }
    }
    d.deferred_window = deferred.len() as u64;
    d.skipped_dnc = dnc.len() as u64;
    Ok(d)
}

pub async fn report(
    store: &dyn Store,
    tenant: TenantId,
    run_id: i64,
    label: &str,
    elapsed: Duration,
    cancel_acknowledged_ms: Option<i64>,
) -> anyhow::Result<RunReport> {
    let run = store.get_run(tenant, run_id.into()).await?;
    let d = count_decisions(store, tenant, run_id).await?;
    let placements = sim_ledger::placements_of_run(store, tenant, run_id).await?;
    let jobs: BTreeMap<String, u64> = run
        .counts
        .by_status
        .iter()
        .map(|(k, v)| (k.clone(), *v as u64))
        .collect();
    let skipped = jobs.get("skipped").copied().unwrap_or(0);
    Ok(RunReport {
        label: label.to_string(),
        run_id,
        status: run.status.as_str().to_string(),
        total_leads: run.total_leads,
        cursor_position: run.cursor_position,
        calls_placed: placements.len() as u64,
        outcomes: d.outcomes,
        jobs,
        skipped_dnc: d.skipped_dnc,
        deferred_window: d.deferred_window,
        skipped_other: skipped.saturating_sub(d.skipped_dnc),
        retries: d.retries,
        calls_after_cancel: cancel_acknowledged_ms
            .map(|t| sim_ledger::placed_after(&placements, t) as u64),
        cancel_latency: None,
        elapsed,
    })
}

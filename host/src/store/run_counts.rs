//! A run's job counts: kept live in `run_job_counts` (run, status, outcome
//! → n) by the triggers on `jobs` of migration 0011, in the transaction of
//! every write that inserts a job or changes its status or outcome; read in
//! O(1) of the run's size by `get_run`, summed over runs for the fleet
//! gauges of `/metrics/fleet`.

use super::runs::JobCounts;

pub(crate) fn counts_from_rows(rows: Vec<(String, Option<String>, i64)>) -> JobCounts {
    let mut c = JobCounts::default();
    for (status, outcome, n) in rows {
        *c.by_status.entry(status).or_default() += n;
        if let Some(o) = outcome {
            *c.by_outcome.entry(o).or_default() += n;
        }
    }
    c
}

/// A run's live job counts (`run_job_counts`, kept by the jobs triggers of
/// migration 0011); the caller has checked the run is the tenant's.
pub(crate) const RUN_JOB_COUNTS_SQL: &str = "SELECT status, outcome, CAST(SUM(n) AS BIGINT) FROM run_job_counts WHERE run_id = $1 \
     GROUP BY status, outcome HAVING SUM(n) <> 0";

/// `run_job_counts` rows → counts. A status `''` (or outcome `''`) row
/// counts only by outcome (or only by status): the frozen maps of runs the
/// cleaner purged before 0011 were backfilled that way.
pub(crate) fn counts_from_counters(rows: Vec<(String, String, i64)>) -> JobCounts {
    let mut c = JobCounts::default();
    for (status, outcome, n) in rows {
        if !status.is_empty() {
            *c.by_status.entry(status).or_default() += n;
        }
        if !outcome.is_empty() {
            *c.by_outcome.entry(outcome).or_default() += n;
        }
    }
    c
}

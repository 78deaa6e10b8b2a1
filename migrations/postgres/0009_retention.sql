-- 0009 retention and erasure.
--
-- businesses.retention_days: the tenant's retention of finished runs' jobs
-- and attempts (NULL = the platform default, `--retention-days`).
-- runs.purged_counts: the run's job counts (JobCounts JSON), frozen by the
-- cleaner before it deletes the jobs, so the run view keeps its totals;
-- runs.purged_at: when the cleaner deleted the last of them.
-- leads.erased_at: set when a person's data was erased (the row stays as a
-- tombstone so runs and counts that name it hold).
-- Deleting jobs checks attempts_job_run_lead_fk on attempts; the cleaner
-- deletes a run's attempts first, and attempts_run_idx finds none left.
ALTER TABLE businesses ADD COLUMN IF NOT EXISTS retention_days INT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS purged_counts JSONB;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS purged_at BIGINT;
ALTER TABLE leads ADD COLUMN IF NOT EXISTS erased_at BIGINT;
-- The cleaner's scan: finished runs not purged yet, oldest first.
CREATE INDEX IF NOT EXISTS runs_unpurged_finished_idx ON runs (finished_at)
    WHERE purged_at IS NULL AND status IN ('completed', 'failed', 'cancelled');

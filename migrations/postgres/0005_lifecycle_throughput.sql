-- 0005 lifecycle throughput: the same guarantees with less work per lead.
--
-- 1. An attempt references its job through ONE tenant-carrying foreign key,
--    (business_id, job_id, run_id, lead_id) → jobs, instead of three
--    (→ jobs, → runs, → leads). Each foreign key costs an index probe and a
--    row lock per inserted attempt, and the lock on `leads` dirtied a lead
--    page per call. Integrity is at least as strong as before: the job row
--    it points at carries the same tenant, run and lead, and the job's own
--    foreign keys (jobs_run_fk, jobs_lead_fk) prove those exist for that
--    tenant; an attempt can no longer name a run or lead other than its job's.
--    The unique key it needs replaces jobs_business_id_key (id is the primary
--    key, so (business_id, id, run_id, lead_id) is just as unique).
-- 2. Open jobs (queued or dialing) are found through `open`, a column the
--    database derives from `status`, and a partial index on (run_id,
--    position) of open jobs only. No index mentions `status` itself, so
--    marking a job `dialing` changes no indexed value and PostgreSQL can
--    update it in place (a HOT update: no new index entries); the fill factor
--    leaves room in each page for that. A job that finishes leaves the index.
-- 3. attempts_job_idx goes: nothing looks attempts up by (job_id, attempt)
--    (reconcile uses the idempotency key) and jobs are never deleted, so the
--    foreign key needs no index on this side.
--
-- Guarded so that re-running it (or running it on a database migrated by
-- hand) is harmless.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'jobs_attempt_target_key') THEN
        ALTER TABLE jobs ADD CONSTRAINT jobs_attempt_target_key
            UNIQUE (business_id, id, run_id, lead_id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'attempts_job_run_lead_fk') THEN
        ALTER TABLE attempts ADD CONSTRAINT attempts_job_run_lead_fk
            FOREIGN KEY (business_id, job_id, run_id, lead_id)
            REFERENCES jobs (business_id, id, run_id, lead_id);
    END IF;
END
$$;
ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_job_fk;
ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_run_fk;
ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_lead_fk;
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_business_id_key;
DROP INDEX IF EXISTS attempts_job_idx;

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS open BOOLEAN
    GENERATED ALWAYS AS (status IN ('queued', 'dialing')) STORED;
CREATE INDEX IF NOT EXISTS jobs_open_idx ON jobs (run_id, position) WHERE open;
DROP INDEX IF EXISTS jobs_next_idx;
ALTER TABLE jobs SET (fillfactor = 20);

-- 0011 Live job counts per run (issue 13: O(1) run view, fleet gauges).
--
-- run_job_counts holds, per run, how many of its jobs are in each
-- (status, outcome) pair ('' = no outcome), kept by row triggers on jobs in
-- the same transaction as every write that inserts a job or changes its
-- status or outcome (SQLite has one writer, so row triggers are cheap).
-- Deleting jobs does not decrement: the cleaner's purge keeps the run's
-- totals (this replaces reading runs.purged_counts).
CREATE TABLE IF NOT EXISTS run_job_counts (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    business_id INTEGER NOT NULL,
    status      TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT '',
    -- PostgreSQL spreads a pair over slots for concurrent writers; SQLite
    -- has one writer: always 0.
    slot        INTEGER NOT NULL DEFAULT 0,
    n           INTEGER NOT NULL,
    PRIMARY KEY (run_id, status, outcome, slot)
);

CREATE TRIGGER IF NOT EXISTS jobs_count_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
    VALUES (NEW.run_id, NEW.business_id, NEW.status, COALESCE(NEW.outcome, ''), 1)
    ON CONFLICT (run_id, status, outcome, slot) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS jobs_count_update AFTER UPDATE OF status, outcome ON jobs
WHEN OLD.status IS NOT NEW.status OR COALESCE(OLD.outcome, '') IS NOT COALESCE(NEW.outcome, '')
BEGIN
    UPDATE run_job_counts SET n = n - 1
    WHERE run_id = OLD.run_id AND status = OLD.status AND outcome = COALESCE(OLD.outcome, '');
    INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
    VALUES (NEW.run_id, NEW.business_id, NEW.status, COALESCE(NEW.outcome, ''), 1)
    ON CONFLICT (run_id, status, outcome, slot) DO UPDATE SET n = n + 1;
END;

-- Backfill: live jobs, then runs whose jobs the cleaner already purged (their
-- frozen by-status and by-outcome maps, kept apart: status '' or outcome '').
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT run_id, business_id, status, COALESCE(outcome, ''), COUNT(*)
FROM jobs WHERE true GROUP BY 1, 2, 3, 4
ON CONFLICT DO NOTHING;
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT r.id, r.business_id, s.key, '', CAST(s.value AS INTEGER)
FROM runs r, json_each(r.purged_counts, '$.by_status') s
WHERE r.purged_counts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id)
ON CONFLICT DO NOTHING;
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT r.id, r.business_id, '', o.key, CAST(o.value AS INTEGER)
FROM runs r, json_each(r.purged_counts, '$.by_outcome') o
WHERE r.purged_counts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id)
ON CONFLICT DO NOTHING;

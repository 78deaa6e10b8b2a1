-- 0011 Live job counts per run (issue 13: O(1) run view, fleet gauges).
--
-- run_job_counts holds, per run, how many of its jobs are in each
-- (status, outcome) pair ('' = no outcome). Triggers on jobs keep it in the
-- same transaction as every write that inserts a job or changes a job's
-- status or outcome, so no store path can forget it. PostgreSQL: statement
-- triggers with transition tables (one upsert per statement, rows in key
-- order so concurrent writers lock counters in the same order). Each pair
-- is split over 16 slots, chosen by the transaction id: a run's writers
-- commit at once (the worker's two commit halves, the next batch's mark, a
-- callback), and one row per pair would make each wait for the other's
-- commit. Readers sum the slots (at most 16 rows per pair: O(1) in jobs).
-- Deleting jobs does not decrement: the cleaner's purge keeps the run's
-- totals (this replaces reading runs.purged_counts).
CREATE TABLE IF NOT EXISTS run_job_counts (
    run_id      BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    business_id BIGINT NOT NULL,
    status      TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT '',
    slot        SMALLINT NOT NULL DEFAULT 0,
    n           BIGINT NOT NULL,
    PRIMARY KEY (run_id, status, outcome, slot)
);

ALTER TABLE run_job_counts ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON run_job_counts;
CREATE POLICY tenant_isolation ON run_job_counts TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

CREATE OR REPLACE FUNCTION dialplane_job_counts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_job_counts AS c (run_id, business_id, status, outcome, slot, n)
    SELECT run_id, business_id, status, COALESCE(outcome, ''), txid_current() % 16, COUNT(*)
    FROM new_jobs GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4
    ON CONFLICT (run_id, status, outcome, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION dialplane_job_counts_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_job_counts AS c (run_id, business_id, status, outcome, slot, n)
    SELECT run_id, business_id, status, outcome, txid_current() % 16, SUM(d)
    FROM (
        SELECT nj.run_id, nj.business_id, nj.status, COALESCE(nj.outcome, '') AS outcome, 1 AS d,
               oj.status AS old_status, COALESCE(oj.outcome, '') AS old_outcome
        FROM new_jobs nj JOIN old_jobs oj ON oj.id = nj.id
        UNION ALL
        SELECT oj.run_id, oj.business_id, oj.status, COALESCE(oj.outcome, ''), -1,
               nj.status, COALESCE(nj.outcome, '')
        FROM new_jobs nj JOIN old_jobs oj ON oj.id = nj.id
    ) moved
    WHERE (status, outcome) IS DISTINCT FROM (old_status, old_outcome)
    GROUP BY 1, 2, 3, 4 HAVING SUM(d) <> 0 ORDER BY 1, 3, 4
    ON CONFLICT (run_id, status, outcome, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS jobs_count_insert ON jobs;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION dialplane_job_counts_insert();
DROP TRIGGER IF EXISTS jobs_count_update ON jobs;
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION dialplane_job_counts_update();

-- Backfill: live jobs, then runs whose jobs the cleaner already purged (their
-- frozen by-status and by-outcome maps, kept apart: status '' or outcome '').
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT run_id, business_id, status, COALESCE(outcome, ''), COUNT(*)
FROM jobs GROUP BY 1, 2, 3, 4
ON CONFLICT DO NOTHING;
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT r.id, r.business_id, s.key, '', s.value::BIGINT
FROM runs r, jsonb_each_text(r.purged_counts -> 'by_status') s
WHERE r.purged_counts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id)
ON CONFLICT DO NOTHING;
INSERT INTO run_job_counts (run_id, business_id, status, outcome, n)
SELECT r.id, r.business_id, '', o.key, o.value::BIGINT
FROM runs r, jsonb_each_text(r.purged_counts -> 'by_outcome') o
WHERE r.purged_counts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id)
ON CONFLICT DO NOTHING;

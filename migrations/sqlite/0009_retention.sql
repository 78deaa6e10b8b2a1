-- 0009 retention and erasure (see the PostgreSQL migration of the same
-- number for what each column means).
ALTER TABLE businesses ADD COLUMN retention_days INTEGER;
ALTER TABLE runs ADD COLUMN purged_counts TEXT;
ALTER TABLE runs ADD COLUMN purged_at INTEGER;
ALTER TABLE leads ADD COLUMN erased_at INTEGER;
CREATE INDEX IF NOT EXISTS runs_unpurged_finished_idx ON runs (finished_at)
    WHERE purged_at IS NULL AND status IN ('completed', 'failed', 'cancelled');

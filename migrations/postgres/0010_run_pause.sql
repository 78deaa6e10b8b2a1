-- Pause and resume (POST /api/outbound/runs/{id}/pause|resume).
--
-- A paused run is stored as `status = 'queued'` with `pause_requested`: the
-- status CHECK of 0002 cannot be widened on SQLite without rebuilding `runs`
-- (and every table that references it), so both engines keep the same
-- encoding, and the run columns the API reads turn it into `paused`.
-- Claimers skip a queued run whose pause is requested; resume clears it.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pause_requested BOOLEAN NOT NULL DEFAULT FALSE;
-- The generation whose owner closed its dialing gate for the pause (as
-- `cancel_acked_generation` is for cancel).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pause_acked_generation BIGINT;
-- When the run was last parked (epoch ms); NULL while it runs.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS paused_at BIGINT;

-- 0002 run lifecycle: runs, jobs, attempts, workers.
--
-- Lifecycle times are epoch milliseconds (BIGINT) in both dialects: the SQL
-- is the same on PostgreSQL and SQLite, comparisons are exact, and "now" for
-- compliance (not_before) can be injected by tests. Lease times (lock_ts)
-- are always taken from the database's clock, so hosts with skewed clocks
-- agree on who is alive.

CREATE TABLE IF NOT EXISTS workers (
    id          TEXT PRIMARY KEY,
    hostname    TEXT NOT NULL,
    pid         BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    stopped_at  BIGINT
);

CREATE TABLE IF NOT EXISTS runs (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id             BIGINT NOT NULL REFERENCES businesses (id),
    status                  TEXT NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed')),
    -- The pinned flow version (a plugins row of this tenant) and the dialer's name.
    flow_plugin_id          BIGINT NOT NULL REFERENCES plugins (id),
    dialer                  TEXT NOT NULL,
    settings                TEXT NOT NULL DEFAULT '{}',
    total_leads             BIGINT NOT NULL CHECK (total_leads >= 0),
    -- Leads finished; updated in the same transaction as the jobs it counts.
    cursor_position         BIGINT NOT NULL DEFAULT 0 CHECK (cursor_position >= 0),
    -- The lease: owner, fencing token, TTL the owner promised, last heartbeat.
    owner_worker            TEXT,
    lease_generation        BIGINT NOT NULL DEFAULT 0,
    lease_ttl_ms            BIGINT NOT NULL DEFAULT 30000,
    lock_ts                 BIGINT,
    cancel_requested        INTEGER NOT NULL DEFAULT 0,
    cancel_mode             TEXT CHECK (cancel_mode IN ('hangup', 'drain')),
    cancel_requested_at     BIGINT,
    -- The lease generation whose owner acknowledged the cancel (stopped dialing).
    cancel_acked_generation BIGINT,
    last_call_placed_at     BIGINT,
    failure                 TEXT,
    created_at              BIGINT NOT NULL,
    started_at              BIGINT,
    finished_at             BIGINT,
    CONSTRAINT runs_business_id_key UNIQUE (business_id, id)
);
CREATE INDEX IF NOT EXISTS runs_claimable_idx ON runs (status, lock_ts)
    WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS runs_owner_idx ON runs (owner_worker) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS runs_business_idx ON runs (business_id, id);

CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id      BIGINT NOT NULL,
    run_id           BIGINT NOT NULL,
    lead_id          BIGINT NOT NULL,
    -- Order within the run's snapshot of the lead list.
    position         BIGINT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'dialing', 'completed', 'failed', 'skipped', 'cancelled', 'interrupted')),
    -- Attempts started so far; the next attempt is attempt + 1.
    attempt          INTEGER NOT NULL DEFAULT 0,
    not_before       BIGINT NOT NULL DEFAULT 0,
    outcome          TEXT,
    reason           TEXT,
    -- While dialing: the compliance verdict that allowed the attempt.
    compliance       TEXT,
    provider_call_id TEXT,
    -- Pending calls: after this the call is interrupted with outcome unknown.
    call_deadline    BIGINT,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT jobs_run_lead_key UNIQUE (run_id, lead_id),
    CONSTRAINT jobs_business_id_key UNIQUE (business_id, id),
    CONSTRAINT jobs_run_fk FOREIGN KEY (business_id, run_id) REFERENCES runs (business_id, id),
    CONSTRAINT jobs_lead_fk FOREIGN KEY (business_id, lead_id) REFERENCES leads (business_id, id)
);
CREATE INDEX IF NOT EXISTS jobs_next_idx ON jobs (run_id, status, position);

-- One row per decision about a lead: every placed call (placed = TRUE, with its
-- idempotency key) and every deferral or skip by the platform's rules.
CREATE TABLE IF NOT EXISTS attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id      BIGINT NOT NULL,
    run_id           BIGINT NOT NULL,
    job_id           BIGINT NOT NULL,
    lead_id          BIGINT NOT NULL,
    attempt          INTEGER NOT NULL,
    placed           INTEGER NOT NULL,
    idempotency_key  TEXT UNIQUE,
    decision         TEXT NOT NULL CHECK (decision IN ('allowed', 'deferred', 'skipped')),
    compliance       TEXT NOT NULL,
    worker_id        TEXT NOT NULL,
    lease_generation BIGINT NOT NULL,
    provider_call_id TEXT,
    call_state       TEXT CHECK (call_state IN ('queued', 'ringing', 'answered', 'ended')),
    outcome          TEXT,
    report           TEXT,
    note             TEXT,
    decided_at       BIGINT NOT NULL,
    placed_at        BIGINT,
    ended_at         BIGINT,
    CONSTRAINT attempts_job_fk FOREIGN KEY (business_id, job_id) REFERENCES jobs (business_id, id),
    CONSTRAINT attempts_run_fk FOREIGN KEY (business_id, run_id) REFERENCES runs (business_id, id),
    CONSTRAINT attempts_lead_fk FOREIGN KEY (business_id, lead_id) REFERENCES leads (business_id, id)
);
CREATE INDEX IF NOT EXISTS attempts_lead_placed_idx ON attempts (business_id, lead_id, placed_at);
CREATE INDEX IF NOT EXISTS attempts_provider_call_idx ON attempts (business_id, provider_call_id);
CREATE INDEX IF NOT EXISTS attempts_job_idx ON attempts (job_id, attempt);
CREATE INDEX IF NOT EXISTS attempts_run_idx ON attempts (business_id, run_id, id);

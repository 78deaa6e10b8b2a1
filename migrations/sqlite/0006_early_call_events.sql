-- 0006 early provider callbacks: an event for a call the host has not
-- recorded yet waits here instead of being lost (see the PostgreSQL
-- migration of the same number for the protocol). One row per call: the
-- furthest state received.
CREATE TABLE IF NOT EXISTS early_call_events (
    business_id      INTEGER NOT NULL REFERENCES businesses (id),
    provider_call_id TEXT    NOT NULL,
    call_state       TEXT    NOT NULL,
    state_rank       INTEGER NOT NULL,
    outcome          TEXT,
    report           TEXT,
    received_at      INTEGER NOT NULL,
    PRIMARY KEY (business_id, provider_call_id)
);

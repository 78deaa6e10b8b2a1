-- 0006 early provider callbacks: an event for a call the host has not
-- recorded yet (the provider answered `place-call` late, or posted the final
-- callback before its create answer returned) waits here instead of being
-- lost. The callback endpoint writes it, then looks for the call again; the
-- worker records its pending calls, then applies what waits here. Whichever
-- of the two commits last sees the other's row, so no event falls between.
-- One row per call: the furthest state received (events only move forward).
CREATE TABLE IF NOT EXISTS early_call_events (
    business_id      BIGINT NOT NULL REFERENCES businesses (id),
    provider_call_id TEXT   NOT NULL,
    call_state       TEXT   NOT NULL,
    state_rank       INT    NOT NULL,
    outcome          TEXT,
    report           JSONB,
    received_at      BIGINT NOT NULL,
    PRIMARY KEY (business_id, provider_call_id)
);

ALTER TABLE early_call_events ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON early_call_events;
CREATE POLICY tenant_isolation ON early_call_events TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

-- 0003 Row-Level Security: the second wall between tenants (see
-- host/src/store/tenant_scope.rs for who runs under which setting).
--
-- The API's connections SET ROLE dialplane_tenant; the policies below apply
-- to that role only. They admit a row when the connection's setting
-- dialplane.business_id is 'platform' (the API's own platform work) or
-- equals the row's tenant; an empty or missing setting admits nothing.
-- The schema owner (workers, migrations) is not subject to them.

DO $$
BEGIN
    CREATE ROLE dialplane_tenant NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database created it first
END
$$;

-- The login role of the host must be able to SET ROLE to it.
DO $$
BEGIN
    EXECUTE format('GRANT dialplane_tenant TO %I', current_user);
EXCEPTION WHEN duplicate_object OR insufficient_privilege OR invalid_grant_operation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO dialplane_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dialplane_tenant;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dialplane_tenant;
-- Tables added by later migrations get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dialplane_tenant;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO dialplane_tenant;

-- True when the current setting admits rows of tenant `b`.
CREATE OR REPLACE FUNCTION dialplane_scope_admits(b BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT CASE current_setting('dialplane.business_id', true)
        WHEN 'platform' THEN TRUE
        WHEN '' THEN FALSE
        WHEN NULL THEN FALSE
        ELSE b IS NOT NULL
             AND current_setting('dialplane.business_id', true) ~ '^[0-9]+$'
             AND b = current_setting('dialplane.business_id', true)::BIGINT
    END
$$;

ALTER TABLE businesses ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON businesses;
CREATE POLICY tenant_isolation ON businesses TO dialplane_tenant
    USING (dialplane_scope_admits(id)) WITH CHECK (dialplane_scope_admits(id));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON api_keys;
CREATE POLICY tenant_isolation ON api_keys TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

-- Platform-owned plugins (dialer adapters, business_id NULL) are readable by
-- every tenant (a run names its dialer); only platform work may write them.
ALTER TABLE plugins ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON plugins;
CREATE POLICY tenant_isolation ON plugins TO dialplane_tenant
    USING (business_id IS NULL OR dialplane_scope_admits(business_id))
    WITH CHECK (dialplane_scope_admits(business_id)
                OR (business_id IS NULL AND current_setting('dialplane.business_id', true) = 'platform'));

ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON leads;
CREATE POLICY tenant_isolation ON leads TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE tenant_store ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenant_store;
CREATE POLICY tenant_isolation ON tenant_store TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE dnc ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON dnc;
CREATE POLICY tenant_isolation ON dnc TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

-- The platform's own log has business_id NULL: platform scope only.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON audit_log;
CREATE POLICY tenant_isolation ON audit_log TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)
           OR (business_id IS NULL AND current_setting('dialplane.business_id', true) = 'platform'))
    WITH CHECK (dialplane_scope_admits(business_id)
                OR (business_id IS NULL AND current_setting('dialplane.business_id', true) = 'platform'));

ALTER TABLE dialer_configs ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON dialer_configs;
CREATE POLICY tenant_isolation ON dialer_configs TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE callback_tokens ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON callback_tokens;
CREATE POLICY tenant_isolation ON callback_tokens TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON runs;
CREATE POLICY tenant_isolation ON runs TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON jobs;
CREATE POLICY tenant_isolation ON jobs TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

ALTER TABLE attempts ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON attempts;
CREATE POLICY tenant_isolation ON attempts TO dialplane_tenant
    USING (dialplane_scope_admits(business_id)) WITH CHECK (dialplane_scope_admits(business_id));

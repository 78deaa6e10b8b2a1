-- 0001 core: tenants, keys, leads, plugins, tenant store, DNC, audit log,
-- dialer configuration and callback tokens. The run lifecycle tables
-- (runs, jobs, attempts, workers) live in 0002.
--
-- Every tenant table carries business_id; tables that other tenant tables
-- reference also expose UNIQUE (business_id, id) so that foreign keys can
-- include the tenant (a row can never point at another tenant's row).
-- Every statement is guarded (IF NOT EXISTS): the runner applies this file in
-- one BEGIN IMMEDIATE transaction (the write lock), and re-running it is harmless.

CREATE TABLE IF NOT EXISTS businesses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Keys are stored as sha256(plaintext); the plaintext is shown once.
-- business_id is NULL exactly for platform (admin) keys.
CREATE TABLE IF NOT EXISTS api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id BIGINT REFERENCES businesses (id),
    kind        TEXT NOT NULL CHECK (kind IN ('tenant', 'admin')),
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at  TEXT,
    CHECK ((kind = 'admin') = (business_id IS NULL))
);

CREATE TABLE IF NOT EXISTS leads (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id BIGINT NOT NULL REFERENCES businesses (id),
    external_id TEXT NOT NULL,
    phone       TEXT NOT NULL,
    name        TEXT,
    timezone    TEXT,
    attributes  TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'new',
    tags        TEXT NOT NULL DEFAULT '[]',
    revision    BIGINT NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT leads_business_external_key UNIQUE (business_id, external_id),
    CONSTRAINT leads_business_id_key UNIQUE (business_id, id)
);
CREATE INDEX IF NOT EXISTS leads_business_status_idx ON leads (business_id, status, id);

-- business_id NULL = platform-owned (dialer adapters). NULL never equals
-- NULL in a UNIQUE constraint, so uniqueness is on COALESCE(business_id, 0).
CREATE TABLE IF NOT EXISTS plugins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('flow', 'dialer')),
    business_id BIGINT REFERENCES businesses (id),
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    bytes       BLOB NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS plugins_kind_owner_name_version_key
    ON plugins (kind, COALESCE(business_id, 0), name, version);
-- Exactly one active version per (kind, owner, name): enforced by the database.
CREATE UNIQUE INDEX IF NOT EXISTS plugins_one_active_key
    ON plugins (kind, COALESCE(business_id, 0), name) WHERE active;

CREATE TABLE IF NOT EXISTS tenant_store (
    business_id BIGINT NOT NULL REFERENCES businesses (id),
    namespace   TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (business_id, namespace, key)
);

CREATE TABLE IF NOT EXISTS dnc (
    business_id BIGINT NOT NULL REFERENCES businesses (id),
    phone       TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (business_id, phone)
);

-- business_id NULL = the platform's own log.
CREATE TABLE IF NOT EXISTS audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id  BIGINT REFERENCES businesses (id),
    actor_key_id BIGINT REFERENCES api_keys (id),
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    security     BOOLEAN NOT NULL DEFAULT FALSE,
    at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS audit_log_business_idx ON audit_log (business_id, id);

-- Write-only secrets (provider account, token): read back only by workers.
CREATE TABLE IF NOT EXISTS dialer_configs (
    business_id BIGINT NOT NULL REFERENCES businesses (id),
    dialer      TEXT NOT NULL,
    config      TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (business_id, dialer)
);

-- The URL token of provider callbacks, stored hashed like API keys.
CREATE TABLE IF NOT EXISTS callback_tokens (
    token_hash  TEXT PRIMARY KEY,
    business_id BIGINT NOT NULL REFERENCES businesses (id),
    dialer      TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS callback_tokens_business_idx ON callback_tokens (business_id, dialer);

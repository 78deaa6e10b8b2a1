-- 0008 API keys gain a label and the time of their last use; tenant names
-- become unique (case-insensitive, ignoring surrounding spaces).

ALTER TABLE api_keys ADD COLUMN label TEXT;
-- Written at most once per key per API_KEY_LAST_USED_WRITE_INTERVAL.
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;

-- Older versions let `tenant create` make the same name twice. The oldest
-- tenant (lowest id) keeps the name; each later one becomes "Name (#id)".
-- Every tenant is kept. A new name can meet an older tenant's own name
-- ("Acme (#2)" made by hand): each pass renames what is still duplicated,
-- and the index below fails the migration (rolled back, named) if three
-- passes did not do.
UPDATE businesses
   SET name = substr(trim(name), 1, 170) || ' (#' || id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(trim(o.name)) = lower(trim(businesses.name)) AND o.id < businesses.id);
UPDATE businesses
   SET name = substr(trim(name), 1, 170) || ' (#' || id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(trim(o.name)) = lower(trim(businesses.name)) AND o.id < businesses.id);
UPDATE businesses
   SET name = substr(trim(name), 1, 170) || ' (#' || id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(trim(o.name)) = lower(trim(businesses.name)) AND o.id < businesses.id);

CREATE UNIQUE INDEX IF NOT EXISTS businesses_name_key ON businesses (lower(trim(name)));

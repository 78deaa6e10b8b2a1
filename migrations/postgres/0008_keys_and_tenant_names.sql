-- 0008 API keys gain a label and the time of their last use; tenant names
-- become unique (case-insensitive, ignoring surrounding spaces).

ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS label TEXT;
-- Written at most once per key per API_KEY_LAST_USED_WRITE_INTERVAL.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMPTZ;

-- Older versions let `tenant create` make the same name twice. The oldest
-- tenant (lowest id) keeps the name; each later one becomes "Name (#id)".
-- Every tenant is kept. A new name can meet an older tenant's own name
-- ("Acme (#2)" made by hand): each pass renames what is still duplicated,
-- and the index below fails the migration (rolled back, named) if three
-- passes did not do.
UPDATE businesses AS b
   SET name = left(btrim(b.name), 170) || ' (#' || b.id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(btrim(o.name)) = lower(btrim(b.name)) AND o.id < b.id);
UPDATE businesses AS b
   SET name = left(btrim(b.name), 170) || ' (#' || b.id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(btrim(o.name)) = lower(btrim(b.name)) AND o.id < b.id);
UPDATE businesses AS b
   SET name = left(btrim(b.name), 170) || ' (#' || b.id || ')'
 WHERE EXISTS (SELECT 1 FROM businesses AS o
                WHERE lower(btrim(o.name)) = lower(btrim(b.name)) AND o.id < b.id);

CREATE UNIQUE INDEX IF NOT EXISTS businesses_name_key ON businesses (lower(btrim(name)));

-- Which version of the dialer adapter placed each call. Adapters are
-- hot-swapped while runs dial, so one run's attempts can span versions;
-- NULL when no call was placed (or for rows written before this column).
ALTER TABLE attempts ADD COLUMN dialer_version BIGINT;

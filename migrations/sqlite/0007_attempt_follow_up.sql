-- What each attempt's follow-up did to its lead: the status it set and the
-- tags it added (a JSON array), applied in the same transaction as the
-- attempt row. NULL when the flow set none (and for older rows).
ALTER TABLE attempts ADD COLUMN lead_status TEXT;
ALTER TABLE attempts ADD COLUMN lead_tags TEXT;

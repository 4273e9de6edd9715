-- 059: what intake kept and flagged reaches the database.
--
-- A lenient value (a tier "pro", a channel "fax", a created_at that is not
-- RFC 3339, control characters in the text) is replaced by a default, and the
-- daemon has always sent the value as given ("original") and the flags
-- ("intake_flags") in the claim's JSON. Until now triaged_claim dropped both,
-- so the README's promise (kept as given, flagged) held only in
-- `triaged check-ticket`. Both are NULL when intake changed nothing.
ALTER TABLE tickets ADD COLUMN intake_flags jsonb, ADD COLUMN original jsonb;
COMMENT ON COLUMN tickets.intake_flags IS
    'what intake replaced or cleaned: ["tier","channel","language","created_at","controls"]; NULL if nothing';
COMMENT ON COLUMN tickets.original IS
    'the values as given where intake replaced or cleaned them, keyed by field path; NULL if none';

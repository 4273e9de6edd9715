-- Content identity of an event: the fields the triage depends on. A
-- redelivered event matches an existing revision by this hash.
CREATE OR REPLACE FUNCTION triaged_content_hash(t jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(concat_ws(chr(31),
        coalesce(t->>'subject', ''), t->>'body', coalesce(t->>'channel', ''),
        coalesce(t->>'customer_tier', ''), coalesce(t->>'language', ''),
        coalesce(t->'tags', 'null'::jsonb)::text), 'UTF8'))
$$;

-- Mark outbox rows sent (p->'ids': their ids), called by the relay once the
-- broker has acknowledged them. Idempotent: a row already sent keeps its
-- first sent_at. Returns the number of rows marked now.
CREATE OR REPLACE FUNCTION triaged_outbox_sent(p jsonb) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH u AS (UPDATE review_outbox o SET sent_at = now()
                WHERE o.id IN (SELECT x::bigint FROM jsonb_array_elements_text(p->'ids') x)
                  AND o.sent_at IS NULL
               RETURNING 1)
    SELECT count(*)::integer FROM u
$$;

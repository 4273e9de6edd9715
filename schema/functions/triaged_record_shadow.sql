-- Shadow answers ([shadow], issue #13 part 3), written after the ticket is
-- stored, costed from model_prices at the time of the call. Idempotent: a
-- redelivered ticket's second shadow answer is dropped.
CREATE OR REPLACE FUNCTION triaged_record_shadow(batch jsonb)
RETURNS TABLE (idx integer, inserted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t jsonb; i integer := 0; n integer;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        INSERT INTO shadow_answers (ticket_pk, revision, ticket_id, model, prompt_version,
                                    outcome, category, sentiment, urgency, confidence,
                                    prompt_tokens, cached_tokens, completion_tokens, cost_usd,
                                    latency_ms)
        SELECT (t->>'ticket_pk')::bigint, (t->>'revision')::integer, t->>'ticket_id',
               t->>'model', t->>'prompt_version', t->>'outcome', t->>'category',
               t->>'sentiment', t->>'urgency', (t->>'confidence')::double precision,
               coalesce((t->>'prompt_tokens')::integer, 0),
               coalesce((t->>'cached_tokens')::integer, 0),
               coalesce((t->>'completion_tokens')::integer, 0),
               triaged_cost(triaged_price_at(t->>'model', now()),
                            coalesce((t->>'prompt_tokens')::integer, 0),
                            coalesce((t->>'cached_tokens')::integer, 0),
                            coalesce((t->>'completion_tokens')::integer, 0)),
               (t->>'latency_ms')::double precision
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        idx := i; inserted := n > 0;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

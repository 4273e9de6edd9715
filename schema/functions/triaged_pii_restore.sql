-- p_text with the placeholders of a ticket revision's PII map (ticket_pii.map,
-- [{"placeholder": "[EMAIL_1]", "value": "..."}]) replaced by the customer's
-- values. The daemon restores drafts before storing them (safety.c); this
-- catches a placeholder still in the text an agent approved (a restore that
-- failed, or one typed back by hand) before the reply goes to the customer.
CREATE OR REPLACE FUNCTION triaged_pii_restore(p_text text, p_map jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
    e jsonb;
    v text := p_text;
BEGIN
    IF v IS NULL OR jsonb_typeof(p_map) IS DISTINCT FROM 'array' OR position('[' IN v) = 0 THEN
        RETURN v;
    END IF;
    FOR e IN SELECT x FROM jsonb_array_elements(p_map) x LOOP
        IF e->>'placeholder' IS NOT NULL AND e->>'value' IS NOT NULL THEN
            v := replace(v, e->>'placeholder', e->>'value');
        END IF;
    END LOOP;
    RETURN v;
END
$$;

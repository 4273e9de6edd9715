-- Reserve the worst-case cost of calls before making them. Input: a JSON
-- array of {tier, model, prompt_tokens, max_tokens} (the estimated prompt and
-- the most the answer may cost), or {tier, model, amount_usd}. A call is
-- granted when spent + reserved + amount <= limit; the row lock serialises
-- instances, so the limit holds across them. Returns idx, granted, the
-- budget id and the amount reserved (to be settled by triaged_record_calls).
CREATE OR REPLACE FUNCTION triaged_reserve(batch jsonb)
RETURNS TABLE (idx integer, granted boolean, budget_id bigint, amount_usd numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t   jsonb;
    i   integer := 0;
    b   bigint;
    lim numeric;
    amt numeric;
    u   budget_usage;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        b := triaged_budget_for(t->>'tier', t->>'model');
        amt := coalesce((t->>'amount_usd')::numeric,
                        triaged_cost(triaged_price_at(t->>'model', now()),
                                     coalesce((t->>'prompt_tokens')::integer, 0), 0,
                                     coalesce((t->>'max_tokens')::integer, 0)),
                        0);
        idx := i; budget_id := b; amount_usd := CASE WHEN b IS NULL THEN 0 ELSE amt END;
        IF b IS NULL THEN
            granted := true;
        ELSE
            SELECT daily_limit_usd INTO lim FROM budgets WHERE id = b;
            INSERT INTO budget_usage (budget_id, day) VALUES (b, (now() AT TIME ZONE 'UTC')::date)
            ON CONFLICT DO NOTHING;
            SELECT * INTO u FROM budget_usage bu
             WHERE bu.budget_id = b AND bu.day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE;
            IF u.spent_usd + u.reserved_usd + amt <= lim THEN
                UPDATE budget_usage bu SET reserved_usd = bu.reserved_usd + amt
                 WHERE bu.budget_id = b AND bu.day = u.day;
                granted := true;
            ELSE
                UPDATE budget_usage bu SET denied = bu.denied + 1
                 WHERE bu.budget_id = b AND bu.day = u.day;
                granted := false;
            END IF;
        END IF;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

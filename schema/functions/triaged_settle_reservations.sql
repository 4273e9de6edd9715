-- Settle budget reservations that have no ticket call record (issue #13:
-- `triaged eval` reserves through triaged_reserve like the daemon, but its
-- answers go to eval_answers, not model_calls). Input: a JSON array of
-- {reservation_id, prompt_tokens, cached_tokens, completion_tokens}. Each
-- open reservation becomes 'settled' at its real cost (the price in force
-- when it was reserved, triaged_record_calls' formula): its estimate and
-- worst case leave the amounts in flight, its cost is spent. A reservation
-- swept as 'lost' meanwhile has its estimated charge corrected to the real
-- cost, as triaged_record_calls does. A settled or unknown id changes
-- nothing (cost_usd NULL): settling twice never spends twice. Lock order as
-- every budget statement (triaged_lock_usage): the usage rows first, then the
-- reservations (it was the other way round: a deadlock with a reserve).
CREATE OR REPLACE FUNCTION triaged_settle_reservations(batch jsonb)
RETURNS TABLE (idx integer, cost_usd numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t jsonb;
    i integer := 0;
    r budget_reservations;
    c numeric;
BEGIN
    PERFORM triaged_lock_usage(array_agg(br.budget_id), array_agg(br.day))
       FROM budget_reservations br
      WHERE br.id IN (SELECT (e->>'reservation_id')::bigint FROM jsonb_array_elements(batch) AS e);
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        idx := i; cost_usd := NULL;
        i := i + 1;
        SELECT * INTO r FROM budget_reservations br
         WHERE br.id = (t->>'reservation_id')::bigint AND br.state IN ('open', 'lost')
           FOR UPDATE;
        IF NOT FOUND THEN
            RETURN NEXT;
            CONTINUE;
        END IF;
        c := coalesce(triaged_cost(triaged_price_at(r.model, r.started_at),
                                   greatest(coalesce((t->>'prompt_tokens')::integer, 0), 0),
                                   greatest(coalesce((t->>'cached_tokens')::integer, 0), 0),
                                   greatest(coalesce((t->>'completion_tokens')::integer, 0), 0)),
                      0);
        UPDATE budget_reservations br SET state = 'settled', ended_at = now(), cost_usd = c
         WHERE br.id = r.id;
        IF r.state = 'open' THEN
            UPDATE budget_usage bu
               SET reserved_usd = greatest(bu.reserved_usd - r.estimate_usd, 0),
                   reserved_worst_usd = greatest(bu.reserved_worst_usd - r.worst_usd, 0),
                   spent_usd = bu.spent_usd + c
             WHERE bu.budget_id = r.budget_id AND bu.day = r.day;
        ELSE
            UPDATE budget_usage bu
               SET spent_usd = bu.spent_usd + c - r.estimate_usd,
                   lost_calls = greatest(bu.lost_calls - 1, 0),
                   lost_usd = greatest(bu.lost_usd - r.estimate_usd, 0)
             WHERE bu.budget_id = r.budget_id AND bu.day = r.day;
        END IF;
        cost_usd := c;
        RETURN NEXT;
    END LOOP;
END
$$;

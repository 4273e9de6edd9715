-- Recompute the cost of calls in a time range with the prices in force then.
CREATE OR REPLACE FUNCTION triaged_recompute_costs(p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    UPDATE model_calls mc SET price_id = p.id,
           cost_usd = triaged_cost(p, mc.prompt_tokens, mc.cached_tokens, mc.completion_tokens)
      FROM LATERAL (SELECT (triaged_price_at(mc.model, mc.started_at)).*) p
     WHERE mc.started_at >= p_from AND mc.started_at < p_to;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

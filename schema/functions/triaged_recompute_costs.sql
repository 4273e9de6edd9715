-- Recompute the cost of calls in a time range with the prices in force then.
-- Returns the number of calls. (Before migration 058 its UPDATE referred to
-- the updated row from a LATERAL item, which PostgreSQL refuses: it never ran.)
CREATE OR REPLACE FUNCTION triaged_recompute_costs(p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    -- the dashboard's cost counters (migration 058) take the differences
    WITH old AS (
        SELECT mc.id, mc.cost_usd, p.id AS price_id,
               triaged_cost(p, mc.prompt_tokens, mc.cached_tokens, mc.completion_tokens) AS cost
          FROM model_calls mc CROSS JOIN LATERAL triaged_price_at(mc.model, mc.started_at) AS p
         WHERE mc.started_at >= p_from AND mc.started_at < p_to FOR UPDATE OF mc),
    upd AS (
        UPDATE model_calls mc SET price_id = old.price_id, cost_usd = old.cost
          FROM old WHERE mc.id = old.id
        RETURNING mc.started_at, mc.tier, mc.model, old.cost_usd AS was, mc.cost_usd AS now),
    delta AS (
        INSERT INTO stats_delta (kind, bucket, a, b, c, n1, n2, n3)
        SELECT 'cost', date_trunc('hour', started_at, 'UTC'), tier, model, NULL, 0,
               count(*) FILTER (WHERE now IS NULL) - count(*) FILTER (WHERE was IS NULL),
               (coalesce(sum(now), 0) - coalesce(sum(was), 0)) * 100000000
          FROM upd GROUP BY 2, 3, 4)
    SELECT count(*) INTO n FROM upd;
    RETURN n;
END
$$;

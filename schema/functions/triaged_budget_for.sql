-- The budget governing a call: the model's own row, else the tier's.
CREATE OR REPLACE FUNCTION triaged_budget_for(p_tier text, p_model text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM budgets WHERE tier = p_tier AND (model = p_model OR model IS NULL)
     ORDER BY model NULLS LAST LIMIT 1
$$;

-- The one lock order of the budget statements: the budget_usage rows, in (day,
-- budget) order, before any reservation row. A round runs several of them in one
-- transaction (calls, then reservations, then renewals), so each takes the same
-- set first: today's row of every budget, the rows of the days that still have
-- expired open reservations (a sweep may touch them), and the caller's own
-- (budget, day) pairs. Rows already held by the transaction are taken again
-- at no cost. Before, reserve took usage then reservations and the settling
-- statements the other way round, and two daemons could deadlock (found by a
-- review; test_review lock_order).
CREATE OR REPLACE FUNCTION triaged_lock_usage(p_budgets bigint[], p_days date[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM budget_usage bu
     WHERE bu.day = (now() AT TIME ZONE 'UTC')::date
        OR (bu.budget_id, bu.day) IN (
               SELECT r.budget_id, r.day FROM budget_reservations r
                WHERE r.state = 'open' AND r.expires_at < now())
        OR (bu.budget_id, bu.day) IN (
               SELECT u.b, u.d FROM unnest(p_budgets, p_days) AS u(b, d))
     ORDER BY bu.day, bu.budget_id
       FOR UPDATE OF bu;
END
$$;

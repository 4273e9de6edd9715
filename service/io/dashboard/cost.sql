-- The cost chart, a statement of its own after data.sql: a database before
-- migration 003 has no metrics_cost_daily, and then only this fails (cost: null).
-- Calls paid but whose answer was lost with a dead daemon (migration 020,
-- issue #21) are rows of their own, charged at their estimate (lost_calls > 0).
SELECT coalesce(json_agg(v ORDER BY v.day, v.tier, v.model), '[]') FROM (
  SELECT day, tier, model, calls, cost_usd, unpriced_calls, 0 AS lost_calls
    FROM metrics_cost_daily
   WHERE day > now() - interval '30 days'
  UNION ALL
  SELECT date_trunc('day', started_at), tier, model || ' (paid, answer lost)', count(*),
         round(sum(charged_usd), 6), 0, count(*)
    FROM model_calls_lost
   WHERE started_at > now() - interval '30 days'
   GROUP BY 1, 2, 3) v

-- The cost chart, a statement of its own after data.sql: a database before
-- migration 003 has no metrics_cost_daily, and then only this fails (cost: null).
SELECT coalesce(json_agg(v ORDER BY v.day, v.tier, v.model), '[]') FROM (
  SELECT day, tier, model, calls, cost_usd, unpriced_calls FROM metrics_cost_daily
   WHERE day > now() - interval '30 days') v

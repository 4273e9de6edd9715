-- The dashboard's data.json: the supervisor views as one JSON object (one row,
-- one column). Run by the admin server through db.c, once per
-- http.dashboard_interval_ms, in a read round of its own. Edit here when a view
-- is renamed; embedded at build time.
SELECT json_build_object(
 'generated_at', now(),
 'volume', (SELECT coalesce(json_agg(v ORDER BY v.hour, v.category), '[]') FROM (
   SELECT hour, coalesce(category, 'none') AS category, sum(count)::bigint AS count
     FROM metrics_volume_hourly WHERE hour > now() - interval '48 hours'
    GROUP BY 1, 2) v),
 'volume_daily', (SELECT coalesce(json_agg(v ORDER BY v.day), '[]') FROM (
   SELECT day, sum(count)::bigint AS count FROM metrics_volume_daily
    WHERE day > now() - interval '30 days' GROUP BY 1) v),
 'escalation', (SELECT coalesce(json_agg(v ORDER BY v.day), '[]') FROM (
   SELECT day, tickets, escalated, rate FROM metrics_escalation
    WHERE day > now() - interval '30 days') v),
 'escalation_reasons', (SELECT coalesce(json_agg(v ORDER BY v.count DESC, v.reason), '[]')
   FROM (SELECT reason, count FROM metrics_escalation_reasons
          ORDER BY count DESC, reason LIMIT 10) v),
 'latency', (SELECT coalesce(json_agg(v ORDER BY v.tier DESC, v.model), '[]') FROM (
   SELECT DISTINCT ON (tier, model) day, tier, model, calls, failed,
          round(p50_ms::numeric, 1) AS p50_ms, round(p95_ms::numeric, 1) AS p95_ms
     FROM metrics_model_latency_fast WHERE day > now() - interval '7 days'
    ORDER BY tier, model, day DESC) v),
 'backlog', (SELECT coalesce(json_agg(v ORDER BY v.rank, v.urgency), '[]') FROM (
   SELECT coalesce(urgency, 'none') AS urgency,
          CASE urgency WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2
                       WHEN 'low' THEN 3 ELSE 4 END AS rank,
          awaiting, open, claimed, breached, at_risk,
          extract(epoch FROM oldest_waiting)::bigint AS oldest_waiting_s
     FROM metrics_backlog) v),
 'review_outcomes', (SELECT coalesce(json_agg(v), '[]') FROM (
   SELECT dimension, category, reviewed, accepted, edited, rejected,
          acceptance_rate, approval_rate
     FROM review_outcomes WHERE dimension IN ('all', 'category')) v),
 'dlq', (SELECT coalesce(json_agg(v ORDER BY v.day, v.error_code), '[]') FROM (
   SELECT day, error_code, count FROM metrics_dlq
    WHERE day > now() - interval '30 days') v),
 'queue', (SELECT coalesce(json_agg(v ORDER BY v.queue_position), '[]') FROM (
   SELECT queue_position, ticket_id, urgency, category, customer_tier, status,
          review_state, sla_due, sla_breached,
          extract(epoch FROM waiting)::bigint AS waiting_s
     FROM agent_review_queue_head ORDER BY queue_position LIMIT 10) v),
 'shadow', (SELECT coalesce(json_agg(v ORDER BY v.model, v.prompt_version), '[]') FROM (
   SELECT model, prompt_version, tickets, answered, agreement, shadow_cost_per_1000,
          production_cost_per_1000, round(shadow_p50_ms::numeric, 1) AS shadow_p50_ms,
          round(production_p50_ms::numeric, 1) AS production_p50_ms, gold_labelled,
          shadow_gold_accuracy, production_gold_accuracy
     FROM shadow_vs_production) v))

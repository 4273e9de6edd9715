-- Shadow against production and against agents' gold labels (issue #13 part
-- 3), per shadow model and prompt: agreement on the category with the stored
-- triage, cost and latency of each side (production: the revision's model
-- calls), and, where an agent corrected the category or approved the ticket
-- as it was, the accuracy of both against that label. Read by supervisors
-- and the dashboard only; agents never see shadow answers.
CREATE OR REPLACE VIEW shadow_vs_production AS
WITH s AS (
    SELECT sa.*, tr.category AS prod_category, tr.status AS prod_status,
           (SELECT lc.new_value FROM label_corrections lc
             WHERE lc.ticket_pk = sa.ticket_pk AND lc.revision = sa.revision
               AND lc.field = 'category' ORDER BY lc.corrected_at DESC LIMIT 1) AS corrected,
           (SELECT sum(mc.cost_usd) FROM model_calls mc
             WHERE mc.ticket_pk = sa.ticket_pk AND mc.revision = sa.revision) AS prod_cost,
           (SELECT sum(mc.latency_ms) FROM model_calls mc
             WHERE mc.ticket_pk = sa.ticket_pk AND mc.revision = sa.revision) AS prod_latency
      FROM shadow_answers sa
      JOIN triage_results tr ON tr.ticket_pk = sa.ticket_pk AND tr.revision = sa.revision),
g AS (
    SELECT s.*, coalesce(s.corrected,
                         CASE WHEN s.prod_status = 'approved' THEN s.prod_category END) AS gold
      FROM s)
SELECT model, prompt_version,
       count(*)::bigint AS tickets,
       count(*) FILTER (WHERE outcome = 'ok')::bigint AS answered,
       round(avg((category IS NOT DISTINCT FROM prod_category)::int)::numeric, 4) AS agreement,
       round(sum(cost_usd) * 1000 / nullif(count(*), 0), 6) AS shadow_cost_per_1000,
       round(sum(prod_cost) * 1000 / nullif(count(*), 0), 6) AS production_cost_per_1000,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS shadow_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS shadow_p95_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY prod_latency) AS production_p50_ms,
       count(gold)::bigint AS gold_labelled,
       round(avg((category = gold)::int) FILTER (WHERE gold IS NOT NULL)::numeric, 4)
           AS shadow_gold_accuracy,
       round(avg((prod_category = gold)::int) FILTER (WHERE gold IS NOT NULL)::numeric, 4)
           AS production_gold_accuracy
  FROM g
 GROUP BY model, prompt_version;

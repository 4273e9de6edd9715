-- Share of triaged revisions escalated to the flagship model, per triage day.
CREATE OR REPLACE VIEW metrics_escalation AS
SELECT date_trunc('day', created_at) AS day,
       count(*) AS tickets,
       count(*) FILTER (WHERE escalated) AS escalated,
       round(count(*) FILTER (WHERE escalated)::numeric / count(*), 4) AS rate
  FROM triage_results
 GROUP BY 1;

-- Escalation reasons over all time; read with ORDER BY count DESC for the top.
CREATE OR REPLACE VIEW metrics_escalation_reasons AS
SELECT btrim(x.reason) AS reason, count(*) AS count
  FROM triage_results tr
  CROSS JOIN LATERAL string_to_table(tr.escalation_reasons, '; ') AS x(reason)
 WHERE tr.escalated AND btrim(x.reason) <> ''
 GROUP BY 1;

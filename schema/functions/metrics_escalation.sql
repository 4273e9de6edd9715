-- Share of triaged revisions escalated to the flagship model, per triage day
-- (from the counters: UTC hours summed into the reader's days).
CREATE OR REPLACE VIEW metrics_escalation AS
SELECT date_trunc('day', x.bucket) AS day,
       sum(x.n1)::bigint AS tickets,
       sum(x.n2)::bigint AS escalated,
       round(sum(x.n2) / sum(x.n1), 4) AS rate
  FROM (SELECT bucket, n1, n2 FROM stats_counts WHERE kind = 'escalation'
        UNION ALL
        SELECT bucket, n1, n2 FROM stats_delta WHERE kind = 'escalation') x
 GROUP BY 1
HAVING sum(x.n1) > 0;

-- Escalation reasons over all time; read with ORDER BY count DESC for the top.
CREATE OR REPLACE VIEW metrics_escalation_reasons AS
SELECT x.a AS reason, sum(x.n1)::bigint AS count
  FROM (SELECT a, n1 FROM stats_counts WHERE kind = 'reason'
        UNION ALL
        SELECT a, n1 FROM stats_delta WHERE kind = 'reason') x
 GROUP BY 1
HAVING sum(x.n1) > 0;

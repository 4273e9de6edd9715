-- What awaits review now, by (current) urgency; NULL urgency = a needs_human
-- ticket without labels (queued as 'high'). at_risk: not yet breached, and
-- less than 25% of its SLA window left. open/claimed/awaiting come from the
-- counters (stats_counts + stats_delta, kept by triggers); an expired claim
-- counts as open. breached: the 'due' counters (awaiting rows per UTC hour of
-- their deadline) of the hours past, plus the rows due earlier this hour (an
-- index range). at_risk and oldest_waiting: ranges of an index on the
-- awaiting rows (triage_results_awaiting_due and _age): the rows due soon,
-- the oldest row; never a scan of every result.
CREATE OR REPLACE VIEW metrics_backlog AS
WITH c AS (
    SELECT x.a AS urgency, sum(x.n1) AS open, sum(x.n2) AS claimed
      FROM (SELECT a, n1, n2 FROM stats_counts WHERE kind = 'backlog'
            UNION ALL
            SELECT a, n1, n2 FROM stats_delta WHERE kind = 'backlog') x
     GROUP BY 1
    HAVING sum(x.n1) + sum(x.n2) > 0),
ex AS (
    SELECT tr.eff_urgency AS urgency, count(*) AS expired
      FROM triage_results tr
     WHERE tr.review_state = 'claimed' AND tr.claim_expires_at <= now()
       AND tr.status IN ('pending_review', 'needs_human')
     GROUP BY 1),
w AS (SELECT coalesce(max(due_minutes), 0) * interval '1 minute' * 0.25 AS quarter FROM sla_policy)
SELECT c.urgency,
       (c.open + c.claimed)::bigint AS awaiting,
       (c.open + coalesce(ex.expired, 0))::bigint AS open,
       (c.claimed - coalesce(ex.expired, 0))::bigint AS claimed,
       -- breached: whole deadline hours past (counters), plus this hour's so far (index)
       (coalesce((SELECT sum(d.n1) FROM (SELECT a, bucket, n1 FROM stats_counts WHERE kind = 'due'
                                         UNION ALL
                                         SELECT a, bucket, n1 FROM stats_delta WHERE kind = 'due') d
                   WHERE d.a IS NOT DISTINCT FROM c.urgency
                     AND d.bucket < date_trunc('hour', now(), 'UTC')), 0)
        + CASE WHEN c.urgency IS NULL THEN
            (SELECT count(*) FROM triage_results tr
              WHERE tr.eff_urgency IS NULL
                AND tr.q_sla_due >= date_trunc('hour', now(), 'UTC') AND tr.q_sla_due < now()
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human'))
          ELSE (SELECT count(*) FROM triage_results tr
              WHERE tr.eff_urgency = c.urgency
                AND tr.q_sla_due >= date_trunc('hour', now(), 'UTC') AND tr.q_sla_due < now()
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human')) END)::bigint AS breached,
       CASE WHEN c.urgency IS NULL THEN
            (SELECT count(*) FROM triage_results tr
              WHERE tr.eff_urgency IS NULL
                AND tr.q_sla_due >= now() AND tr.q_sla_due < now() + w.quarter
                AND tr.q_sla_due - now() < (tr.q_sla_due - tr.q_received_at) * 0.25
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human'))
       ELSE (SELECT count(*) FROM triage_results tr
              WHERE tr.eff_urgency = c.urgency
                AND tr.q_sla_due >= now() AND tr.q_sla_due < now() + w.quarter
                AND tr.q_sla_due - now() < (tr.q_sla_due - tr.q_received_at) * 0.25
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human')) END AS at_risk,
       now() - CASE WHEN c.urgency IS NULL THEN
            (SELECT min(tr.q_received_at) FROM triage_results tr
              WHERE tr.eff_urgency IS NULL
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human'))
       ELSE (SELECT min(tr.q_received_at) FROM triage_results tr
              WHERE tr.eff_urgency = c.urgency
                AND tr.review_state IN ('open', 'claimed')
                AND tr.status IN ('pending_review', 'needs_human')) END AS oldest_waiting
  FROM c CROSS JOIN w
  LEFT JOIN ex ON ex.urgency IS NOT DISTINCT FROM c.urgency;

-- What awaits review now, by (current) urgency; NULL urgency = a needs_human
-- ticket without labels (queued as 'high'). at_risk: not yet breached, and
-- less than 25% of its SLA window left. Read from the awaiting rows' order
-- keys, without the queue's window and joins.
CREATE OR REPLACE VIEW metrics_backlog AS
SELECT e.urgency,
       count(*) AS awaiting,
       count(*) FILTER (WHERE tr.review_state = 'open')    AS open,
       count(*) FILTER (WHERE tr.review_state = 'claimed') AS claimed,
       count(*) FILTER (WHERE tr.q_sla_due < now()) AS breached,
       count(*) FILTER (WHERE NOT tr.q_sla_due < now()
                          AND tr.q_sla_due - now() < (tr.q_sla_due - tr.q_received_at) * 0.25)
           AS at_risk,
       now() - min(tr.q_received_at) AS oldest_waiting
  FROM triage_results tr
  JOIN triage_effective e ON e.id = tr.id
 WHERE tr.status IN ('pending_review', 'needs_human')
   AND tr.review_state IN ('open', 'claimed')
 GROUP BY e.urgency;

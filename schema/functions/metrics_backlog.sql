-- What awaits review now, by (current) urgency; NULL urgency = a needs_human
-- ticket without labels (queued as 'high'). at_risk: not yet breached, and
-- less than 25% of its SLA window left.
CREATE OR REPLACE VIEW metrics_backlog AS
SELECT urgency,
       count(*) AS awaiting,
       count(*) FILTER (WHERE review_state = 'open')    AS open,
       count(*) FILTER (WHERE review_state = 'claimed') AS claimed,
       count(*) FILTER (WHERE sla_breached) AS breached,
       count(*) FILTER (WHERE NOT sla_breached
                          AND sla_due - now() < (sla_due - received_at) * 0.25) AS at_risk,
       max(waiting) AS oldest_waiting
  FROM agent_review_queue
 GROUP BY urgency;

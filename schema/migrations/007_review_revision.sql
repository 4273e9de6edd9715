-- 007: reviews bound to the revision the agent saw, and a queue whose cost
-- does not grow with the backlog (#19).
--
-- A triage result replaced by a newer revision's leaves the queue as
-- 'superseded' (before: it stayed 'claimed' or 'open' for good, hidden by the
-- view); a claim on it moves to the new revision (replaces_revision says which
-- one it replaced: the queue shows the ticket as changed). The queue's order
-- keys are kept on the row (q_*), so one index serves review_claim_next in
-- queue order.

ALTER TABLE triage_results DROP CONSTRAINT triage_results_review_state_check;
ALTER TABLE triage_results ADD CONSTRAINT triage_results_review_state_check
    CHECK (review_state IN ('open', 'claimed', 'approved', 'rejected', 'superseded'));

ALTER TABLE triage_results
    ADD COLUMN replaces_revision integer,     -- the awaiting revision this one replaced
    ADD COLUMN q_urgency         smallint,    -- triaged_urgency_rank(current urgency)
    ADD COLUMN q_sla_due         timestamptz, -- triaged_sla_due(current urgency, tier, first arrival)
    ADD COLUMN q_tier            smallint,    -- triaged_tier_rank(tier)
    ADD COLUMN q_received_at     timestamptz; -- tickets.received_at (first arrival)

-- superseded: awaiting rows with a newer revision
UPDATE triage_results o SET review_state = 'superseded', assigned_to = NULL, claimed_at = NULL
 WHERE o.review_state IN ('open', 'claimed')
   AND EXISTS (SELECT 1 FROM triage_results n WHERE n.ticket_pk = o.ticket_pk
                                              AND n.revision > o.revision);

-- the order keys of every row, then the urgency corrections applied
UPDATE triage_results tr
   SET q_received_at = t.received_at,
       q_tier = CASE lower(t.customer_tier) WHEN 'enterprise' THEN 0 WHEN 'premium' THEN 1
                     WHEN 'standard' THEN 2 WHEN 'free' THEN 3 ELSE 4 END,
       q_urgency = CASE coalesce(tr.urgency, 'high') WHEN 'critical' THEN 0
                        WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
       q_sla_due = (SELECT t.received_at + p.due_minutes * interval '1 minute'
                      FROM sla_policy p
                     WHERE p.urgency = coalesce(tr.urgency, 'high')
                       AND (p.customer_tier = lower(t.customer_tier) OR p.customer_tier IS NULL)
                     ORDER BY p.customer_tier IS NULL LIMIT 1)
  FROM tickets t
 WHERE t.id = tr.ticket_pk;
UPDATE triage_results tr SET
       q_urgency = CASE c.new_value WHEN 'critical' THEN 0 WHEN 'high' THEN 1
                        WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
       q_sla_due = (SELECT tr.q_received_at + p.due_minutes * interval '1 minute'
                      FROM sla_policy p, tickets t
                     WHERE t.id = tr.ticket_pk AND p.urgency = c.new_value
                       AND (p.customer_tier = lower(t.customer_tier) OR p.customer_tier IS NULL)
                     ORDER BY p.customer_tier IS NULL LIMIT 1)
  FROM (SELECT DISTINCT ON (ticket_pk, revision) ticket_pk, revision, new_value
          FROM label_corrections WHERE field = 'urgency'
         ORDER BY ticket_pk, revision, corrected_at DESC, id DESC) c
 WHERE c.ticket_pk = tr.ticket_pk AND c.revision = tr.revision;

-- review_claim_next: the first open row in queue order, O(1) rows touched
CREATE INDEX triage_results_queue ON triage_results
    (q_urgency, q_sla_due, q_tier, q_received_at, ticket_pk)
    WHERE review_state = 'open' AND status IN ('pending_review', 'needs_human');
-- the queue view and the backlog: every awaiting row in queue order
CREATE INDEX triage_results_awaiting_order ON triage_results
    (q_urgency, q_sla_due, q_tier, q_received_at, ticket_pk)
    WHERE review_state IN ('open', 'claimed') AND status IN ('pending_review', 'needs_human');

-- the view's columns change (changed, replaces_revision): re-created from schema/functions/
DROP VIEW IF EXISTS metrics_backlog, agent_review_queue;

-- every review action now names the revision the agent saw
DROP FUNCTION IF EXISTS review_approve(bigint, text, text), review_reject(bigint, text, text),
                        review_correct(bigint, text, text, text, text),
                        triaged_review_take(bigint, text);

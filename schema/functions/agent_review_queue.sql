-- The review queue: one row per ticket whose latest triaged revision awaits
-- review (open or claimed). Labels are the current ones (corrections
-- applied). A view has no order of its own: read it with
--     SELECT ... FROM agent_review_queue ORDER BY queue_position;
-- queue_position orders by urgency (critical, high, normal, low; no urgency =
-- high), then SLA deadline, then customer tier (enterprise, premium,
-- standard, free, none), then age (oldest first), then ticket_pk: the order
-- keys kept on the row (q_*), read in the order of an index.
-- The SLA clock starts at tickets.received_at, the first arrival: a new
-- revision does not restart it. changed: this revision replaced one that was
-- awaiting review (replaces_revision); act on `revision`, the one shown.
CREATE OR REPLACE VIEW agent_review_queue AS
SELECT e.ticket_pk, t.source, t.ticket_id, e.revision, t.subject, t.customer_tier, t.channel,
       e.status, e.status_reason, e.category, e.sentiment, e.urgency, e.confidence, e.summary,
       e.draft_reply, e.escalated, e.escalation_reasons, e.decided_by, e.model, e.priority,
       e.review_state, e.assigned_to, t.received_at, tr.q_sla_due AS sla_due,
       tr.q_sla_due < now() AS sla_breached, now() - t.received_at AS waiting,
       row_number() OVER (ORDER BY tr.q_urgency, tr.q_sla_due, tr.q_tier, tr.q_received_at,
                                   tr.ticket_pk) AS queue_position,
       e.claimed_at, e.labels_corrected,
       tr.replaces_revision IS NOT NULL AS changed, tr.replaces_revision
  FROM triage_results tr
  JOIN triage_effective e ON e.id = tr.id
  JOIN tickets t ON t.id = tr.ticket_pk
 WHERE tr.status IN ('pending_review', 'needs_human')
   AND tr.review_state IN ('open', 'claimed');

-- The review queue: one row per ticket whose latest triaged revision awaits
-- review (open or claimed). Labels are the current ones (corrections
-- applied). A view has no order of its own: read it with
--     SELECT ... FROM agent_review_queue ORDER BY queue_position;
-- queue_position orders by urgency (critical, high, normal, low; no urgency =
-- high), then SLA deadline, then customer tier (enterprise, premium,
-- standard, free, none), then age (oldest first), then ticket_pk.
-- The SLA clock starts at tickets.received_at, the first arrival: a new
-- revision does not restart it.
CREATE OR REPLACE VIEW agent_review_queue AS
SELECT ticket_pk, source, ticket_id, revision, subject, customer_tier, channel, status,
       status_reason, category, sentiment, urgency, confidence, summary, draft_reply, escalated,
       escalation_reasons, decided_by, model, priority, review_state, assigned_to, received_at,
       sla_due, sla_due < now() AS sla_breached, now() - received_at AS waiting,
       row_number() OVER (ORDER BY urgency_rank, sla_due NULLS LAST, tier_rank, received_at,
                                   ticket_pk) AS queue_position,
       claimed_at, labels_corrected
  FROM (SELECT e.ticket_pk, t.source, t.ticket_id, e.revision, t.subject, t.customer_tier,
               t.channel, e.status, e.status_reason, e.category, e.sentiment, e.urgency,
               e.confidence, e.summary, e.draft_reply, e.escalated, e.escalation_reasons,
               e.decided_by, e.model, e.priority, e.review_state, e.assigned_to, e.claimed_at,
               t.received_at, e.labels_corrected,
               triaged_sla_due(e.urgency, t.customer_tier, t.received_at) AS sla_due,
               triaged_urgency_rank(e.urgency) AS urgency_rank,
               triaged_tier_rank(t.customer_tier) AS tier_rank
          FROM triage_effective e
          JOIN tickets t ON t.id = e.ticket_pk
         WHERE e.status IN ('pending_review', 'needs_human')
           AND e.review_state IN ('open', 'claimed')
           AND NOT EXISTS (SELECT 1 FROM triage_results n
                            WHERE n.ticket_pk = e.ticket_pk AND n.revision > e.revision)) q;

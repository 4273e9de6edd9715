-- The review queue: one row per ticket whose latest triaged revision awaits
-- review (open or claimed). Labels are the current ones (corrections
-- applied). A view has no order of its own: read it with
--     SELECT ... FROM agent_review_queue ORDER BY queue_position;
-- queue_position orders by urgency (critical, high, normal, low; no urgency =
-- high), then SLA deadline, then customer tier (enterprise, premium,
-- standard, free, none), then age (oldest first), then ticket_pk: the order
-- keys kept on the row (q_*), read in the order of an index.
-- The SLA clock starts at tickets.received_at, the first arrival: a new
-- revision does not restart it. An expired claim shows as open (any agent
-- may take it); claim_expires_at is a live claim's expiry.
-- category_off_taxonomy: the current category is not in review_categories
-- (an agent's correction stored and flagged). changed: this revision replaced one that was
-- awaiting review (replaces_revision); act on `revision`, the one shown.
CREATE OR REPLACE VIEW agent_review_queue AS
SELECT e.ticket_pk, t.source, t.ticket_id, e.revision, t.subject, t.customer_tier, t.channel,
       e.status, e.status_reason, e.category, e.sentiment, e.urgency, e.confidence, e.summary,
       e.draft_reply, e.escalated, e.escalation_reasons, e.decided_by, e.model, e.priority,
       CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at <= now() THEN 'open'
            ELSE tr.review_state END AS review_state,
       CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at <= now() THEN NULL
            ELSE tr.assigned_to END AS assigned_to, t.received_at, tr.q_sla_due AS sla_due,
       tr.q_sla_due < now() AS sla_breached, now() - t.received_at AS waiting,
       row_number() OVER (ORDER BY tr.q_urgency, tr.q_sla_due, tr.q_tier, tr.q_received_at,
                                   tr.ticket_pk) AS queue_position,
       e.claimed_at, e.labels_corrected,
       tr.replaces_revision IS NOT NULL AS changed, tr.replaces_revision,
       CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at > now()
            THEN tr.claim_expires_at END AS claim_expires_at,
       e.category IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM review_categories rc WHERE rc.name = e.category)
           AS category_off_taxonomy,
       t.intake_flags
  FROM triage_results tr
  JOIN triage_effective e ON e.id = tr.id
  JOIN tickets t ON t.id = tr.ticket_pk
 WHERE tr.status IN ('pending_review', 'needs_human')
   AND tr.review_state IN ('open', 'claimed');

-- The head of the queue: the first 100 rows in queue order, read from the
-- index on the order keys (PostgreSQL stops after 100 rows; agent_review_queue
-- numbers every awaiting row). Same columns; read it with
--     SELECT ... FROM agent_review_queue_head ORDER BY queue_position LIMIT n;
CREATE OR REPLACE VIEW agent_review_queue_head AS
SELECT q.*
  FROM (SELECT h.id, row_number() OVER (ORDER BY h.q_urgency, h.q_sla_due, h.q_tier,
                                        h.q_received_at, h.ticket_pk) AS pos
          FROM (SELECT tr.id, tr.q_urgency, tr.q_sla_due, tr.q_tier, tr.q_received_at,
                       tr.ticket_pk
                  FROM triage_results tr
                 WHERE tr.status IN ('pending_review', 'needs_human')
                   AND tr.review_state IN ('open', 'claimed')
                 ORDER BY tr.q_urgency, tr.q_sla_due, tr.q_tier, tr.q_received_at, tr.ticket_pk
                 LIMIT 100) h) hp
  CROSS JOIN LATERAL (
       SELECT e.ticket_pk, t.source, t.ticket_id, e.revision, t.subject, t.customer_tier,
              t.channel, e.status, e.status_reason, e.category, e.sentiment, e.urgency,
              e.confidence, e.summary, e.draft_reply, e.escalated, e.escalation_reasons,
              e.decided_by, e.model, e.priority,
              CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at <= now() THEN 'open'
                   ELSE tr.review_state END AS review_state,
              CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at <= now() THEN NULL
                   ELSE tr.assigned_to END AS assigned_to, t.received_at,
              tr.q_sla_due AS sla_due, tr.q_sla_due < now() AS sla_breached,
              now() - t.received_at AS waiting, hp.pos AS queue_position,
              e.claimed_at, e.labels_corrected,
              tr.replaces_revision IS NOT NULL AS changed, tr.replaces_revision,
              CASE WHEN tr.review_state = 'claimed' AND tr.claim_expires_at > now()
                   THEN tr.claim_expires_at END AS claim_expires_at,
              e.category IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM review_categories rc WHERE rc.name = e.category)
                  AS category_off_taxonomy,
              t.intake_flags
         FROM triage_results tr
         JOIN triage_effective e ON e.id = tr.id
         JOIN tickets t ON t.id = tr.ticket_pk
        WHERE tr.id = hp.id
        LIMIT 1) q;  -- LIMIT: kept a per-row lookup by id, never a join over every result

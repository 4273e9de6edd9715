-- 008: claims that behave, and dashboard figures that do not grow with the
-- backlog (#19 parts 3 and 4).
--
-- Claims are leases: claim_expires_at, renewed by any action of the holder,
-- the length in review_settings.claim_ttl (30 minutes unless changed). An
-- expired claim goes back to the queue. review_settings.max_open_claims caps
-- the live claims of one agent (NULL: no cap). Acting for another agent
-- (p_agent) needs role triaged_review_app (shared application logins).
--
-- The dashboard's counts come from stats_counts (one row per figure and
-- bucket) plus stats_delta (what changed since the last compaction): triggers
-- append deltas, never update a shared row, so no agent and no daemon batch
-- waits for another's counter row; triaged_stats_compact() folds the deltas
-- into stats_counts.

-- ---- settings ----------------------------------------------------------------
CREATE TABLE review_settings (
    id              boolean  PRIMARY KEY DEFAULT true CHECK (id),
    claim_ttl       interval NOT NULL DEFAULT interval '30 minutes'
                        CHECK (claim_ttl > interval '0'),
    max_open_claims integer  CHECK (max_open_claims > 0)     -- NULL: no cap
);
INSERT INTO review_settings DEFAULT VALUES;

-- The category taxonomy for agents' corrections (the daemon's default
-- triage.categories). A correction outside it is stored and flagged.
CREATE TABLE review_categories (
    name text PRIMARY KEY CHECK (name = btrim(name) AND length(name) BETWEEN 1 AND 64)
);
INSERT INTO review_categories (name)
SELECT unnest(ARRAY['billing', 'technical', 'account', 'shipping', 'product_question',
                    'feature_request', 'bug_report', 'complaint', 'cancellation', 'security',
                    'legal', 'other']);

ALTER TABLE label_corrections ADD COLUMN off_taxonomy boolean NOT NULL DEFAULT false;

-- ---- claims as leases --------------------------------------------------------
ALTER TABLE triage_results
    ADD COLUMN claim_expires_at timestamptz,   -- a claim is live until then
    ADD COLUMN eff_urgency      text;          -- current urgency (corrections applied)

UPDATE triage_results SET claim_expires_at = claimed_at + interval '30 minutes'
 WHERE review_state = 'claimed';
UPDATE triage_results tr SET eff_urgency = coalesce(
       (SELECT c.new_value FROM label_corrections c
         WHERE c.ticket_pk = tr.ticket_pk AND c.revision = tr.revision AND c.field = 'urgency'
         ORDER BY c.corrected_at DESC, c.id DESC LIMIT 1), tr.urgency);

CREATE INDEX triage_results_claim_expiry ON triage_results (claim_expires_at)
    WHERE review_state = 'claimed';
CREATE INDEX triage_results_claims_by_agent ON triage_results (assigned_to)
    WHERE review_state = 'claimed';
-- the backlog's deadlines and ages per current urgency, read by range
CREATE INDEX triage_results_awaiting_due ON triage_results (eff_urgency, q_sla_due)
    INCLUDE (q_received_at)
    WHERE review_state IN ('open', 'claimed') AND status IN ('pending_review', 'needs_human');
CREATE INDEX triage_results_awaiting_age ON triage_results (eff_urgency, q_received_at)
    WHERE review_state IN ('open', 'claimed') AND status IN ('pending_review', 'needs_human');

-- The role for shared application logins that act for named agents.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'triaged_review_app') THEN
        BEGIN
            CREATE ROLE triaged_review_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by the migration of another database
        END;
    END IF;
END
$$;
GRANT triaged_agent TO triaged_review_app;

-- ---- counters ------------------------------------------------------------------
-- kind        bucket (UTC hour)        a         b           c        n1        n2       n3
-- volume      revision received_at     category  urgency     sentiment count
-- escalation  result created_at        -                              results   escalated
-- reason      -                        reason                         count
-- backlog     -                        urgency                        open      claimed
-- due         SLA deadline (q_sla_due) urgency                        awaiting
-- outcome     reviewed_at              category  decided_by  model    accepted  edited   rejected
CREATE TABLE stats_counts (
    kind   text        NOT NULL,
    bucket timestamptz,
    a      text,
    b      text,
    c      text,
    n1     bigint      NOT NULL DEFAULT 0,
    n2     bigint      NOT NULL DEFAULT 0,
    n3     bigint      NOT NULL DEFAULT 0,
    CONSTRAINT stats_counts_key UNIQUE NULLS NOT DISTINCT (kind, bucket, a, b, c)
);
CREATE TABLE stats_delta (
    id     bigserial   PRIMARY KEY,
    kind   text        NOT NULL,
    bucket timestamptz,
    a      text,
    b      text,
    c      text,
    n1     bigint      NOT NULL DEFAULT 0,
    n2     bigint      NOT NULL DEFAULT 0,
    n3     bigint      NOT NULL DEFAULT 0
);

-- what the old views counted, as of now
INSERT INTO stats_counts (kind, bucket, a, b, c, n1, n2, n3)
SELECT 'volume', date_trunc('hour', r.received_at, 'UTC'), e.category, e.urgency, e.sentiment,
       count(*), 0, 0
  FROM (SELECT tr.ticket_pk, tr.revision,
               coalesce(lc.category, tr.category) AS category,
               coalesce(lc.urgency, tr.urgency) AS urgency,
               coalesce(lc.sentiment, tr.sentiment) AS sentiment
          FROM triage_results tr
          LEFT JOIN (SELECT ticket_pk, revision,
                            (array_agg(new_value ORDER BY corrected_at DESC, id DESC)
                                 FILTER (WHERE field = 'category'))[1] AS category,
                            (array_agg(new_value ORDER BY corrected_at DESC, id DESC)
                                 FILTER (WHERE field = 'urgency'))[1] AS urgency,
                            (array_agg(new_value ORDER BY corrected_at DESC, id DESC)
                                 FILTER (WHERE field = 'sentiment'))[1] AS sentiment
                       FROM label_corrections GROUP BY 1, 2) lc
                 ON lc.ticket_pk = tr.ticket_pk AND lc.revision = tr.revision) e
  JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND r.revision = e.revision
 GROUP BY 2, 3, 4, 5
UNION ALL
SELECT 'escalation', date_trunc('hour', created_at, 'UTC'), NULL, NULL, NULL,
       count(*), count(*) FILTER (WHERE escalated), 0
  FROM triage_results GROUP BY 2
UNION ALL
SELECT 'reason', NULL, btrim(x.reason), NULL, NULL, count(*), 0, 0
  FROM triage_results tr CROSS JOIN LATERAL string_to_table(tr.escalation_reasons, '; ') x(reason)
 WHERE tr.escalated AND btrim(x.reason) <> '' GROUP BY 3
UNION ALL
SELECT 'backlog', NULL, eff_urgency, NULL, NULL,
       count(*) FILTER (WHERE review_state = 'open'),
       count(*) FILTER (WHERE review_state = 'claimed'), 0
  FROM triage_results
 WHERE review_state IN ('open', 'claimed') AND status IN ('pending_review', 'needs_human')
 GROUP BY 3
UNION ALL
SELECT 'due', date_trunc('hour', q_sla_due, 'UTC'), eff_urgency, NULL, NULL, count(*), 0, 0
  FROM triage_results
 WHERE review_state IN ('open', 'claimed') AND status IN ('pending_review', 'needs_human')
   AND q_sla_due IS NOT NULL
 GROUP BY 2, 3
UNION ALL
SELECT 'outcome', date_trunc('hour', tr.reviewed_at, 'UTC'),
       coalesce((SELECT c.new_value FROM label_corrections c
                  WHERE c.ticket_pk = tr.ticket_pk AND c.revision = tr.revision
                    AND c.field = 'category'
                  ORDER BY c.corrected_at DESC, c.id DESC LIMIT 1), tr.category) AS category,
       tr.decided_by, tr.model,
       count(*) FILTER (WHERE tr.review_outcome = 'accepted'),
       count(*) FILTER (WHERE tr.review_outcome = 'edited'),
       count(*) FILTER (WHERE tr.review_outcome = 'rejected')
  FROM triage_results tr
 WHERE tr.review_outcome IS NOT NULL
 GROUP BY 2, 3, 4, 5;

-- the views change their sources (re-created from schema/functions/ after
-- this file); ours by name, no CASCADE: an operator's view on one of them
-- stops the migration instead of vanishing
DROP VIEW IF EXISTS review_outcomes, metrics_review_outcomes, metrics_backlog,
                    metrics_volume_hourly, metrics_volume_daily, metrics_escalation,
                    metrics_escalation_reasons, agent_review_queue;

-- take gains the cap switch
DROP FUNCTION IF EXISTS triaged_review_take(bigint, integer, text);

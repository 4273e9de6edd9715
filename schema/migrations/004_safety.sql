-- 004: safe by default. The PII placeholder map of each ticket revision
-- (kept only here: never sent to a model, never logged), the detector flags
-- of a ticket (prompt injection) and the policy flags of its draft.

CREATE TABLE ticket_pii (
    ticket_pk  bigint      NOT NULL REFERENCES tickets(id),
    revision   integer     NOT NULL,
    map        jsonb       NOT NULL,  -- [{"placeholder": "[EMAIL_1]", "value": "...", "kind": "email"}]
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_pk, revision)
);

ALTER TABLE triage_results
    ADD COLUMN detector_flags text,   -- e.g. "injection: ignore-instructions, role-tag"
    ADD COLUMN draft_flags    text;   -- why the draft failed the policy check; NULL = passed

-- claim v2, now also keeping the PII map of the revision (same map on a
-- redelivery: redaction is deterministic).
CREATE OR REPLACE FUNCTION triaged_claim_v2(batch jsonb)
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text, calls jsonb,
               event jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    t jsonb;
BEGIN
    FOR r IN SELECT * FROM triaged_claim(batch) LOOP
        t := batch->r.idx;
        idx := r.idx; ticket_pk := r.ticket_pk; revision := r.revision; state := r.state;
        calls := NULL; event := NULL;
        IF r.state <> 'done' AND jsonb_typeof(t->'pii') = 'array'
           AND jsonb_array_length(t->'pii') > 0 THEN
            INSERT INTO ticket_pii (ticket_pk, revision, map)
            VALUES (r.ticket_pk, r.revision, t->'pii')
            ON CONFLICT DO NOTHING;
        END IF;
        IF r.state = 'done' THEN
            event := triaged_event(r.ticket_pk, r.revision);
        ELSIF r.state = 'pending' THEN
            SELECT jsonb_agg(jsonb_build_object('seq', mc.seq, 'tier', mc.tier,
                       'purpose', mc.purpose, 'model', mc.model,
                       'prompt_version', mc.prompt_version, 'outcome', mc.outcome,
                       'answer', mc.answer, 'error', mc.error) ORDER BY mc.seq)
              INTO calls FROM model_calls mc
             WHERE mc.ticket_pk = r.ticket_pk AND mc.revision = r.revision;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION triaged_store_v2(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, event jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    t   jsonb;
    r   record;
BEGIN
    FOR r IN SELECT * FROM triaged_store(batch) LOOP
        t := batch->r.idx;
        IF r.inserted THEN
            UPDATE triage_results tr
               SET action = coalesce(t->>'action', 'none'),
                   escalated = coalesce((t->>'escalated')::boolean, false),
                   escalation_reasons = t->>'escalation_reasons',
                   matched_rules = t->>'matched_rules',
                   priority = coalesce((t->>'priority')::integer, 50),
                   detector_flags = t->>'detector_flags',
                   draft_flags = t->>'draft_flags'
             WHERE tr.id = r.result_id;
        END IF;
        idx := r.idx; result_id := r.result_id; inserted := r.inserted;
        event := triaged_event((t->>'ticket_pk')::bigint, (t->>'revision')::integer);
        RETURN NEXT;
    END LOOP;
END
$$;

-- Counts only, never values: what redaction, the injection detector and the
-- draft policy did, per day.
CREATE VIEW metrics_safety AS
    SELECT d.day,
           coalesce(p.email, 0) AS redacted_email, coalesce(p.phone, 0) AS redacted_phone,
           coalesce(p.card, 0) AS redacted_card, coalesce(p.iban, 0) AS redacted_iban,
           coalesce(p.custom, 0) AS redacted_custom,
           coalesce(f.injection, 0) AS injection_flagged,
           coalesce(f.drafts, 0) AS drafts_flagged
      FROM (SELECT date_trunc('day', created_at) AS day FROM ticket_pii
            UNION SELECT date_trunc('day', created_at) FROM triage_results) d
      LEFT JOIN (SELECT date_trunc('day', tp.created_at) AS day,
                        count(*) FILTER (WHERE e->>'kind' = 'email') AS email,
                        count(*) FILTER (WHERE e->>'kind' = 'phone') AS phone,
                        count(*) FILTER (WHERE e->>'kind' = 'card') AS card,
                        count(*) FILTER (WHERE e->>'kind' = 'iban') AS iban,
                        count(*) FILTER (WHERE e->>'kind' NOT IN ('email', 'phone', 'card',
                                                                  'iban', 'literal')) AS custom
                   FROM ticket_pii tp CROSS JOIN LATERAL jsonb_array_elements(tp.map) e
                  GROUP BY 1) p ON p.day = d.day
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day,
                        count(*) FILTER (WHERE detector_flags LIKE 'injection%') AS injection,
                        count(*) FILTER (WHERE draft_flags IS NOT NULL) AS drafts
                   FROM triage_results GROUP BY 1) f ON f.day = d.day;

REVOKE ALL ON ticket_pii FROM PUBLIC;
GRANT SELECT, INSERT ON ticket_pii TO triaged_service;
GRANT SELECT ON metrics_safety TO triaged_supervisor;

-- The transactional outbox (issue #12): every review action the helpdesk
-- must hear of becomes a review_outbox row in the transaction of the action
-- (a trigger on review_events, so each review function, the expiry of
-- claims and a claim moved to a new revision are covered alike). Claims are
-- not sent (nothing changes in the helpdesk); neither are the helpdesk's own
-- decisions coming back as feedback (detail.via = 'helpdesk').
--
-- The event (schema/reviewed.schema.json, schema_version 1), keyed by
-- ticket_id on review.events_topic:
--   type "ticket.reviewed", source, ticket_id, ticket_pk, revision,
--   sequence (1, 2, 3, ... per ticket, no gap), action, agent, at,
--   labels (as corrected: triage_effective), and per action:
--   approve:  outcome accepted|edited, reply (final text, PII restored)
--   reject:   outcome rejected, reason
--   correct:  corrections {field: {from, to}}
--   reassign: from, to
--   release:  expired_at when the claim ran out (else released by the agent)
-- A NOTIFY on channel triaged_outbox wakes the relay at commit.
CREATE OR REPLACE FUNCTION triaged_outbox_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_seq     integer;
    v_payload jsonb;
BEGIN
    IF NEW.action NOT IN ('approve', 'reject', 'correct', 'reassign', 'release')
       OR coalesce(NEW.detail->>'via', '') = 'helpdesk' THEN
        RETURN NULL;
    END IF;
    INSERT INTO review_outbox_seq AS s (ticket_pk, last_seq) VALUES (NEW.ticket_pk, 1)
    ON CONFLICT (ticket_pk) DO UPDATE SET last_seq = s.last_seq + 1
    RETURNING s.last_seq INTO v_seq;
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'type', 'ticket.reviewed',
               'schema_version', 1,
               'source', t.source,
               'ticket_id', t.ticket_id,
               'ticket_pk', t.id,
               'revision', NEW.revision,
               'sequence', v_seq,
               'action', NEW.action,
               'agent', NEW.agent,
               'at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'labels', jsonb_build_object('category', e.category, 'urgency', e.urgency,
                                            'sentiment', e.sentiment,
                                            'corrected', coalesce(e.labels_corrected, false)),
               'outcome', CASE NEW.action WHEN 'approve' THEN tr.review_outcome
                                          WHEN 'reject' THEN 'rejected' END,
               'reply', CASE WHEN NEW.action = 'approve'
                             THEN triaged_pii_restore(tr.final_reply,
                                      (SELECT p.map FROM ticket_pii p
                                        WHERE p.ticket_pk = NEW.ticket_pk
                                          AND p.revision = NEW.revision)) END,
               'reason', CASE WHEN NEW.action = 'reject' THEN NEW.detail->>'reason' END,
               'corrections', CASE WHEN NEW.action = 'correct' THEN NEW.detail END,
               'from', CASE WHEN NEW.action = 'reassign' THEN NEW.detail->'from' END,
               'to', CASE WHEN NEW.action = 'reassign' THEN NEW.detail->'to' END,
               'expired_at', CASE WHEN NEW.action = 'release' THEN NEW.detail->'expired_at' END))
      INTO v_payload
      FROM tickets t
      JOIN triage_results tr ON tr.id = NEW.result_id
      LEFT JOIN triage_effective e ON e.id = tr.id
     WHERE t.id = NEW.ticket_pk;
    INSERT INTO review_outbox (ticket_pk, seq, review_event_id, payload)
    VALUES (NEW.ticket_pk, v_seq, NEW.id, v_payload);
    PERFORM pg_notify('triaged_outbox', '');
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER review_events_outbox AFTER INSERT ON review_events
    FOR EACH ROW EXECUTE FUNCTION triaged_outbox_capture();

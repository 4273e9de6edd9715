-- Feedback from the helpdesk (feedback.topic, mapped by core/feedback.c),
-- recorded as the review functions would record an agent's decision. One
-- JSON object per event in batch:
--   {"source", "event_id", "ticket_id", "kind": "reply"|"fields", "agent",
--    "reply": text sent publicly (kind reply),
--    "fields": {"category"?, "urgency"?, "sentiment"?} (kind fields)}
-- Returns one row per item: idx, outcome, ticket_pk.
--   reply:  the latest revision's result awaiting review becomes approved
--           with outcome accepted (the draft as is, spaces aside), edited
--           (word edit distance at most half the longer text's words) or
--           replaced; edit_distance kept. A result already reviewed (in SQL
--           or by an earlier reply) is left alone: outcome 'ignored'.
--   fields: each valid field whose value differs from the current label
--           becomes a label_corrections row (outcome 'corrected', detail n).
-- The review_events rows carry detail.via = 'helpdesk' (so the outbox does
-- not send them back). (source, event_id) is remembered in feedback_events:
-- a redelivered event returns 'duplicate' and changes nothing. An unknown
-- ticket or an event without a result is recorded as 'ignored'.
CREATE OR REPLACE FUNCTION triaged_feedback(batch jsonb)
RETURNS TABLE (idx integer, outcome text, ticket_pk bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    f        jsonb;
    v_pk     bigint;
    r        triage_results;
    v_agent  text;
    v_out    text;
    v_detail jsonb;
    v_dist   integer;
    v_words  integer;
    v_fields text[] := ARRAY['category', 'urgency', 'sentiment'];
    v_model  text[];
    v_new    text;
    v_cur    text;
    n        integer;
BEGIN
    FOR i IN 0 .. coalesce(jsonb_array_length(batch), 0) - 1 LOOP
        f := batch->i;
        idx := i;
        ticket_pk := NULL;
        v_detail := NULL;
        v_agent := left(coalesce(nullif(btrim(f->>'agent'), ''), 'helpdesk'), 128);
        INSERT INTO feedback_events (source, event_id, kind, outcome)
        VALUES (coalesce(f->>'source', 'default'), f->>'event_id', f->>'kind', 'pending')
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            outcome := 'duplicate';
            SELECT fe.ticket_pk INTO ticket_pk FROM feedback_events fe
             WHERE fe.source = coalesce(f->>'source', 'default') AND fe.event_id = f->>'event_id';
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT t.id INTO v_pk FROM tickets t
         WHERE t.source = coalesce(f->>'source', 'default') AND t.ticket_id = f->>'ticket_id';
        SELECT * INTO r FROM triage_results tr WHERE tr.ticket_pk = v_pk
         ORDER BY tr.revision DESC LIMIT 1 FOR UPDATE;
        IF v_pk IS NULL OR NOT FOUND THEN
            v_out := 'ignored';
            v_detail := jsonb_build_object('reason', CASE WHEN v_pk IS NULL THEN 'unknown ticket'
                                                          ELSE 'not triaged' END);
        ELSIF f->>'kind' = 'reply' THEN
            IF NOT triaged_review_awaiting(r) THEN
                v_out := 'ignored';
                v_detail := jsonb_build_object('reason', 'already reviewed',
                                               'review_outcome', r.review_outcome);
            ELSE
                v_dist := triaged_word_distance(r.draft_reply, f->>'reply');
                v_words := greatest(cardinality(regexp_split_to_array(regexp_replace(coalesce(r.draft_reply, ''), '^\s+|\s+$', '', 'g'), '\s+')),
                                    cardinality(regexp_split_to_array(regexp_replace(f->>'reply', '^\s+|\s+$', '', 'g'), '\s+')));
                v_out := CASE WHEN v_dist = 0 AND r.draft_reply IS NOT NULL THEN 'accepted'
                              WHEN r.draft_reply IS NOT NULL AND v_dist * 2 <= v_words THEN 'edited'
                              ELSE 'replaced' END;
                UPDATE triage_results
                   SET status = 'approved', review_state = 'approved', reviewed_by = v_agent,
                       reviewed_at = now(), final_reply = f->>'reply', review_outcome = v_out,
                       edit_distance = v_dist, claim_expires_at = NULL
                 WHERE id = r.id RETURNING * INTO r;
                v_detail := jsonb_build_object('outcome', v_out, 'edit_distance', v_dist,
                                               'via', 'helpdesk', 'event_id', f->>'event_id');
                PERFORM triaged_review_log(r, 'approve', v_agent, v_detail);
            END IF;
        ELSE
            v_model := ARRAY[r.category, r.urgency, r.sentiment];
            v_detail := jsonb_build_object('via', 'helpdesk', 'event_id', f->>'event_id');
            n := 0;
            FOR k IN 1 .. 3 LOOP
                v_new := nullif(btrim(f->'fields'->>v_fields[k]), '');
                CONTINUE WHEN v_new IS NULL;
                IF (k = 2 AND v_new NOT IN ('low', 'normal', 'high', 'critical'))
                   OR (k = 3 AND v_new NOT IN ('very_negative', 'negative', 'neutral', 'positive'))
                   OR length(v_new) > 64 THEN
                    v_detail := v_detail || jsonb_build_object('invalid_' || v_fields[k], v_new);
                    CONTINUE;
                END IF;
                SELECT c.new_value INTO v_cur FROM label_corrections c
                 WHERE c.ticket_pk = r.ticket_pk AND c.revision = r.revision
                   AND c.field = v_fields[k]
                 ORDER BY c.corrected_at DESC, c.id DESC LIMIT 1;
                IF NOT FOUND THEN
                    v_cur := v_model[k];
                END IF;
                CONTINUE WHEN v_cur IS NOT DISTINCT FROM v_new;
                INSERT INTO label_corrections (ticket_pk, revision, field, old_value, new_value,
                                               agent, off_taxonomy)
                VALUES (r.ticket_pk, r.revision, v_fields[k], v_cur, v_new, v_agent,
                        k = 1 AND NOT EXISTS (SELECT 1 FROM review_categories rc
                                               WHERE rc.name = v_new));
                v_detail := v_detail || jsonb_build_object(v_fields[k],
                                jsonb_build_object('from', v_cur, 'to', v_new));
                n := n + 1;
                IF k = 2 THEN
                    UPDATE triage_results tr
                       SET q_urgency = triaged_urgency_rank(v_new), eff_urgency = v_new,
                           q_sla_due = triaged_sla_due(v_new, t.customer_tier, tr.q_received_at)
                      FROM tickets t WHERE t.id = tr.ticket_pk AND tr.id = r.id;
                END IF;
            END LOOP;
            v_out := CASE WHEN n > 0 THEN 'corrected' ELSE 'unchanged' END;
            IF n > 0 THEN
                PERFORM triaged_review_log(r, 'correct', v_agent, v_detail);
            END IF;
        END IF;
        UPDATE feedback_events fe
           SET ticket_pk = v_pk, revision = r.revision, outcome = v_out, detail = v_detail
         WHERE fe.source = coalesce(f->>'source', 'default') AND fe.event_id = f->>'event_id';
        outcome := v_out;
        ticket_pk := v_pk;
        RETURN NEXT;
    END LOOP;
END
$$;

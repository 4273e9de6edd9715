-- Correct labels of the ticket's latest revision (NULL = leave as is). Writes
-- one label_corrections row per field whose value changes; the model's labels
-- in triage_results stay as they were. Returns the number of fields changed.
-- A category outside review_categories (the taxonomy) is stored and
-- flagged: label_corrections.off_taxonomy, agent_review_queue's
-- category_off_taxonomy, and a WARNING to the caller.
-- Acting on the ticket renews the agent's claim (TR002 at the cap when it
-- claims an open ticket).
CREATE OR REPLACE FUNCTION review_correct(p_ticket_pk bigint, p_revision integer,
                                          p_category text DEFAULT NULL,
                               p_urgency text DEFAULT NULL, p_sentiment text DEFAULT NULL,
                               p_agent text DEFAULT current_user)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent  text := triaged_review_actor(p_agent);
    r        triage_results;
    v_fields text[] := ARRAY['category', 'urgency', 'sentiment'];
    v_new    text[] := ARRAY[btrim(p_category), p_urgency, p_sentiment];
    v_model  text[];
    v_cur    text;
    v_detail jsonb := '{}';
    n        integer := 0;
    v_off    boolean;
BEGIN
    IF p_category IS NULL AND p_urgency IS NULL AND p_sentiment IS NULL THEN
        RAISE EXCEPTION 'nothing to correct: pass a category, urgency or sentiment'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_category IS NOT NULL AND btrim(p_category) = '' THEN
        RAISE EXCEPTION 'category is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_urgency IS NOT NULL AND p_urgency NOT IN ('low', 'normal', 'high', 'critical') THEN
        RAISE EXCEPTION 'urgency % is not one of low, normal, high, critical', p_urgency
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sentiment IS NOT NULL
       AND p_sentiment NOT IN ('very_negative', 'negative', 'neutral', 'positive') THEN
        RAISE EXCEPTION 'sentiment % is not one of very_negative, negative, neutral, positive',
              p_sentiment USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM triaged_review_check_len(btrim(p_category), 'category', 64);
    v_off := p_category IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM review_categories WHERE name = btrim(p_category));
    r := triaged_review_take(p_ticket_pk, p_revision, v_agent);
    v_model := ARRAY[r.category, r.urgency, r.sentiment];
    FOR i IN 1 .. 3 LOOP
        CONTINUE WHEN v_new[i] IS NULL;
        SELECT c.new_value INTO v_cur FROM label_corrections c
         WHERE c.ticket_pk = r.ticket_pk AND c.revision = r.revision AND c.field = v_fields[i]
         ORDER BY c.corrected_at DESC, c.id DESC LIMIT 1;
        IF NOT FOUND THEN
            v_cur := v_model[i];
        END IF;
        CONTINUE WHEN v_cur IS NOT DISTINCT FROM v_new[i];
        INSERT INTO label_corrections (ticket_pk, revision, field, old_value, new_value, agent,
                                       off_taxonomy)
        VALUES (r.ticket_pk, r.revision, v_fields[i], v_cur, v_new[i], v_agent,
                i = 1 AND v_off);
        IF i = 1 AND v_off THEN
            RAISE WARNING 'category % is not in the taxonomy (review_categories): stored and flagged',
                  v_new[i];
        END IF;
        v_detail := v_detail || jsonb_build_object(v_fields[i],
                        jsonb_build_object('from', v_cur, 'to', v_new[i]));
        n := n + 1;
    END LOOP;
    IF v_detail ? 'urgency' THEN
        UPDATE triage_results tr
           SET q_urgency = triaged_urgency_rank(p_urgency), eff_urgency = p_urgency,
               q_sla_due = triaged_sla_due(p_urgency, t.customer_tier, tr.q_received_at)
          FROM tickets t WHERE t.id = tr.ticket_pk AND tr.id = r.id;
    END IF;
    PERFORM triaged_review_log(r, 'correct', v_agent, v_detail);
    RETURN n;
END
$$;

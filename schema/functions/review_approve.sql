-- Approve the reply: p_reply, or the model's draft when NULL. Outcome
-- 'accepted' when the draft went out as it was, else 'edited'. Returns the outcome.
CREATE OR REPLACE FUNCTION review_approve(p_ticket_pk bigint, p_revision integer,
                                          p_reply text DEFAULT NULL,
                               p_agent text DEFAULT current_user)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent   text := triaged_review_actor(p_agent);
    r         triage_results;
    v_reply   text;
    v_outcome text;
BEGIN
    IF p_reply IS NOT NULL AND btrim(p_reply) = '' THEN
        RAISE EXCEPTION 'reply is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM triaged_review_check_len(p_reply, 'reply', 20000);
    r := triaged_review_take(p_ticket_pk, p_revision, v_agent, false);
    v_reply := coalesce(p_reply, r.draft_reply);
    IF v_reply IS NULL OR btrim(v_reply) = '' THEN
        RAISE EXCEPTION 'ticket % has no draft reply: pass the reply to send', p_ticket_pk
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_outcome := CASE WHEN p_reply IS NULL OR p_reply = r.draft_reply THEN 'accepted'
                      ELSE 'edited' END;
    UPDATE triage_results
       SET status = 'approved', review_state = 'approved', reviewed_by = v_agent,
           reviewed_at = now(), final_reply = v_reply, review_outcome = v_outcome,
           claim_expires_at = NULL
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'approve', v_agent, jsonb_build_object('outcome', v_outcome));
    RETURN v_outcome;
END
$$;

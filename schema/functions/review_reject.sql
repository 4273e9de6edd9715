-- Reject the model's triage and draft; a reason is required.
CREATE OR REPLACE FUNCTION review_reject(p_ticket_pk bigint, p_revision integer, p_reason text,
                              p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_actor(p_agent);
    r       triage_results;
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a reason is required to reject ticket %', p_ticket_pk
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM triaged_review_check_len(btrim(p_reason), 'reason', 2000);
    r := triaged_review_take(p_ticket_pk, p_revision, v_agent, false);
    UPDATE triage_results
       SET status = 'rejected', review_state = 'rejected', reviewed_by = v_agent,
           reviewed_at = now(), review_outcome = 'rejected', reject_reason = btrim(p_reason),
           claim_expires_at = NULL
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'reject', v_agent, jsonb_build_object('reason', btrim(p_reason)));
END
$$;

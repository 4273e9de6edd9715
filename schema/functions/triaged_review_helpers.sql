-- Each locks the ticket's latest triage result (SELECT ... FOR UPDATE), so
-- two agents acting on one ticket are serialised and the second sees the
-- first one's outcome. Acting on an open ticket (approve, reject, correct)
-- claims it first, in the same transaction. Errors (SQLSTATE):
--   22004 null_value_not_allowed           a required argument is missing
--   22023 invalid_parameter_value          an argument has a bad value
--   P0002 no_data_found                    no triage result for the ticket
--   55000 object_not_in_prerequisite_state not awaiting review / not claimed
--   55P03 lock_not_available               claimed by another agent
-- p_agent defaults to the calling login. Only a login in role triaged_review_app
-- (an application that logs in once for many agents) may pass another
-- agent's name (else 42501); review_events.db_user keeps the login.
--   22001 string_data_right_truncation    agent name over 128 characters,
--                                          reply over 20,000, reason over
--                                          2,000, category over 64
--   TR002 (claim cap)                      the agent holds
--                                          review_settings.max_open_claims
--                                          live claims already
-- Claims are leases: claim_expires_at = now() + review_settings.claim_ttl,
-- renewed by every action of the holder; once expired the ticket is open
-- again for anyone (review_claim_next returns expired claims to the queue).
--   TR001 (ticket changed)                 the revision passed is not the newest
-- approve, reject and correct name the revision the agent saw (p_revision):
-- when a newer one has arrived they fail with TR001. A new revision's triage
-- result supersedes the one awaiting review, and a claim on it moves to the
-- new one (agent_review_queue.changed).

-- p_value (may be NULL) is at most p_cap characters, else 22001 naming the field.
CREATE OR REPLACE FUNCTION triaged_review_check_len(p_value text, p_field text, p_cap integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF length(p_value) > p_cap THEN
        RAISE EXCEPTION '% is % characters long; the cap is %', p_field, length(p_value), p_cap
              USING ERRCODE = 'string_data_right_truncation';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION triaged_review_agent(p_agent text, p_what text DEFAULT 'agent') RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF p_agent IS NULL OR btrim(p_agent) = '' THEN
        RAISE EXCEPTION '% name is required', p_what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM triaged_review_check_len(btrim(p_agent), p_what || ' name', 128);
    RETURN btrim(p_agent);
END
$$;

-- The agent a call acts as: p_agent when it is the calling login (or a role
-- the login may SET ROLE to), or when the login is in triaged_review_app; else
-- 42501. Superusers are members of every role.
CREATE OR REPLACE FUNCTION triaged_review_actor(p_agent text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
BEGIN
    IF v_agent = session_user::text
       OR pg_has_role(session_user, 'triaged_review_app', 'MEMBER')
       OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_agent)
           AND pg_has_role(session_user, v_agent, 'MEMBER')) THEN
        RETURN v_agent;
    END IF;
    RAISE EXCEPTION 'login % may act only as itself, not as agent %', session_user, v_agent
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'acting for other agents (p_agent) needs role triaged_review_app';
END
$$;

-- A claim's lease length.
CREATE OR REPLACE FUNCTION triaged_claim_ttl() RETURNS interval
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT claim_ttl FROM review_settings), interval '30 minutes')
$$;

-- r is claimed by someone and the lease has not run out.
CREATE OR REPLACE FUNCTION triaged_claim_live(r triage_results) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT r.review_state = 'claimed' AND coalesce(r.claim_expires_at > now(), false)
$$;

-- TR002 when p_agent holds review_settings.max_open_claims live claims
-- (other than result p_except); nothing when there is no cap.
CREATE OR REPLACE FUNCTION triaged_review_cap_check(p_agent text, p_except bigint) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_cap  integer;
    v_held bigint;
BEGIN
    SELECT max_open_claims INTO v_cap FROM review_settings;
    IF v_cap IS NULL THEN
        RETURN;
    END IF;
    -- one claimer per agent at a time, so two sessions cannot both pass
    PERFORM pg_advisory_xact_lock(hashtext('triaged_claims:' || p_agent));
    SELECT count(*) INTO v_held FROM triage_results tr
     WHERE tr.review_state = 'claimed' AND tr.assigned_to = p_agent
       AND tr.claim_expires_at > now() AND tr.id IS DISTINCT FROM p_except;
    IF v_held >= v_cap THEN
        RAISE EXCEPTION 'agent % holds % open claims; the cap is %', p_agent, v_held, v_cap
              USING ERRCODE = 'TR002',
                    HINT = 'approve, reject or release a claimed ticket first';
    END IF;
END
$$;

-- Claim (or renew) locked row r for p_agent; with p_cap, refuse (TR002) when
-- the agent already holds review_settings.max_open_claims live claims. A
-- take-over of an expired claim is logged with the previous holder.
CREATE OR REPLACE FUNCTION triaged_review_assign(r triage_results, p_agent text,
                                                 p_cap boolean DEFAULT true)
RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    v_was  triage_results := r;
BEGIN
    IF NOT (r.review_state = 'claimed' AND r.assigned_to = p_agent) AND p_cap THEN
        PERFORM triaged_review_cap_check(p_agent, r.id);
    END IF;
    UPDATE triage_results
       SET review_state = 'claimed', assigned_to = p_agent,
           claimed_at = CASE WHEN review_state = 'claimed' AND assigned_to = p_agent
                             THEN claimed_at ELSE now() END,
           claim_expires_at = now() + triaged_claim_ttl()
     WHERE id = r.id RETURNING * INTO r;
    IF NOT (v_was.review_state = 'claimed' AND v_was.assigned_to = p_agent) THEN
        PERFORM triaged_review_log(r, 'claim', p_agent,
                CASE WHEN v_was.review_state = 'claimed'
                     THEN jsonb_build_object('expired_claim_of', v_was.assigned_to) END);
    END IF;
    RETURN r;
END
$$;

-- Give up to p_limit expired claims back to the queue (oldest expiry
-- first, rows another transaction holds skipped). Returns how many.
CREATE OR REPLACE FUNCTION triaged_review_expire(p_limit integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    WITH x AS (SELECT tr.id, tr.assigned_to, tr.claim_expires_at FROM triage_results tr
                WHERE tr.review_state = 'claimed' AND tr.claim_expires_at <= now()
                ORDER BY tr.claim_expires_at LIMIT p_limit
                  FOR UPDATE SKIP LOCKED),
         u AS (UPDATE triage_results tr
                  SET review_state = 'open', assigned_to = NULL, claimed_at = NULL,
                      claim_expires_at = NULL
                 FROM x WHERE tr.id = x.id
               RETURNING tr.id, tr.ticket_pk, tr.revision, x.assigned_to, x.claim_expires_at)
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    SELECT u.id, u.ticket_pk, u.revision, 'release', u.assigned_to,
           jsonb_build_object('expired_at', u.claim_expires_at)
      FROM u;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Lock the ticket's latest triage result and return it.
CREATE OR REPLACE FUNCTION triaged_review_lock(p_ticket_pk bigint) RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    r triage_results;
BEGIN
    IF p_ticket_pk IS NULL THEN
        RAISE EXCEPTION 'ticket_pk is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM triage_results tr
     WHERE tr.ticket_pk = p_ticket_pk
     ORDER BY tr.revision DESC LIMIT 1
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ticket % has no triage result', p_ticket_pk USING ERRCODE = 'no_data_found';
    END IF;
    RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION triaged_review_awaiting(r triage_results) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.status IN ('pending_review', 'needs_human') AND r.review_state IN ('open', 'claimed')
$$;

CREATE OR REPLACE FUNCTION triaged_review_log(r triage_results, p_action text, p_agent text,
                                   p_detail jsonb DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    VALUES (r.id, r.ticket_pk, r.revision, p_action, p_agent, p_detail)
$$;

-- Lock the ticket for an action by p_agent on p_revision, the revision the
-- agent saw: it must be the ticket's newest (else SQLSTATE TR001, "ticket
-- changed since you claimed it: revision N is new"), await review, and be
-- claimed by p_agent, or open or its claim expired (then it is claimed for
-- p_agent now, within the cap when p_cap); the holder's lease is renewed.
CREATE OR REPLACE FUNCTION triaged_review_take(p_ticket_pk bigint, p_revision integer,
                                              p_agent text, p_cap boolean DEFAULT true)
RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    r        triage_results;
    v_newest integer;
BEGIN
    IF p_revision IS NULL THEN
        RAISE EXCEPTION 'revision is required: pass the revision you read in agent_review_queue'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := triaged_review_lock(p_ticket_pk);
    SELECT greatest(t.revision, r.revision) INTO v_newest FROM tickets t WHERE t.id = p_ticket_pk;
    v_newest := coalesce(v_newest, r.revision);
    IF p_revision < 1 OR p_revision > v_newest THEN
        RAISE EXCEPTION 'ticket % has no revision %', p_ticket_pk, p_revision
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_revision < v_newest THEN
        RAISE EXCEPTION 'ticket changed since you claimed it: revision % is new', v_newest
              USING ERRCODE = 'TR001',
                    DETAIL = format('ticket %s: you acted on revision %s', p_ticket_pk, p_revision),
                    HINT = 'read the ticket again in agent_review_queue and act on its revision';
    END IF;
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF triaged_claim_live(r) AND r.assigned_to <> p_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    -- claim it (open or expired) or renew the holder's lease
    RETURN triaged_review_assign(r, p_agent, p_cap);
END
$$;

-- 002: the human review queue, its audit trail, gold labels, SLA policy,
-- database roles and the supervisors' metrics views.
--
-- Who writes what:
--   triaged (role triaged_service)  tickets, ticket_revisions, triage_results
--                                   (the 001 columns only), model_calls, dead_letters
--   agents  (role triaged_agent)    nothing directly: every review action goes
--                                   through a review_* function below, which
--                                   locks the row, checks the state and writes
--                                   review_events
--   supervisors (triaged_supervisor) read the views, write nothing
--
-- Runs in one transaction (triaged migrate). Role names are cluster-wide, so
-- the roles are created only when missing: several databases of one cluster
-- can each apply this file. The migration must run as a role that owns the
-- 001 objects and, the first time in a cluster, may create roles.
--
-- The review functions are SECURITY DEFINER and so run as the role that ran
-- this migration: run migrations as a dedicated owner role rather than a
-- superuser in production.
--
-- A view added by a later migration is NOT readable by triaged_supervisor
-- (or anyone but its owner) until that migration grants it:
--     GRANT SELECT ON <view> TO triaged_supervisor;

-- ---- review columns on triage_results --------------------------------------
-- triaged_store inserts only the 001 columns; the defaults fill these.

ALTER TABLE triage_results
    ADD COLUMN escalated          boolean     NOT NULL DEFAULT false,
    ADD COLUMN escalation_reasons text,       -- '; '-separated
    ADD COLUMN matched_rules      text,
    ADD COLUMN priority           integer     NOT NULL DEFAULT 50,
    ADD COLUMN review_state       text        NOT NULL DEFAULT 'open'
        CHECK (review_state IN ('open', 'claimed', 'approved', 'rejected')),
    ADD COLUMN assigned_to        text,
    ADD COLUMN claimed_at         timestamptz,
    ADD COLUMN reviewed_by        text,
    ADD COLUMN reviewed_at        timestamptz,
    ADD COLUMN final_reply        text,
    ADD COLUMN review_outcome     text
        CHECK (review_outcome IN ('accepted', 'edited', 'rejected')),
    ADD COLUMN reject_reason      text,
    ADD CONSTRAINT triage_results_claim_has_agent
        CHECK (review_state <> 'claimed' OR (assigned_to IS NOT NULL AND claimed_at IS NOT NULL));

-- Rows decided before this migration keep their decision.
UPDATE triage_results SET review_state = status WHERE status IN ('approved', 'rejected');

-- The queue reads only rows awaiting review: a small part of a growing table.
CREATE INDEX triage_results_awaiting_review ON triage_results (ticket_pk, revision)
    WHERE status IN ('pending_review', 'needs_human') AND review_state IN ('open', 'claimed');
CREATE INDEX triage_results_reviewed ON triage_results (reviewed_at) WHERE reviewed_at IS NOT NULL;

-- ---- SLA policy ------------------------------------------------------------
-- One row per (urgency, tier); customer_tier NULL is the default for any tier
-- without a row of its own. Tiers are stored lower-case and matched
-- case-insensitively.

CREATE TABLE sla_policy (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    urgency       text    NOT NULL CHECK (urgency IN ('low', 'normal', 'high', 'critical')),
    customer_tier text    CHECK (customer_tier = lower(customer_tier)),
    due_minutes   integer NOT NULL CHECK (due_minutes > 0),
    UNIQUE NULLS NOT DISTINCT (urgency, customer_tier)
);

INSERT INTO sla_policy (urgency, customer_tier, due_minutes) VALUES
    ('critical', NULL, 60),   ('critical', 'premium', 30),  ('critical', 'enterprise', 30),
    ('high', NULL, 240),      ('high', 'premium', 120),     ('high', 'enterprise', 120),
    ('normal', NULL, 1440),   ('normal', 'premium', 720),   ('normal', 'enterprise', 720),
    ('low', NULL, 4320),      ('low', 'premium', 2160),     ('low', 'enterprise', 2160);

-- When a reply is due: received_at plus the policy's minutes for this urgency
-- and tier (the tier's own row, else the NULL-tier row). A NULL urgency (a
-- needs_human ticket the model could not label) counts as 'high'. NULL when
-- no policy matches.
CREATE FUNCTION triaged_sla_due(p_urgency text, p_tier text, p_received_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT p_received_at + p.due_minutes * interval '1 minute'
      FROM sla_policy p
     WHERE p.urgency = coalesce(p_urgency, 'high')
       AND (p.customer_tier = lower(p_tier) OR p.customer_tier IS NULL)
     ORDER BY p.customer_tier IS NULL
     LIMIT 1
$$;

-- Queue order keys (lower first). NULL urgency counts as 'high'; an unknown
-- or missing tier comes after every known one.
CREATE FUNCTION triaged_urgency_rank(p_urgency text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE coalesce(p_urgency, 'high')
           WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3
           ELSE 4 END
$$;

CREATE FUNCTION triaged_tier_rank(p_tier text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_tier)
           WHEN 'enterprise' THEN 0 WHEN 'premium' THEN 1 WHEN 'standard' THEN 2 WHEN 'free' THEN 3
           ELSE 4 END
$$;

-- ---- gold labels, audit log, dead letters ------------------------------------

-- Agents' corrections of the model's labels, one row per changed field. The
-- model's labels in triage_results are never overwritten (they are what the
-- model said, needed to measure it); the current label of a field is the
-- newest correction's new_value, else the model's value (view triage_effective).
-- old_value is the label the agent saw (the model's or an earlier correction).
CREATE TABLE label_corrections (
    id           bigserial   PRIMARY KEY,
    ticket_pk    bigint      NOT NULL,
    revision     integer     NOT NULL,
    field        text        NOT NULL CHECK (field IN ('category', 'urgency', 'sentiment')),
    old_value    text,
    new_value    text        NOT NULL,
    agent        text        NOT NULL,
    corrected_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (ticket_pk, revision) REFERENCES triage_results (ticket_pk, revision)
);
CREATE INDEX label_corrections_result ON label_corrections (ticket_pk, revision, field);

-- Every review action: who (agent as passed to the function, and the
-- database login that called it), what, when.
CREATE TABLE review_events (
    id         bigserial   PRIMARY KEY,
    result_id  bigint      NOT NULL REFERENCES triage_results (id),
    ticket_pk  bigint      NOT NULL,
    revision   integer     NOT NULL,
    action     text        NOT NULL CHECK (action IN
                   ('claim', 'release', 'reassign', 'approve', 'reject', 'correct')),
    agent      text        NOT NULL,
    db_user    text        NOT NULL DEFAULT session_user,
    detail     jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_events_ticket ON review_events (ticket_pk, created_at);

-- Messages the daemon could not take (filled by a later daemon version).
-- topic/partition/kafka_offset are where the message was read; the unique key
-- makes a redelivered dead letter a no-op (ON CONFLICT DO NOTHING).
CREATE TABLE dead_letters (
    id           bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    error_code   text        NOT NULL,
    reason       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, kafka_offset)
);
CREATE INDEX dead_letters_created ON dead_letters (created_at);

-- ---- views -----------------------------------------------------------------
-- Days and hours are cut in the reader's TimeZone setting.

-- triage_results with the current labels (corrections applied); the model's
-- own labels stay available as model_*.
CREATE VIEW triage_effective AS
SELECT tr.id, tr.ticket_pk, tr.revision, tr.status, tr.status_reason,
       coalesce(lc.category, tr.category)   AS category,
       coalesce(lc.sentiment, tr.sentiment) AS sentiment,
       coalesce(lc.urgency, tr.urgency)     AS urgency,
       tr.category AS model_category, tr.sentiment AS model_sentiment, tr.urgency AS model_urgency,
       lc.n > 0 AS labels_corrected,
       tr.confidence, tr.language, tr.summary, tr.draft_reply, tr.decided_by, tr.model,
       tr.prompt_version, tr.created_at, tr.escalated, tr.escalation_reasons, tr.matched_rules,
       tr.priority, tr.review_state, tr.assigned_to, tr.claimed_at, tr.reviewed_by,
       tr.reviewed_at, tr.final_reply, tr.review_outcome, tr.reject_reason
  FROM triage_results tr
  CROSS JOIN LATERAL (
       SELECT count(*) AS n,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'category'))[1]  AS category,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'sentiment'))[1] AS sentiment,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'urgency'))[1]   AS urgency
         FROM label_corrections c
        WHERE c.ticket_pk = tr.ticket_pk AND c.revision = tr.revision) lc;

-- The review queue: one row per ticket whose latest triaged revision awaits
-- review (open or claimed). Labels are the current ones (corrections
-- applied). A view has no order of its own: read it with
--     SELECT ... FROM agent_review_queue ORDER BY queue_position;
-- queue_position orders by urgency (critical, high, normal, low; no urgency =
-- high), then SLA deadline, then customer tier (enterprise, premium,
-- standard, free, none), then age (oldest first), then ticket_pk.
-- The SLA clock starts at tickets.received_at, the first arrival: a new
-- revision does not restart it.
CREATE VIEW agent_review_queue AS
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

-- Review outcomes per day, by (current) category, by decided_by + model, and
-- in total (dimension says which). acceptance_rate = accepted / reviewed;
-- approval_rate = (accepted + edited) / reviewed.
CREATE VIEW metrics_review_outcomes AS
SELECT date_trunc('day', reviewed_at) AS day,
       CASE WHEN GROUPING(category) = 0 THEN 'category'
            WHEN GROUPING(model) = 0 THEN 'model' ELSE 'all' END AS dimension,
       category, decided_by, model,
       count(*) AS reviewed,
       count(*) FILTER (WHERE review_outcome = 'accepted') AS accepted,
       count(*) FILTER (WHERE review_outcome = 'edited')   AS edited,
       count(*) FILTER (WHERE review_outcome = 'rejected') AS rejected,
       round(count(*) FILTER (WHERE review_outcome = 'accepted')::numeric / count(*), 4)
           AS acceptance_rate,
       round(count(*) FILTER (WHERE review_outcome IN ('accepted', 'edited'))::numeric
             / count(*), 4) AS approval_rate
  FROM triage_effective
 WHERE review_outcome IS NOT NULL
 GROUP BY GROUPING SETS ((date_trunc('day', reviewed_at), category),
                         (date_trunc('day', reviewed_at), decided_by, model),
                         (date_trunc('day', reviewed_at)));

-- The same over all time.
CREATE VIEW review_outcomes AS
SELECT dimension, category, decided_by, model,
       sum(reviewed)::bigint AS reviewed, sum(accepted)::bigint AS accepted,
       sum(edited)::bigint AS edited, sum(rejected)::bigint AS rejected,
       round(sum(accepted) / sum(reviewed), 4) AS acceptance_rate,
       round((sum(accepted) + sum(edited)) / sum(reviewed), 4) AS approval_rate
  FROM metrics_review_outcomes
 GROUP BY dimension, category, decided_by, model;

-- Ticket volume by arrival time of the triaged revision and current labels.
CREATE VIEW metrics_volume_hourly AS
SELECT date_trunc('hour', r.received_at) AS hour, e.category, e.urgency, e.sentiment,
       count(*) AS count
  FROM triage_effective e
  JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND r.revision = e.revision
 GROUP BY 1, 2, 3, 4;

CREATE VIEW metrics_volume_daily AS
SELECT date_trunc('day', r.received_at) AS day, e.category, e.urgency, e.sentiment,
       count(*) AS count
  FROM triage_effective e
  JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND r.revision = e.revision
 GROUP BY 1, 2, 3, 4;

-- Share of triaged revisions escalated to the flagship model, per triage day.
CREATE VIEW metrics_escalation AS
SELECT date_trunc('day', created_at) AS day,
       count(*) AS tickets,
       count(*) FILTER (WHERE escalated) AS escalated,
       round(count(*) FILTER (WHERE escalated)::numeric / count(*), 4) AS rate
  FROM triage_results
 GROUP BY 1;

-- Escalation reasons over all time; read with ORDER BY count DESC for the top.
CREATE VIEW metrics_escalation_reasons AS
SELECT btrim(x.reason) AS reason, count(*) AS count
  FROM triage_results tr
  CROSS JOIN LATERAL string_to_table(tr.escalation_reasons, '; ') AS x(reason)
 WHERE tr.escalated AND btrim(x.reason) <> ''
 GROUP BY 1;

-- Model latency (wall time of the call's last attempt), all outcomes.
CREATE VIEW metrics_model_latency AS
SELECT date_trunc('day', finished_at) AS day, tier, model,
       count(*) AS calls,
       count(*) FILTER (WHERE outcome <> 'ok') AS failed,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
  FROM model_calls
 GROUP BY 1, 2, 3;

-- What awaits review now, by (current) urgency; NULL urgency = a needs_human
-- ticket without labels (queued as 'high'). at_risk: not yet breached, and
-- less than 25% of its SLA window left.
CREATE VIEW metrics_backlog AS
SELECT urgency,
       count(*) AS awaiting,
       count(*) FILTER (WHERE review_state = 'open')    AS open,
       count(*) FILTER (WHERE review_state = 'claimed') AS claimed,
       count(*) FILTER (WHERE sla_breached) AS breached,
       count(*) FILTER (WHERE NOT sla_breached
                          AND sla_due - now() < (sla_due - received_at) * 0.25) AS at_risk,
       max(waiting) AS oldest_waiting
  FROM agent_review_queue
 GROUP BY urgency;

CREATE VIEW metrics_dlq AS
SELECT date_trunc('day', created_at) AS day, error_code, count(*) AS count
  FROM dead_letters
 GROUP BY 1, 2;

-- ---- review functions --------------------------------------------------------
-- Each locks the ticket's latest triage result (SELECT ... FOR UPDATE), so
-- two agents acting on one ticket are serialised and the second sees the
-- first one's outcome. Acting on an open ticket (approve, reject, correct)
-- claims it first, in the same transaction. Errors (SQLSTATE):
--   22004 null_value_not_allowed           a required argument is missing
--   22023 invalid_parameter_value          an argument has a bad value
--   P0002 no_data_found                    no triage result for the ticket
--   55000 object_not_in_prerequisite_state not awaiting review / not claimed
--   55P03 lock_not_available               claimed by another agent
-- p_agent defaults to the calling login; an application that logs in once
-- for many agents passes the agent's name, and review_events.db_user keeps
-- the login that made the call.
-- A new revision of a ticket gets a new, open triage result: the functions
-- act on the latest revision, and a claim on an older one lapses.

CREATE FUNCTION triaged_review_agent(p_agent text, p_what text DEFAULT 'agent') RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF p_agent IS NULL OR btrim(p_agent) = '' THEN
        RAISE EXCEPTION '% name is required', p_what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN btrim(p_agent);
END
$$;

-- Lock the ticket's latest triage result and return it.
CREATE FUNCTION triaged_review_lock(p_ticket_pk bigint) RETURNS triage_results
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

CREATE FUNCTION triaged_review_awaiting(r triage_results) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.status IN ('pending_review', 'needs_human') AND r.review_state IN ('open', 'claimed')
$$;

CREATE FUNCTION triaged_review_log(r triage_results, p_action text, p_agent text,
                                   p_detail jsonb DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    VALUES (r.id, r.ticket_pk, r.revision, p_action, p_agent, p_detail)
$$;

-- Lock the ticket for an action by p_agent: it must await review and be
-- claimed by p_agent, or open (then it is claimed for p_agent now).
CREATE FUNCTION triaged_review_take(p_ticket_pk bigint, p_agent text) RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    r triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.review_state = 'claimed' AND r.assigned_to <> p_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    IF r.review_state = 'open' THEN
        UPDATE triage_results SET review_state = 'claimed', assigned_to = p_agent, claimed_at = now()
         WHERE id = r.id RETURNING * INTO r;
        PERFORM triaged_review_log(r, 'claim', p_agent);
    END IF;
    RETURN r;
END
$$;

-- Take an open ticket. true: it is now (or already was) claimed by p_agent;
-- false: another agent has it or it was reviewed meanwhile.
CREATE FUNCTION review_claim(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RETURN false;
    END IF;
    IF r.review_state = 'claimed' THEN
        RETURN r.assigned_to = v_agent;
    END IF;
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_agent, claimed_at = now()
     WHERE id = r.id AND review_state = 'open'
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM triaged_review_log(r, 'claim', v_agent);
    RETURN true;
END
$$;

-- Take the first open ticket in queue order; its ticket_pk, or NULL when
-- none is left. Rows another transaction holds are skipped, never waited for.
CREATE FUNCTION review_claim_next(p_agent text DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    q       record;
    r       triage_results;
BEGIN
    FOR q IN SELECT ticket_pk, revision FROM agent_review_queue
              WHERE review_state = 'open' ORDER BY queue_position LOOP
        -- re-checked on the row's newest version once locked
        SELECT * INTO r FROM triage_results tr
         WHERE tr.ticket_pk = q.ticket_pk AND tr.revision = q.revision
           AND tr.review_state = 'open' AND tr.status IN ('pending_review', 'needs_human')
           AND NOT EXISTS (SELECT 1 FROM triage_results n
                            WHERE n.ticket_pk = tr.ticket_pk AND n.revision > tr.revision)
           FOR UPDATE OF tr SKIP LOCKED;
        IF FOUND THEN
            UPDATE triage_results SET review_state = 'claimed', assigned_to = v_agent,
                   claimed_at = now()
             WHERE id = r.id RETURNING * INTO r;
            PERFORM triaged_review_log(r, 'claim', v_agent);
            RETURN r.ticket_pk;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- Approve the reply: p_reply, or the model's draft when NULL. Outcome
-- 'accepted' when the draft went out as it was, else 'edited'. Returns the outcome.
CREATE FUNCTION review_approve(p_ticket_pk bigint, p_reply text DEFAULT NULL,
                               p_agent text DEFAULT current_user)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent   text := triaged_review_agent(p_agent);
    r         triage_results;
    v_reply   text;
    v_outcome text;
BEGIN
    IF p_reply IS NOT NULL AND btrim(p_reply) = '' THEN
        RAISE EXCEPTION 'reply is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := triaged_review_take(p_ticket_pk, v_agent);
    v_reply := coalesce(p_reply, r.draft_reply);
    IF v_reply IS NULL OR btrim(v_reply) = '' THEN
        RAISE EXCEPTION 'ticket % has no draft reply: pass the reply to send', p_ticket_pk
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_outcome := CASE WHEN p_reply IS NULL OR p_reply = r.draft_reply THEN 'accepted'
                      ELSE 'edited' END;
    UPDATE triage_results
       SET status = 'approved', review_state = 'approved', reviewed_by = v_agent,
           reviewed_at = now(), final_reply = v_reply, review_outcome = v_outcome
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'approve', v_agent, jsonb_build_object('outcome', v_outcome));
    RETURN v_outcome;
END
$$;

-- Reject the model's triage and draft; a reason is required.
CREATE FUNCTION review_reject(p_ticket_pk bigint, p_reason text,
                              p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'a reason is required to reject ticket %', p_ticket_pk
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := triaged_review_take(p_ticket_pk, v_agent);
    UPDATE triage_results
       SET status = 'rejected', review_state = 'rejected', reviewed_by = v_agent,
           reviewed_at = now(), review_outcome = 'rejected', reject_reason = btrim(p_reason)
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'reject', v_agent, jsonb_build_object('reason', btrim(p_reason)));
END
$$;

-- Correct labels of the ticket's latest revision (NULL = leave as is). Writes
-- one label_corrections row per field whose value changes; the model's labels
-- in triage_results stay as they were. Returns the number of fields changed.
-- Category is free text here: the taxonomy lives in the daemon's config.
CREATE FUNCTION review_correct(p_ticket_pk bigint, p_category text DEFAULT NULL,
                               p_urgency text DEFAULT NULL, p_sentiment text DEFAULT NULL,
                               p_agent text DEFAULT current_user)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent  text := triaged_review_agent(p_agent);
    r        triage_results;
    v_fields text[] := ARRAY['category', 'urgency', 'sentiment'];
    v_new    text[] := ARRAY[btrim(p_category), p_urgency, p_sentiment];
    v_model  text[];
    v_cur    text;
    v_detail jsonb := '{}';
    n        integer := 0;
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
    r := triaged_review_take(p_ticket_pk, v_agent);
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
        INSERT INTO label_corrections (ticket_pk, revision, field, old_value, new_value, agent)
        VALUES (r.ticket_pk, r.revision, v_fields[i], v_cur, v_new[i], v_agent);
        v_detail := v_detail || jsonb_build_object(v_fields[i],
                        jsonb_build_object('from', v_cur, 'to', v_new[i]));
        n := n + 1;
    END LOOP;
    PERFORM triaged_review_log(r, 'correct', v_agent, v_detail);
    RETURN n;
END
$$;

-- Hand a ticket to another agent: one claimed by p_agent, or an open one.
CREATE FUNCTION review_reassign(p_ticket_pk bigint, p_to_agent text,
                                p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    v_to    text := triaged_review_agent(p_to_agent, 'target agent');
    r       triage_results;
    v_from  text;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.review_state = 'claimed' AND r.assigned_to <> v_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    v_from := r.assigned_to;
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_to, claimed_at = now()
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'reassign', v_agent, jsonb_build_object('from', v_from, 'to', v_to));
END
$$;

-- Give a ticket claimed by p_agent back to the queue.
CREATE FUNCTION review_release(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) OR r.review_state <> 'claimed' THEN
        RAISE EXCEPTION 'ticket % is not claimed (review state %)', p_ticket_pk, r.review_state
              USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.assigned_to <> v_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    UPDATE triage_results SET review_state = 'open', assigned_to = NULL, claimed_at = NULL
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'release', v_agent);
END
$$;

-- ---- roles and privileges ----------------------------------------------------

DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['triaged_service', 'triaged_agent', 'triaged_supervisor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by the migration of another database
            END;
        END IF;
    END LOOP;
END
$$;

REVOKE ALL ON tickets, ticket_revisions, triage_results, model_calls, schema_version, sla_policy,
              label_corrections, review_events, dead_letters FROM PUBLIC;
REVOKE ALL ON SEQUENCE tickets_id_seq, triage_results_id_seq, model_calls_id_seq,
              label_corrections_id_seq, review_events_id_seq, dead_letters_id_seq FROM PUBLIC;

-- the daemon: its own tables and functions; schema_version for its startup check
GRANT SELECT, INSERT, UPDATE ON tickets, ticket_revisions, triage_results, model_calls,
                                dead_letters TO triaged_service;
GRANT SELECT ON schema_version TO triaged_service;
GRANT USAGE, SELECT ON SEQUENCE tickets_id_seq, triage_results_id_seq, model_calls_id_seq,
                                dead_letters_id_seq TO triaged_service;
REVOKE EXECUTE ON FUNCTION triaged_claim(jsonb), triaged_store(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triaged_claim(jsonb), triaged_store(jsonb), triaged_content_hash(jsonb)
    TO triaged_service;

-- internal helpers of the review functions: not callable by anyone but the owner
REVOKE EXECUTE ON FUNCTION triaged_review_agent(text, text), triaged_review_lock(bigint),
                           triaged_review_log(triage_results, text, text, jsonb),
                           triaged_review_take(bigint, text) FROM PUBLIC;

-- agents: the queue and the review functions, nothing written directly.
-- sla_policy: the queue calls triaged_sla_due, which reads it as the caller.
REVOKE EXECUTE ON FUNCTION review_claim(bigint, text), review_claim_next(text),
                           review_approve(bigint, text, text), review_reject(bigint, text, text),
                           review_correct(bigint, text, text, text, text),
                           review_reassign(bigint, text, text), review_release(bigint, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION review_claim(bigint, text), review_claim_next(text),
                          review_approve(bigint, text, text), review_reject(bigint, text, text),
                          review_correct(bigint, text, text, text, text),
                          review_reassign(bigint, text, text), review_release(bigint, text)
    TO triaged_agent;
GRANT SELECT ON agent_review_queue, review_outcomes, sla_policy TO triaged_agent;

-- supervisors: every view (later migrations grant their own views), read only
GRANT SELECT ON triage_effective, agent_review_queue, review_outcomes, metrics_review_outcomes,
                metrics_volume_hourly, metrics_volume_daily, metrics_escalation,
                metrics_escalation_reasons, metrics_model_latency, metrics_backlog, metrics_dlq,
                sla_policy
    TO triaged_supervisor;

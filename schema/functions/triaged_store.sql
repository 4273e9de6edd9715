-- Store a batch of triage outcomes (the daemon's last write for a ticket).
-- Input: an array of triaged_store_in (migration 061; the daemon sends it in
-- PostgreSQL's binary format), or, through triaged_store(jsonb), a JSON
-- array of {ticket_pk, revision, status, status_reason,
-- category, sentiment, urgency, confidence, language, summary, draft_reply,
-- decided_by, model, prompt_version, body_truncated, action, escalated,
-- escalation_reasons, matched_rules, priority, detector_flags, draft_flags}.
-- Idempotent: a (ticket_pk, revision) already stored is left as it is.
-- Returns one row per element: idx, result_id, inserted (stored now). For a
-- row stored now: triaged_at and cost_usd, from which (with what it sent,
-- and sequence = result_id) the daemon builds the event itself. For a row
-- stored before (a redelivery): the stored row's event (triaged_event).
-- The calls are recorded before (triaged_record_calls, same connection, an
-- earlier statement or transaction), so cost_usd sees them.
--
-- Set-based (issue #15): the array arrives as typed columns, and
-- the queue order keys of a first revision (q_*, eff_urgency: what the row
-- trigger triaged_queue_keys would compute) are computed by the INSERT itself
-- from tickets and sla_policy, so that trigger's WHEN skips those rows. A
-- later revision (it supersedes the one before), and any result of a ticket
-- that has more than one revision (a result may come after a later
-- revision's: the trigger inserts it superseded), still go through it.
-- plan_cache_mode: the statements below are planned once per session, for an
-- array of any size (they were written for it: LATERAL ... OFFSET 0 where the
-- size matters). Left to choose, PostgreSQL plans afresh for every batch once
-- its first five were small (custom plans cost less than the generic one for
-- one or two elements), and planning these statements costs more than running
-- them for a few tickets (issue #15: triaged_store_rows for one ticket took
-- 1.22 ms so, 0.54 ms with the generic plan; tests/bench/pg_statement_cost.sh).
CREATE OR REPLACE FUNCTION triaged_store_rows(batch triaged_store_in[])
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, triaged_at text,
               cost_usd numeric, event jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    ins_i   integer[];
    ins_id  bigint[];
    ins_at  timestamptz[];
BEGIN
    WITH input AS (
        SELECT x.*, (x.ordinality - 1)::integer AS i
          FROM unnest(batch) WITH ORDINALITY AS x),
    keyed AS (
        -- the order keys of a first revision (triaged_queue_keys, set-based)
        SELECT input.*, t.received_at AS q_received_at,
               triaged_tier_rank(t.customer_tier) AS q_tier,
               triaged_urgency_rank(input.urgency) AS q_urgency,
               t.received_at + coalesce(s1.due_minutes, s0.due_minutes) * interval '1 minute'
                   AS q_sla_due
          FROM input
          -- OFFSET 0: an index lookup per element, never a hash join that
          -- reads the whole table (the planner cannot size the array)
          LEFT JOIN LATERAL (
               SELECT tk.id, tk.received_at, tk.customer_tier FROM tickets tk
                WHERE tk.id = input.ticket_pk AND input.revision = 1 AND tk.revision = 1
               OFFSET 0) t ON true
          -- the tier's own policy, else the one for every tier ((urgency,
          -- customer_tier) is unique, NULLS NOT DISTINCT): two joins to the
          -- small table, not a lookup per element (a bitmap scan that asked
          -- the kernel for the table's size each time, issue #15)
          LEFT JOIN sla_policy s1
                 ON t.id IS NOT NULL AND s1.urgency = coalesce(input.urgency, 'high')
                AND s1.customer_tier = lower(t.customer_tier)
          LEFT JOIN sla_policy s0
                 ON t.id IS NOT NULL AND s0.urgency = coalesce(input.urgency, 'high')
                AND s0.customer_tier IS NULL),
    ins AS (
        INSERT INTO triage_results AS tr (ticket_pk, revision, status, status_reason, category,
                sentiment, urgency, confidence, language, summary, draft_reply, decided_by,
                model, prompt_version, body_truncated, action, escalated, escalation_reasons,
                matched_rules, priority, detector_flags, draft_flags,
                q_received_at, q_tier, q_urgency, q_sla_due, eff_urgency)
        SELECT ticket_pk, revision, status, status_reason, category, sentiment, urgency,
               confidence, language, summary, draft_reply, decided_by, model, prompt_version,
               coalesce(body_truncated, false), coalesce(action, 'none'),
               coalesce(escalated, false), escalation_reasons, matched_rules,
               coalesce(priority, 50), detector_flags, draft_flags,
               q_received_at, q_tier, q_urgency, q_sla_due, urgency
          FROM keyed ORDER BY i
        ON CONFLICT (ticket_pk, revision) DO NOTHING
        RETURNING tr.id, tr.ticket_pk, tr.revision, tr.created_at)
    -- the first element of each (ticket_pk, revision) is the one inserted
    SELECT array_agg(f.i), array_agg(ins.id), array_agg(ins.created_at)
      INTO ins_i, ins_id, ins_at
      FROM ins JOIN (SELECT DISTINCT ON (ticket_pk, revision) i, ticket_pk, revision
                       FROM input ORDER BY ticket_pk, revision, i) f
             ON f.ticket_pk = ins.ticket_pk AND f.revision = ins.revision;

    -- index lookups per element (LATERAL, OFFSET 0): the planner cannot tell
    -- the array's size, and a hash join would read every stored result
    RETURN QUERY
    WITH input AS (
        SELECT (x.ordinality - 1)::integer AS i, x.ticket_pk AS pk, x.revision AS rev
          FROM unnest(batch) WITH ORDINALITY AS x),
    new AS (
        SELECT u.i, u.id, u.at FROM unnest(ins_i, ins_id, ins_at) AS u(i, id, at))
    SELECT input.i, coalesce(new.id, old.id), new.id IS NOT NULL,
           to_jsonb(coalesce(new.at, old.created_at)) #>> '{}',
           cost.usd,
           CASE WHEN new.id IS NULL AND old.id IS NOT NULL
                THEN triaged_event(input.pk, input.rev) END
      FROM input
      LEFT JOIN new ON new.i = input.i
      LEFT JOIN LATERAL (
           SELECT tr.id, tr.created_at FROM triage_results tr
            WHERE new.id IS NULL AND tr.ticket_pk = input.pk AND tr.revision = input.rev
           OFFSET 0) old
             ON true
      CROSS JOIN LATERAL (
           SELECT sum(mc.cost_usd) AS usd FROM model_calls mc
            WHERE mc.ticket_pk = input.pk AND mc.revision = input.rev) cost;
END
$$;

-- The same from a JSON array (the keys are triaged_store_in's fields): for
-- scripts, tests and older callers. The daemon sends the typed array.
CREATE OR REPLACE FUNCTION triaged_store(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, triaged_at text,
               cost_usd numeric, event jsonb)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM triaged_store_rows(
        ARRAY(SELECT jsonb_populate_recordset(NULL::triaged_store_in, batch)))
$$;

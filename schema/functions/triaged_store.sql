-- Store a batch of triage outcomes (the daemon's last write for a ticket).
-- Input: a JSON array of {ticket_pk, revision, status, status_reason,
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
CREATE OR REPLACE FUNCTION triaged_store(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, triaged_at text,
               cost_usd numeric, event jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    ins_ids bigint[];
BEGIN
    WITH input AS (
        SELECT x.*, (x.ordinality - 1)::integer AS i
          FROM ROWS FROM (jsonb_to_recordset(batch) AS (ticket_pk bigint, revision integer,
               status text, status_reason text, category text, sentiment text, urgency text,
               confidence double precision, language text, summary text, draft_reply text,
               decided_by text, model text, prompt_version text, body_truncated boolean,
               action text, escalated boolean, escalation_reasons text, matched_rules text,
               priority integer, detector_flags text, draft_flags text))
               WITH ORDINALITY AS x),
    ins AS (
        INSERT INTO triage_results AS tr (ticket_pk, revision, status, status_reason, category,
                sentiment, urgency, confidence, language, summary, draft_reply, decided_by,
                model, prompt_version, body_truncated, action, escalated, escalation_reasons,
                matched_rules, priority, detector_flags, draft_flags)
        SELECT ticket_pk, revision, status, status_reason, category, sentiment, urgency,
               confidence, language, summary, draft_reply, decided_by, model, prompt_version,
               coalesce(body_truncated, false), coalesce(action, 'none'),
               coalesce(escalated, false), escalation_reasons, matched_rules,
               coalesce(priority, 50), detector_flags, draft_flags
          FROM input ORDER BY i
        ON CONFLICT (ticket_pk, revision) DO NOTHING
        RETURNING tr.id)
    SELECT array_agg(ins.id) INTO ins_ids FROM ins;

    RETURN QUERY
    WITH input AS (
        SELECT (e.ord - 1)::integer AS i, (e.v->>'ticket_pk')::bigint AS pk,
               (e.v->>'revision')::integer AS rev
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, ord)),
    first AS (
        SELECT DISTINCT ON (pk, rev) i, pk, rev FROM input ORDER BY pk, rev, i),
    cost AS (
        SELECT mc.ticket_pk, mc.revision, sum(mc.cost_usd) AS usd
          FROM model_calls mc JOIN first f ON mc.ticket_pk = f.pk AND mc.revision = f.rev
         GROUP BY 1, 2),
    res AS (
        SELECT input.i, input.pk, input.rev, tr.id, tr.created_at,
               (tr.id = ANY (coalesce(ins_ids, '{}')) AND first.i = input.i) AS ins, cost.usd
          FROM input
          JOIN first ON first.pk = input.pk AND first.rev = input.rev
          LEFT JOIN triage_results tr ON tr.ticket_pk = input.pk AND tr.revision = input.rev
          LEFT JOIN cost ON cost.ticket_pk = input.pk AND cost.revision = input.rev)
    SELECT res.i, res.id, res.ins, to_jsonb(res.created_at) #>> '{}', res.usd,
           CASE WHEN res.id IS NULL OR res.ins THEN NULL
                ELSE triaged_event(res.pk, res.rev) END
      FROM res;
END
$$;

-- 005: set-based claim and store. Same results as the v2 functions, fewer
-- statements per ticket: one INSERT for a whole batch of new tickets (their
-- first revisions and PII maps included), one INSERT for a whole batch of
-- triage results with the escalation and safety fields (v2 inserted, then
-- updated the same row), and one query that builds every event of the batch.
-- Only tickets that are not new (redeliveries, updates) still go through
-- v2's per-ticket path; calls are recorded with one INSERT a batch too. Measured in #6: PostgreSQL spent 0.10 ms per ticket
-- in store v2 and 0.033 in claim v2.

-- The tickets.triaged event of one stored row, in one place: triaged_event
-- (the redelivery path) and the batch store both use it.
CREATE FUNCTION triaged_event_of(tr triage_results, t tickets, cost numeric) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'type', 'ticket.triaged',
        'schema_version', 1,
        'source', t.source,
        'ticket_id', t.ticket_id,
        'revision', tr.revision,
        'sequence', tr.id,
        'status', tr.status,
        'status_reason', tr.status_reason,
        'category', tr.category,
        'sentiment', tr.sentiment,
        'urgency', tr.urgency,
        'confidence', tr.confidence,
        'language', tr.language,
        'summary', tr.summary,
        'draft_reply', CASE WHEN tr.action = 'human_only' THEN NULL ELSE tr.draft_reply END,
        'action', tr.action,
        'escalated', tr.escalated,
        'escalation_reasons', tr.escalation_reasons,
        'matched_rules', tr.matched_rules,
        'priority', tr.priority,
        'decided_by', tr.decided_by,
        'model', tr.model,
        'prompt_version', tr.prompt_version,
        'cost_usd', cost,
        'triaged_at', tr.created_at)
$$;

CREATE OR REPLACE FUNCTION triaged_event(p_ticket_pk bigint, p_revision integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT triaged_event_of(tr, t, (SELECT sum(mc.cost_usd) FROM model_calls mc
                                     WHERE mc.ticket_pk = tr.ticket_pk
                                       AND mc.revision = tr.revision))
      FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk
     WHERE tr.ticket_pk = p_ticket_pk AND tr.revision = p_revision
$$;

-- Claim v3: input and output as triaged_claim_v2.
CREATE FUNCTION triaged_claim_v3(batch jsonb)
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text, calls jsonb,
               event jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    new_idx integer[];
    new_pk  bigint[];
    rest    jsonb;
    rest_idx integer[];
BEGIN
    -- 1. tickets never seen: one INSERT for all of them. A ticket id twice in
    -- the batch is new once (the first with the inserted content); the other
    -- goes the per-ticket way below and sees the row inserted here.
    WITH input AS (
        SELECT (e.ord - 1)::integer AS i, e.v AS t, triaged_content_hash(e.v) AS h
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, ord)),
    ins AS (
        INSERT INTO tickets AS tk (source, ticket_id, content_hash, created_at, channel, subject,
                body, body_truncated, customer_id, customer_email, customer_name, customer_tier,
                language_hint, tags, metadata, kafka_topic, kafka_partition, kafka_offset)
        SELECT t->>'source', t->>'ticket_id', h, (t->>'created_at')::timestamptz,
               t->>'channel', coalesce(t->>'subject', ''), t->>'body',
               coalesce((t->>'body_truncated')::boolean, false),
               t->>'customer_id', t->>'customer_email', t->>'customer_name',
               t->>'customer_tier', t->>'language', t->'tags', t->'metadata',
               t->>'kafka_topic', (t->>'kafka_partition')::integer,
               (t->>'kafka_offset')::bigint
          FROM input ORDER BY i
        ON CONFLICT (source, ticket_id) DO NOTHING
        RETURNING tk.id, tk.source, tk.ticket_id, tk.content_hash, tk.kafka_partition,
                  tk.kafka_offset),
    first AS (
        SELECT DISTINCT ON (ins.id) input.i, input.t, ins.id, ins.content_hash,
               ins.kafka_partition, ins.kafka_offset
          FROM ins JOIN input ON input.t->>'source' = ins.source
                             AND input.t->>'ticket_id' = ins.ticket_id
                             AND input.h = ins.content_hash
         ORDER BY ins.id, input.i),
    rev AS (
        INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition,
                                      kafka_offset)
        SELECT id, 1, content_hash, kafka_partition, kafka_offset FROM first),
    pii AS (
        INSERT INTO ticket_pii (ticket_pk, revision, map)
        SELECT id, 1, t->'pii' FROM first
         WHERE jsonb_typeof(t->'pii') = 'array' AND jsonb_array_length(t->'pii') > 0)
    SELECT array_agg(first.i ORDER BY first.i), array_agg(first.id ORDER BY first.i)
      INTO new_idx, new_pk FROM first;

    RETURN QUERY SELECT u.i, u.pk, 1, 'new'::text, NULL::jsonb, NULL::jsonb
                   FROM unnest(new_idx, new_pk) AS u(i, pk);

    -- 2. the rest (redeliveries, new revisions, a ticket twice): one by one, as v2
    SELECT jsonb_agg(e.v ORDER BY e.ord), array_agg((e.ord - 1)::integer ORDER BY e.ord)
      INTO rest, rest_idx
      FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(v, ord)
     WHERE NOT ((e.ord - 1)::integer = ANY (coalesce(new_idx, '{}')));
    IF rest IS NOT NULL THEN
        RETURN QUERY SELECT rest_idx[r.idx + 1], r.ticket_pk, r.revision, r.state, r.calls,
                            r.event
                       FROM triaged_claim_v2(rest) r;
    END IF;
END
$$;

-- Store v3: input as triaged_store_v2. For a row stored now it returns what
-- the daemon needs to build the event itself from what it sent (sequence =
-- result_id, triaged_at, cost_usd): building ~1.5 KB of JSON per ticket here
-- was a third of this function's time. For a row stored before (a
-- redelivery), it returns the stored row's event, as v2. The calls are
-- recorded before (same connection, earlier statement or transaction), so
-- cost_usd sees them.
CREATE FUNCTION triaged_store_v3(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, triaged_at text,
               cost_usd numeric, event jsonb)
LANGUAGE plpgsql AS $$
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
        SELECT input.i, tr.id,
               (tr.id = ANY (coalesce(ins_ids, '{}')) AND first.i = input.i) AS ins,
               tr, t, cost.usd
          FROM input
          JOIN first ON first.pk = input.pk AND first.rev = input.rev
          LEFT JOIN triage_results tr ON tr.ticket_pk = input.pk AND tr.revision = input.rev
          LEFT JOIN tickets t ON t.id = tr.ticket_pk
          LEFT JOIN cost ON cost.ticket_pk = input.pk AND cost.revision = input.rev)
    SELECT res.i, res.id, res.ins, to_jsonb((res.tr).created_at) #>> '{}', res.usd,
           CASE WHEN res.id IS NULL OR res.ins THEN NULL
                ELSE triaged_event_of(res.tr, res.t, res.usd) END
      FROM res;
END
$$;

-- Record calls v2: input and output as triaged_record_calls, one INSERT for
-- the batch with each call's price found by a lateral lookup. A batch with
-- budget reservations to settle takes the per-call path (budget.enforce).
-- call_id is that of the row inserted for the key (the daemon only counts
-- on the row being there).
CREATE FUNCTION triaged_record_calls_v2(batch jsonb)
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS e(v)
                WHERE e.v->>'budget_id' IS NOT NULL) THEN
        RETURN QUERY SELECT r.idx, r.call_id, r.cost_usd FROM triaged_record_calls(batch) r;
        RETURN;
    END IF;
    RETURN QUERY
    WITH input AS (
        SELECT (x.ordinality - 1)::integer AS i, x.*,
               to_timestamp(x.started_ms / 1000) AS st
          FROM ROWS FROM (jsonb_to_recordset(batch) AS (ticket_pk bigint, revision integer,
               seq integer, tier text, purpose text, model text, prompt_version text,
               outcome text, error text, http_status integer, attempts integer,
               retries_429 integer, prompt_tokens integer, completion_tokens integer,
               cached_tokens integer, latency_ms double precision, total_ms double precision,
               started_ms double precision, finished_ms double precision, answer text,
               reserved_usd numeric))
               WITH ORDINALITY AS x),
    priced AS (
        SELECT input.*, p.id AS price_id,
               triaged_cost(p, coalesce(input.prompt_tokens, 0),
                            coalesce(input.cached_tokens, 0),
                            coalesce(input.completion_tokens, 0)) AS cost
          FROM input CROSS JOIN LATERAL triaged_price_at(input.model, input.st) AS p),
    ins AS (
        INSERT INTO model_calls AS mc (ticket_pk, revision, seq, tier, purpose, model,
                prompt_version, outcome, error, http_status, attempts, retries_429,
                prompt_tokens, completion_tokens, cached_tokens, latency_ms, total_ms,
                started_at, finished_at, answer, price_id, cost_usd, reserved_usd)
        SELECT ticket_pk, revision, seq, tier, purpose, model, prompt_version, outcome, error,
               http_status, attempts, coalesce(retries_429, 0), coalesce(prompt_tokens, 0),
               coalesce(completion_tokens, 0), coalesce(cached_tokens, 0), latency_ms,
               total_ms, st, to_timestamp(finished_ms / 1000), answer, price_id, cost,
               coalesce(reserved_usd, 0)
          FROM priced ORDER BY i
        ON CONFLICT (ticket_pk, revision, seq) DO NOTHING
        RETURNING mc.id, mc.ticket_pk, mc.revision, mc.seq)
    SELECT priced.i, ins.id, priced.cost
      FROM priced LEFT JOIN ins ON ins.ticket_pk = priced.ticket_pk
                               AND ins.revision = priced.revision AND ins.seq = priced.seq;
END
$$;

REVOKE EXECUTE ON FUNCTION triaged_event_of(triage_results, tickets, numeric),
                           triaged_claim_v3(jsonb), triaged_store_v3(jsonb),
                           triaged_record_calls_v2(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triaged_event_of(triage_results, tickets, numeric),
                          triaged_claim_v3(jsonb), triaged_store_v3(jsonb),
                          triaged_record_calls_v2(jsonb) TO triaged_service;

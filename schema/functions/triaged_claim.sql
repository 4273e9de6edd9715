-- Claim a batch of incoming tickets (the daemon's first write for every
-- ticket). Input: an array of triaged_claim_in (migration 062; the daemon
-- sends it in PostgreSQL's binary format, no JSON to parse), or, through
-- triaged_claim(jsonb), a JSON array of ticket objects (ticket.schema.json,
-- plus kafka_topic/kafka_partition/kafka_offset and the PII map "pii"; the
-- keys are triaged_claim_in's fields). Returns
-- one row per element: idx (0-based), the ticket's pk, the revision this
-- event is, and state:
--   new      first time this (source, ticket_id) is seen
--   updated  known ticket, new content: a new revision (also content an older
--            revision had, from a message later than the current revision's:
--            the ticket edited back, migration 065)
--   pending  this content was seen before and has no triage yet (redelivery):
--            calls = the model calls already completed for it, to be reused;
--            the claim is this daemon's now (owner: the session's triaged.owner,
--            set by the daemon at connect; unset: claims are nobody's, as before 064)
--   elsewhere  as pending, but another daemon holds the claim and is alive (its
--            heartbeat in triaged_daemons is fresh and its session holds the
--            advisory lock (29810, hashtext(owner)); migration 064), and claimed or
--            renewed it less than ten minutes ago (three of its leases if longer;
--            its heartbeat renews the claims of jobs a lease old): its job still
--            runs. Ask again later. Also when the claim changed while this one
--            was about to take it over
--   done     this content was seen before and is triaged (redelivery): event
--            = its tickets.triaged event, to be sent again (the first sending
--            may have been lost in a crash)
-- The PII map of a new revision is kept in ticket_pii (the same map on a
-- redelivery: redaction is deterministic).
--
-- Tickets never seen take one INSERT for the whole batch; the rest
-- (redeliveries, new revisions, a ticket id twice in the batch) go one by
-- one through triaged_claim_one.

-- the JSON element's version, before migration 062
DROP FUNCTION IF EXISTS triaged_claim_one(jsonb);

-- The content hash of a typed element: triaged_content_hash (the JSON
-- reference) on the same fields; a ticket without tags hashes as JSON null
-- either way. test_spine checks the stored hashes against the reference.
CREATE OR REPLACE FUNCTION triaged_content_hash_row(t triaged_claim_in) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(concat_ws(chr(31),
        coalesce(t.subject, ''), t.body, coalesce(t.channel, ''),
        coalesce(t.customer_tier, ''), coalesce(t.language, ''),
        coalesce(t.tags, 'null'::jsonb)::text), 'UTF8'))
$$;

-- One ticket that may already exist: its pk, revision and state as above.
CREATE OR REPLACE FUNCTION triaged_claim_one(t triaged_claim_in, OUT ticket_pk bigint,
                                             OUT revision integer, OUT state text)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    me         text := nullif(current_setting('triaged.owner', true), '');
    h          bytea := triaged_content_hash_row(t);
    pk         bigint;
    rev        integer;
    cur        integer;
    cur_part   integer;
    cur_off    bigint;
    cur_topic  text;
    holder     text;
    held_since timestamptz;
BEGIN
    INSERT INTO tickets AS tk (source, ticket_id, content_hash, created_at, channel, subject,
            body, body_truncated, customer_id, customer_email, customer_name, customer_tier,
            language_hint, tags, metadata, intake_flags, original, kafka_topic,
            kafka_partition, kafka_offset)
    VALUES (t.source, t.ticket_id, h, t.created_at::timestamptz,
            t.channel, coalesce(t.subject, ''), t.body,
            coalesce(t.body_truncated, false),
            t.customer_id, t.customer_email, t.customer_name,
            t.customer_tier, t.language, t.tags, t.metadata,
            t.intake_flags, t.original, t.kafka_topic, t.kafka_partition, t.kafka_offset)
    ON CONFLICT (source, ticket_id) DO NOTHING
    RETURNING tk.id INTO pk;
    IF pk IS NOT NULL THEN
        INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition,
                                      kafka_offset, claimed_by)
        VALUES (pk, 1, h, t.kafka_partition, t.kafka_offset, me);
        ticket_pk := pk; revision := 1; state := 'new';
        RETURN;
    END IF;
    SELECT tk.id, tk.revision, tk.kafka_partition, tk.kafka_offset, tk.kafka_topic
      INTO pk, cur, cur_part, cur_off, cur_topic FROM tickets tk
     WHERE tk.source = t.source AND tk.ticket_id = t.ticket_id FOR UPDATE;
    SELECT r.revision, r.claimed_by, coalesce(r.claimed_at, r.received_at)
      INTO rev, holder, held_since FROM ticket_revisions r
     WHERE r.ticket_pk = pk AND r.content_hash = h
     -- the revision this very message made, else the latest one made before it (a
     -- duplicate of a message redelivered), else the latest with this content
     ORDER BY (r.kafka_partition = t.kafka_partition AND r.kafka_offset = t.kafka_offset)
              DESC NULLS LAST,
              (r.kafka_partition = t.kafka_partition AND r.kafka_offset < t.kafka_offset)
              DESC NULLS LAST,
              r.revision DESC
     LIMIT 1;
    -- content an older revision had, not the current one: a message later than the
    -- one that made the current revision (same partition) is the ticket edited back
    -- (X, Y, X: migration 065), a new revision; an earlier one is a redelivery
    IF rev IS NOT NULL AND rev <> cur AND t.kafka_offset IS NOT NULL
       AND cur_topic IS NOT DISTINCT FROM t.kafka_topic AND cur_part = t.kafka_partition
       AND cur_off < t.kafka_offset THEN
        rev := NULL;
    END IF;
    IF rev IS NOT NULL THEN
        ticket_pk := pk; revision := rev;
        IF EXISTS (SELECT 1 FROM triage_results tr
                    WHERE tr.ticket_pk = pk AND tr.revision = rev) THEN
            state := 'done';
        ELSIF me IS NOT NULL AND holder IS NOT NULL AND holder <> me
              -- a claim its holder renewed lately (the heartbeat renews those of jobs
              -- a lease old): ten minutes, or three of the holder's leases if longer
              AND EXISTS (SELECT 1 FROM triaged_daemons d
                           WHERE d.owner = holder
                             AND d.seen_at > now() - make_interval(secs => d.lease_s)
                             AND held_since > now() - greatest(interval '10 minutes',
                                                  make_interval(secs => 3 * d.lease_s)))
              -- and its database session lives: it holds the advisory lock named
              -- after it (taken at connect); a killed daemon's goes with its session.
              -- Asked as a shared lock that its exclusive one refuses: O(1), this
              -- database only, and released with this transaction if granted
              AND NOT pg_try_advisory_xact_lock_shared(29810, hashtext(holder)) THEN
            state := 'elsewhere';
        ELSE
            state := 'pending';
            IF me IS NOT NULL AND holder IS DISTINCT FROM me THEN
                -- only the claim as read: one its holder renewed meanwhile stays
                -- its holder's (asked again later)
                UPDATE ticket_revisions r SET claimed_by = me, claimed_at = now()
                 WHERE r.ticket_pk = pk AND r.revision = rev
                   AND r.claimed_by IS NOT DISTINCT FROM holder
                   AND coalesce(r.claimed_at, r.received_at) = held_since;
                IF NOT FOUND THEN
                    state := 'elsewhere';
                END IF;
            END IF;
        END IF;
        RETURN;
    END IF;
    UPDATE tickets tk SET revision = tk.revision + 1, content_hash = h,
           updated_at = now(), created_at = t.created_at::timestamptz,
           channel = t.channel, subject = coalesce(t.subject, ''),
           body = t.body,
           body_truncated = coalesce(t.body_truncated, false),
           customer_id = t.customer_id, customer_email = t.customer_email,
           customer_name = t.customer_name, customer_tier = t.customer_tier,
           language_hint = t.language, tags = t.tags, metadata = t.metadata,
           intake_flags = t.intake_flags, original = t.original,
           kafka_topic = t.kafka_topic,
           kafka_partition = t.kafka_partition,
           kafka_offset = t.kafka_offset
     WHERE tk.id = pk RETURNING tk.revision INTO rev;
    INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition,
                                  kafka_offset, claimed_by)
    VALUES (pk, rev, h, t.kafka_partition, t.kafka_offset, me);
    ticket_pk := pk; revision := rev; state := 'updated';
END
$$;

-- plan_cache_mode: see triaged_store_rows (planned once per session).
CREATE OR REPLACE FUNCTION triaged_claim_rows(batch triaged_claim_in[])
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text, calls jsonb,
               event jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    new_idx integer[];
    new_pk  bigint[];
    e       record;
    r       record;
BEGIN
    -- 1. tickets never seen: one INSERT for all of them. A ticket id twice in
    -- the batch is new once (the first with the inserted content); the other
    -- goes the per-ticket way below and sees the row inserted here.
    WITH input AS (
        -- triaged_content_hash_row(x), written out: that function is not
        -- inlined here and cost an executor call per ticket (issue #15);
        -- test_spine checks the stored hashes against triaged_content_hash
        SELECT x.*, (x.ordinality - 1)::integer AS i,
               sha256(convert_to(concat_ws(chr(31),
                   coalesce(x.subject, ''), x.body, coalesce(x.channel, ''),
                   coalesce(x.customer_tier, ''), coalesce(x.language, ''),
                   coalesce(x.tags, 'null'::jsonb)::text), 'UTF8')) AS h
          FROM unnest(batch) WITH ORDINALITY AS x),
    ins AS (
        INSERT INTO tickets AS tk (source, ticket_id, content_hash, created_at, channel, subject,
                body, body_truncated, customer_id, customer_email, customer_name, customer_tier,
                language_hint, tags, metadata, intake_flags, original, kafka_topic,
                kafka_partition, kafka_offset)
        SELECT source, ticket_id, h, created_at::timestamptz, channel, coalesce(subject, ''),
               body, coalesce(body_truncated, false), customer_id, customer_email,
               customer_name, customer_tier, language, tags, metadata, intake_flags, original,
               kafka_topic, kafka_partition, kafka_offset
          FROM input ORDER BY i
        ON CONFLICT (source, ticket_id) DO NOTHING
        RETURNING tk.id, tk.source, tk.ticket_id, tk.content_hash, tk.kafka_partition,
                  tk.kafka_offset),
    first AS (
        SELECT DISTINCT ON (ins.id) input.i, input.pii, ins.id, ins.content_hash,
               ins.kafka_partition, ins.kafka_offset
          FROM ins JOIN input ON input.source = ins.source
                             AND input.ticket_id = ins.ticket_id
                             AND input.h = ins.content_hash
         ORDER BY ins.id, input.i),
    rev AS (
        INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition,
                                      kafka_offset, claimed_by)
        SELECT id, 1, content_hash, kafka_partition, kafka_offset,
               nullif(current_setting('triaged.owner', true), '') FROM first),
    pii AS (
        INSERT INTO ticket_pii (ticket_pk, revision, map)
        SELECT id, 1, first.pii FROM first
         WHERE jsonb_typeof(first.pii) = 'array' AND jsonb_array_length(first.pii) > 0)
    SELECT array_agg(first.i ORDER BY first.i), array_agg(first.id ORDER BY first.i)
      INTO new_idx, new_pk FROM first;

    RETURN QUERY SELECT u.i, u.pk, 1, 'new'::text, NULL::jsonb, NULL::jsonb
                   FROM unnest(new_idx, new_pk) AS u(i, pk);

    -- 2. the rest, one by one (none in the usual batch: every ticket new)
    IF coalesce(array_length(new_idx, 1), 0) = coalesce(array_length(batch, 1), 0) THEN
        RETURN;
    END IF;
    FOR e IN SELECT (g.n - 1)::integer AS i, batch[g.n] AS t
               FROM generate_subscripts(batch, 1) AS g(n)
              WHERE NOT ((g.n - 1)::integer = ANY (coalesce(new_idx, '{}')))
              ORDER BY g.n LOOP
        r := triaged_claim_one(e.t);
        idx := e.i; ticket_pk := r.ticket_pk; revision := r.revision; state := r.state;
        calls := NULL; event := NULL;
        IF r.state NOT IN ('done', 'elsewhere') AND jsonb_typeof((e.t).pii) = 'array'
           AND jsonb_array_length((e.t).pii) > 0 THEN
            INSERT INTO ticket_pii (ticket_pk, revision, map)
            VALUES (r.ticket_pk, r.revision, (e.t).pii)
            ON CONFLICT DO NOTHING;
        END IF;
        IF r.state = 'done' THEN
            event := triaged_event(r.ticket_pk, r.revision);
        ELSIF r.state = 'pending' THEN
            SELECT jsonb_agg(jsonb_build_object('seq', mc.seq, 'tier', mc.tier,
                       'purpose', mc.purpose, 'model', mc.model,
                       'prompt_version', mc.prompt_version, 'outcome', mc.outcome,
                       'answer', mc.answer, 'error', mc.error) ORDER BY mc.seq)
              INTO calls FROM model_calls mc
             WHERE mc.ticket_pk = r.ticket_pk AND mc.revision = r.revision;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The same from a JSON array (the keys are triaged_claim_in's fields): for
-- scripts, tests and older callers. The daemon sends the typed array.
CREATE OR REPLACE FUNCTION triaged_claim(batch jsonb)
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text, calls jsonb,
               event jsonb)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM triaged_claim_rows(
        ARRAY(SELECT jsonb_populate_recordset(NULL::triaged_claim_in, batch)))
$$;

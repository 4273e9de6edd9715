-- 001: tickets, their revisions, triage results, model calls.
--
-- Writes come from triaged in batches through two functions, so one round
-- trip and one commit serve many tickets (group commit), and every write is
-- idempotent: a batch re-sent after a lost connection changes nothing twice.

CREATE TABLE tickets (
    id              bigserial PRIMARY KEY,
    source          text        NOT NULL,
    ticket_id       text        NOT NULL,
    revision        integer     NOT NULL DEFAULT 1,
    content_hash    bytea       NOT NULL,
    created_at      timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    channel         text        NOT NULL,
    subject         text        NOT NULL DEFAULT '',
    body            text        NOT NULL,
    body_truncated  boolean     NOT NULL DEFAULT false,
    customer_id     text,
    customer_email  text,
    customer_name   text,
    customer_tier   text,
    language_hint   text,
    tags            jsonb,
    metadata        jsonb,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    UNIQUE (source, ticket_id)
);

-- Every distinct content a ticket has had. A redelivered event matches an
-- existing revision by hash and is never a new ticket or a new revision.
CREATE TABLE ticket_revisions (
    ticket_pk       bigint      NOT NULL REFERENCES tickets(id),
    revision        integer     NOT NULL,
    content_hash    bytea       NOT NULL,
    kafka_partition integer,
    kafka_offset    bigint,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_pk, revision),
    UNIQUE (ticket_pk, content_hash)
);

CREATE TABLE triage_results (
    id              bigserial PRIMARY KEY,
    ticket_pk       bigint      NOT NULL REFERENCES tickets(id),
    revision        integer     NOT NULL,
    status          text        NOT NULL CHECK (status IN
                        ('pending_review', 'needs_human', 'approved', 'rejected')),
    status_reason   text,
    category        text,
    sentiment       text CHECK (sentiment IN ('very_negative', 'negative', 'neutral', 'positive')),
    urgency         text CHECK (urgency IN ('low', 'normal', 'high', 'critical')),
    confidence      double precision CHECK (confidence BETWEEN 0 AND 1),
    language        text,
    summary         text,
    draft_reply     text,
    decided_by      text,            -- 'mini' or 'flagship'; NULL when no model decided
    model           text,
    prompt_version  text,
    body_truncated  boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_pk, revision)
);
CREATE INDEX triage_results_status ON triage_results (status, created_at);

CREATE TABLE model_calls (
    id                bigserial PRIMARY KEY,
    ticket_pk         bigint      NOT NULL REFERENCES tickets(id),
    revision          integer     NOT NULL,
    seq               integer     NOT NULL,       -- call number within the revision
    tier              text        NOT NULL,       -- 'mini' or 'flagship'
    purpose           text        NOT NULL,       -- 'triage' or 'repair'
    model             text        NOT NULL,
    prompt_version    text        NOT NULL,
    outcome           text        NOT NULL,       -- ok, invalid_answer, http_error, transport_error
    error             text,
    http_status       integer,
    attempts          integer     NOT NULL,
    retries_429       integer     NOT NULL DEFAULT 0,
    prompt_tokens     integer     NOT NULL DEFAULT 0,
    completion_tokens integer     NOT NULL DEFAULT 0,
    cached_tokens     integer     NOT NULL DEFAULT 0,
    latency_ms        double precision NOT NULL,  -- wall time of the last attempt
    total_ms          double precision NOT NULL,  -- from first attempt to answer, backoff included
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    answer            text,                       -- the assistant content as received (capped)
    UNIQUE (ticket_pk, revision, seq)
);
CREATE INDEX model_calls_finished ON model_calls (finished_at);

-- Content identity of an event: the fields the triage depends on.
CREATE FUNCTION triaged_content_hash(t jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(concat_ws(chr(31),
        coalesce(t->>'subject', ''), t->>'body', coalesce(t->>'channel', ''),
        coalesce(t->>'customer_tier', ''), coalesce(t->>'language', ''),
        coalesce(t->'tags', 'null'::jsonb)::text), 'UTF8'))
$$;

-- Claim a batch of incoming tickets. Input: a JSON array of ticket objects.
-- Returns one row per element: idx (0-based), the ticket's pk, the revision
-- this event is, and state:
--   new      first time this (source, ticket_id) is seen
--   updated  known ticket, new content: a new revision
--   pending  this content was seen before and has no triage yet (redelivery)
--   done     this content was seen before and is triaged (redelivery: skip)
CREATE FUNCTION triaged_claim(batch jsonb)
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text)
LANGUAGE plpgsql AS $$
DECLARE
    t      jsonb;
    i      integer := 0;
    h      bytea;
    pk     bigint;
    rev    integer;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        h := triaged_content_hash(t);
        INSERT INTO tickets AS tk (source, ticket_id, content_hash, created_at, channel, subject,
                body, body_truncated, customer_id, customer_email, customer_name, customer_tier,
                language_hint, tags, metadata, kafka_topic, kafka_partition, kafka_offset)
        VALUES (t->>'source', t->>'ticket_id', h, (t->>'created_at')::timestamptz,
                t->>'channel', coalesce(t->>'subject', ''), t->>'body',
                coalesce((t->>'body_truncated')::boolean, false),
                t->>'customer_id', t->>'customer_email', t->>'customer_name',
                t->>'customer_tier', t->>'language', t->'tags', t->'metadata',
                t->>'kafka_topic', (t->>'kafka_partition')::integer,
                (t->>'kafka_offset')::bigint)
        ON CONFLICT (source, ticket_id) DO NOTHING
        RETURNING tk.id INTO pk;
        IF pk IS NOT NULL THEN
            INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition, kafka_offset)
            VALUES (pk, 1, h, (t->>'kafka_partition')::integer, (t->>'kafka_offset')::bigint);
            idx := i; ticket_pk := pk; revision := 1; state := 'new';
            RETURN NEXT;
        ELSE
            SELECT tk.id INTO pk FROM tickets tk
             WHERE tk.source = t->>'source' AND tk.ticket_id = t->>'ticket_id' FOR UPDATE;
            SELECT r.revision INTO rev FROM ticket_revisions r
             WHERE r.ticket_pk = pk AND r.content_hash = h;
            IF rev IS NOT NULL THEN
                idx := i; ticket_pk := pk; revision := rev;
                state := CASE WHEN EXISTS (SELECT 1 FROM triage_results tr
                                            WHERE tr.ticket_pk = pk AND tr.revision = rev)
                              THEN 'done' ELSE 'pending' END;
                RETURN NEXT;
            ELSE
                UPDATE tickets tk SET revision = tk.revision + 1, content_hash = h,
                       updated_at = now(), created_at = (t->>'created_at')::timestamptz,
                       channel = t->>'channel', subject = coalesce(t->>'subject', ''),
                       body = t->>'body',
                       body_truncated = coalesce((t->>'body_truncated')::boolean, false),
                       customer_id = t->>'customer_id', customer_email = t->>'customer_email',
                       customer_name = t->>'customer_name', customer_tier = t->>'customer_tier',
                       language_hint = t->>'language', tags = t->'tags', metadata = t->'metadata',
                       kafka_topic = t->>'kafka_topic',
                       kafka_partition = (t->>'kafka_partition')::integer,
                       kafka_offset = (t->>'kafka_offset')::bigint
                 WHERE tk.id = pk RETURNING tk.revision INTO rev;
                INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, kafka_partition, kafka_offset)
                VALUES (pk, rev, h, (t->>'kafka_partition')::integer, (t->>'kafka_offset')::bigint);
                idx := i; ticket_pk := pk; revision := rev; state := 'updated';
                RETURN NEXT;
            END IF;
        END IF;
        pk := NULL; rev := NULL;
        i := i + 1;
    END LOOP;
END
$$;

-- Store a batch of triage outcomes with their model calls. Input: a JSON
-- array of objects {ticket_pk, revision, status, ..., calls: [...]}.
-- Idempotent: a (ticket_pk, revision) already stored is left as it is and
-- its calls are not inserted again. Returns idx and whether it was stored now.
CREATE FUNCTION triaged_store(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    t   jsonb;
    c   jsonb;
    i   integer := 0;
    rid bigint;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        INSERT INTO triage_results AS tr (ticket_pk, revision, status, status_reason, category,
                sentiment, urgency, confidence, language, summary, draft_reply, decided_by, model,
                prompt_version, body_truncated)
        VALUES ((t->>'ticket_pk')::bigint, (t->>'revision')::integer, t->>'status',
                t->>'status_reason', t->>'category', t->>'sentiment', t->>'urgency',
                (t->>'confidence')::double precision, t->>'language', t->>'summary',
                t->>'draft_reply', t->>'decided_by', t->>'model', t->>'prompt_version',
                coalesce((t->>'body_truncated')::boolean, false))
        ON CONFLICT (ticket_pk, revision) DO NOTHING
        RETURNING tr.id INTO rid;
        IF rid IS NOT NULL THEN
            FOR c IN SELECT value FROM jsonb_array_elements(coalesce(t->'calls', '[]'::jsonb)) LOOP
                INSERT INTO model_calls (ticket_pk, revision, seq, tier, purpose, model,
                        prompt_version, outcome, error, http_status, attempts, retries_429,
                        prompt_tokens, completion_tokens, cached_tokens, latency_ms, total_ms,
                        started_at, finished_at, answer)
                VALUES ((t->>'ticket_pk')::bigint, (t->>'revision')::integer,
                        (c->>'seq')::integer, c->>'tier', c->>'purpose', c->>'model',
                        c->>'prompt_version', c->>'outcome', c->>'error',
                        (c->>'http_status')::integer, (c->>'attempts')::integer,
                        coalesce((c->>'retries_429')::integer, 0),
                        coalesce((c->>'prompt_tokens')::integer, 0),
                        coalesce((c->>'completion_tokens')::integer, 0),
                        coalesce((c->>'cached_tokens')::integer, 0),
                        (c->>'latency_ms')::double precision, (c->>'total_ms')::double precision,
                        to_timestamp((c->>'started_ms')::double precision / 1000),
                        to_timestamp((c->>'finished_ms')::double precision / 1000),
                        c->>'answer')
                ON CONFLICT DO NOTHING;
            END LOOP;
            idx := i; result_id := rid; inserted := true;
        ELSE
            SELECT tr.id INTO rid FROM triage_results tr
             WHERE tr.ticket_pk = (t->>'ticket_pk')::bigint AND tr.revision = (t->>'revision')::integer;
            idx := i; result_id := rid; inserted := false;
        END IF;
        RETURN NEXT;
        rid := NULL;
        i := i + 1;
    END LOOP;
END
$$;

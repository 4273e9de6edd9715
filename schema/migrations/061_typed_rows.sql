-- 061: the daemon's model calls and triage results as typed rows, not JSON
-- (issue #15 part 1: PostgreSQL CPU per ticket).
--
-- triaged_record_calls took its batch as one jsonb array: PostgreSQL parsed
-- every call's answer (a JSON document inside a JSON string, so an escape
-- every few bytes) into a jsonb tree, then jsonb_to_recordset turned each of
-- the 29 fields back into text and through its type's input function. For the
-- benchmark's calls that was about two thirds of the statement's time. The
-- daemon now sends an array of this type in PostgreSQL's binary format
-- (triaged_record_calls_rows): each value arrives as its bytes, with its
-- length, and is taken as it is.
--
-- The same for the triage results (triaged_store_rows, triaged_store_in):
-- their summaries and draft replies are the other long texts with escapes.
--
-- The fields are the JSON keys of triaged_record_calls(jsonb) and
-- triaged_store(jsonb), in their column order; those functions are now
-- wrappers (jsonb_populate_recordset into these types) for scripts and tests.
-- triaged_call_in.reserved_usd is text: numeric's binary
-- form is PostgreSQL's own base-10000 digits, the decimal string is what the
-- daemon has, and the function casts it.
CREATE TYPE triaged_call_in AS (
    ticket_pk         bigint,
    revision          integer,
    seq               integer,
    tier              text,
    purpose           text,
    model             text,
    prompt_version    text,
    outcome           text,
    error             text,
    http_status       integer,
    attempts          integer,
    retries_429       integer,
    prompt_tokens     integer,
    completion_tokens integer,
    cached_tokens     integer,
    latency_ms        double precision,
    total_ms          double precision,
    started_ms        double precision,
    finished_ms       double precision,
    answer            text,
    reserved_usd      text,
    budget_id         bigint,
    reasoning_tokens  integer,
    dialect           text,
    response_mode     text,
    error_type        text,
    error_code        text,
    error_param       text,
    reservation_id    bigint
);

CREATE TYPE triaged_store_in AS (
    ticket_pk          bigint,
    revision           integer,
    status             text,
    status_reason      text,
    category           text,
    sentiment          text,
    urgency            text,
    confidence         double precision,
    language           text,
    summary            text,
    draft_reply        text,
    decided_by         text,
    model              text,
    prompt_version     text,
    body_truncated     boolean,
    action             text,
    escalated          boolean,
    escalation_reasons text,
    matched_rules      text,
    priority           integer,
    detector_flags     text,
    draft_flags        text
);

-- 066: the provider's id of each model call (OpenAI's x-request-id, Anthropic's
-- request-id, Azure's apim-request-id), kept with the call. OpenAI's API
-- reference asks for it to be logged in production: its support traces a
-- request by it, and so do the others'.
--
-- The daemon sends its call rows as triaged_call_in in the binary format
-- (061), whose column count is fixed: adding one to that type would make a
-- daemon of the version before fail every call row until its restart. So the
-- new column comes with a new type, triaged_call_in2 (the same fields, then
-- provider_request_id), and a new function taking it
-- (triaged_record_calls_rows2, in schema/functions/triaged_record_calls.sql);
-- triaged_record_calls_rows(triaged_call_in[]) stays, for the daemons of the
-- version before, as a wrapper that adds a NULL id.
ALTER TABLE model_calls ADD COLUMN IF NOT EXISTS provider_request_id text;

CREATE TYPE triaged_call_in2 AS (
    ticket_pk           bigint,
    revision            integer,
    seq                 integer,
    tier                text,
    purpose             text,
    model               text,
    prompt_version      text,
    outcome             text,
    error               text,
    http_status         integer,
    attempts            integer,
    retries_429         integer,
    prompt_tokens       integer,
    completion_tokens   integer,
    cached_tokens       integer,
    latency_ms          double precision,
    total_ms            double precision,
    started_ms          double precision,
    finished_ms         double precision,
    answer              text,
    reserved_usd        text,
    budget_id           bigint,
    reasoning_tokens    integer,
    dialect             text,
    response_mode       text,
    error_type          text,
    error_code          text,
    error_param         text,
    reservation_id      bigint,
    provider_request_id text
);

-- The model-mix lab (issue #13): every answer `triaged eval` obtained, keyed by
-- (ticket text hash, model, prompt version), so that a second run with the
-- same inputs makes no model call and rules can be compared for free. Kept
-- apart from tickets and the review queue: no role but the owner reads it
-- (privileges.sql grants nothing on it), agents never see these answers.
CREATE TABLE eval_answers (
    text_hash         text NOT NULL,            -- FNV-1a 64 of subject NUL body (hex)
    model             text NOT NULL,
    prompt_version    text NOT NULL,
    tier              text NOT NULL CHECK (tier IN ('mini', 'flagship')),
    valid             boolean NOT NULL,         -- a schema-valid answer (after a repair if one was needed)
    repaired          boolean NOT NULL,         -- a repair call was made
    category          text,
    sentiment         text,
    urgency           text,
    confidence        double precision,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    cached_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cost_usd          numeric,                  -- from model_prices at created_at; NULL: no price
    latency_ms        double precision NOT NULL,
    attempts          integer NOT NULL,
    error             text,
    answer            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (text_hash, model, prompt_version)
);

-- Shadow traffic ([shadow], issue #13 part 3): a candidate model or prompt's
-- answer for the share of live tickets shadow_pick selects, made after the
-- ticket is stored, never shown to agents (no grant but the daemon's writer
-- function). One row per ticket revision and shadow model/prompt.
CREATE TABLE shadow_answers (
    ticket_pk         bigint NOT NULL REFERENCES tickets(id),
    revision          integer NOT NULL,
    ticket_id         text NOT NULL,
    model             text NOT NULL,
    prompt_version    text NOT NULL,
    outcome           text NOT NULL,            -- ok, invalid_answer, http_error, transport_error
    category          text,
    sentiment         text,
    urgency           text,
    confidence        double precision,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    cached_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cost_usd          numeric,
    latency_ms        double precision NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_pk, revision, model, prompt_version)
);

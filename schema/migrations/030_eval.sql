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

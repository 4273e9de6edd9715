-- 062: the daemon's claims as typed rows, not JSON (issue #15, as 061 did for
-- the calls and results).
--
-- triaged_claim took its batch as one jsonb array: PostgreSQL parsed each
-- ticket's subject and body (escaped JSON strings) into a jsonb tree, then
-- looked every field up by key, twice (the INSERT and the join that finds
-- which rows it inserted). The daemon now sends an array of this type in
-- PostgreSQL's binary format (triaged_claim_rows): each value arrives as its
-- bytes. triaged_claim(jsonb) stays, as a wrapper, for scripts and tests.
--
-- The fields are the JSON keys, in the order of the tickets columns they
-- fill. created_at is text: the daemon has the contract's RFC 3339 string,
-- and the function casts it as before. tags, metadata, original,
-- intake_flags and pii are jsonb, as their columns: the daemon sends their
-- JSON text (jsonb's binary form is a version byte and the text), and a
-- ticket without tags sends the JSON null the JSON path stored, not an SQL
-- NULL, so the content hash and the stored rows are those of before.
CREATE TYPE triaged_claim_in AS (
    source          text,
    ticket_id       text,
    created_at      text,
    channel         text,
    subject         text,
    body            text,
    body_truncated  boolean,
    customer_id     text,
    customer_email  text,
    customer_name   text,
    customer_tier   text,
    language        text,
    tags            jsonb,
    metadata        jsonb,
    intake_flags    jsonb,
    original        jsonb,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    pii             jsonb
);

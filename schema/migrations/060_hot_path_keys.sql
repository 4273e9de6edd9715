-- 060: the foreign keys that every ticket and every model call paid for
-- (issue #15 part 1: PostgreSQL CPU per ticket).
--
-- Each row that triaged_claim, triaged_store and triaged_record_calls insert
-- into ticket_revisions, triage_results and model_calls fired a referential
-- check (an SPI query of tickets, and of model_prices for a call's price):
-- about 3.2 checks per ticket at the benchmark's 1.23 calls per ticket, and in
-- perf samples of PostgreSQL's backends at the 0 ms benchmark the after-row
-- trigger machinery that runs them was the largest single cost, ahead of
-- parsing the JSON parameters. They guarded nothing the writers do not:
--   - rows of these tables are written only by those SECURITY DEFINER functions
--     (no role may write them directly: privileges.sql, checked by test_review's
--     `grants`), and each takes its ticket_pk from a tickets row it has just
--     inserted or looked up, its price_id from triaged_price_at;
--   - no function and no migration deletes a ticket or a price (the checks'
--     other half, ON DELETE, never ran).
-- What they guarded is now checked on demand: triaged_integrity() counts the
-- rows whose ticket or price is missing (every count must be 0; test_spine and
-- test_cascade assert it after their runs). The keys that guard agents' and
-- operators' writes (label_corrections, review_events, review_outbox,
-- feedback_events, ticket_pii, budgets) stay.
ALTER TABLE ticket_revisions DROP CONSTRAINT IF EXISTS ticket_revisions_ticket_pk_fkey;
ALTER TABLE triage_results DROP CONSTRAINT IF EXISTS triage_results_ticket_pk_fkey;
ALTER TABLE model_calls DROP CONSTRAINT IF EXISTS model_calls_ticket_pk_fkey;
ALTER TABLE model_calls DROP CONSTRAINT IF EXISTS model_calls_price_id_fkey;

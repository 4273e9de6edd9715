-- 057: less PostgreSQL work per ticket (issue #15 part 1).
--
-- Only the indexes that a query of the queue, the views or the daemon uses.
-- Dropped, each measured as work on every insert and read by nothing:
--   triage_results_status          (status, created_at): no query filters or
--                                  orders on it
--   triage_results_awaiting_review (ticket_pk, revision) of awaiting rows: the
--                                  unique (ticket_pk, revision) serves every
--                                  lookup by ticket
--   triage_results_queue           the open rows in queue order: the same keys
--                                  as triage_results_awaiting_order (open and
--                                  claimed rows), which review_claim_next now
--                                  reads, stepping over the claimed rows at the
--                                  head (live claims are few: agents x cap)
--   model_calls_finished           (finished_at): metrics_model_latency groups
--                                  every row by day; nothing reads a range
DROP INDEX IF EXISTS triage_results_status;
DROP INDEX IF EXISTS triage_results_awaiting_review;
DROP INDEX IF EXISTS triage_results_queue;
DROP INDEX IF EXISTS model_calls_finished;

-- 006: functions and views move to schema/functions/ (one file each,
-- unversioned names, re-applied by every `triaged migrate` after the
-- migrations). This drops what they replace, so that no two versions of one
-- function stay side by side: claim v1/v2/v3, store v1/v2/v3, record calls
-- v1/v2 (the unversioned names now carry the newest behaviour), the unused
-- triaged_release, the second event builder triaged_event_of, and every
-- view (re-created from schema/functions/ right after this file).

DROP VIEW IF EXISTS review_outcomes, metrics_review_outcomes, metrics_backlog,
                    agent_review_queue, metrics_volume_hourly, metrics_volume_daily,
                    metrics_escalation, metrics_escalation_reasons, metrics_model_latency,
                    metrics_dlq, metrics_cost_per_ticket, ticket_costs, metrics_cost_daily,
                    metrics_budget, metrics_safety, triage_effective;

DROP FUNCTION IF EXISTS triaged_claim(jsonb), triaged_claim_v2(jsonb), triaged_claim_v3(jsonb),
                        triaged_store(jsonb), triaged_store_v2(jsonb), triaged_store_v3(jsonb),
                        triaged_record_calls(jsonb), triaged_record_calls_v2(jsonb),
                        triaged_release(jsonb),
                        triaged_event_of(triage_results, tickets, numeric);

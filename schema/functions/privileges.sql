-- Who may call and read what, in one place, re-applied on every migrate.
-- First every privilege of PUBLIC and of the three roles on the functions,
-- tables, views and sequences of this schema is taken away, then exactly the
-- documented ones are given (README, "Roles"); the review suite checks that
-- the grants are exactly these. Functions run by a SECURITY DEFINER function
-- need no grant: they run as the owner.
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace
                AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, triaged_service, triaged_agent, '
                       'triaged_supervisor, triaged_review_app', o.sig);
    END LOOP;
    FOR o IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S')
                AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) LOOP
        EXECUTE format('REVOKE ALL ON %s %s FROM PUBLIC, triaged_service, triaged_agent, '
                       'triaged_supervisor, triaged_review_app', CASE WHEN o.relkind = 'S' THEN 'SEQUENCE'
                                                  ELSE 'TABLE' END, o.rel);
    END LOOP;
END
$$;

-- the daemon: its entry points (SECURITY DEFINER: no table privilege
-- needed) and schema_version for its startup check
GRANT EXECUTE ON FUNCTION triaged_claim_rows(triaged_claim_in[]), triaged_reserve(jsonb),
                          triaged_renew_reservations(jsonb),
                          triaged_record_calls_rows(triaged_call_in[]),
                          triaged_record_calls_rows2(triaged_call_in2[]),
                          triaged_store_rows(triaged_store_in[]),
                          triaged_record_dead_letters(jsonb),
                          triaged_record_shadow(jsonb)
    TO triaged_service;
-- the review outbox relay and the feedback consumer (issue #12)
GRANT EXECUTE ON FUNCTION triaged_outbox_next(jsonb), triaged_outbox_sent(jsonb),
                          triaged_outbox_backlog(jsonb), triaged_feedback(jsonb)
    TO triaged_service;
GRANT SELECT ON schema_version TO triaged_service;

-- agents: the queue and the review functions, nothing written directly. The
-- queue view calls the SLA and rank functions as the reader, and
-- triaged_sla_due reads sla_policy as the reader.
GRANT EXECUTE ON FUNCTION review_claim(bigint, text), review_claim_next(text),
                          review_approve(bigint, integer, text, text),
                          review_reject(bigint, integer, text, text),
                          review_correct(bigint, integer, text, text, text, text),
                          review_reassign(bigint, text, text), review_release(bigint, text)
    TO triaged_agent;
GRANT EXECUTE ON FUNCTION triaged_sla_due(text, text, timestamptz), triaged_urgency_rank(text),
                          triaged_tier_rank(text)
    TO triaged_agent, triaged_supervisor;
GRANT SELECT ON agent_review_queue, agent_review_queue_head, review_outcomes, sla_policy,
                review_categories
    TO triaged_agent;
-- shared application logins (IN ROLE triaged_review_app) are agents that may act
-- for named agents (p_agent); the role itself gets nothing more here

-- supervisors: every view, read only; release of others' claims; folding the
-- dashboard's counters (the dashboard may call it once per refresh)
GRANT EXECUTE ON FUNCTION review_release_claims(bigint, text), triaged_stats_compact()
    TO triaged_supervisor;
GRANT SELECT ON triage_effective, agent_review_queue, agent_review_queue_head, review_outcomes,
                metrics_review_outcomes, review_categories, review_settings,
                metrics_volume_hourly, metrics_volume_daily, metrics_escalation,
                metrics_escalation_reasons, metrics_model_latency, metrics_model_latency_fast,
                metrics_backlog, metrics_dlq, metrics_cost_daily, ticket_costs, metrics_cost_per_ticket, metrics_budget,
                model_calls_lost,
                metrics_safety, sla_policy, model_prices, budgets, shadow_vs_production
    TO triaged_supervisor;

-- Cost and budget views for supervisors.
-- metrics_cost_daily: calls, tokens and cost per day (of started_at), tier and
-- model, from the counters (migration 058: stats_counts + stats_delta, kept by
-- triaged_record_calls and triaged_recompute_costs), so the dashboard's refresh
-- does not read every call. Exact; days are cut in the reader's TimeZone from
-- UTC hours (exact for zones whose offset is whole hours). cost_usd is NULL
-- when no call of the row had a price.
CREATE OR REPLACE VIEW metrics_cost_daily AS
    SELECT day, tier, model, calls, prompt_tokens, cached_tokens, completion_tokens,
           CASE WHEN calls > unpriced_calls THEN round(cost_e8 / 100000000.0, 6) END AS cost_usd,
           unpriced_calls
      FROM (SELECT date_trunc('day', x.bucket) AS day, x.a AS tier, x.b AS model,
                   coalesce(sum(x.n1) FILTER (WHERE x.kind = 'cost'), 0)::bigint AS calls,
                   coalesce(sum(x.n1) FILTER (WHERE x.kind = 'tokens'), 0)::bigint
                       AS prompt_tokens,
                   coalesce(sum(x.n2) FILTER (WHERE x.kind = 'tokens'), 0)::bigint
                       AS cached_tokens,
                   coalesce(sum(x.n3) FILTER (WHERE x.kind = 'tokens'), 0)::bigint
                       AS completion_tokens,
                   coalesce(sum(x.n3) FILTER (WHERE x.kind = 'cost'), 0) AS cost_e8,
                   coalesce(sum(x.n2) FILTER (WHERE x.kind = 'cost'), 0)::bigint
                       AS unpriced_calls
              FROM (SELECT kind, bucket, a, b, n1, n2, n3 FROM stats_counts
                     WHERE kind IN ('cost', 'tokens')
                    UNION ALL
                    SELECT kind, bucket, a, b, n1, n2, n3 FROM stats_delta
                     WHERE kind IN ('cost', 'tokens')) x
             GROUP BY 1, 2, 3) d
     WHERE calls <> 0;

CREATE OR REPLACE VIEW ticket_costs AS
    SELECT ticket_pk, revision, count(*) AS calls,
           count(*) FILTER (WHERE tier = 'flagship') AS flagship_calls,
           round(sum(cost_usd), 8) AS cost_usd
      FROM model_calls GROUP BY 1, 2;

CREATE OR REPLACE VIEW metrics_cost_per_ticket AS
    SELECT date_trunc('day', tr.created_at) AS day,
           count(*) AS tickets,
           round(sum(tc.cost_usd), 6) AS cost_usd,
           round(sum(tc.cost_usd) / nullif(count(*), 0), 8) AS cost_per_ticket_usd,
           round(1000 * sum(tc.cost_usd) / nullif(count(*), 0), 6) AS cost_per_1000_tickets_usd
      FROM triage_results tr
      LEFT JOIN ticket_costs tc ON tc.ticket_pk = tr.ticket_pk AND tc.revision = tr.revision
     GROUP BY 1;

CREATE OR REPLACE VIEW metrics_budget AS
    SELECT bu.day, b.tier, b.model, b.daily_limit_usd, bu.reserved_usd, bu.spent_usd,
           b.daily_limit_usd - bu.spent_usd - bu.reserved_usd AS remaining_usd, bu.denied,
           bu.reserved_worst_usd, bu.lost_calls, bu.lost_usd
      FROM budgets b JOIN budget_usage bu ON bu.budget_id = b.id;

-- Calls paid but whose answer was lost (issue #21): started (reserved) by a
-- daemon that died before recording an answer; the provider may have
-- answered and billed them. Charged at their estimate; a late answer turns
-- the row 'settled' again. Expected per crash: up to the calls in flight.
CREATE OR REPLACE VIEW model_calls_lost AS
    SELECT r.id AS reservation_id, r.started_at, r.ended_at AS lost_at, r.owner, r.tier,
           r.model, r.prompt_version, r.prompt_tokens, r.estimate_usd, r.worst_usd,
           r.cost_usd AS charged_usd
      FROM budget_reservations r WHERE r.state = 'lost';

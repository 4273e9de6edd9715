-- Cost and budget views for supervisors.
CREATE OR REPLACE VIEW metrics_cost_daily AS
    SELECT date_trunc('day', started_at) AS day, tier, model,
           count(*) AS calls,
           sum(prompt_tokens) AS prompt_tokens,
           sum(cached_tokens) AS cached_tokens,
           sum(completion_tokens) AS completion_tokens,
           round(sum(cost_usd), 6) AS cost_usd,
           count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls
      FROM model_calls GROUP BY 1, 2, 3;

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

/*
 * eval_budget: see eval_budget.h. Owns the eval run's budget statements
 * (triaged_reserve, triaged_settle_reservations, triaged_renew_reservations).
 * Must never touch model_calls or tickets: eval calls are not ticket calls.
 */
#include "eval_budget.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "store.h"

static double eb_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* Renew this run's leases while its calls run (a call may outlive budget.lease_s). */
static void on_renew(evutil_socket_t fd, short what, void *arg)
{
	struct eval_run *run = arg;
	char q[200];
	const char *p[1] = {q};
	snprintf(q, sizeof(q), "[{\"owner\": \"%s\", \"lease_s\": %d}]", run->owner, run->lease_s);
	PQclear(PQexecParams(run->db, "SELECT * FROM triaged_renew_reservations($1::jsonb)", 1,
			     NULL, p, NULL, NULL, 0));
}

void eval_budget_start(struct eval_run *run, const struct config *cfg, PGconn *db)
{
	char host[64] = "host";
	struct timeval tv;
	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(run->owner, sizeof(run->owner), "eval:%s:%ld", host, (long)getpid());
	run->db = db;
	run->lease_s = (int)cfg->budget_lease_s;
	run->busy_ms = (int)cfg->budget_busy_retry_ms;
	run->pct = (double)cfg->budget_estimate_pct / 100.0;
	for (int t = 0; t < MODEL__TIERS; t++)
		hist_init(&run->completion[t]);
	run->renew = event_new(run->base, -1, EV_PERSIST, on_renew, run);
	tv.tv_sec = run->lease_s / 3 > 0 ? run->lease_s / 3 : 1;
	tv.tv_usec = 0;
	evtimer_add(run->renew, &tv);
}

void eval_budget_cleanup(struct eval_run *run)
{
	if (run->renew)
		event_free(run->renew);
	run->renew = NULL;
}

void eval_budget_stop_run(struct eval_run *run, int rc, const char *msg)
{
	if (run->stopped)
		return;
	run->stopped = 1;
	run->stop_rc = rc;
	snprintf(run->stop_msg, sizeof(run->stop_msg), "%s", msg);
}

int eval_budget_stop_refused(struct eval_run *run, struct eval_conf *c)
{
	const char *cause = NULL;
	if (c->refused)
		return 1;
	if (!model_caller_misconfigured(c->mcl, c->tier, &cause))
		return 0;
	c->refused = 1;
	snprintf(c->refused_msg, sizeof(c->refused_msg),
		 "%s (%s): the provider refuses the tier's configuration or account",
		 cause && cause[0] ? cause : model_tier_name(c->tier),
		 c->spec ? c->spec : model_tier_name(c->tier));
	/* the last one stops the run; else the first reason (a budget's) stays the message */
	if (--run->confs_left <= 0 && !run->stopped) {
		eval_budget_stop_run(run, 1, c->refused_msg);
		run->stop_config = 1;
	}
	return 1;
}

enum eval_budget_verdict eval_budget_reserve(struct eval_run *run, const struct model_caller *mcl,
					     struct model_calls *cs, uint64_t seed,
					     uint32_t *wait_ms)
{
	struct call_rec *c = model_calls_cur(cs);
	enum eval_budget_verdict v = EVAL_BUDGET_STOP;
	struct reserve_req q;
	json_object *arr;
	const char *p[1];
	PGresult *r;
	char m[512];

	if (run->stopped) /* denied meanwhile: no new call */
		return EVAL_BUDGET_STOP;
	store_reserve_req_for(mcl, cs, &run->completion[c->tier], run->pct, run->owner,
			      run->lease_s, &q);
	arr = json_object_new_array();
	json_object_array_add(arr, store_reserve_obj(&q));
	p[0] = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	r = PQexecParams(
	    run->db,
	    "SELECT x.granted, x.budget_id, x.reservation_id, x.verdict, b.tier, "
	    "coalesce(b.model, 'any model'), b.daily_limit_usd, "
	    "coalesce(u.spent_usd, 0), coalesce(u.reserved_worst_usd, 0) "
	    "FROM triaged_reserve($1::jsonb) x LEFT JOIN budgets b ON b.id = x.budget_id "
	    "LEFT JOIN budget_usage u ON u.budget_id = x.budget_id "
	    "AND u.day = (now() AT TIME ZONE 'UTC')::date",
	    1, NULL, p, NULL, NULL, 0);
	json_object_put(arr);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		/* as the daemon: a budget that cannot be checked is not spent blindly */
		snprintf(m, sizeof(m), "budget check failed: %s", PQresultErrorMessage(r));
		eval_budget_stop_run(run, 1, m);
		goto out;
	}
	if (PQgetvalue(r, 0, 0)[0] == 't') {
		c->budget_id = PQgetisnull(r, 0, 1) ? 0 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		c->reservation_id = PQgetisnull(r, 0, 2) ? 0 : strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		v = EVAL_BUDGET_GRANTED;
	} else if (strcmp(PQgetvalue(r, 0, 3), "busy") == 0) {
		/* the calls in flight hold the room and will hand most of it back */
		uint32_t base = (uint32_t)run->busy_ms;
		*wait_ms = base + (uint32_t)((seed * 2654435761u + (uint64_t)eb_now_ms()) % base);
		v = EVAL_BUDGET_BUSY;
	} else if (strcmp(PQgetvalue(r, 0, 3), "no_price") == 0) {
		snprintf(m, sizeof(m),
			 "budget.enforce: no price row for model %s (model_prices): its calls "
			 "cannot be checked against budget #%s",
			 q.model, PQgetvalue(r, 0, 1));
		eval_budget_stop_run(run, 1, m);
	} else {
		snprintf(m, sizeof(m),
			 "daily budget spent: budget #%s (tier %s, %s, $%s a day): $%s spent, "
			 "$%s held by calls in flight; this %s call's worst case does not fit",
			 PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
			 PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8),
			 model_tier_name(c->tier));
		eval_budget_stop_run(run, 3, m);
	}
out:
	PQclear(r);
	return v;
}

/*
 * A settle failure is said and the run stops: the lease then expires and
 * the sweep charges the estimate, as for a dead daemon.
 */
void eval_budget_settle(struct eval_run *run, struct model_calls *cs)
{
	json_object *arr = NULL;
	const char *p[1];
	PGresult *r;
	int n = 0;

	if (run->db == NULL)
		return;
	arr = json_object_new_array();
	for (int i = 0; i < cs->n; i++) {
		struct call_rec *c = &cs->v[i];
		json_object *o;
		if (c->reservation_id <= 0)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "reservation_id",
				       json_object_new_int64(c->reservation_id));
		json_object_object_add(o, "prompt_tokens",
				       json_object_new_int64(c->usage.prompt_tokens));
		json_object_object_add(o, "cached_tokens",
				       json_object_new_int64(c->usage.cached_tokens));
		json_object_object_add(o, "completion_tokens",
				       json_object_new_int64(c->usage.completion_tokens));
		json_object_array_add(arr, o);
		/* the estimates follow this run's answers, as the daemon's follow its own */
		if (c->usage.completion_tokens > 0)
			hist_add(&run->completion[c->tier], (double)c->usage.completion_tokens);
		c->reservation_id = 0; /* settled once: never twice */
		n++;
	}
	if (n == 0)
		goto out;
	p[0] = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	r = PQexecParams(run->db,
			 "SELECT coalesce(sum(cost_usd), 0), count(cost_usd) "
			 "FROM triaged_settle_reservations($1::jsonb)",
			 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char m[400];
		snprintf(m, sizeof(m), "budget reservations not settled: %s",
			 PQresultErrorMessage(r));
		fprintf(stderr, "triaged eval: %s\n", m);
		eval_budget_stop_run(run, 1, m);
	} else {
		run->budget_settled += strtod(PQgetvalue(r, 0, 0), NULL);
		run->budget_calls += (size_t)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
out:
	json_object_put(arr);
}

void eval_budget_print_stop(const struct eval_run *run, size_t stored, FILE *f)
{
	if (run->stop_config) {
		fprintf(f,
			"triaged eval: %s. %zu answers stored, %zu calls not made. Fix the "
			"tier's configuration or the account and run again to resume: stored "
			"answers are reused.\n",
			run->stop_msg, stored, run->ntasks - run->finished);
		return;
	}
	fprintf(f,
		"triaged eval: %s. %zu answers stored ($%.6f settled against the budget over "
		"%zu calls), %zu calls not made. Run again when the budget allows (a new UTC day "
		"or a higher daily_limit_usd) to resume: stored answers are reused.\n",
		run->stop_msg, stored, run->budget_settled, run->budget_calls,
		run->ntasks - run->finished);
}

/*
 * Budgets that spend what they are given and never fail open (issue #21),
 * reservations as leases (issue #16). Real PostgreSQL, the mock broker and
 * the fake model (whose own token counts give an independent recount).
 * Every scenario prints one "budget[...]" line: limit, spend, recount,
 * share of the budget used, tickets triaged against tickets affordable.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "stack.h"

#define RESULTS "SELECT count(*) FROM triage_results"
#define OPEN_RESERVATIONS "SELECT count(*) FROM budget_reservations WHERE state = 'open'"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A number from a query (h_sql_str's format checked at the call). */
static double num(char *v)
{
	double d;
	ck_assert_msg(v != NULL, "no value");
	d = atof(v);
	free(v);
	return d;
}
#define sql_d(s, ...) num(h_sql_str((s)->db, __VA_ARGS__))


static char body[1 << 18];
static size_t body_len;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	size_t k = sz * n;
	if (body_len + k >= sizeof(body))
		k = sizeof(body) - 1 - body_len;
	memcpy(body + body_len, p, k);
	body_len += k;
	body[body_len] = '\0';
	return sz * n;
}

/* GET path from the daemon's admin port: the status; the text in body. */
static long http_get(int port, const char *path)
{
	char url[256];
	long code = 0;
	CURL *c = curl_easy_init();
	body_len = 0;
	body[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

struct figures {
	double spent, recount, share;
	long long triaged, affordable, lost, denied, answers;
};

/* The scenario's figures for one tier's budget, printed as one line. */
static void figures(struct stack *s, const char *label, const char *tier, const char *model,
		    double limit, struct figures *f)
{
	long long pt, ct;
	double per;
	memset(f, 0, sizeof(*f));
	f->spent = sql_d(s,
			 "SELECT coalesce(sum(spent_usd), 0) FROM budget_usage bu JOIN budgets b "
			 "ON b.id = bu.budget_id WHERE b.tier = '%s'",
			 tier);
	f->lost =
	    h_sql_ll(s->db,
		     "SELECT coalesce(sum(lost_calls), 0) FROM budget_usage bu JOIN budgets b "
		     "ON b.id = bu.budget_id WHERE b.tier = '%s'",
		     tier);
	f->denied = h_sql_ll(s->db,
			     "SELECT count(*) FROM triage_results WHERE status_reason LIKE "
			     "'budget_exhausted:%%' AND coalesce(decided_by, '') <> '%s'",
			     tier);
	ck_assert_int_eq(stack_model_tokens(s, model, &f->answers, &pt, &ct), 0);
	{
		char *v =
		    h_sql_str(s->db,
			      "SELECT coalesce(triaged_cost(triaged_price_at('%s', now()), %lld, "
			      "0, %lld), 0)",
			      model, pt, ct);
		ck_assert_ptr_nonnull(v);
		f->recount = atof(v);
		free(v);
	}
	f->triaged =
	    h_sql_ll(s->db, "SELECT count(*) FROM triage_results WHERE decided_by = '%s'", tier);
	per = f->triaged > 0 ? sql_d(s,
				     "SELECT coalesce(sum(cost_usd), 0) FROM model_calls "
				     "WHERE tier = '%s'",
				     tier) /
				   (double)f->triaged
			     : 0;
	f->affordable = per > 0 ? (long long)floor(limit / per) : 0;
	f->share = f->spent / limit;
	fprintf(stderr,
		"budget[%s]: limit_usd=%.6f spent_usd=%.8f recount_usd=%.8f share=%.1f%% "
		"triaged=%lld affordable=%lld denied=%lld lost_calls=%lld model_answers=%lld\n",
		label, limit, f->spent, f->recount, 100.0 * f->share, f->triaged, f->affordable,
		f->denied, f->lost, f->answers);
}

/* A stack with budget.enforce on, no escalation unless rules say so, a daily limit on tier. */
static void budget_stack(struct stack *s, const char *name, int partitions, const char *rules,
			 const char *tier, double limit)
{
	char path[PATH_MAX];
	ck_assert_int_eq(stack_start(s, &stack_pg, name, partitions, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s.rules", h_tmpdir(), name);
	write_file(path, rules);
	stack_env(s, "TRIAGED_TRIAGE_RULES_FILE", path);
	stack_env(s, "TRIAGED_BUDGET_ENFORCE", "true");
	ck_assert_int_eq(
	    h_sql_exec(s->db, "INSERT INTO budgets (tier, daily_limit_usd) VALUES ('%s', %.6f)",
		       tier, limit),
	    0);
}

static const char no_rules[] = "# no escalation\n";
static const char all_flagship[] = "[rule all]\nalways = true\naction = escalate\n";

/*
 * The runs: the fake model at 200 ms, 2,048 calls in flight (the
 * default), many more tickets than the budget affords. Spend never passes the
 * limit, at least 95% of it buys triage, and no ticket is lost.
 */
static void scenario(const char *label, int daemons, int tickets, const char *tier, double limit,
		     int pause)
{
	struct stack s;
	struct h_proc d[2];
	struct figures f;
	const char *model = strcmp(tier, "mini") == 0 ? "gpt-4o-mini" : "gpt-4o";
	long long rows;

	budget_stack(&s, label, 4, strcmp(tier, "mini") == 0 ? no_rules : all_flagship, tier,
		     limit);
	if (pause)
		stack_env(&s, "TRIAGED_BUDGET_MINI_ON_EXHAUSTED", "pause");
	ck_assert_int_eq(stack_model_control(&s, "{\"latency_ms\": 200}"), 0);
	for (int i = 0; i < daemons; i++) {
		char l[32];
		snprintf(l, sizeof(l), "daemon%d", i);
		ck_assert_int_eq(stack_daemon(&s, &d[i], l), 0);
	}
	ck_assert_int_eq(stack_produce_samples(&s, tickets, "b-"), 0);
	if (!pause) {
		rows = stack_wait_count(&s, tickets, 300000, RESULTS);
		ck_assert_d(rows == tickets, &d[0]);
	} else {
		/* paused: the results stop growing once the budget is spent */
		long long last = -1;
		ck_assert_d(stack_wait_count(&s, 1, 120000,
					     "SELECT least(count(*), 1) FROM triage_results") == 1,
			    &d[0]);
		rows = h_sql_ll(s.db, RESULTS);
		for (int i = 0; i < 120 && rows != last; i++) {
			last = rows;
			sleep(3);
			rows = h_sql_ll(s.db, RESULTS);
		}
	}
	figures(&s, label, tier, model, limit, &f);
	ck_assert_msg(f.spent <= limit, "spent %.8f over the limit %.6f", f.spent, limit);
	ck_assert_msg(f.recount <= limit, "the provider's count %.8f is over the limit %.6f",
		      f.recount, limit);
	/* what stays unspent is less than one call's worst case (the price of a limit that
	 * holds even if that call wrote max_tokens); for the mini tier that is under 5% */
	{
		double worst = sql_d(&s,
				     "SELECT max(worst_usd) FROM budget_reservations WHERE tier "
				     "= '%s'",
				     tier);
		fprintf(stderr, "budget[%s]: unspent_usd=%.8f one_worst_case_usd=%.8f\n", label,
			limit - f.spent, worst);
		ck_assert_msg(limit - f.spent < worst, "%.8f unspent, a worst case is %.8f",
			      limit - f.spent, worst);
		if (strcmp(tier, "mini") == 0)
			ck_assert_msg(f.share >= 0.95, "only %.1f%% of the budget bought triage",
				      100 * f.share);
	}
	/* nothing left reserved once every call settled */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM budget_reservations WHERE state = "
					"'open'"),
			 0);
	if (pause) {
		/* nobody was sent to a person for the budget; raising it lets the rest through */
		ck_assert_int_eq(f.denied, 0);
		ck_assert_int_eq(h_sql_exec(s.db, "UPDATE budgets SET daily_limit_usd = 100"), 0);
		ck_assert_d(stack_wait_count(&s, tickets, 300000, RESULTS) == tickets, &d[0]);
	} else {
		/* every ticket is either triaged by the tier or sent to a person for the budget */
		if (strcmp(tier, "mini") == 0)
			ck_assert_int_eq(f.triaged + f.denied, tickets);
		ck_assert_int_gt(f.denied, 0);
	}
	ck_assert_d(stack_wait_committed(&s, tickets, 30000) == 0, &d[0]);
	for (int i = 0; i < daemons; i++)
		ck_assert_int_eq(stack_stop_daemon(&d[i], 30000), 0);
	stack_stop(&s);
}

START_TEST(test_one_daemon)
{
	scenario("one", 1, 1000, "mini", 0.05, 0);
}
END_TEST

START_TEST(test_two_daemons)
{
	scenario("two", 2, 1000, "mini", 0.05, 0);
}
END_TEST

START_TEST(test_flagship)
{
	scenario("flagship", 1, 150, "flagship", 0.30, 0);
}
END_TEST

START_TEST(test_pause)
{
	scenario("pause", 1, 600, "mini", 0.05, 1);
}
END_TEST

/*
 * A model without a price row under budget.enforce is refused, and says why;
 * the model is never called.
 */
START_TEST(test_no_price)
{
	struct stack s;
	struct h_proc d;
	int port;
	budget_stack(&s, "noprice", 2, no_rules, "mini", 1.0);
	stack_env(&s, "TRIAGED_MINI_MODEL", "gpt-unpriced-9");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = stack_http_port(&d);
	ck_assert_int_gt(port, 0);
	/* reported at start, before any ticket: in the log and in /readyz */
	ck_assert_d(stack_wait_log(&d, "model has no price row", 30000) == 0, &d);
	ck_assert_int_eq(http_get(port, "/readyz"), 503);
	ck_assert_msg(strstr(body, "budget_no_price"), "readyz: %s", body);
	ck_assert_int_eq(stack_produce_samples(&s, 5, "np-"), 0);
	ck_assert_d(stack_wait_count(&s, 5, 60000, RESULTS) == 5, &d);
	ck_assert_int_eq(h_sql_ll(s.db,
				  "SELECT count(*) FROM triage_results WHERE status = "
				  "'needs_human' AND status_reason LIKE 'budget_exhausted:%%no "
				  "price row for model gpt-unpriced-9%%'"),
			 5);
	ck_assert_d(stack_wait_log(&d, "model has no price row", 5000) == 0, &d);
	ck_assert_int_eq(stack_model_requests(&s, NULL), 0);
	/* /readyz names the cause */
	ck_assert_int_eq(http_get(port, "/readyz"), 503);
	ck_assert_msg(strstr(body, "\"budget_no_price\": \"mini\"") ||
			  strstr(body, "\"budget_no_price\":\"mini\""),
		      "readyz: %s", body);
	fprintf(stderr, "budget[noprice]: tickets=5 refused=5 model_requests=0 readyz=503 %s\n",
		body);
	/* check-models says so too, and fails */
	{
		int st = -1;
		char *out = stack_check_models(&s, &st);
		fprintf(stderr, "budget[noprice]: check-models: %s", out);
		ck_assert_msg(strstr(out, "mini: ") && strstr(out, "price=missing"), "%s", out);
		ck_assert_int_ne(st, 0);
		free(out);
	}
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/*
 * The budget pause when no ticket waits for the budget any more (found by a
 * review): with intake paused on a spent budget, the waiting tickets' next
 * reservations fail (the database cannot answer: here the function is renamed
 * away), so each goes to a person. Before, nothing asked for the budget again
 * and intake stayed paused until a restart, whatever the budget said. Now the
 * lease renewal finds no ticket waiting and lifts the pause: new tickets flow.
 */
START_TEST(test_pause_lost_waiters)
{
	struct stack s;
	struct h_proc d;
	const int n = 60;
	long long rows;

	budget_stack(&s, "pauselost", 2, no_rules, "mini", 0.005);
	stack_env(&s, "TRIAGED_BUDGET_MINI_ON_EXHAUSTED", "pause");
	stack_env(&s, "TRIAGED_BUDGET_LEASE_S", "6");
	ck_assert_int_eq(stack_model_control(&s, "{\"latency_ms\": 200}"), 0);
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, n, "pl1-"), 0);
	ck_assert_d(stack_wait_log(&d, "intake paused\" reason=budget", 120000) == 0, &d);
	/* settled: no call in flight and no result coming, so every ticket left waits for the
	 * budget and nothing can be granted (a call settling below its worst case frees room,
	 * and a grant lifts the pause the ordinary way) */
	{
		long long last = -1, now = h_sql_ll(s.db, RESULTS);
		for (int i = 0; i < 60 && (now != last || h_sql_ll(s.db, OPEN_RESERVATIONS) != 0);
		     i++) {
			last = now;
			sleep(2);
			now = h_sql_ll(s.db, RESULTS);
		}
		ck_assert_int_eq(h_sql_ll(s.db, OPEN_RESERVATIONS), 0);
		ck_assert_int_lt(now, n);
	}
	/* the waiting tickets' reservations now fail: each goes to a person */
	ck_assert_int_eq(h_sql_exec(s.db, "ALTER FUNCTION triaged_reserve(jsonb) RENAME TO "
					  "triaged_reserve_away"),
			 0);
	ck_assert_d(stack_wait_count(&s, n, 120000, RESULTS) == n, &d);
	rows = h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE status = 'needs_human'");
	fprintf(stderr, "budget[pauselost]: tickets=%d sent_to_a_person=%lld\n", n, rows);
	ck_assert_int_gt(rows, 0);
	/* the database answers again and the budget is raised; nobody waits for the budget */
	ck_assert_int_eq(h_sql_exec(s.db, "ALTER FUNCTION triaged_reserve_away(jsonb) RENAME TO "
					  "triaged_reserve"),
			 0);
	ck_assert_int_eq(h_sql_exec(s.db, "UPDATE budgets SET daily_limit_usd = 100"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 10, "pl2-"), 0);
	ck_assert_d(stack_wait_count(&s, n + 10, 60000, RESULTS) == n + 10, &d);
	ck_assert_d(stack_wait_log(&d, "budget pause lifted", 100) == 0, &d);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

#define PROBE                                                                                      \
	"SELECT verdict FROM triaged_reserve((SELECT jsonb_build_array(jsonb_build_object("        \
	"'tier', 'mini', 'model', model, 'prompt_tokens', max(prompt_tokens), 'max_tokens', "      \
	"max(max_tokens), 'completion_estimate', max(completion_estimate), 'owner', 'probe', "     \
	"'lease_s', 1)) FROM budget_reservations WHERE owner <> 'probe' GROUP BY model))"

/*
 * SIGKILL with calls in flight and a tight budget: the dead daemon's
 * reservations hold the budget until their lease runs out, then show as
 * "paid, answer lost" and the budget is usable again. What the model served
 * is at most what was recorded plus what was lost.
 */
START_TEST(test_kill_lease)
{
	struct stack s;
	struct h_proc a, b;
	const int lease_s = 3;
	long long open_at_kill, lost, recorded, answers, pt, ct, first_ms, kill_ms, after,
	    released_ms;
	char *probe;
	double limit;
	char lease[16];

	budget_stack(&s, "lease", 2, no_rules, "mini", 1.0);
	snprintf(lease, sizeof(lease), "%d", lease_s);
	stack_env(&s, "TRIAGED_BUDGET_LEASE_S", lease);
	ck_assert_int_eq(stack_daemon(&s, &a, "daemonA"), 0);
	/* warm: 30 answers give the daemon its completion estimate */
	ck_assert_int_eq(stack_produce_samples(&s, 30, "w-"), 0);
	ck_assert_d(stack_wait_count(&s, 30, 120000, RESULTS) == 30, &a);
	/* tight: room for three more worst cases; the model now hangs */
	limit =
	    sql_d(&s,
		  "SELECT bu.spent_usd + 3.5 * (SELECT max(worst_usd) FROM budget_reservations) "
		  "FROM budget_usage bu JOIN budgets b ON b.id = bu.budget_id WHERE b.tier = '%s'",
		  "mini");
	ck_assert_int_eq(h_sql_exec(s.db, "UPDATE budgets SET daily_limit_usd = %.8f", limit), 0);
	ck_assert_int_eq(stack_model_control(&s, "{\"latency_ms\": 600000}"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 20, "k-"), 0);
	ck_assert_d(stack_wait_count(&s, 3, 60000,
				     "SELECT least(count(*), 3) FROM budget_reservations "
				     "WHERE state = 'open'") == 3,
		    &a);
	sleep(1);
	open_at_kill =
	    h_sql_ll(s.db, "SELECT count(*) FROM budget_reservations WHERE state = 'open'");
	/* three or four fit (worst cases differ with the prompt); the others wait: held */
	ck_assert_int_ge(open_at_kill, 3);
	ck_assert_int_le(open_at_kill, 4);
	ck_assert_int_eq(h_sql_ll(s.db, RESULTS), 30);
	ck_assert_int_eq(h_signal(&a, SIGKILL), 0);
	ck_assert_int_eq(h_wait_exit(&a, 10000, NULL), 0);
	kill_ms = h_sql_ll(s.db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint");
	/* a later reservation of the same size as theirs: held while their lease runs ... */
	ck_assert_str_eq(probe = h_sql_str(s.db, PROBE), "busy");
	free(probe);
	/* ... and granted once it ran out: that reservation released them (it is leased to
	 * "probe" for 1 s, so it is lost too) */
	sleep(lease_s + 1);
	ck_assert_str_eq(probe = h_sql_str(s.db, PROBE), "granted");
	free(probe);
	released_ms = h_sql_ll(s.db, "SELECT (extract(epoch FROM max(lost_at)) * 1000)::bigint "
				     "FROM model_calls_lost");
	ck_assert_int_eq(stack_model_control(&s, "{\"latency_ms\": 0}"), 0);

	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(&s, &b, "daemonB"), 0);
	ck_assert_d(stack_wait_count(&s, 50, 120000, RESULTS) == 50, &b);
	ck_assert_d(stack_wait_committed(&s, 50, 30000) == 0, &b);
	lost = h_sql_ll(s.db, "SELECT count(*) FROM model_calls_lost");
	first_ms =
	    h_sql_ll(s.db, "SELECT coalesce((extract(epoch FROM min(started_at)) * 1000)"
			   "::bigint, 0) FROM budget_reservations WHERE owner NOT IN (SELECT "
			   "owner FROM model_calls_lost) AND owner <> 'probe'");
	after = h_sql_ll(s.db, "SELECT count(*) FROM budget_reservations WHERE owner NOT IN "
			       "(SELECT owner FROM model_calls_lost) AND owner <> 'probe'");
	recorded = h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier = 'mini'");
	ck_assert_int_eq(stack_model_tokens(&s, "gpt-4o-mini", &answers, &pt, &ct), 0);
	fprintf(stderr,
		"budget[kill]: lease_s=%d open_at_kill=%lld lost=%lld released_after_kill_ms=%lld "
		"first_daemon_grant_after_kill_ms=%lld "
		"granted_after=%lld model_answers=%lld recorded=%lld recorded_plus_lost=%lld "
		"spent_usd=%.8f limit_usd=%.8f\n",
		lease_s, open_at_kill, lost, released_ms - kill_ms,
		after > 0 ? first_ms - kill_ms : -1, after, answers, recorded, recorded + lost,
		sql_d(&s, "SELECT sum(spent_usd) FROM metrics_budget WHERE tier = '%s'", "mini"),
		limit);
	/* the dead daemon's calls are lost, counted once each, in the usage row too */
	ck_assert_int_eq(lost, open_at_kill + 1); /* + the probe's */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT sum(lost_calls) FROM budget_usage"), lost);
	/* the budget was usable again within the lease (plus the probe's second); what the
	 * restarted daemon may still buy depends on the lost calls' charge (their estimates) */
	ck_assert_msg(released_ms - kill_ms <= (lease_s + 3) * 1000LL, "released %lld ms after",
		      released_ms - kill_ms);
	ck_assert_int_gt(released_ms, kill_ms);
	/* what the model served is recorded or lost; nothing recorded was not served */
	ck_assert_int_le(answers, recorded + lost);
	ck_assert_int_le(recorded, answers);
	ck_assert(sql_d(&s, "SELECT sum(spent_usd) FROM metrics_budget WHERE tier = '%s'",
			"mini") <= limit);
	/* /metrics shows them (the gauge follows the renewals, every lease_s / 3) */
	{
		int port = stack_http_port(&b), ok = 0;
		char want[64];
		snprintf(want, sizeof(want), "budget_calls_lost %lld", lost);
		ck_assert_int_gt(port, 0);
		for (int i = 0; i < 50 && !ok; i++) {
			ok = http_get(port, "/metrics") == 200 && strstr(body, want) != NULL;
			if (!ok)
				usleep(200000);
		}
		ck_assert_msg(ok, "/metrics has no '%s'", want);
	}
	ck_assert_int_eq(stack_stop_daemon(&b, 30000), 0);
	stack_stop(&s);
}
END_TEST

int main(void)
{
	const struct stack_case cases[] = {
	    {"one", test_one_daemon},	 {"two", test_two_daemons}, {"kill", test_kill_lease},
	    {"flagship", test_flagship}, {"pause", test_pause},	    {"noprice", test_no_price},
	    {"pause_lost", test_pause_lost_waiters},
	};
	return stack_run_suite("budget", cases, sizeof(cases) / sizeof(cases[0]), 900);
}

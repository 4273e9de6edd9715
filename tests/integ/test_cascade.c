/*
 * The cascade on real parts: escalation rules decide which tickets go to
 * the flagship model, budgets stop spending at their limit, a completed
 * model call is never paid twice, and every triaged ticket is announced on
 * tickets.triaged.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "harness.h"
#include "stack.h"

#define RESULTS "SELECT count(*) FROM triage_results"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *str(struct stack *s, const char *sql)
{
	char *v = h_sql_str(s->db, "%s", sql);
	ck_assert_msg(v != NULL, "no value for: %s", sql);
	return v;
}

static void assert_sql_str(struct stack *s, const char *sql, const char *want)
{
	char *v = str(s, sql);
	ck_assert_msg(strcmp(v, want) == 0, "%s\n  got:  %s\n  want: %s", sql, v, want);
	free(v);
}

struct events {
	int n;
	json_object *by_id; /* ticket_id -> last event */
};

static void on_event(const rd_kafka_message_t *m, void *arg)
{
	struct events *ev = arg;
	char *text = strndup(m->payload ? (const char *)m->payload : "", m->len);
	json_object *o = json_tokener_parse(text);
	char key[128];
	free(text);
	if (o == NULL)
		return;
	snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
	json_object_object_add(ev->by_id, key, o);
	ev->n++;
}

static const char *ev_field(struct events *ev, const char *id, const char *field)
{
	json_object *o, *v;
	if (!json_object_object_get_ex(ev->by_id, id, &o) || !json_object_object_get_ex(o, field, &v))
		return NULL;
	return json_object_get_string(v);
}

static const char rules_text[] =
	"# test rules: each ticket below hits a known subset\n"
	"[rule human_security]\ncategory = security\naction = human_only\npriority = 90\n\n"
	"[rule critical]\nurgency = critical\naction = escalate\npriority = 70\n\n"
	"[rule lawsuit]\nkeywords = lawsuit\naction = escalate\npriority = 80\n\n"
	"[rule low_confidence]\nconfidence_below = 0.6\naction = escalate\n\n"
	"[rule invalid_mini]\nmini_invalid = true\naction = escalate\n";

static const char *const tickets[] = {
	"{\"ticket_id\":\"e-critical\",\"subject\":\"Late\",\"body\":\"My package never arrived "
	"[[fake:critical]]\",\"customer\":{\"tier\":\"premium\"}}",
	"{\"ticket_id\":\"e-lowconf\",\"body\":\"Where is my parcel? [[fake:lowconf]]\"}",
	"{\"ticket_id\":\"e-lawsuit\",\"body\":\"I will file a lawsuit over this invoice\"}",
	"{\"ticket_id\":\"e-security\",\"body\":\"Someone hacked my account\"}",
	"{\"ticket_id\":\"e-invalid\",\"body\":\"Refund my double charge [[fake:mini_malformed]]\"}",
	"{\"ticket_id\":\"e-plain\",\"body\":\"How do I change my delivery address\"}",
	"{\"ticket_id\":\"e-plain2\",\"body\":\"Thank you, the new card works great\"}",
	NULL};

/* Known tickets escalate exactly as the rules say; the flagship decides them; events carry it. */
START_TEST(test_escalation_exact)
{
	struct stack s;
	struct h_proc d;
	struct events ev = {0, json_object_new_object()};
	char rules[PATH_MAX], input[PATH_MAX];
	FILE *f;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "escalate", 2, NULL), 0);
	/* a price history for the flagship: one in force, one announced for tomorrow.
	 * triaged_record_calls_rows looks the price up inline (not through
	 * triaged_price_at, which is not inlined); both must pick the one in force */
	ck_assert_int_eq(h_sql_exec(s.db, "INSERT INTO model_prices (model, effective_from, "
					  "input_per_mtok, cached_input_per_mtok, output_per_mtok) "
					  "VALUES ('gpt-4o', now() - interval '1 hour', 3, 1.5, 12), "
					  "('gpt-4o', now() + interval '1 day', 30, 15, 120)"),
			 0);
	snprintf(rules, sizeof(rules), "%s/escalate.rules", h_tmpdir());
	write_file(rules, rules_text);
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", rules);
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "rules loaded", 10000) == 0, &d);
	snprintf(input, sizeof(input), "%s/escalate.jsonl", h_tmpdir());
	f = fopen(input, "w");
	for (int i = 0; tickets[i]; i++)
		fprintf(f, "%s\n", tickets[i]);
	fclose(f);
	ck_assert_int_eq(stack_produce_file(&s, input, 0), 0);
	ck_assert_d(stack_wait_count(&s, 7, 60000, RESULTS) == 7, &d);
	ck_assert_d(stack_wait_committed(&s, 7, 20000) == 0, &d);

	/* the escalated set, exactly */
	assert_sql_str(&s, "SELECT string_agg(t.ticket_id, ',' ORDER BY t.ticket_id) FROM "
			   "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE tr.escalated",
		       "e-critical,e-invalid,e-lawsuit,e-lowconf");
	assert_sql_str(&s, "SELECT string_agg(t.ticket_id || '=' || tr.action || '/' || tr.status || '/' "
			   "|| coalesce(tr.decided_by, '-') || '/' || coalesce(tr.model, '-'), ' ' ORDER "
			   "BY t.ticket_id) FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk",
		       "e-critical=escalate/pending_review/flagship/gpt-4o "
		       "e-invalid=escalate/pending_review/flagship/gpt-4o "
		       "e-lawsuit=escalate/pending_review/flagship/gpt-4o "
		       "e-lowconf=escalate/pending_review/flagship/gpt-4o "
		       "e-plain=none/pending_review/mini/gpt-4o-mini "
		       "e-plain2=none/pending_review/mini/gpt-4o-mini "
		       "e-security=human_only/needs_human/mini/gpt-4o-mini");
	/* which rules matched, in file order; the strongest action won */
	assert_sql_str(&s, "SELECT tr.matched_rules FROM triage_results tr JOIN tickets t ON t.id = "
			   "tr.ticket_pk WHERE t.ticket_id = 'e-lawsuit'",
		       "critical,lawsuit");
	assert_sql_str(&s, "SELECT tr.matched_rules || '|' || tr.priority FROM triage_results tr "
			   "JOIN tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'e-security'",
		       "human_security,critical|90");
	assert_sql_str(&s, "SELECT left(tr.status_reason, 11) FROM triage_results tr JOIN tickets t "
			   "ON t.id = tr.ticket_pk WHERE t.ticket_id = 'e-security'",
		       "human_only:");
	/* both answers and both calls are kept: mini calls 8 (e-invalid was repaired once), flagship 4 */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier = 'mini'"), 8);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier = 'flagship'"), 4);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE cost_usd IS NULL OR "
					"price_id IS NULL"),
			 0);
	/* each call at the price in force when it started, as triaged_price_at finds it */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls mc WHERE mc.price_id IS "
					"DISTINCT FROM (triaged_price_at(mc.model, mc.started_at)).id OR "
					"mc.cost_usd IS DISTINCT FROM triaged_cost(triaged_price_at("
					"mc.model, mc.started_at), mc.prompt_tokens, mc.cached_tokens, "
					"mc.completion_tokens)"),
			 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls mc JOIN model_prices p ON "
					"p.id = mc.price_id WHERE mc.tier = 'flagship' AND "
					"p.input_per_mtok = 3"),
			 4);
	ck_assert_int_eq(stack_model_requests(&s, NULL), 12);
	/* the flagship is the expensive one: gpt-4o costs more per call than gpt-4o-mini */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT (avg(cost_usd) FILTER (WHERE tier='flagship') > "
					"avg(cost_usd) FILTER (WHERE tier='mini'))::int FROM model_calls"),
			 1);

	/* the events: one per ticket, keyed by ticket id */
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.triaged", 1, 10000, on_event, &ev), 0);
	ck_assert_int_eq(ev.n, 7);
	ck_assert_str_eq(ev_field(&ev, "e-lawsuit", "decided_by"), "flagship");
	ck_assert_str_eq(ev_field(&ev, "e-lawsuit", "escalated"), "true");
	ck_assert_str_eq(ev_field(&ev, "e-plain", "escalated"), "false");
	ck_assert_ptr_nonnull(ev_field(&ev, "e-plain", "draft_reply"));
	ck_assert_ptr_null(ev_field(&ev, "e-security", "draft_reply")); /* human_only: no draft */
	ck_assert_str_eq(ev_field(&ev, "e-security", "status"), "needs_human");
	ck_assert_ptr_nonnull(ev_field(&ev, "e-critical", "sequence"));
	ck_assert_ptr_nonnull(ev_field(&ev, "e-critical", "cost_usd"));
	/* The daemon builds the event of a row it stores; the database builds it
	 * for a redelivery (triaged_event): the two must be the same document. */
	json_object_object_foreach(ev.by_id, id, sent)
	{
		char *sql = h_sql_str(s.db,
				      "SELECT triaged_event(t.id, t.revision)::text FROM tickets t "
				      "WHERE t.ticket_id = '%s'",
				      id);
		json_object *want = sql ? json_tokener_parse(sql) : NULL;
		ck_assert_msg(want != NULL, "no database event for %s", id);
		ck_assert_msg(json_object_equal(sent, want),
			      "event of %s differs from the database's:\n  sent: %s\n  db:   %s", id,
			      json_object_to_json_string_ext(sent, JSON_C_TO_STRING_PLAIN),
			      json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
		json_object_put(want);
		free(sql);
	}

	/* SIGHUP: a broken file is refused and the old rules stay; a good one is taken */
	write_file(rules, "[rule broken]\nurgency = soon\naction = escalate\n");
	ck_assert_int_eq(h_signal(&d, SIGHUP), 0);
	ck_assert_d(stack_wait_log(&d, "rules not reloaded", 10000) == 0, &d);
	ck_assert_d(stack_wait_log(&d, "escalate.rules:2:", 1000) == 0, &d);
	write_file(rules, "[rule everything]\nalways = true\naction = escalate\n");
	ck_assert_int_eq(h_signal(&d, SIGHUP), 0);
	ck_assert_d(stack_wait_log(&d, "rules=1", 10000) == 0, &d);
	f = fopen(input, "w");
	fprintf(f, "{\"ticket_id\":\"e-after-reload\",\"body\":\"How do I change my delivery "
		   "address\"}\n");
	fclose(f);
	ck_assert_int_eq(stack_produce_file(&s, input, 0), 0);
	ck_assert_d(stack_wait_count(&s, 8, 30000, RESULTS) == 8, &d);
	assert_sql_str(&s, "SELECT tr.action || '/' || tr.matched_rules FROM triage_results tr JOIN "
			   "tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'e-after-reload'",
		       "escalate/everything");
	fprintf(stderr, "escalation: tickets_in=8 escalated=%lld human_only=%lld flagship_calls=%lld "
			"events=%d\n",
		h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE escalated"),
		h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE action='human_only'"),
		h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier='flagship'"), ev.n);
	/* every call has its ticket and its price row (both tiers are priced here) */
	ck_assert_int_gt(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE price_id IS NOT NULL "
					"AND tier = 'flagship'"),
			 0);
	ck_assert_int_eq(stack_orphans(&s), 0);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	json_object_put(ev.by_id);
	stack_stop(&s);
}
END_TEST

/* The flagship budget runs out mid-run: the rest go to needs_human, spend stays within it. */
START_TEST(test_budget_exhausted)
{
	struct stack s;
	struct h_proc d;
	char rules[PATH_MAX];
	long long rows, denied, flagship_ok;
	double spent, limit = 0.05;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "budget", 2, NULL), 0);
	snprintf(rules, sizeof(rules), "%s/budget.rules", h_tmpdir());
	write_file(rules, "[rule all]\nalways = true\naction = escalate\n");
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", rules);
	stack_env(&s, "TRIAGED_BUDGET_ENFORCE", "true");
	stack_env(&s, "TRIAGED_FLAGSHIP_MAX_CONCURRENCY", "2");
	ck_assert_int_eq(h_sql_exec(s.db, "INSERT INTO budgets (tier, daily_limit_usd) VALUES "
					  "('flagship', %.2f)",
				    limit),
			 0);
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 60, "b-"), 0);
	rows = stack_wait_count(&s, 60, 120000, RESULTS);
	ck_assert_d(rows == 60, &d);
	ck_assert_d(stack_wait_committed(&s, 60, 20000) == 0, &d);
	denied = h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE status = 'needs_human' "
				"AND status_reason LIKE 'budget_exhausted:%%'");
	flagship_ok = h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE decided_by = "
				     "'flagship'");
	{
		char *v = str(&s, "SELECT coalesce(sum(cost_usd), 0) FROM model_calls WHERE tier = "
				  "'flagship'");
		spent = atof(v);
		free(v);
	}
	fprintf(stderr, "budget: tickets_in=60 rows=%lld flagship_decided=%lld budget_exhausted=%lld "
			"flagship_spent_usd=%.6f limit_usd=%.2f\n",
		rows, flagship_ok, denied, spent, limit);
	/* some were paid for, the rest were denied, and the total is within the limit */
	ck_assert_int_gt(flagship_ok, 0);
	ck_assert_int_gt(denied, 0);
	ck_assert_int_eq(flagship_ok + denied, 60);
	ck_assert_msg(spent <= limit, "spent %.6f over the %.2f limit", spent, limit);
	/* the database's own account agrees: nothing left reserved, spent = calls' cost */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT (abs(spent_usd - (SELECT sum(cost_usd) FROM "
					"model_calls WHERE tier='flagship')) < 0.000001 AND "
					"reserved_usd = 0)::int FROM metrics_budget WHERE tier='flagship'"),
			 1);
	/* the mini tier has no budget row: never denied */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier='mini'"), 60);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/*
 * SIGKILL after the mini calls were persisted and before the tickets were
 * stored (they wait on a slow flagship), then a restart: the mini model is
 * not called again for any of them.
 */
START_TEST(test_kill_no_double_billing)
{
	struct stack s;
	struct h_proc d, d2, slow;
	char rules[PATH_MAX], bin[PATH_MAX], port_file[PATH_MAX], url[128], *line;
	long long mini_before, mini_after, repeated;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "kill", 2, NULL), 0);
	/* a flagship that takes 60 s to answer: tickets stay in flight */
	ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged-fakemodel"), 0);
	snprintf(port_file, sizeof(port_file), "%s/slow.port", h_tmpdir());
	{
		char *argv[] = {bin, "--port-file", port_file, "--latency-ms", "60000", NULL};
		ck_assert_int_eq(h_spawn(&slow, "kill-slow-flagship", argv, NULL), 0);
	}
	ck_assert_int_eq(h_wait_file(port_file, 10000), 0);
	line = h_read_first_line(port_file);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1", line);
	free(line);
	snprintf(rules, sizeof(rules), "%s/kill.rules", h_tmpdir());
	write_file(rules, "[rule all]\nalways = true\naction = escalate\n");
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", rules);
	stack_env(&s, "TRIAGED_FLAGSHIP_BASE_URL", url);
	stack_env(&s, "TRIAGED_FLAGSHIP_TIMEOUT_MS", "120000");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 40, "k-"), 0);
	/* every mini call persisted, no ticket stored yet */
	ck_assert_d(stack_wait_count(&s, 40, 60000,
				     "SELECT count(*) FROM model_calls WHERE tier = 'mini'") == 40,
		    &d);
	ck_assert_int_eq(h_sql_ll(s.db, RESULTS), 0);
	mini_before = stack_model_requests(&s, NULL);
	ck_assert_int_eq(mini_before, 40);
	ck_assert_int_eq(h_signal(&d, SIGKILL), 0);
	ck_assert_int_eq(h_wait_exit(&d, 10000, NULL), 0);
	h_stop(&slow);

	/* restart with a flagship that answers */
	stack_env(&s, "TRIAGED_FLAGSHIP_BASE_URL", s.model_url);
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	ck_assert_d(stack_wait_count(&s, 40, 90000, RESULTS) == 40, &d2);
	ck_assert_d(stack_wait_committed(&s, 40, 20000) == 0, &d2);
	mini_after = h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier = 'mini'");
	/* the fake model serves both tiers now: requests = 40 mini (before) + 40 flagship (after) */
	repeated = stack_model_requests(&s, NULL) - mini_before - 40;
	fprintf(stderr, "kill: tickets_in=40 rows=%lld mini_calls_before_kill=%lld "
			"mini_call_rows_after=%lld repeated_model_calls=%lld\n",
		h_sql_ll(s.db, RESULTS), mini_before, mini_after, repeated);
	ck_assert_int_eq(mini_after, 40);
	ck_assert_int_eq(repeated, 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE decided_by = "
					"'flagship'"),
			 40);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* ---- escalations never block intake (issue #15 part 2), quiet logs (part 3) ---------- */

struct body {
	char *p;
	size_t len;
};

static size_t body_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	char *q = realloc(b->p, b->len + size * n + 1);
	if (q == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->len, ptr, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* GET http://127.0.0.1:port<path>: a new string (caller frees), or NULL. */
static char *http_get(int port, const char *path)
{
	struct body b = {NULL, 0};
	char url[256];
	CURL *c = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) != CURLE_OK) {
		free(b.p);
		b.p = NULL;
	}
	curl_easy_cleanup(c);
	return b.p;
}

/* The value of the sample line "name value" in a metrics text; -1 when absent. */
static double metric(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return atof(p + n + 1);
	return -1;
}

/* Lines of the daemon's log holding every one of the (up to two) strings. */
static int log_lines(const struct h_proc *d, const char *a, const char *b)
{
	char line[16384];
	int n = 0;
	FILE *f = fopen(d->log_path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if ((a == NULL || strstr(line, a)) && (b == NULL || strstr(line, b)))
			n++;
	fclose(f);
	return n;
}

#define PARK_ESCALATED 20
#define PARK_PLAIN 40
#define PARK_MAX_IN_FLIGHT 4

/*
 * A slow flagship (2 s a call, 2 slots) and many escalations: with
 * intake.max_in_flight = 4, the escalations are parked outside it, so every
 * plain ticket is stored while most escalations still wait (before issue #15
 * the escalations held the 4 intake slots and the plain tickets waited behind
 * them). Then all are stored once, none lost or twice. At info level the log
 * stays O(1): no per-ticket line, though every plain draft is flagged.
 */
START_TEST(test_flagship_parking)
{
	struct stack s;
	struct h_proc d, slow;
	char rules[PATH_MAX], input[PATH_MAX], url[128], *text;
	const char *slow_args[] = {"--latency-ms", "2000", NULL};
	long long esc_stored, parked_rows, total_lines;
	double parked_metric;
	int port = -1, slow_port = -1;
	FILE *f;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "parking", 2, NULL), 0);
	ck_assert_int_eq(stack_model_extra(&s, &slow, "slow-flagship", slow_args, url, sizeof(url),
					   &slow_port),
			 0);
	snprintf(rules, sizeof(rules), "%s/parking.rules", h_tmpdir());
	write_file(rules, "[rule lawsuit]\nkeywords = lawsuit\naction = escalate\n");
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", rules);
	stack_env(&s, "TRIAGED_FLAGSHIP_BASE_URL", url);
	stack_env(&s, "TRIAGED_FLAGSHIP_MAX_CONCURRENCY", "2");
	stack_env(&s, "TRIAGED_FLAGSHIP_MAX_QUEUE", "100");
	stack_env(&s, "TRIAGED_INTAKE_MAX_IN_FLIGHT", "4");
	stack_env(&s, "TRIAGED_INTAKE_LOW_WATER", "2");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_LOG_LEVEL", "info");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "msg=\"http listening\"", 30000) == 0, &d);
	{
		char line[8192];
		FILE *lf = fopen(d.log_path, "r");
		ck_assert_ptr_nonnull(lf);
		while (fgets(line, sizeof(line), lf))
			if (strstr(line, "msg=\"http listening\"") && strstr(line, " port="))
				port = atoi(strstr(line, " port=") + 6);
		fclose(lf);
	}
	ck_assert_int_gt(port, 0);

	/* the escalations first: before the fix they took every intake slot */
	snprintf(input, sizeof(input), "%s/parking.jsonl", h_tmpdir());
	f = fopen(input, "w");
	for (int i = 0; i < PARK_ESCALATED; i++)
		fprintf(f, "{\"ticket_id\":\"p-esc-%d\",\"body\":\"I will file a lawsuit over "
			   "invoice %d\"}\n",
			i, i);
	for (int i = 0; i < PARK_PLAIN; i++)
		fprintf(f, "{\"ticket_id\":\"p-plain-%d\",\"body\":\"Where is my parcel %d? "
			   "[[fake:hostile_draft]]\"}\n",
			i, i);
	fclose(f);
	ck_assert_int_eq(stack_produce_file(&s, input, 0), 0);

	/* every plain ticket stored while the escalations are still parked */
	ck_assert_d(stack_wait_count(&s, PARK_PLAIN, 60000,
				     "SELECT count(*) FROM triage_results WHERE NOT escalated") ==
			PARK_PLAIN,
		    &d);
	text = http_get(port, "/metrics");
	ck_assert_ptr_nonnull(text);
	parked_metric = metric(text, "triaged_flagship_parked");
	esc_stored = h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE escalated");
	parked_rows = PARK_ESCALATED - esc_stored;
	fprintf(stderr,
		"parking: plain_stored=%d escalated_stored=%lld escalated_waiting=%lld "
		"flagship_parked=%.0f flagship_waiting=%.0f max_in_flight=%d\n",
		PARK_PLAIN, esc_stored, parked_rows, parked_metric,
		metric(text, "triaged_flagship_waiting"), PARK_MAX_IN_FLIGHT);
	/* more escalations wait than intake.max_in_flight allows in flight, yet intake went on */
	ck_assert_msg(parked_rows > PARK_MAX_IN_FLIGHT, "escalated stored %lld of %d", esc_stored,
		      PARK_ESCALATED);
	ck_assert_msg(parked_metric > PARK_MAX_IN_FLIGHT, "triaged_flagship_parked %.0f",
		      parked_metric);
	ck_assert(metric(text, "triaged_flagship_max_queue") == 100);
	free(text);

	/* then all of them, once each; the wait is measured */
	ck_assert_d(stack_wait_count(&s, PARK_ESCALATED + PARK_PLAIN, 90000, RESULTS) ==
			PARK_ESCALATED + PARK_PLAIN,
		    &d);
	ck_assert_d(stack_wait_committed(&s, PARK_ESCALATED + PARK_PLAIN, 20000) == 0, &d);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(DISTINCT t.ticket_id) FROM triage_results tr "
					"JOIN tickets t ON t.id = tr.ticket_pk"),
			 PARK_ESCALATED + PARK_PLAIN);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE escalated AND "
					"decided_by = 'flagship'"),
			 PARK_ESCALATED);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM model_calls WHERE tier = 'flagship'"),
			 PARK_ESCALATED);
	text = http_get(port, "/metrics");
	ck_assert_ptr_nonnull(text);
	ck_assert(metric(text, "triaged_flagship_wait_seconds_count") == PARK_ESCALATED);
	ck_assert(metric(text, "triaged_flagship_parked") == 0);
	/* the write rounds: every claim, call and store went in one, at least three a ticket */
	ck_assert(metric(text, "triaged_db_rounds_total") > 0);
	ck_assert(metric(text, "triaged_db_round_items_total") >=
		  3 * (PARK_ESCALATED + PARK_PLAIN) + PARK_ESCALATED);
	ck_assert(metric(text, "triaged_db_rounds_held_total") >= 0); /* present (-1: absent) */
	/* a slow flagship with two slots: someone waited over a second */
	ck_assert(metric(text, "triaged_flagship_wait_seconds_bucket{le=\"1\"}") < PARK_ESCALATED);
	free(text);
	text = http_get(port, "/dashboard/data.json");
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "\"flagship\" : {\"parked\": 0, ") &&
			  strstr(text, "\"waits\": 20,"),
		      "%.2000s", text);
	free(text);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);

	/* quiet logs: 60 tickets, 40 drafts flagged, and no per-ticket line at info */
	total_lines = log_lines(&d, NULL, NULL);
	fprintf(stderr, "parking: log_lines=%lld info_ticket_lines=%d draft_flagged_lines=%d\n",
		total_lines, log_lines(&d, "level=info", " ticket="),
		log_lines(&d, "draft flagged by policy", NULL));
	ck_assert_int_eq(log_lines(&d, "level=info", " ticket="), 0);
	ck_assert_int_eq(log_lines(&d, "draft flagged by policy", NULL), 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triage_results WHERE draft_flags IS "
					"NOT NULL AND NOT escalated"),
			 PARK_PLAIN);
	ck_assert_msg(total_lines < PARK_ESCALATED + PARK_PLAIN, "log lines %lld", total_lines);
	h_stop(&slow);
	stack_stop(&s);
}
END_TEST

int main(void)
{
	const struct stack_case cases[] = {
		{"escalation", test_escalation_exact},
		{"budget", test_budget_exhausted},
		{"kill", test_kill_no_double_billing},
		{"parking", test_flagship_parking},
	};
	return stack_run_suite("cascade", cases, sizeof(cases) / sizeof(cases[0]), 600);
}

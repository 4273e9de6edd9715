/*
 * The HTTP endpoint of the real daemon, on real parts (throwaway PostgreSQL,
 * dev broker, fake model): /healthz, /readyz, /metrics (values, and
 * `promtool check metrics` when promtool is installed), /dashboard/data.json
 * (the supervisor views), /dashboard in headless Chromium
 * (tests/integ/browser_dashboard.sh), authentication, 404/405, and the
 * dashboard's own database connection through a PostgreSQL outage.
 *
 * The daemon listens on 127.0.0.1:0 and the test reads the bound port from
 * its log line msg="http listening" ... port=N.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "harness.h"
#include "stack.h"

#define RESULTS "SELECT count(*) FROM triage_results"
#define TOKEN "tok-3f9a7c21e5"

/* ---- a small blocking HTTP client (test side) ---- */

struct resp {
	long code;
	char *body;
	size_t len;
	char headers[8192];
	size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;
	if (r->len + k > (16u << 20))
		return 0;
	r->body = realloc(r->body, r->len + k + 1);
	if (r->body == NULL)
		abort();
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;
	if (r->hlen + k < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = '\0';
	}
	return k;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static CURL *make_req(int port, const char *method, const char *path, const char *token,
		      struct resp *r, struct curl_slist **hdrs)
{
	char url[512], auth[256];
	CURL *c = curl_easy_init();
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	*hdrs = NULL;
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		*hdrs = curl_slist_append(NULL, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	}
	return c;
}

/* One request; r->code is 0 when it could not be made. */
static void http_req(int port, const char *method, const char *path, const char *token,
		     struct resp *r)
{
	struct curl_slist *h;
	CURL *c = make_req(port, method, path, token, r, &h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->body == NULL) {
		r->body = calloc(1, 1);
		if (r->body == NULL)
			abort();
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static int has_header(const struct resp *r, const char *line)
{
	return strcasestr(r->headers, line) != NULL;
}

/* The port from the daemon's msg="http listening" ... port=N line; -1 if not there. */
static int daemon_http_port(const struct h_proc *d)
{
	char line[8192];
	int port = -1;
	FILE *f;
	if (stack_wait_log(d, "msg=\"http listening\"", 30000) < 0)
		return -1;
	f = fopen(d->log_path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p;
		if (strstr(line, "msg=\"http listening\"") &&
		    (p = strstr(line, " port=")) != NULL) {
			port = (int)strtol(p + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return port;
}

/* Poll path until its status is want (and the body contains needle, if set). */
static int wait_status(int port, const char *path, const char *token, long want, const char *needle,
		       int timeout_ms, struct resp *last)
{
	long long end = h_now_ms() + timeout_ms;
	for (;;) {
		http_req(port, "GET", path, token, last);
		if (last->code == want && (needle == NULL || strstr(last->body, needle)))
			return 0;
		if (h_now_ms() >= end)
			return -1;
		resp_free(last);
		usleep(250 * 1000);
	}
}

static long long json_sum(json_object *arr, const char *key)
{
	long long sum = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v;
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), key, &v))
			sum += json_object_get_int64(v);
	}
	return sum;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "key %s missing", key);
	return v;
}

/* ---- promtool ---- */

static int find_in_path(const char *name, char *out, size_t outlen)
{
	const char *p = getenv("PATH");
	if (p == NULL)
		p = "/usr/bin:/bin";
	while (*p) {
		const char *e = strchr(p, ':');
		int n = e ? (int)(e - p) : (int)strlen(p);
		snprintf(out, outlen, "%.*s/%s", n, p, name);
		if (n > 0 && access(out, X_OK) == 0)
			return 0;
		p += n + (e != NULL);
	}
	return -1;
}

/* 1 ran and passed, 0 not installed, -1 ran and failed. */
static int promtool_check(const char *text)
{
	char bin[1024], file[PATH_MAX], cmd[PATH_MAX * 2 + 64];
	struct h_proc p;
	FILE *f;
	int st = -1;

	if (find_in_path("promtool", bin, sizeof(bin)) < 0)
		return 0;
	snprintf(file, sizeof(file), "%s/metrics.txt", h_tmpdir());
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s'", bin, file);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(h_spawn(&p, "promtool", argv, NULL), 0);
	if (h_wait_exit(&p, 60000, &st) < 0 || st != 0) {
		h_dump_log(&p, 40);
		return -1;
	}
	return 1;
}

/* ---- the tests ---- */

static const char *const bad_lines[] = {
    "{\"ticket_id\":\"http-bad-1\"}",
    "this is not json",
    NULL,
};

/* Every endpoint against a daemon that has triaged 50 tickets; the page in a real browser. */
START_TEST(test_endpoints)
{
	struct stack s;
	struct h_proc d;
	struct resp r;
	json_object *o, *a;
	char path[PATH_MAX];
	int port, pt;
	FILE *f;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "http", 2, NULL), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_HTTP_TOKEN", TOKEN);
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = daemon_http_port(&d);
	ck_assert_d(port > 0, &d);
	fprintf(stderr, "http: daemon listening on port %d\n", port);

	/* liveness at once, without a token; readiness once partitions are assigned */
	http_req(port, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert_str_eq(r.body, "ok\n");
	resp_free(&r);
	ck_assert_d(wait_status(port, "/readyz", NULL, 200, NULL, 30000, &r) == 0, &d);
	o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_get_boolean(jget(o, "ready")));
	ck_assert_int_eq(json_object_array_length(jget(o, "failed")), 0);
	ck_assert_int_eq(json_object_get_int(jget(o, "partitions")), 2);
	json_object_put(o);
	resp_free(&r);

	ck_assert_int_eq(stack_produce_samples(&s, 50, "http-"), 0);
	ck_assert_d(stack_wait_count(&s, 50, 60000, RESULTS) == 50, &d);

	/* /metrics: token required; values once the 50 are done */
	http_req(port, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	ck_assert(has_header(&r, "WWW-Authenticate: Bearer"));
	resp_free(&r);
	http_req(port, "GET", "/metrics", "wrong-token", &r);
	ck_assert_int_eq(r.code, 401);
	resp_free(&r);
	http_req(port, "GET", "/metrics?token=wrong", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	resp_free(&r);
	ck_assert_d(wait_status(port, "/metrics", TOKEN, 200, "\ntriaged_ticket_seconds_count 50\n",
				10000, &r) == 0,
		    &d);
	ck_assert(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_tickets_consumed_total 50\n"));
	ck_assert_ptr_nonnull(
	    strstr(r.body, "\ntriaged_tickets_stored_total{status=\"pending_review\"} 50\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_model_requests_total{tier=\"mini\"} 50\n"));
	ck_assert_ptr_nonnull(
	    strstr(r.body, "\ntriaged_model_outcomes_total{tier=\"mini\",outcome=\"ok\"} 50\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_ticket_seconds_bucket{le=\"+Inf\"} 50\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_model_wait_seconds_count 50\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_added_latency_seconds_count 50\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_partitions_assigned 2\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_db_up 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_in_flight 0\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_dlq_total 0\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE triaged_ticket_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_build_info{version=\""));
	pt = promtool_check(r.body);
	ck_assert_msg(pt >= 0, "promtool check metrics failed on the exposition");
	fprintf(stderr, "http: promtool check metrics: %s\n",
		pt ? "ran, passed"
		   : "NOT RUN (promtool not installed: apt-get install prometheus)");
	resp_free(&r);
	http_req(port, "GET", "/metrics?token=" TOKEN, NULL, &r);
	ck_assert_int_eq(r.code, 200);
	resp_free(&r);
	http_req(port, "HEAD", "/metrics", TOKEN, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert_uint_eq(r.len, 0);
	resp_free(&r);

	/* data for the other charts: 2 dead letters, 3 reviews */
	snprintf(path, sizeof(path), "%s/http-bad.jsonl", h_tmpdir());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; bad_lines[i]; i++)
		fprintf(f, "%s\n", bad_lines[i]);
	fclose(f);
	ck_assert_int_eq(stack_produce_file(&s, path, 0), 0);
	ck_assert_d(stack_wait_count(&s, 2, 30000, "SELECT count(*) FROM dead_letters") == 2, &d);
	ck_assert_int_eq(h_sql_exec(s.db,
				    "SELECT review_approve(ticket_pk, revision, NULL, 'agent-a') FROM "
				    "(SELECT ticket_pk, revision FROM triage_results ORDER BY id LIMIT 2) t"),
			 0);
	ck_assert_int_eq(h_sql_exec(s.db, "SELECT review_reject(ticket_pk, revision, 'wrong category', "
					  "'agent-b') FROM (SELECT ticket_pk, revision FROM triage_results "
					  "ORDER BY id OFFSET 2 LIMIT 1) t"),
			 0);
	ck_assert_d(
	    wait_status(port, "/metrics", TOKEN, 200, "\ntriaged_dlq_total 2\n", 10000, &r) == 0,
	    &d);
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_tickets_consumed_total 52\n"));
	resp_free(&r);

	/* /dashboard/data.json */
	http_req(port, "GET", "/dashboard/data.json", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	resp_free(&r);
	http_req(port, "GET", "/dashboard/data.json", TOKEN, &r);
	ck_assert_d(r.code == 200, &d);
	ck_assert(has_header(&r, "Content-Type: application/json"));
	o = json_tokener_parse(r.body);
	ck_assert_msg(o != NULL, "data.json is not JSON: %.300s", r.body);
	ck_assert(json_object_is_type(jget(o, "generated_at"), json_type_string));
	a = jget(o, "volume");
	ck_assert_int_gt(json_object_array_length(a), 0);
	ck_assert_int_eq(json_sum(a, "count"), 50);
	ck_assert_int_eq(json_sum(jget(o, "volume_daily"), "count"), 50);
	ck_assert_int_eq(json_sum(jget(o, "escalation"), "tickets"), 50);
	ck_assert(json_object_is_type(jget(o, "escalation_reasons"), json_type_array));
	a = jget(o, "latency");
	ck_assert_int_ge(json_object_array_length(a), 1);
	ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(a, 0), "tier")),
			 "mini");
	ck_assert_int_eq(json_sum(a, "calls"), 50);
	ck_assert_int_eq(json_sum(jget(o, "backlog"), "awaiting"), 47);
	a = jget(o, "review_outcomes");
	{
		int found = 0;
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *row = json_object_array_get_idx(a, i);
			if (strcmp(json_object_get_string(jget(row, "dimension")), "all") == 0) {
				ck_assert_int_eq(json_object_get_int(jget(row, "reviewed")), 3);
				ck_assert_int_eq(json_object_get_int(jget(row, "accepted")), 2);
				ck_assert_int_eq(json_object_get_int(jget(row, "rejected")), 1);
				found = 1;
			}
		}
		ck_assert(found);
	}
	ck_assert_int_eq(json_sum(jget(o, "dlq"), "count"), 2);
	ck_assert_int_eq(json_object_array_length(jget(o, "queue")), 10);
	/* migration 003 has metrics_cost_daily: an array (the fake model's calls may be unpriced)
	 */
	ck_assert(json_object_is_type(jget(o, "cost"), json_type_array));
	json_object_put(o);
	resp_free(&r);

	/* several at once: they share the running query, all answered */
	{
		enum { N = 8 };
		CURLM *m = curl_multi_init();
		CURL *c[N];
		struct resp rs[N];
		struct curl_slist *hs[N];
		int running = 0;
		for (int i = 0; i < N; i++) {
			c[i] = make_req(port, "GET", "/dashboard/data.json", TOKEN, &rs[i], &hs[i]);
			curl_multi_add_handle(m, c[i]);
		}
		do {
			curl_multi_perform(m, &running);
			if (running)
				curl_multi_poll(m, NULL, 0, 1000, NULL);
		} while (running);
		for (int i = 0; i < N; i++) {
			curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &rs[i].code);
			ck_assert_int_eq(rs[i].code, 200);
			o = json_tokener_parse(rs[i].body);
			ck_assert_ptr_nonnull(o);
			ck_assert_int_eq(json_sum(jget(o, "volume"), "count"), 50);
			json_object_put(o);
			curl_multi_remove_handle(m, c[i]);
			curl_easy_cleanup(c[i]);
			curl_slist_free_all(hs[i]);
			resp_free(&rs[i]);
		}
		curl_multi_cleanup(m);
	}

	/* /dashboard: one page, nothing loaded from elsewhere */
	http_req(port, "GET", "/dashboard", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	resp_free(&r);
	http_req(port, "GET", "/dashboard", TOKEN, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(has_header(&r, "Content-Type: text/html"));
	ck_assert(has_header(&r, "Content-Security-Policy: default-src 'none'"));
	ck_assert_ptr_nonnull(strstr(r.body, "<!doctype html>"));
	ck_assert_ptr_nonnull(strstr(r.body, "dashboard/data.json"));
	ck_assert_ptr_nonnull(strstr(r.body, "createElementNS"));
	ck_assert_ptr_null(strstr(r.body, "<script src"));
	ck_assert_ptr_null(strstr(r.body, "<link"));
	ck_assert_ptr_null(strstr(r.body, "src=\"http"));
	ck_assert_ptr_null(strstr(r.body, "href=\"http"));
	ck_assert_ptr_null(strstr(r.body, "url("));
	ck_assert_ptr_null(strstr(r.body, "@import"));
	resp_free(&r);

	/* routing */
	http_req(port, "GET", "/nope", NULL, &r);
	ck_assert_int_eq(r.code, 404);
	resp_free(&r);
	http_req(port, "GET", "/metrics/", TOKEN, &r);
	ck_assert_int_eq(r.code, 404);
	resp_free(&r);
	http_req(port, "POST", "/metrics", TOKEN, &r);
	ck_assert_int_eq(r.code, 405);
	ck_assert(has_header(&r, "Allow: GET, HEAD"));
	resp_free(&r);
	http_req(port, "DELETE", "/healthz", NULL, &r);
	ck_assert_int_eq(r.code, 405);
	resp_free(&r);

	/* the page in headless Chromium: every chart drawn with data, no console errors */
	{
		char script[PATH_MAX], url[512], outdir[PATH_MAX], shot[PATH_MAX + 32];
		struct h_proc b;
		struct stat sb;
		int st = -1;
		snprintf(script, sizeof(script), "%s/tests/integ/browser_dashboard.sh",
			 h_source_dir());
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/dashboard?token=%s", port, TOKEN);
		snprintf(outdir, sizeof(outdir), "%s/browser", h_tmpdir());
		char *argv[] = {"/bin/sh", script, url, outdir, NULL};
		memset(&b, 0, sizeof(b));
		ck_assert_int_eq(h_spawn(&b, "browser", argv, NULL), 0);
		if (h_wait_exit(&b, 600000, &st) < 0 || st != 0) {
			h_dump_log(&b, 40);
			h_dump_log(&d, 20);
			ck_abort_msg("browser_dashboard.sh failed (status %d)", st);
		}
		snprintf(shot, sizeof(shot), "%s/dashboard.png", outdir);
		ck_assert_int_eq(stat(shot, &sb), 0);
		ck_assert_int_gt(sb.st_size, 10000);
		h_dump_file("browser_dashboard.sh", b.log_path, 5);
		/* kept after the run (the temp dir is not): <build>/artifacts/dashboard.png */
		{
			char keep[PATH_MAX + 64], cmd[4 * PATH_MAX + 512];
			snprintf(keep, sizeof(keep), "%s/artifacts", TRIAGED_BIN_DIR);
			snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s' '%s/dashboard.png'", keep,
				 shot, keep);
			ck_assert_int_eq(system(cmd), 0);
			fprintf(stderr, "http: dashboard screenshot %s/dashboard.png (%lld bytes)\n", keep,
				(long long)sb.st_size);
		}
	}

	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* The dashboard's own connection: 503 while PostgreSQL is down, back by itself after;
 * a database without the cost view, or without a supervisor view. */
START_TEST(test_db_outage)
{
	struct stack s;
	struct h_proc d;
	struct resp r;
	json_object *o;
	int port;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "httpdb", 1, NULL), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_POSTGRES_RECONNECT_MAX_MS", "500");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = daemon_http_port(&d);
	ck_assert_d(port > 0, &d);
	ck_assert_int_eq(stack_produce_samples(&s, 5, "hdb-"), 0);
	ck_assert_d(stack_wait_count(&s, 5, 60000, RESULTS) == 5, &d);
	/* no token configured: open on loopback */
	http_req(port, "GET", "/dashboard/data.json", NULL, &r);
	ck_assert_d(r.code == 200, &d);
	resp_free(&r);

	PQfinish(s.db);
	s.db = NULL;
	ck_assert_int_eq(h_pg_stop(&stack_pg), 0);
	ck_assert_d(wait_status(port, "/dashboard/data.json", NULL, 503,
				"\"error\":\"database unavailable\"", 15000, &r) == 0,
		    &d);
	resp_free(&r);
	ck_assert_d(wait_status(port, "/readyz", NULL, 503, "\"db_up\"", 30000, &r) == 0, &d);
	o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	ck_assert(!json_object_get_boolean(jget(o, "ready")));
	ck_assert(!json_object_get_boolean(jget(jget(o, "checks"), "db_up")));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(jget(o, "failed"), 0)),
			 "db_up");
	json_object_put(o);
	resp_free(&r);
	/* liveness does not depend on the database */
	http_req(port, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	resp_free(&r);
	http_req(port, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_db_up 0\n"));
	resp_free(&r);

	ck_assert_int_eq(h_pg_start_again(&stack_pg), 0);
	s.db = PQconnectdb(s.conninfo);
	ck_assert_int_eq(PQstatus(s.db), CONNECTION_OK);
	ck_assert_d(
	    wait_status(port, "/dashboard/data.json", NULL, 200, "\"volume\"", 60000, &r) == 0, &d);
	o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_sum(jget(o, "volume"), "count"), 5);
	json_object_put(o);
	resp_free(&r);
	ck_assert_d(wait_status(port, "/readyz", NULL, 200, NULL, 30000, &r) == 0, &d);
	resp_free(&r);

	/* without the cost view (a database before migration 003): cost is null, the rest is there
	 */
	ck_assert_int_eq(h_sql_exec(s.db, "DROP VIEW metrics_cost_daily"), 0);
	http_req(port, "GET", "/dashboard/data.json", NULL, &r);
	ck_assert_d(r.code == 200, &d);
	o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_is_type(jget(o, "cost"), json_type_null));
	ck_assert_int_eq(json_sum(jget(o, "volume"), "count"), 5);
	json_object_put(o);
	resp_free(&r);
	/* a missing supervisor view is a query error: 500 with the reason */
	ck_assert_int_eq(h_sql_exec(s.db, "DROP VIEW metrics_dlq"), 0);
	http_req(port, "GET", "/dashboard/data.json", NULL, &r);
	ck_assert_d(r.code == 500, &d);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\":\"query failed\""));
	ck_assert_ptr_nonnull(strstr(r.body, "metrics_dlq"));
	resp_free(&r);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *su = suite_create("http_endpoints");
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
	    {"endpoints", test_endpoints},
	    {"db_outage", test_db_outage},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, stack_pg_up, stack_pg_down);
		tcase_set_timeout(tc, 800);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(su, tc);
	}
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}

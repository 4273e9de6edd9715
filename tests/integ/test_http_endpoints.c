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
#include <arpa/inet.h>
#include <dirent.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/socket.h>
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

/* The value of one sample line "name value" in a metrics text; -1 when absent. */
static long long metric_of(const char *text, const char *name)
{
	char needle[256];
	const char *p;
	snprintf(needle, sizeof(needle), "\n%s ", name);
	p = strstr(text, needle);
	return p ? strtoll(p + strlen(needle), NULL, 10) : -1;
}

static long long get_metric(int port, const char *token, const char *name)
{
	struct resp r;
	long long v;
	http_req(port, "GET", "/metrics", token, &r);
	v = r.code == 200 ? metric_of(r.body, name) : -1;
	resp_free(&r);
	return v;
}

/* Print the last lines of a file to stderr (without keeping the temp dir, unlike h_dump_file). */
static void print_tail(const char *title, const char *path, int last)
{
	char line[1024], ring[8][1024];
	int n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (last > 8)
		last = 8;
	while (fgets(line, sizeof(line), f))
		snprintf(ring[n++ % last], sizeof(ring[0]), "%s", line);
	fclose(f);
	for (int i = n > last ? n - last : 0; i < n; i++)
		fprintf(stderr, "%s: %s", title, ring[i % last]);
}

/* A raw loopback connection to port (non-blocking after connect); -1 on failure. */
static int raw_connect(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* 1 when the server closed fd (EOF or reset), 0 while it is open. */
static int raw_closed(int fd)
{
	char b[256];
	ssize_t n = recv(fd, b, sizeof(b), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return 1;
	return 0;
}

/*
 * One request on a raw kept-alive connection (blocking poll, up to 3 s): the
 * answer's status, or -1 if the server closed the connection or never answered.
 */
static int raw_request(int fd, const char *path)
{
	char req[256], b[8192];
	size_t n = 0;
	long long t0 = h_now_ms();
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		return -1;
	while (h_now_ms() - t0 < 3000 && n < sizeof(b) - 1) {
		ssize_t r = recv(fd, b + n, sizeof(b) - 1 - n, 0);
		char *end, *cl;
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			usleep(10 * 1000);
			continue;
		}
		n += (size_t)r;
		b[n] = '\0';
		end = strstr(b, "\r\n\r\n");
		cl = strcasestr(b, "\r\ncontent-length:");
		if (end && cl && n >= (size_t)(end + 4 - b) + strtoul(cl + 17, NULL, 10))
			return strncmp(b, "HTTP/1.1 ", 9) == 0 ? atoi(b + 9) : -1;
	}
	return -1;
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

/* Request shapes whose answer is only a status (and a header): auth, routing, methods. */
static const struct {
	const char *method, *path, *token;
	long code;
	const char *header;
} shapes[] = {
    {"GET", "/metrics", NULL, 401, "WWW-Authenticate: Bearer"},
    {"GET", "/metrics", "wrong-token", 401, NULL},
    {"GET", "/metrics?token=wrong", NULL, 401, NULL},
    {"GET", "/metrics?token=" TOKEN, NULL, 200, NULL},
    {"HEAD", "/metrics", TOKEN, 200, NULL},
    {"GET", "/dashboard/data.json", NULL, 401, NULL},
    {"GET", "/dashboard", NULL, 401, NULL},
    {"GET", "/dashboard/data.sql", TOKEN, 404, NULL},
    {"GET", "/nope", NULL, 404, NULL},
    {"GET", "/metrics/", TOKEN, 404, NULL},
    {"POST", "/metrics", TOKEN, 405, "Allow: GET, HEAD"},
    {"DELETE", "/healthz", NULL, 405, NULL},
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
	stack_env(&s, "TRIAGED_HTTP_DASHBOARD_INTERVAL_MS", "1500");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = stack_http_port(&d);
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

	/* auth and routing: one row per request shape */
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		http_req(port, shapes[i].method, shapes[i].path, shapes[i].token, &r);
		ck_assert_msg(r.code == shapes[i].code, "%s %s: %ld, want %ld", shapes[i].method,
			      shapes[i].path, r.code, shapes[i].code);
		if (shapes[i].header)
			ck_assert_msg(has_header(&r, shapes[i].header), "%s %s: no %s",
				      shapes[i].method, shapes[i].path, shapes[i].header);
		if (strcmp(shapes[i].method, "HEAD") == 0)
			ck_assert_uint_eq(r.len, 0);
		resp_free(&r);
	}
	/* /metrics: values once the 50 are done */
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

	/* many at once, once the snapshot is stale: one query round for all of them */
	{
		enum { N = 64 };
		long long q0;
		usleep(1700 * 1000);
		q0 = get_metric(port, TOKEN, "triaged_dashboard_queries_total");
		ck_assert_int_ge(q0, 1);
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
		ck_assert_int_eq(get_metric(port, TOKEN, "triaged_dashboard_queries_total"), q0 + 1);
		fprintf(stderr, "http: %d concurrent data.json clients: 1 query round\n", N);
	}

	/* /dashboard: one page, nothing loaded from elsewhere */
	http_req(port, "GET", "/dashboard", TOKEN, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(has_header(&r, "Content-Type: text/html"));
	ck_assert(has_header(&r, "Content-Security-Policy: default-src 'none'; script-src 'self'; "
				 "style-src 'self'"));
	ck_assert_ptr_null(strstr(r.headers, "unsafe-inline"));
	ck_assert_ptr_nonnull(strstr(r.body, "<!doctype html>"));
	/* script and style are files of the same origin; nothing inline */
	ck_assert_ptr_nonnull(strstr(r.body, "<script src=\"dashboard/dashboard.js\"></script>"));
	ck_assert_ptr_nonnull(
	    strstr(r.body, "<link rel=\"stylesheet\" href=\"dashboard/dashboard.css\">"));
	ck_assert_ptr_null(strstr(r.body, "<script>"));
	ck_assert_ptr_null(strstr(r.body, "<style"));
	ck_assert_ptr_null(strstr(r.body, "style=\""));
	ck_assert_ptr_null(strstr(r.body, "src=\"http"));
	ck_assert_ptr_null(strstr(r.body, "href=\"http"));
	ck_assert_ptr_null(strstr(r.body, "url("));
	ck_assert_ptr_null(strstr(r.body, "@import"));
	resp_free(&r);
	/* the files: no token needed (no data in them), the right types */
	http_req(port, "GET", "/dashboard/dashboard.js", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(has_header(&r, "Content-Type: text/javascript"));
	ck_assert_ptr_nonnull(strstr(r.body, "dashboard/data.json"));
	ck_assert_ptr_nonnull(strstr(r.body, "createElementNS"));
	resp_free(&r);
	http_req(port, "GET", "/dashboard/dashboard.css", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(has_header(&r, "Content-Type: text/css"));
	ck_assert_ptr_null(strstr(r.body, "url("));
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
		print_tail("browser_dashboard.sh", b.log_path, 5);
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
	stack_env(&s, "TRIAGED_HTTP_DASHBOARD_INTERVAL_MS", "200");
	stack_env(&s, "TRIAGED_POSTGRES_RECONNECT_MAX_MS", "500");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = stack_http_port(&d);
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
	ck_assert_d(
	    wait_status(port, "/dashboard/data.json", NULL, 200, "\"cost\" : null", 10000, &r) == 0,
	    &d);
	o = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_is_type(jget(o, "cost"), json_type_null));
	ck_assert_int_eq(json_sum(jget(o, "volume"), "count"), 5);
	json_object_put(o);
	resp_free(&r);
	/* a missing supervisor view is a query error: 500 with the reason */
	ck_assert_int_eq(h_sql_exec(s.db, "DROP VIEW metrics_dlq"), 0);
	ck_assert_d(wait_status(port, "/dashboard/data.json", NULL, 500, NULL, 10000, &r) == 0, &d);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\":\"query failed\""));
	ck_assert_ptr_nonnull(strstr(r.body, "metrics_dlq"));
	resp_free(&r);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* /healthz round trip in ms (-1 when it failed). */
static long long healthz_ms(int port)
{
	struct resp r;
	long long t0 = h_now_ms(), ms;
	http_req(port, "GET", "/healthz", NULL, &r);
	ms = r.code == 200 ? h_now_ms() - t0 : -1;
	resp_free(&r);
	return ms;
}

/*
 * The connection cap and the head deadline against a slowloris: 3x the cap
 * of connections that trickle a byte every 100 ms. Each is cut at the head
 * deadline, not kept alive by its bytes; /healthz is answered meanwhile (the
 * oldest unfinished head makes room); triage goes on.
 */
START_TEST(test_limits)
{
	enum { CAP = 20, NSLOW = 60 };
	struct stack s;
	struct h_proc d;
	int port, fds[NSLOW], closed = 0;
	long long worst = 0, t0;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "httplim", 1, NULL), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_HTTP_MAX_CONNECTIONS", "20");
	stack_env(&s, "TRIAGED_HTTP_HEAD_TIMEOUT_MS", "1500");
	stack_env(&s, "TRIAGED_HTTP_KEEPALIVE_TIMEOUT_MS", "4000");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	port = stack_http_port(&d);
	ck_assert_d(port > 0, &d);
	for (int i = 0; i < NSLOW; i++) {
		fds[i] = raw_connect(port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(send(fds[i], "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
	}
	ck_assert_int_eq(stack_produce_samples(&s, 5, "lim-"), 0);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 4000) {
		long long ms;
		for (int i = 0; i < NSLOW; i++)
			if (fds[i] >= 0) {
				if (raw_closed(fds[i]) ||
				    send(fds[i], "X", 1, MSG_NOSIGNAL) < 0) {
					close(fds[i]);
					fds[i] = -1;
					closed++;
				}
			}
		ms = healthz_ms(port);
		ck_assert_d(ms >= 0, &d);
		if (ms > worst)
			worst = ms;
		usleep(100 * 1000);
	}
	/* every slow connection is gone: by eviction at the cap or at the head deadline */
	ck_assert_msg(closed == NSLOW, "%d of %d slow connections still open after 4 s", NSLOW - closed,
		      NSLOW);
	fprintf(stderr, "http: slowloris of %d (cap %d): all cut; /healthz worst %lld ms\n", NSLOW,
		CAP, worst);
	ck_assert_int_lt(worst, 1000);
	/*
	 * Keep-alive: an idle connection waits for its next request under
	 * http.keepalive_timeout_ms (4 s here), not the head deadline (1.5 s); the
	 * next head's deadline runs from its first byte. Before, the idle wait
	 * counted against the head deadline: a dashboard polling every 10 s lost its
	 * connection before each poll at the default 10 s.
	 */
	{
		int ka = raw_connect(port), idle = raw_connect(port);
		ck_assert_int_ge(ka, 0);
		ck_assert_int_ge(idle, 0);
		ck_assert_int_eq(raw_request(ka, "/healthz"), 200);
		ck_assert_int_eq(raw_request(idle, "/healthz"), 200);
		t0 = h_now_ms();
		usleep(2500 * 1000); /* idle past the head deadline, within keep-alive */
		ck_assert_msg(!raw_closed(idle), "a kept-alive connection was cut idle at the head deadline");
		ck_assert_int_eq(raw_request(ka, "/healthz"), 200);
		/* a head begun and not finished is cut at the head deadline from its first byte */
		ck_assert_int_eq(send(ka, "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
		usleep(2500 * 1000);
		ck_assert_msg(raw_closed(ka), "an unfinished head outlived the head deadline");
		/* the idle one goes at the keep-alive timeout: 4 s after its answer */
		while (!raw_closed(idle) && h_now_ms() - t0 < 8000)
			usleep(100 * 1000);
		ck_assert_msg(h_now_ms() - t0 < 8000, "an idle connection outlived the keep-alive timeout");
		fprintf(stderr, "http: kept-alive connection idle 2.5 s answered again; idle one "
				"closed when looked at, %lld ms after its answer (keep-alive 4000 ms)\n",
			h_now_ms() - t0);
		close(ka);
		close(idle);
	}
	{
		struct resp r;
		http_req(port, "GET", "/metrics", NULL, &r);
		ck_assert_int_eq(r.code, 200);
		ck_assert_int_gt(metric_of(r.body, "triaged_http_connections_total{event=\"evicted\"}"), 0);
		ck_assert_int_gt(
		    metric_of(r.body, "triaged_http_connections_total{event=\"keepalive_idle\"}"), 0);
		ck_assert_int_gt(metric_of(r.body, "triaged_http_connections_total{event=\"head_deadline\"}"),
				 0);
		ck_assert_int_le(metric_of(r.body, "triaged_http_connections"), CAP);
		ck_assert_ptr_nonnull(strstr(r.body, "\ntriaged_loop_lag_seconds_count "));
		resp_free(&r);
	}
	ck_assert_d(stack_wait_count(&s, 5, 60000, RESULTS) == 5, &d);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* How many lines of the daemon's log contain text. */
static int count_log(const struct h_proc *d, const char *text)
{
	char line[8192];
	int n = 0;
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, text))
			n++;
	fclose(f);
	return n;
}

/*
 * Out of descriptors: the daemon runs under a hard open-files limit of 200 and
 * clients open connections until accept() fails. Accepting pauses and the
 * trouble is logged once per interval (not once per attempt); once the
 * clients go, /healthz answers again and tickets are triaged.
 *
 * The broker answers 1.5 s late, so the consumer's connection to its group
 * coordinator is made while the descriptors are gone (librdkafka logs
 * "Failed to create socket"): the consumer must still join and consume once
 * they are back. A CI run once saw tickets produced after the flood never
 * consumed; this pins the path a late Kafka connection takes.
 */
START_TEST(test_emfile)
{
	/*
	 * More than the daemon's 200 descriptors, and no more than it accepts (about
	 * 144 here) plus its listen backlog (129, libevent's evhttp): a connect
	 * beyond both waits for SYN retries, seconds each (300 took 39 s).
	 */
	enum { NCLI = 260 };
	struct stack s;
	struct h_proc d;
	char cmd[PATH_MAX + 64];
	int port, fds[NCLI], nopen = 0;
	long long t0, t_first;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "httpfd", 1, NULL), 0);
	ck_assert_int_eq(stack_broker_cluster(&s, 1), 0);
	ck_assert_int_eq(stack_broker_control(&s, "rtt 1 1500"), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_HTTP_MAX_CONNECTIONS", "5000");
	stack_env(&s, "TRIAGED_HTTP_FD_RESERVE", "0");
	stack_env(&s, "TRIAGED_HTTP_HEAD_TIMEOUT_MS", "600000");
	/* the daemon under a hard limit of 200 open files (it cannot raise it) */
	{
		char bin[PATH_MAX];
		ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged"), 0);
		snprintf(cmd, sizeof(cmd), "ulimit -n 200 && exec '%s'", bin);
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		memset(&d, 0, sizeof(d));
		ck_assert_int_eq(h_spawn(&d, "httpfd-daemon", argv, s.env), 0);
	}
	port = stack_http_port(&d);
	ck_assert_d(port > 0, &d);
	ck_assert_d(stack_wait_log(&d, "msg=\"database connected\"", 30000) == 0, &d);
	t_first = h_now_ms();
	for (int i = 0; i < NCLI; i++) {
		fds[i] = raw_connect(port); /* the kernel completes them; the daemon accepts what it can */
		if (fds[i] >= 0)
			nopen++;
	}
	ck_assert_int_gt(nopen, 200); /* more than the daemon's 200 descriptors */
	/* the coordinator connection, made during the flood, fails for want of a descriptor */
	ck_assert_d(stack_wait_log(&d, "Failed to create socket: Too many open files", 30000) == 0,
		    &d);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 3000)
		usleep(100 * 1000);
	{
		int lines = count_log(&d, "msg=\"http accept paused: out of descriptors\"");
		/* once per 10 s interval: on a slow machine the connects alone take seconds */
		int max_lines = 2 + (int)((h_now_ms() - t_first) / 10000);
		fprintf(stderr, "http: EMFILE for %.1f s: %d log lines (at most %d)\n",
			(double)(h_now_ms() - t_first) / 1000.0, lines, max_lines);
		ck_assert_int_eq(count_log(&d, "Error from accept"), 0);
		ck_assert_d(lines >= 1 && lines <= max_lines, &d);
	}
	for (int i = 0; i < NCLI; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	{
		struct resp r;
		ck_assert_d(wait_status(port, "/healthz", NULL, 200, NULL, 10000, &r) == 0, &d);
		resp_free(&r);
		http_req(port, "GET", "/metrics", NULL, &r);
		ck_assert_int_gt(metric_of(r.body, "triaged_http_accept_errors_total"), 0);
		resp_free(&r);
	}
	ck_assert_int_eq(stack_broker_control(&s, "rtt 1 0"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 5, "fd-"), 0);
	ck_assert_d(stack_wait_count(&s, 5, 60000, RESULTS) == 5, &d);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/*
 * The descriptor reserve under a slowloris: the daemon under a hard limit of
 * 200 open files keeps 120 of them for the model and PostgreSQL, and slow
 * connections that never finish their head (no head deadline here) fill the
 * rest. A new connection past the reserve evicts the oldest of them, so
 * /healthz keeps answering; tickets are triaged.
 */
START_TEST(test_reserve)
{
	enum { NSLOW = 150 };
	struct stack s;
	struct h_proc d;
	char cmd[PATH_MAX + 64];
	int port, fds[NSLOW];
	long long worst = 0, t0;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "httpres", 1, NULL), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_HTTP_MAX_CONNECTIONS", "5000");
	stack_env(&s, "TRIAGED_HTTP_FD_RESERVE", "120");
	stack_env(&s, "TRIAGED_HTTP_HEAD_TIMEOUT_MS", "600000");
	{
		char bin[PATH_MAX];
		ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged"), 0);
		snprintf(cmd, sizeof(cmd), "ulimit -n 200 && exec '%s'", bin);
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		memset(&d, 0, sizeof(d));
		ck_assert_int_eq(h_spawn(&d, "httpres-daemon", argv, s.env), 0);
	}
	port = stack_http_port(&d);
	ck_assert_d(port > 0, &d);
	ck_assert_d(stack_wait_log(&d, "msg=\"database connected\"", 30000) == 0, &d);
	for (int i = 0; i < NSLOW; i++) {
		fds[i] = raw_connect(port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(send(fds[i], "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
	}
	ck_assert_int_eq(stack_produce_samples(&s, 5, "res-"), 0);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 3000) {
		long long ms = healthz_ms(port);
		ck_assert_d(ms >= 0, &d);
		if (ms > worst)
			worst = ms;
		usleep(100 * 1000);
	}
	fprintf(stderr, "http: %d slow connections against a 200-descriptor daemon: /healthz worst %lld ms\n",
		NSLOW, worst);
	ck_assert_int_lt(worst, 1000);
	{
		struct resp r;
		http_req(port, "GET", "/metrics", NULL, &r);
		ck_assert_int_eq(r.code, 200);
		ck_assert_int_gt(metric_of(r.body, "triaged_http_connections_total{event=\"evicted\"}"), 0);
		resp_free(&r);
	}
	/* logged: one line per interval (http.c note_trouble), so when the burst of
	 * slow connections is accepted in one go before they are admitted, the
	 * EMFILE line can take the interval's slot and the reserve's is counted as
	 * suppressed (seen once under a loaded CI run); the eviction itself is the
	 * metric above */
	ck_assert_d(count_log(&d, "descriptor reserve reached") +
			    count_log(&d, "http accept paused: out of descriptors") >=
			1,
		    &d);
	ck_assert_d(stack_wait_count(&s, 5, 60000, RESULTS) == 5, &d);
	for (int i = 0; i < NSLOW; i++)
		close(fds[i]);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* ---- load: figures, not assertions (opt-in: HTTP_LOAD_BENCH=1) ---- */

struct load {
	int port;
	int dash_clients; /* data.json clients looping */
	int dash_think_ms; /* pause of each client between answers (0: none) */
	int dash_spread;   /* first requests spread over one pause, not all at once */
	int slow;	  /* slowloris connections kept open */
	volatile int stop;
	/* results */
	long long hz_n, hz_fail, hz_max, hz_sum;
	long long hz[4096];
	long long dash_done;
	long long dash_bytes; /* body bytes received */
};

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void *load_main(void *arg)
{
	struct load *l = arg;
	CURLM *m = curl_multi_init();
	CURL **c = calloc((size_t)l->dash_clients + 1, sizeof(*c));
	struct resp *rs = calloc((size_t)l->dash_clients + 1, sizeof(*rs));
	struct curl_slist **hs = calloc((size_t)l->dash_clients + 1, sizeof(*hs));
	int *fds = calloc((size_t)l->slow + 1, sizeof(int));
	long long *again = calloc((size_t)l->dash_clients + 1, sizeof(long long));
	long long next_trickle = 0;

	/* each client keeps its connection between requests, as a browser tab does: by
	 * default curl's pool holds 4 per handle still added, and most are out while
	 * they wait, so it closed a third of them after each answer (strace: 262 closes
	 * and 142 accepts for 800 answers, the daemon's cost doubled) */
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)l->dash_clients + 16);
	for (int i = 0; i < l->dash_clients; i++) {
		c[i] = make_req(l->port, "GET", "/dashboard/data.json", NULL, &rs[i], &hs[i]);
		curl_easy_setopt(c[i], CURLOPT_PRIVATE, (char *)(intptr_t)i);
		if (l->dash_spread && l->dash_think_ms > 0) /* as pages opened at random moments */
			again[i] = h_now_ms() + 1 + (long long)i * l->dash_think_ms / l->dash_clients;
		else
			curl_multi_add_handle(m, c[i]);
	}
	for (int i = 0; i < l->slow; i++) {
		fds[i] = raw_connect(l->port);
		if (fds[i] >= 0 && send(fds[i], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL) < 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	while (!l->stop) {
		int running = 0, left;
		CURLMsg *msg;
		long long now = h_now_ms();
		if (l->dash_clients) {
			curl_multi_perform(m, &running);
			while ((msg = curl_multi_info_read(m, &left)) != NULL) {
				char *priv;
				int i;
				if (msg->msg != CURLMSG_DONE)
					continue;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
				i = (int)(intptr_t)priv;
				l->dash_done++;
				l->dash_bytes += (long long)rs[i].len;
				curl_multi_remove_handle(m, c[i]);
				free(rs[i].body);
				rs[i].body = NULL;
				rs[i].len = rs[i].hlen = 0;
				again[i] = now + l->dash_think_ms;
			}
			for (int i = 0; i < l->dash_clients; i++)
				if (again[i] && now >= again[i]) {
					again[i] = 0;
					curl_multi_add_handle(m, c[i]);
				}
			curl_multi_poll(m, NULL, 0, 20, NULL);
		} else {
			usleep(20 * 1000);
		}
		if (now >= next_trickle) { /* each slow connection: one byte per second, reopened when cut */
			for (int i = 0; i < l->slow; i++) {
				if (fds[i] >= 0 && (raw_closed(fds[i]) || send(fds[i], "X", 1, MSG_NOSIGNAL) < 0)) {
					close(fds[i]);
					fds[i] = -1;
				}
				if (fds[i] < 0 && (fds[i] = raw_connect(l->port)) >= 0 &&
				    send(fds[i], "G", 1, MSG_NOSIGNAL) < 0) {
					close(fds[i]);
					fds[i] = -1;
				}
			}
			next_trickle = now + 1000;
		}
	}
	for (int i = 0; i < l->dash_clients; i++) {
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
		curl_slist_free_all(hs[i]);
		free(rs[i].body);
	}
	for (int i = 0; i < l->slow; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	curl_multi_cleanup(m);
	free(c);
	free(rs);
	free(hs);
	free(fds);
	free(again);
	return NULL;
}

/* /healthz every 100 ms, on its own thread so that the load cannot delay the sampling. */
static void *hz_main(void *arg)
{
	struct load *l = arg;
	while (!l->stop) {
		long long ms = healthz_ms(l->port);
		if (ms < 0)
			l->hz_fail++;
		else if (l->hz_n < 4096) {
			l->hz[l->hz_n++] = ms;
			l->hz_sum += ms;
			if (ms > l->hz_max)
				l->hz_max = ms;
		}
		usleep(100 * 1000);
	}
	return NULL;
}

/* Descriptors a process has open, from /proc. */
static long open_fds(pid_t pid)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	long n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Tickets per second to triage n more tickets (the results count reaching *total + n). */
static double triage_rate(struct stack *s, struct h_proc *d, int n, int *total, const char *prefix)
{
	long long t0 = h_now_ms();
	ck_assert_int_eq(stack_produce_samples(s, n, prefix), 0);
	*total += n;
	ck_assert_d(stack_wait_count(s, *total, 300000, RESULTS) == *total, d);
	return n * 1000.0 / (double)(h_now_ms() - t0);
}

/*
 * The load cases' stack: the open-files limit raised to its hard limit, the
 * daemon on an ephemeral admin port, warmed up with 2,000 tickets (it joins
 * the group). Its admin port; *total counts the tickets triaged.
 */
static int load_stack_up(struct stack *s, struct h_proc *d, const char *label, int *total)
{
	struct rlimit rl;
	int port;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ck_assert_int_eq(stack_start(s, &stack_pg, label, 4, NULL), 0);
	stack_env(s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(s, d, "daemon"), 0);
	port = stack_http_port(d);
	ck_assert_d(port > 0, d);
	*total = 0;
	(void)triage_rate(s, d, 2000, total, "warm-");
	return port;
}

/*
 * Triage throughput and /healthz latency: alone, with 200 data.json clients
 * looping, with a 1,500-connection slowloris, and with the daemon's soft
 * open-files limit lowered to what it has open plus the reserve plus 32 while
 * the slowloris knocks. Each phase triages N tickets (HTTP_LOAD_N, 12,000);
 * a baseline runs between every two load phases, and each load phase is
 * compared with the mean of the baselines either side of it, so that the
 * machine's drift is not counted as the load's cost. The figures are
 * printed (deploy/bench-style), not asserted.
 */
START_TEST(test_load)
{
	int N = getenv("HTTP_LOAD_N") ? atoi(getenv("HTTP_LOAD_N")) : 12000;
	static const struct {
		const char *name;
		int dash, think_ms, slow, fdlimit;
	} phases[] = {{"baseline", 0, 0, 0, 0},
		      {"200 dashboards, 1 req/s each", 200, 1000, 0, 0},
		      {"baseline", 0, 0, 0, 0},
		      {"200 dashboards, no pause", 200, 0, 0, 0},
		      {"baseline", 0, 0, 0, 0},
		      {"1500-connection slowloris", 0, 0, 1500, 0},
		      {"baseline", 0, 0, 0, 0},
		      {"at the open-files limit", 0, 0, 1500, 1},
		      {"baseline", 0, 0, 0, 0}};
	double rates[sizeof(phases) / sizeof(phases[0])], cpu[sizeof(phases) / sizeof(phases[0])];
	struct stack s;
	struct h_proc d;
	struct rlimit old_rl;
	int port, total = 0;
	double base = 0;

	if (getenv("HTTP_LOAD_BENCH") == NULL) {
		fprintf(stderr, "http: load figures not measured (set HTTP_LOAD_BENCH=1)\n");
		return;
	}
	port = load_stack_up(&s, &d, "httpload", &total);
	/* the dashboards alone, no triage: the daemon's CPU per data.json answer,
	 * a figure the machine's noise does not blur as it does throughput */
	for (int think = 1000; think >= 0; think -= 1000) {
		struct load *l = calloc(1, sizeof(*l));
		pthread_t th;
		double c0;
		l->port = port;
		l->dash_clients = 200;
		l->dash_think_ms = think;
		ck_assert_int_eq(pthread_create(&th, NULL, load_main, l), 0);
		usleep(1000 * 1000);
		c0 = h_proc_cpu_ms(d.pid);
		l->dash_done = 0;
		usleep(5000 * 1000);
		c0 = h_proc_cpu_ms(d.pid) - c0;
		{
			long long answers = l->dash_done;
			fprintf(stderr,
				"http: load idle daemon, 200 dashboards %s: %lld data.json answers in 5 s, "
				"daemon CPU %.0f ms = %.1f us per answer\n",
				think ? "at 1 req/s each" : "without pause", answers, c0,
				answers ? 1000.0 * c0 / (double)answers : 0.0);
		}
		l->stop = 1;
		pthread_join(th, NULL);
		free(l);
	}
	for (size_t p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
		struct load *l = calloc(1, sizeof(*l));
		pthread_t th, thz;
		char prefix[32];
		double rate, p50 = 0, p99 = 0;
		long long q0 = get_metric(port, NULL, "triaged_dashboard_queries_total"), q1;
		l->port = port;
		l->dash_clients = phases[p].dash;
		l->dash_think_ms = phases[p].think_ms;
		l->slow = phases[p].slow;
		if (phases[p].fdlimit) {
			/* the daemon's soft limit lowered to what it has open plus the
			 * default descriptor reserve plus 32, while 1,500 connections
			 * knock: the admin server runs out, triage must not */
			struct rlimit nl;
			long nfd = open_fds(d.pid);
			ck_assert_int_gt(nfd, 0);
			ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, NULL, &old_rl), 0);
			nl = old_rl;
			nl.rlim_cur = (rlim_t)nfd + 256 + 32;
			ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &nl, NULL), 0);
			fprintf(stderr, "http: daemon has %ld descriptors open; soft limit now %ld\n",
				nfd, (long)nl.rlim_cur);
		}
		ck_assert_int_eq(pthread_create(&th, NULL, load_main, l), 0);
		usleep(1000 * 1000);
		ck_assert_int_eq(pthread_create(&thz, NULL, hz_main, l), 0);
		snprintf(prefix, sizeof(prefix), "load%zu-", p);
		cpu[p] = h_proc_cpu_ms(d.pid);
		rate = triage_rate(&s, &d, N, &total, prefix);
		cpu[p] = (h_proc_cpu_ms(d.pid) - cpu[p]) / N; /* daemon CPU ms per ticket */
		l->stop = 1;
		pthread_join(th, NULL);
		pthread_join(thz, NULL);
		if (phases[p].fdlimit) {
			fprintf(stderr, "http: daemon had %ld descriptors open at the end of the phase\n",
				open_fds(d.pid));
			ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &old_rl, NULL), 0);
			usleep(2000 * 1000); /* the paused listener resumes */
		}
		q1 = get_metric(port, NULL, "triaged_dashboard_queries_total");
		{
			long long lag_n = get_metric(port, NULL, "triaged_loop_lag_seconds_count");
			long long lag_5 =
			    get_metric(port, NULL, "triaged_loop_lag_seconds_bucket{le=\"0.005\"}");
			fprintf(stderr, "http: loop lag so far: %lld of %lld ticks over 5 ms\n",
				lag_n - lag_5, lag_n);
		}
		if (l->hz_n > 0) {
			qsort(l->hz, (size_t)l->hz_n, sizeof(l->hz[0]), cmp_ll);
			p50 = (double)l->hz[l->hz_n / 2];
			p99 = (double)l->hz[(l->hz_n * 99) / 100];
		}
		rates[p] = rate;
		/* a load phase against the mean of the baselines either side of it */
		base = p == 0 ? rate : rates[p - 1];
		fprintf(stderr,
			"http: load %-30s %7.0f tickets/s (%5.1f%% of the baseline before)  /healthz p50 %.0f ms p99 "
			"%.0f ms max %lld ms failed %lld of %lld  data.json answers %lld, query rounds %lld"
			"  daemon fds %ld, daemon CPU %.3f ms/ticket\n",
			phases[p].name, rate, 100.0 * rate / base, p50, p99, l->hz_max, l->hz_fail,
			l->hz_n + l->hz_fail, l->dash_done, q1 - q0, open_fds(d.pid), cpu[p]);
		free(l);
	}
	fprintf(stderr, "http: load summary (each phase against the mean of the baselines either side):\n");
	for (size_t p = 1; p + 1 < sizeof(phases) / sizeof(phases[0]); p += 2)
		fprintf(stderr,
			"http: load   %-30s %5.1f%%  (baselines %.0f and %.0f tickets/s); daemon CPU per "
			"ticket %+.1f%% (%.3f ms against %.3f and %.3f)\n",
			phases[p].name, 200.0 * rates[p] / (rates[p - 1] + rates[p + 1]), rates[p - 1],
			rates[p + 1], 100.0 * (2.0 * cpu[p] / (cpu[p - 1] + cpu[p + 1]) - 1.0), cpu[p],
			cpu[p - 1], cpu[p + 1]);
	ck_assert_int_eq(stack_stop_daemon(&d, 60000), 0);
	stack_stop(&s);
}
END_TEST

/* This process's CPU time (all threads), ms: the dashboard clients' own cost on the same cores. */
static double self_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

/* Two-sided 95% Student t quantile for df degrees of freedom (df >= 1). */
static double median_of(const double *v, int n)
{
	double *w = malloc(sizeof(*w) * (size_t)n), m;
	memcpy(w, v, sizeof(*w) * (size_t)n);
	qsort(w, (size_t)n, sizeof(*w), h_cmp_double);
	m = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
	free(w);
	return m;
}

/*
 * The median of v and a 95% percentile-bootstrap interval for it (2,000
 * resamples, a fixed seed): robust to the odd phase that a checkpoint or an
 * autovacuum hits (single pairs range from 50% to 170% on a 2-core VM).
 */
static void median_ci(const double *v, int n, double *med, double *lo, double *hi)
{
	enum { B = 2000 };
	double *meds = malloc(sizeof(*meds) * B), *w = malloc(sizeof(*w) * (size_t)n);
	unsigned int seed = 1;
	*med = median_of(v, n);
	for (int b = 0; b < B; b++) {
		for (int i = 0; i < n; i++)
			w[i] = v[rand_r(&seed) % (unsigned)n];
		meds[b] = median_of(w, n);
	}
	qsort(meds, B, sizeof(*meds), h_cmp_double);
	*lo = meds[B / 40];
	*hi = meds[B - 1 - B / 40];
	free(meds);
	free(w);
}

static double t95(int df)
{
	static const double t[] = {0,	  12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
				   2.365, 2.306,  2.262, 2.228, 2.201, 2.179, 2.160,
				   2.145, 2.131,  2.120, 2.110, 2.101, 2.093, 2.086};
	if (df < 1)
		return 0;
	return df < (int)(sizeof(t) / sizeof(t[0])) ? t[df] : 2.0;
}

/*
 * The 200-dashboard cost as a paired comparison (#19: single phases swing
 * by more than the 5% asked, on this machine). HTTP_LOAD_PAIRS pairs
 * (default 8) of a baseline and a phase with 200 data.json clients, each
 * asking every HTTP_LOAD_THINK_MS (default 10,000: the page's own refresh,
 * dashboard.js REFRESH_MS; their first requests spread over that time),
 * HTTP_LOAD_N tickets (default 6,000) per phase, in ABBA
 * order (the table grows during the run: a drift cancels in each two
 * pairs). Prints each pair's ratio, their mean with a 95% confidence
 * interval, the daemon's CPU per ticket in both, and the loop lag; asserts
 * only that the answers flowed (the clients were really there).
 */
START_TEST(test_dash_pairs)
{
	int N = getenv("HTTP_LOAD_N") ? atoi(getenv("HTTP_LOAD_N")) : 6000;
	int K = getenv("HTTP_LOAD_PAIRS") ? atoi(getenv("HTTP_LOAD_PAIRS")) : 8;
	int think = getenv("HTTP_LOAD_THINK_MS") ? atoi(getenv("HTTP_LOAD_THINK_MS")) : 10000;
	struct stack s;
	struct h_proc d;
	int port, total = 0;
	double ratio[64], cpu_ratio[64], sum = 0, sumsq = 0, csum = 0, rb = 0, rd = 0;
	double client_ms[2] = {0, 0}, phase_ms[2] = {0, 0};
	long long answers = 0, bytes = 0;

	if (getenv("HTTP_LOAD_BENCH") == NULL) {
		fprintf(stderr, "http: dashboard pairs not measured (set HTTP_LOAD_BENCH=1)\n");
		return;
	}
	if (K < 2)
		K = 2;
	if (K > 64)
		K = 64;
	port = load_stack_up(&s, &d, "httppairs", &total);
	for (int k = 0; k < K; k++) {
		double rate[2], cpu[2];
		/* ABBA: even pairs baseline first, odd pairs dashboards first */
		for (int step = 0; step < 2; step++) {
			int dash = (k % 2 == 0) ? step : 1 - step;
			struct load *l = calloc(1, sizeof(*l));
			pthread_t th;
			char prefix[32];
			double c0, s0;
			long long t0;
			l->port = port;
			l->dash_clients = dash ? 200 : 0;
			l->dash_think_ms = think;
			l->dash_spread = 1;
			ck_assert_int_eq(pthread_create(&th, NULL, load_main, l), 0);
			usleep(1000 * 1000);
			snprintf(prefix, sizeof(prefix), "pair%d-%d-", k, dash);
			c0 = h_proc_cpu_ms(d.pid);
			s0 = self_cpu_ms();
			t0 = h_now_ms();
			rate[dash] = triage_rate(&s, &d, N, &total, prefix);
			cpu[dash] = (h_proc_cpu_ms(d.pid) - c0) / N;
			client_ms[dash] += self_cpu_ms() - s0;
			phase_ms[dash] += (double)(h_now_ms() - t0);
			l->stop = 1;
			pthread_join(th, NULL);
			if (dash) {
				answers += l->dash_done;
				bytes += l->dash_bytes;
			}
			free(l);
		}
		ratio[k] = rate[1] / rate[0];
		cpu_ratio[k] = cpu[1] / cpu[0];
		sum += ratio[k];
		sumsq += ratio[k] * ratio[k];
		csum += cpu_ratio[k];
		rb += rate[0];
		rd += rate[1];
		fprintf(stderr,
			"http: pair %2d (%s first): baseline %6.0f tickets/s, 200 dashboards %6.0f "
			"tickets/s = %5.1f%%; daemon CPU %.3f / %.3f ms/ticket\n",
			k + 1, k % 2 ? "dashboards" : "baseline", rate[0], rate[1], 100.0 * ratio[k],
			cpu[0], cpu[1]);
	}
	{
		double mean = sum / K, var = (sumsq - K * mean * mean) / (K - 1);
		double half = t95(K - 1) * sqrt(var > 0 ? var : 0) / sqrt((double)K);
		long long lag_n = get_metric(port, NULL, "triaged_loop_lag_seconds_count");
		long long lag_5 = get_metric(port, NULL, "triaged_loop_lag_seconds_bucket{le=\"0.005\"}");
		double med, mlo, mhi;
		median_ci(ratio, K, &med, &mlo, &mhi);
		fprintf(stderr,
			"http: dashboard pairs: median of pair ratios %.1f%% (bootstrap 95%% CI %.1f%% to "
			"%.1f%%)\n",
			100.0 * med, 100.0 * mlo, 100.0 * mhi);
		fprintf(stderr,
			"http: dashboard pairs: %d pairs of %d tickets: 200 dashboards, a request every "
			"%d ms each, give %.1f%% of the baseline's tickets/s (mean of pair ratios; 95%% CI %.1f%% to "
			"%.1f%%; pooled %.0f against %.0f tickets/s = %.1f%%); daemon CPU per ticket "
			"%+.1f%%; %lld data.json answers of %lld bytes on average; the test process "
			"(the clients, on the same cores) used %.0f ms of CPU per second in the dashboard "
			"phases against %.0f in the baselines; loop lag %lld of %lld ticks over 5 ms\n",
			K, N, think, 100.0 * mean, 100.0 * (mean - half), 100.0 * (mean + half), rd / K, rb / K,
			100.0 * rd / rb, 100.0 * (csum / K - 1.0), answers, answers ? bytes / answers : 0,
			1000.0 * client_ms[1] / (phase_ms[1] > 0 ? phase_ms[1] : 1),
			1000.0 * client_ms[0] / (phase_ms[0] > 0 ? phase_ms[0] : 1), lag_n - lag_5, lag_n);
	}
	ck_assert_int_gt(answers, 0);
	ck_assert_int_eq(stack_stop_daemon(&d, 60000), 0);
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
	    {"limits", test_limits},
	    {"emfile", test_emfile},
	    {"reserve", test_reserve},
	    {"load", test_load},
	    {"dash_pairs", test_dash_pairs},
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

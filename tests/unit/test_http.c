/*
 * Unit tests for http: the metrics exposition rendered from a struct
 * pipeline_stats and a struct pipeline_health (exact lines, cumulative
 * histogram buckets, format invariants), and http_new's startup checks
 * (address syntax, no non-loopback bind without a token), and requests
 * waiting for the dashboard's database, in process on loopback.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <event2/event.h>

#include "hist.h"
#include "http.h"
#include "looplag.h"
#include "metrics.h"
#include "routes.h"
#include "pipeline.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

/* The pipeline part of a snapshot, with the pipeline's state names (as snapshot.c fills it). */
static struct metrics_snapshot *new_stats(void)
{
	struct metrics_snapshot *st = calloc(1, sizeof(*st));
	ck_assert_ptr_nonnull(st);
	metrics_snapshot_init(st);
	st->nstates = JOB__STATES;
	for (size_t i = 0; i < JOB__STATES; i++)
		st->state_names[i] = job_state_name((enum job_state)i);
	return st;
}

/* The health part, kept apart in the tests; render() merges it. */
struct health {
	int db_up;
	size_t partitions;
	int draining, paused;
	int64_t consumer_lag;
	size_t mini_in_flight, mini_waiting, flagship_in_flight, flagship_waiting;
	size_t db_pending, dlq_pending;
};

static void health_init(struct health *hl)
{
	memset(hl, 0, sizeof(*hl));
	hl->consumer_lag = -1;
}

static void merge(struct metrics_snapshot *s, const struct health *hl)
{
	s->db_up = hl->db_up;
	s->partitions = hl->partitions;
	s->draining = hl->draining;
	s->paused = hl->paused;
	s->consumer_lag = hl->consumer_lag;
	s->mini_in_flight = hl->mini_in_flight;
	s->mini_waiting = hl->mini_waiting;
	s->flagship_in_flight = hl->flagship_in_flight;
	s->flagship_waiting = hl->flagship_waiting;
	s->db_pending = hl->db_pending;
	s->dlq_pending = hl->dlq_pending;
}

static int render_into(struct buf *b, struct metrics_snapshot *st, const struct health *hl)
{
	merge(st, hl);
	return metrics_render(b, st);
}

/* Render and return the text (caller frees). */
static char *render(struct metrics_snapshot *st, const struct health *hl)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	ck_assert_int_eq(render_into(&b, st, hl), 0);
	ck_assert_ptr_nonnull(b.data);
	return buf_steal(&b);
}

#define ck_assert_has(text, needle)                                                                \
	ck_assert_msg(strstr((text), (needle)) != NULL, "missing:\n%s\n--- in:\n%s", (needle),     \
		      (text))

START_TEST(test_counters_and_gauges)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	char *t;

	health_init(&hl);
	st->consumed = 50;
	st->dlq = 2;
	st->stored_pending_review = 45;
	st->stored_needs_human = 5;
	st->redelivered_done = 7;
	st->model_requests[TIER_MINI_MODEL] = 53;
	st->model_ok[TIER_MINI_MODEL] = 50;
	st->model_http_errors[TIER_MINI_MODEL] = 2;
	st->model_transport_errors[TIER_MINI_MODEL] = 1;
	st->model_invalid[TIER_FLAGSHIP_MODEL] = 4;
	st->retries[TIER_MINI_MODEL] = 3;
	st->http_429[TIER_MINI_MODEL] = 2;
	st->repairs[TIER_MINI_MODEL] = 1;
	st->db_rejected = 9;
	st->redactions[3] = 8;
	st->breaker_opens[TIER_FLAGSHIP_MODEL] = 2;
	st->breaker_state[TIER_MINI_MODEL] = 1;
	st->in_flight = 3;
	st->misconfigured_now[TIER_MINI_MODEL] = 1;
	st->misconfigs[TIER_MINI_MODEL] = 2;
	st->intake_skipped[1] = 6;
	st->intake_flagged[3] = 4;
	st->intake_prompt_bytes_in = 1000;
	st->intake_prompt_bytes_out = 900;
	st->state_count[JOB_MODEL] = 2;
	st->state_count[JOB_STORE] = 1;
	hl.db_up = 1;
	hl.partitions = 4;
	hl.paused = 0;
	hl.mini_in_flight = 2;
	hl.mini_waiting = 6;
	hl.db_pending = 11;
	hl.dlq_pending = 1;
	st->db_rounds = 40;
	st->db_round_items = 900;
	st->db_rounds_held = 7;
	t = render(st, &hl);

	ck_assert_has(t, "# HELP triaged_tickets_consumed_total Messages consumed from the intake "
			 "topic.\n"
			 "# TYPE triaged_tickets_consumed_total counter\n"
			 "triaged_tickets_consumed_total 50\n");
	ck_assert_has(t, "\ntriaged_dlq_total 2\n");
	ck_assert_has(t, "# TYPE triaged_tickets_stored_total counter\n"
			 "triaged_tickets_stored_total{status=\"pending_review\"} 45\n"
			 "triaged_tickets_stored_total{status=\"needs_human\"} 5\n");
	ck_assert_has(t, "\ntriaged_redelivered_total 7\n");
	ck_assert_has(t, "# TYPE triaged_model_requests_total counter\n"
			 "triaged_model_requests_total{tier=\"mini\"} 53\n"
			 "triaged_model_requests_total{tier=\"flagship\"} 0\n");
	ck_assert_has(t, "triaged_model_outcomes_total{tier=\"mini\",outcome=\"ok\"} 50\n"
			 "triaged_model_outcomes_total{tier=\"flagship\",outcome=\"ok\"} 0\n"
			 "triaged_model_outcomes_total{tier=\"mini\",outcome=\"http_error\"} 2\n");
	ck_assert_has(
	    t, "triaged_model_outcomes_total{tier=\"mini\",outcome=\"transport_error\"} 1\n");
	ck_assert_has(t, "triaged_model_outcomes_total{tier=\"flagship\",outcome=\"invalid\"} 4\n");
	ck_assert_has(t, "\ntriaged_model_retries_total{tier=\"mini\"} 3\n");
	ck_assert_has(t, "\ntriaged_model_http_429_total{tier=\"mini\"} 2\n");
	ck_assert_has(t, "\ntriaged_repairs_total{tier=\"mini\"} 1\n");
	ck_assert_has(t, "\ntriaged_db_rejected_total 9\n");
	ck_assert_has(t, "# TYPE triaged_in_flight gauge\ntriaged_in_flight 3\n");
	ck_assert_has(t, "triaged_redactions_total{kind=\"card\"} 0\n"
			 "triaged_redactions_total{kind=\"iban\"} 8\n");
	ck_assert_has(t, "triaged_breaker_opens_total{tier=\"flagship\"} 2\n");
	ck_assert_has(t, "# TYPE triaged_breaker_state gauge\n"
			 "triaged_breaker_state{tier=\"mini\"} 1\n"
			 "triaged_breaker_state{tier=\"flagship\"} 0\n");
	ck_assert_has(t, "# TYPE triaged_model_misconfigured gauge\n"
			 "triaged_model_misconfigured{tier=\"mini\"} 1\n"
			 "triaged_model_misconfigured{tier=\"flagship\"} 0\n");
	ck_assert_has(t, "triaged_model_misconfigured_total{tier=\"mini\"} 2\n");
	ck_assert_has(t, "triaged_intake_skipped_total{reason=\"tombstone\"} 0\n"
			 "triaged_intake_skipped_total{reason=\"nothing_to_triage\"} 6\n");
	ck_assert_has(t, "triaged_intake_flagged_total{field=\"created_at\"} 4\n");
	ck_assert_has(t, "triaged_intake_prompt_bytes_total{stage=\"in\"} 1000\n"
			 "triaged_intake_prompt_bytes_total{stage=\"out\"} 900\n");
	ck_assert_has(t, "triaged_tickets_by_state{state=\"claim\"} 0\n");
	ck_assert_has(t, "triaged_tickets_by_state{state=\"model\"} 2\n");
	ck_assert_has(t, "triaged_tickets_by_state{state=\"store\"} 1\n");
	ck_assert_has(t,
		      "# TYPE triaged_partitions_assigned gauge\ntriaged_partitions_assigned 4\n");
	ck_assert_has(t, "\ntriaged_db_up 1\n");
	ck_assert_has(t, "\ntriaged_intake_paused 0\n");
	ck_assert_has(t, "\ntriaged_mini_in_flight 2\n");
	ck_assert_has(t, "\ntriaged_mini_waiting 6\n");
	ck_assert_has(t, "\ntriaged_db_pending 11\n");
	ck_assert_has(t, "# TYPE triaged_db_rounds_total counter\ntriaged_db_rounds_total 40\n");
	ck_assert_has(t, "\ntriaged_db_round_items_total 900\n");
	ck_assert_has(t, "\ntriaged_db_rounds_held_total 7\n");
	ck_assert_has(t, "\ntriaged_dlq_pending 1\n");
	ck_assert_has(t, "# TYPE triaged_build_info gauge\n"
			 "triaged_build_info{version=\"" TRIAGED_VERSION "\"} 1\n");
	/* an unknown lag is left out, family and all */
	ck_assert_ptr_null(strstr(t, "triaged_consumer_lag"));
	/* no relay (or not read yet): no backlog gauges */
	ck_assert_ptr_null(strstr(t, "triaged_outbox_backlog"));
	ck_assert_ptr_null(strstr(t, "triaged_outbox_oldest_unsent"));
	free(t);

	/* the helpdesk round trip (#12) */
	st->outbox_sent = 6;
	st->outbox_produce_retries = 2;
	st->outbox_errors = 1;
	st->outbox_up = 1;
	st->outbox_backlog = 3;
	st->outbox_oldest_unsent_s = 2;
	st->feedback_consumed = 6;
	st->feedback_recorded = 3;
	st->feedback_duplicates = 2;
	st->feedback_skipped = 1;
	t = render(st, &hl);
	ck_assert_has(t, "# TYPE triaged_outbox_events_sent_total counter\n"
			 "triaged_outbox_events_sent_total 6\n");
	ck_assert_has(t, "\ntriaged_outbox_produce_retries_total 2\n");
	ck_assert_has(t, "\ntriaged_outbox_errors_total 1\n");
	ck_assert_has(t, "\ntriaged_outbox_up 1\n");
	ck_assert_has(t, "# TYPE triaged_outbox_backlog gauge\ntriaged_outbox_backlog 3\n");
	ck_assert_has(t, "\ntriaged_outbox_oldest_unsent_seconds 2\n");
	ck_assert_has(t, "\ntriaged_feedback_consumed_total 6\n");
	ck_assert_has(t, "# TYPE triaged_feedback_events_total counter\n"
			 "triaged_feedback_events_total{outcome=\"recorded\"} 3\n"
			 "triaged_feedback_events_total{outcome=\"duplicate\"} 2\n"
			 "triaged_feedback_events_total{outcome=\"ignored\"} 0\n"
			 "triaged_feedback_events_total{outcome=\"skipped\"} 1\n"
			 "triaged_feedback_events_total{outcome=\"rejected\"} 0\n");
	ck_assert_has(t, "# TYPE triaged_feedback_dead_letters_total counter\n"
			 "triaged_feedback_dead_letters_total 0\n");
	free(t);

	hl.consumer_lag = 17;
	t = render(st, &hl);
	ck_assert_has(t, "# TYPE triaged_consumer_lag gauge\ntriaged_consumer_lag 17\n");
	free(t);
	free(st);
}
END_TEST

START_TEST(test_histogram_buckets)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	char *t;

	health_init(&hl);
	/* ms: two under 1 ms, 3 ms, 40 ms, 2 s, and 100 s (beyond the last bound) */
	hist_add(&st->e2e_ms, 0.5);
	hist_add(&st->e2e_ms, 0.5);
	hist_add(&st->e2e_ms, 3);
	hist_add(&st->e2e_ms, 40);
	hist_add(&st->e2e_ms, 2000);
	hist_add(&st->e2e_ms, 100000);
	t = render(st, &hl);
	ck_assert_has(t, "# HELP triaged_ticket_seconds Time from receiving a ticket to done.\n"
			 "# TYPE triaged_ticket_seconds histogram\n"
			 "triaged_ticket_seconds_bucket{le=\"0.001\"} 2\n"
			 "triaged_ticket_seconds_bucket{le=\"0.0025\"} 2\n"
			 "triaged_ticket_seconds_bucket{le=\"0.005\"} 3\n"
			 "triaged_ticket_seconds_bucket{le=\"0.01\"} 3\n"
			 "triaged_ticket_seconds_bucket{le=\"0.025\"} 3\n"
			 "triaged_ticket_seconds_bucket{le=\"0.05\"} 4\n"
			 "triaged_ticket_seconds_bucket{le=\"0.1\"} 4\n"
			 "triaged_ticket_seconds_bucket{le=\"0.25\"} 4\n"
			 "triaged_ticket_seconds_bucket{le=\"0.5\"} 4\n"
			 "triaged_ticket_seconds_bucket{le=\"1\"} 4\n"
			 "triaged_ticket_seconds_bucket{le=\"2.5\"} 5\n"
			 "triaged_ticket_seconds_bucket{le=\"5\"} 5\n"
			 "triaged_ticket_seconds_bucket{le=\"10\"} 5\n"
			 "triaged_ticket_seconds_bucket{le=\"30\"} 5\n"
			 "triaged_ticket_seconds_bucket{le=\"60\"} 5\n"
			 "triaged_ticket_seconds_bucket{le=\"+Inf\"} 6\n"
			 "triaged_ticket_seconds_sum 102.044\n"
			 "triaged_ticket_seconds_count 6\n");
	/* the empty ones are there, all zero */
	ck_assert_has(t, "# TYPE triaged_model_wait_seconds histogram\n"
			 "triaged_model_wait_seconds_bucket{le=\"0.001\"} 0\n");
	ck_assert_has(t, "triaged_model_wait_seconds_bucket{le=\"+Inf\"} 0\n"
			 "triaged_model_wait_seconds_sum 0\n"
			 "triaged_model_wait_seconds_count 0\n");
	ck_assert_has(t, "# TYPE triaged_added_latency_seconds histogram\n");
	free(t);
	free(st);
}
END_TEST

/* Whatever the values, buckets are cumulative and end at the count. */
START_TEST(test_histogram_cumulative)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	uint64_t rng = 0x9e3779b97f4a7c15ull, prev = 0, n;
	char *t, *p, *line;
	int buckets = 0;

	health_init(&hl);
	for (int i = 0; i < 5000; i++)
		hist_add(&st->added_ms, (double)(rng_next(&rng) % 90000000) / 1000.0);
	t = render(st, &hl);
	p = t;
	while ((line = strstr(p, "triaged_added_latency_seconds_bucket{le=\"")) != NULL) {
		char *sp = strchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		n = strtoull(sp + 1, NULL, 10);
		ck_assert_uint_ge(n, prev);
		prev = n;
		buckets++;
		p = sp;
	}
	ck_assert_int_eq(buckets, 16);
	ck_assert_uint_eq(prev, 5000);
	ck_assert_has(t, "triaged_added_latency_seconds_count 5000\n");
	free(t);
	free(st);
}
END_TEST

/* Every sample belongs to a family announced once by HELP and TYPE just before its samples. */
START_TEST(test_format_invariants)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	char *t, *line, *nl, family[128] = "", seen[8192] = " ";
	int samples = 0;

	health_init(&hl);
	hl.consumer_lag = 0;
	t = render(st, &hl);
	ck_assert_int_eq(t[strlen(t) - 1], '\n');
	for (line = t; *line; line = nl + 1) {
		char name[128], type[32];
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", name), 1);
			ck_assert_msg(strlen(line) > 7 + strlen(name) + 1, "empty help: %s", line);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char key[140];
			ck_assert_int_eq(sscanf(line + 7, "%127s %31s", name, type), 2);
			ck_assert_msg(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
					  strcmp(type, "histogram") == 0,
				      "type %s", type);
			ck_assert_msg(strcmp(type, "counter") != 0 ||
					  strstr(name, "_total") == name + strlen(name) - 6,
				      "counter without _total: %s", name);
			snprintf(key, sizeof(key), " %s ", name);
			ck_assert_msg(strstr(seen, key) == NULL, "family twice: %s", name);
			ck_assert_uint_lt(strlen(seen) + strlen(key), sizeof(seen));
			memcpy(seen + strlen(seen), key + 1, strlen(key)); /* with its NUL */
			snprintf(family, sizeof(family), "%s", name);
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment %s", line);
		ck_assert_msg(strncmp(line, family, strlen(family)) == 0 && family[0],
			      "sample %s outside its family %s", line, family);
		ck_assert_msg(strncmp(line, "triaged_", 8) == 0, "%s", line);
		samples++;
	}
	ck_assert_int_gt(samples, 60);
	free(t);
	free(st);
}
END_TEST

START_TEST(test_cap)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	struct buf b;
	health_init(&hl);
	buf_init(&b, 200);
	ck_assert_int_eq(render_into(&b, st, &hl), -1);
	ck_assert_uint_le(b.len, 200);
	buf_cleanup(&b);
	free(st);
}
END_TEST

static int ipv6_loopback_available(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;
	struct sockaddr_in6 a;
	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

START_TEST(test_new_checks)
{
	struct event_base *base = event_base_new();
	struct http *h;
	char err[256];

	ck_assert_ptr_nonnull(base);
	/* loopback without a token: fine, port 0 picks one */
	h = http_new(base, "127.0.0.1:0", NULL, NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_gt(http_port(h), 0);
	http_free(h);
	h = http_new(base, "localhost:0", "", NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	http_free(h);
	/* every interface without a token: refused at startup */
	err[0] = '\0';
	h = http_new(base, "0.0.0.0:0", NULL, NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_null(h);
	ck_assert_msg(strstr(err, "not a loopback address") != NULL, "%s", err);
	h = http_new(base, "0.0.0.0:0", "", NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_null(h);
	/* with a token it is allowed */
	h = http_new(base, "0.0.0.0:0", "s3cret", NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_gt(http_port(h), 0);
	http_free(h);
	/* syntax */
	ck_assert_ptr_null(http_new(base, "nonsense", NULL, NULL, NULL, NULL, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "host:port") != NULL, "%s", err);
	ck_assert_ptr_null(http_new(base, "127.0.0.1:99999", NULL, NULL, NULL, NULL, NULL, err, sizeof(err)));
	ck_assert_ptr_null(http_new(base, "[::1:0", NULL, NULL, NULL, NULL, NULL, err, sizeof(err)));
	ck_assert_ptr_null(http_new(base, ":80", NULL, NULL, NULL, NULL, NULL, err, sizeof(err)));
	if (ipv6_loopback_available()) {
		h = http_new(base, "[::1]:0", NULL, NULL, NULL, NULL, NULL, err, sizeof(err));
		ck_assert_msg(h != NULL, "%s", err);
		ck_assert_int_gt(http_port(h), 0);
		http_free(h);
	} else {
		fprintf(stderr, "test_new_checks: no IPv6 loopback here, [::1] case not run\n");
	}
	http_free(NULL);
	ck_assert_int_eq(http_port(NULL), -1);
	event_base_free(base);
}
END_TEST


static int client_send(int port, const char *request)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	return fd;
}

static void run_loop(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* What the server has sent so far (the loop is not running: nothing more comes). */
static void client_read(int fd, char *out, size_t outlen)
{
	size_t n = 0;
	ssize_t k;
	while (n + 1 < outlen && (k = recv(fd, out + n, outlen - 1 - n, MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	out[n] = '\0';
}

/* Run the loop in small steps until fd has something to read (or max_ms). */
static void wait_reply(struct event_base *base, int fd, char *out, size_t outlen, int max_ms)
{
	out[0] = '\0';
	for (int t = 0; t < max_ms && out[0] == '\0'; t += 50) {
		run_loop(base, 50);
		client_read(fd, out, outlen);
	}
}

#define DATA_REQ "GET /dashboard/data.json HTTP/1.1\r\nHost: t\r\n\r\n"

/* Without a database engine data.json is a 503 with JSON; the page and its files are served. */
START_TEST(test_dashboard_no_db)
{
	struct event_base *base = event_base_new();
	struct http *h;
	char err[256], got[8192];
	int a;

	h = http_new(base, "127.0.0.1:0", NULL, NULL, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	a = client_send(http_port(h), DATA_REQ);
	wait_reply(base, a, got, sizeof(got), 2000);
	ck_assert_msg(strncmp(got, "HTTP/1.1 503 ", 13) == 0, "%s", got);
	ck_assert_msg(strstr(got, "{\"error\":\"database unavailable\",\"detail\":\"no database "
				  "configured\"}") != NULL,
		      "%s", got);
	close(a);
	a = client_send(http_port(h), "GET /dashboard HTTP/1.1\r\nHost: t\r\n\r\n");
	wait_reply(base, a, got, sizeof(got), 2000);
	ck_assert_msg(strncmp(got, "HTTP/1.1 200 ", 13) == 0, "%s", got);
	ck_assert_msg(strstr(got, "script-src 'self'; style-src 'self'") != NULL, "%s", got);
	ck_assert_ptr_null(strstr(got, "unsafe-inline"));
	close(a);
	http_free(h);
	event_base_free(base);
}
END_TEST

/* The route and auth table: path x method x credentials -> handler or refusal. */
START_TEST(test_routes_table)
{
	static const struct {
		const char *path;
		int is_read;
		const char *authz, *query, *token;
		int status;
		enum route_id route;
	} cases[] = {
	    {"/healthz", 1, NULL, NULL, "t0k", 0, ROUTE_HEALTHZ},
	    {"/readyz", 1, NULL, NULL, "t0k", 0, ROUTE_READYZ},
	    {"/healthz", 0, NULL, NULL, NULL, 405, ROUTE_HEALTHZ},
	    {"/metrics", 1, NULL, NULL, NULL, 0, ROUTE_METRICS},
	    {"/metrics", 1, NULL, NULL, "", 0, ROUTE_METRICS},
	    {"/metrics", 1, NULL, NULL, "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, "Bearer t0k", NULL, "t0k", 0, ROUTE_METRICS},
	    {"/metrics", 1, "bearer \t t0k", NULL, "t0k", 0, ROUTE_METRICS},
	    {"/metrics", 1, "Bearer t0", NULL, "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, "Bearer t0kk", NULL, "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, "Basic t0k", NULL, "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, "Bearert0k", NULL, "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, NULL, "token=t0k", "t0k", 0, ROUTE_METRICS},
	    {"/metrics", 1, NULL, "a=1&token=t%30k", "t0k", 0, ROUTE_METRICS},
	    {"/metrics", 1, NULL, "token=t0k%00", "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 1, NULL, "xtoken=t0k", "t0k", 401, ROUTE_METRICS},
	    {"/metrics", 0, "Bearer t0k", NULL, "t0k", 405, ROUTE_METRICS},
	    {"/metrics", 0, NULL, NULL, "t0k", 405, ROUTE_METRICS},
	    {"/metrics/", 1, "Bearer t0k", NULL, "t0k", 404, ROUTE_NONE},
	    {"/nope", 1, NULL, NULL, NULL, 404, ROUTE_NONE},
	    {"", 1, NULL, NULL, NULL, 404, ROUTE_NONE},
	    {"/dashboard", 1, NULL, NULL, "t0k", 401, ROUTE_DASHBOARD},
	    {"/dashboard", 1, NULL, "token=t0k", "t0k", 0, ROUTE_DASHBOARD},
	    {"/dashboard/data.json", 1, NULL, NULL, "t0k", 401, ROUTE_DASH_DATA},
	    {"/dashboard/data.json", 1, "Bearer t0k", NULL, "t0k", 0, ROUTE_DASH_DATA},
	    {"/dashboard/dashboard.js", 1, NULL, NULL, "t0k", 0, ROUTE_DASH_ASSET},
	    {"/dashboard/dashboard.css", 1, NULL, NULL, "t0k", 0, ROUTE_DASH_ASSET},
	    {"/dashboard/data.sql", 1, NULL, NULL, NULL, 404, ROUTE_NONE},
	    {"/dashboard/../metrics", 1, NULL, NULL, "t0k", 404, ROUTE_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route_decision d = routes_decide(cases[i].path, cases[i].is_read,
							cases[i].authz, cases[i].query,
							cases[i].token);
		ck_assert_msg(d.status == cases[i].status && d.route == cases[i].route,
			      "case %zu (%s): status %d route %d, want %d %d", i, cases[i].path,
			      d.status, (int)d.route, cases[i].status, (int)cases[i].route);
	}
	ck_assert_str_eq(routes_decide("/dashboard/dashboard.js", 1, NULL, NULL, NULL).asset,
			 "dashboard.js");
	ck_assert(routes_token_eq("abc", "abc"));
	ck_assert(!routes_token_eq("abcd", "abc"));
	ck_assert(!routes_token_eq("", "abc"));
}
END_TEST

/* The loop-lag histogram is exported only when present, in seconds. */
START_TEST(test_loop_lag)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	char *t;
	health_init(&hl);
	t = render(st, &hl);
	ck_assert_ptr_null(strstr(t, "loop_lag"));
	ck_assert_ptr_null(strstr(t, "loop_run_delay"));
	free(t);
	st->has_loop_lag = 1;
	hist_add(&st->loop_lag_ms, 0.2);
	hist_add(&st->loop_lag_ms, 3);
	hist_add(&st->loop_lag_ms, 40);
	st->http_open = 7;
	st->http_head_cut = 3;
	st->http_idle_cut = 5;
	t = render(st, &hl);
	ck_assert_has(t, "# TYPE triaged_loop_lag_seconds histogram\n");
	ck_assert_has(t, "\ntriaged_loop_lag_seconds_bucket{le=\"0.001\"} 1\n");
	ck_assert_has(t, "\ntriaged_loop_lag_seconds_bucket{le=\"0.005\"} 2\n");
	ck_assert_has(t, "\ntriaged_loop_lag_seconds_count 3\n");
	ck_assert_ptr_null(strstr(t, "loop_run_delay")); /* unknown: not exported */
	ck_assert_has(t, "\ntriaged_http_connections 7\n");
	free(t);
	st->loop_cpu_s = 12.5;
	st->loop_run_delay_s = 0.25;
	t = render(st, &hl);
	ck_assert_has(t, "# TYPE triaged_loop_cpu_seconds_total counter\n");
	ck_assert_has(t, "\ntriaged_loop_cpu_seconds_total 12.500000\n");
	ck_assert_has(t, "# TYPE triaged_loop_run_delay_seconds_total counter\n");
	ck_assert_has(t, "\ntriaged_loop_run_delay_seconds_total 0.250000\n");
	ck_assert_has(t, "\ntriaged_http_connections_total{event=\"head_deadline\"} 3\n");
	ck_assert_has(t, "\ntriaged_http_connections_total{event=\"keepalive_idle\"} 5\n");
	free(t);
	free(st);
}
END_TEST

/* The loop thread's schedstat: its CPU time grows as it works; a thread not ours reads as unknown. */
START_TEST(test_loop_schedstat)
{
	double c0, d0, c1, d1;
	long tid = (long)syscall(SYS_gettid);
	volatile unsigned long spin = 0;

	if (access("/proc/self/schedstat", R_OK) != 0) {
		/* a kernel without schedstats: unknown, both -1 */
		ck_assert_int_eq(looplag_schedstat(tid, &c0, &d0), -1);
		ck_assert(c0 == -1 && d0 == -1);
		return;
	}
	ck_assert_int_eq(looplag_schedstat(tid, &c0, &d0), 0);
	for (unsigned long i = 0; i < 50000000UL; i++)
		spin += i;
	ck_assert_int_eq(looplag_schedstat(tid, &c1, &d1), 0);
	ck_assert(c0 >= 0 && d0 >= 0);
	ck_assert(c1 > c0);  /* the loop above ran on a CPU */
	ck_assert(d1 >= d0); /* a counter */
	ck_assert_int_eq(looplag_schedstat(999999999L, &c1, &d1), -1);
	ck_assert(c1 == -1 && d1 == -1);
}
END_TEST

/* The shadow tier's counters (issue #13): abandoned calls are visible, by outcome. */
START_TEST(test_shadow_metrics)
{
	struct metrics_snapshot *st = new_stats();
	struct health hl;
	char *t;
	health_init(&hl);
	st->shadow_picked = 30;
	st->shadow_answered = 12;
	st->shadow_abandoned = 18;
	st->shadow_stored = 12;
	st->shadow_skipped_draining = 4;
	st->shadow_in_flight = 2;
	t = render(st, &hl);
	ck_assert_has(t, "# TYPE triaged_shadow_calls_total counter\n");
	ck_assert_has(t, "\ntriaged_shadow_picked_total 30\n");
	ck_assert_has(t, "\ntriaged_shadow_calls_total{outcome=\"answered\"} 12\n");
	ck_assert_has(t, "\ntriaged_shadow_calls_total{outcome=\"abandoned\"} 18\n");
	ck_assert_has(t, "\ntriaged_shadow_calls_total{outcome=\"invalid\"} 0\n");
	ck_assert_has(t, "\ntriaged_shadow_stored_total{result=\"ok\"} 12\n");
	ck_assert_has(t, "\ntriaged_shadow_skipped_total{reason=\"draining\"} 4\n");
	ck_assert_has(t, "\ntriaged_shadow_in_flight 2\n");
	free(t);
	free(st);
}
END_TEST

/* /readyz over a snapshot the test sets: the fields of a ready daemon, and events failing for fail_s. */
static double fail_s;
static void ready_snap(void *arg, struct metrics_snapshot *s)
{
	(void)arg;
	s->partitions = 4;
	s->db_up = 1;
	if (fail_s > 0) {
		s->produce_failing = 3;
		s->produce_oldest_s = (int64_t)fail_s;
		snprintf(s->produce_stuck, sizeof(s->produce_stuck),
			 "tickets.triaged: TOPIC_AUTHORIZATION_FAILED for %.0f s", fail_s);
	}
}

/*
 * Events that cannot be produced hold their tickets' offsets, and so intake:
 * /readyz fails from 30 s (events_flowing) and names the topic and the error.
 * Before, only a log line a second told.
 */
START_TEST(test_readyz_events_flowing)
{
	static const double cases[] = {0, 29, 45};
	struct event_base *base = event_base_new();
	struct http *h;
	char err[256], got[8192];

	h = http_new(base, "127.0.0.1:0", NULL, NULL, ready_snap, NULL, NULL, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int a;
		fail_s = cases[i];
		a = client_send(http_port(h), "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n");
		wait_reply(base, a, got, sizeof(got), 2000);
		if (fail_s < 30) {
			ck_assert_msg(strncmp(got, "HTTP/1.1 200 ", 13) == 0, "%s", got);
			ck_assert_msg(strstr(got, "\"events_flowing\":true") != NULL, "%s", got);
			ck_assert_ptr_null(strstr(got, "events_stuck"));
		} else {
			ck_assert_msg(strncmp(got, "HTTP/1.1 503 ", 13) == 0, "%s", got);
			ck_assert_msg(strstr(got, "\"failed\":[\"events_flowing\"]") != NULL, "%s", got);
			ck_assert_msg(strstr(got, "\"events_stuck\":\"tickets.triaged: "
						  "TOPIC_AUTHORIZATION_FAILED for 45 s\"") != NULL,
				      "%s", got);
		}
		close(a);
	}
	http_free(h);
	event_base_free(base);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, test_counters_and_gauges);
	tcase_add_test(tc, test_shadow_metrics);
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_histogram_cumulative);
	tcase_add_test(tc, test_format_invariants);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	tc = tcase_create("new");
	tcase_add_test(tc, test_new_checks);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_routes_table);
	tcase_add_test(tc, test_loop_lag);
	tcase_add_test(tc, test_loop_schedstat);
	tc = tcase_create("dashboard");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_dashboard_no_db);
	tcase_add_test(tc, test_readyz_events_flowing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

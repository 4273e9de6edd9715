/*
 * dashboard: see dashboard.h. Owns the data.json snapshot and the requests
 * waiting for its refresh. The SQL lives in dashboard/data.sql and
 * dashboard/cost.sql (embedded); this file only runs it.
 */
#include "dashboard.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/keyvalq_struct.h>

#include "dashboard_files.h"
#include "http_reply.h"
#include "log.h"
#include "xmem.h"

#define DASH_BODY_CAP (4u << 20) /* data.json answers at most this much */
#define DASH_MAX_WAITERS 1024	 /* requests waiting for one refresh */

/* Sent by the page only: script and style are files, so no 'unsafe-inline'. */
#define DASH_CSP                                                                             \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "     \
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct waiter {
	struct dashboard *d;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct waiter *prev, *next;
};

struct dashboard {
	struct event_base *base;
	struct db *db;
	int64_t interval_ms;
	const char *sql[3]; /* statement timeout, data.sql, cost.sql */
	int running;
	struct http_shared *snap; /* the last answer, errors too */
	int snap_status;
	int64_t snap_ms;
	struct waiter *whead, *wtail;
	size_t nwait;
	uint64_t queries;
	const char *live_key; /* issue #15.2: a live figure added to data.json */
	dashboard_live_fn *live;
	void *live_arg;
};

void dashboard_set_live(struct dashboard *d, const char *key, dashboard_live_fn *fn, void *arg)
{
	if (d == NULL)
		return;
	d->live_key = key;
	d->live = fn;
	d->live_arg = arg;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct dashboard_file *file_named(const char *name)
{
	for (size_t i = 0; i < dashboard_nfiles; i++)
		if (strcmp(dashboard_files[i].name, name) == 0)
			return &dashboard_files[i];
	return NULL;
}

static const char *ctype_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (dot && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	return "application/octet-stream";
}

void dashboard_serve_file(struct evhttp_request *req, const char *name)
{
	const struct dashboard_file *f = file_named(name);
	if (f == NULL || strstr(name, ".sql")) {
		http_reply_error(req, 404, "not found", NULL);
		return;
	}
	if (strcmp(name, "index.html") == 0) {
		struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
		evhttp_add_header(oh, "Content-Security-Policy", DASH_CSP);
		evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
	}
	http_reply(req, 200, ctype_of(name), (const char *)f->data, f->len, NULL);
}

/* ---------------------------------------------------------------- waiters */

static void waiter_unlink(struct dashboard *d, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		d->whead = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		d->wtail = w->prev;
	d->nwait--;
	free(w);
}

/*
 * The client's connection is going away while its request waits. If
 * libevent detached the request (EOF or timeout while we held it), the
 * request is ours to free; otherwise libevent frees it with the connection.
 */
static void waiter_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct waiter *w = arg;
	if (evhttp_request_get_connection(w->req) == NULL)
		evhttp_request_free(w->req);
	waiter_unlink(w->d, w);
}

static void waiter_add(struct dashboard *d, struct evhttp_request *req)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	w->d = d;
	w->req = req;
	w->evcon = evhttp_request_get_connection(req);
	w->prev = d->wtail;
	if (d->wtail)
		d->wtail->next = w;
	else
		d->whead = w;
	d->wtail = w;
	d->nwait++;
	if (w->evcon)
		evhttp_connection_set_closecb(w->evcon, waiter_closecb, w);
}

static void answer(struct evhttp_request *req, int status, struct http_shared *body)
{
	http_reply(req, status, "application/json", body->data, body->len, body);
}

static void waiters_answer(struct dashboard *d)
{
	struct waiter *w;
	while ((w = d->whead) != NULL) {
		struct evhttp_request *req = w->req;
		if (w->evcon)
			evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		waiter_unlink(d, w);
		answer(req, d->snap_status, d->snap);
	}
}

/* --------------------------------------------------------------- snapshot */

static void snap_set(struct dashboard *d, int status, struct http_shared *body)
{
	http_shared_unref(d->snap);
	d->snap = body;
	d->snap_status = status;
	d->snap_ms = mono_ms();
	d->running = 0;
	waiters_answer(d);
}

static void snap_error(struct dashboard *d, int status, const char *error, const char *detail)
{
	char q[512];
	log_warn("dashboard query failed", "status=%d error=%s", status,
		 log_quote(q, sizeof(q), detail ? detail : error));
	snap_set(d, status, http_shared_error(error, detail));
}

/* Connection-level trouble shows as these SQLSTATE classes: the database is unavailable. */
static int sqlstate_unavailable(const char *s)
{
	return s &&
	       (strncmp(s, "08", 2) == 0 || strncmp(s, "57", 2) == 0 || strncmp(s, "53", 2) == 0);
}

static void on_read(void *arg, const struct db_read_result *res, int n, const char *err)
{
	struct dashboard *d = arg;
	const struct db_read_result *m, *c;
	const char *cost = "null";
	size_t clen = 4;
	char detail[1024];

	if (res == NULL || n != 3) {
		snap_error(d, 503, "database unavailable", err ? err : "no answer");
		return;
	}
	m = &res[1];
	c = &res[2];
	if (res[0].error || m->error) {
		const struct db_read_result *f = res[0].error ? &res[0] : m;
		snprintf(detail, sizeof(detail), "%s: %s", f->sqlstate && *f->sqlstate ? f->sqlstate : "-",
			 f->error);
		if (sqlstate_unavailable(f->sqlstate))
			snap_error(d, 503, "database unavailable", detail);
		else
			snap_error(d, 500, "query failed", detail);
		return;
	}
	if (m->value == NULL || m->len < 2 || m->value[m->len - 1] != '}') {
		snap_error(d, 500, "query failed", "no data returned");
		return;
	}
	if (m->len > DASH_BODY_CAP) {
		snprintf(detail, sizeof(detail), "data larger than %u bytes", DASH_BODY_CAP);
		snap_error(d, 500, "query failed", detail);
		return;
	}
	if (c->error) {
		/* 42P01: no metrics_cost_daily yet; anything else is logged, cost stays null */
		if (c->sqlstate == NULL || strcmp(c->sqlstate, "42P01") != 0) {
			char q[512];
			log_warn("dashboard cost query failed", "sqlstate=%s error=%s",
				 c->sqlstate ? c->sqlstate : "-", log_quote(q, sizeof(q), c->error));
		}
	} else if (c->value && m->len + c->len <= DASH_BODY_CAP) {
		cost = c->value;
		clen = c->len;
	}
	{
		/* {...main...} -> {...main..., "cost": <cost>[, "<live_key>": <live>]} */
		struct buf live;
		const char *parts[] = {m->value, ", \"cost\" : ", cost, "", "", "}"};
		size_t lens[] = {m->len - 1, strlen(parts[1]), clen, 0, 0, 1};
		buf_init(&live, 64 * 1024);
		if (d->live && d->live_key) {
			if (buf_appendf(&live, ", \"%s\" : ", d->live_key) < 0 ||
			    d->live(d->live_arg, &live) < 0) {
				buf_reset(&live);
				if (buf_appendf(&live, ", \"%s\" : null", d->live_key) < 0)
					buf_reset(&live);
			}
			parts[3] = live.data ? live.data : "";
			lens[3] = live.len;
		}
		snap_set(d, 200, http_shared_new(parts, lens, ARRAY_SIZE(parts)));
		buf_cleanup(&live);
	}
}

void dashboard_serve_data(struct dashboard *d, struct evhttp_request *req)
{
	int64_t now = mono_ms();

	if (d == NULL || d->db == NULL) {
		http_reply_error(req, 503, "database unavailable", "no database configured");
		return;
	}
	if (d->snap && (now - d->snap_ms < d->interval_ms || d->running)) {
		answer(req, d->snap_status, d->snap); /* fresh, or the last one while refreshing */
		return;
	}
	if (d->nwait >= DASH_MAX_WAITERS) {
		http_reply_error(req, 503, "busy", "too many requests waiting for the data query");
		return;
	}
	waiter_add(d, req);
	if (d->running)
		return;
	if (db_read(d->db, d->sql, 3, on_read, d) < 0) {
		snap_error(d, 503, "database unavailable", "not connected");
		return;
	}
	d->running = 1;
	d->queries++;
}

struct dashboard *dashboard_new(struct event_base *base, struct db *db, int64_t interval_ms)
{
	struct dashboard *d = xcalloc(1, sizeof(*d));
	const struct dashboard_file *data = file_named("data.sql"), *cost = file_named("cost.sql");
	d->base = base;
	d->db = db;
	d->interval_ms = interval_ms;
	d->sql[0] = "SELECT set_config('statement_timeout', '10000', true)";
	d->sql[1] = data ? (const char *)data->data : "SELECT NULL";
	d->sql[2] = cost ? (const char *)cost->data : "SELECT NULL";
	return d;
}

void dashboard_free(struct dashboard *d)
{
	if (d == NULL)
		return;
	db_read_forget(d->db, d);
	if (d->whead) {
		http_shared_unref(d->snap);
		d->snap = http_shared_error("shutting down", NULL);
		d->snap_status = 503;
		waiters_answer(d);
	}
	http_shared_unref(d->snap);
	free(d);
}

uint64_t dashboard_queries(const struct dashboard *d)
{
	return d ? d->queries : 0;
}

/*
 * http: the daemon's admin HTTP server (evhttp on the daemon's event_base).
 *
 *   GET /healthz              200 "ok" while the loop runs (never needs a token)
 *   GET /readyz               200, or 503 with the failed checks as JSON (never needs a token)
 *   GET /metrics              Prometheus text format 0.0.4 (core/metrics.c) of the snapshot
 *   GET /dashboard            the page, its script and style (io/dashboard.c)
 *   GET /dashboard/data.json  the supervisor views, from a snapshot refreshed once per interval
 *
 * Routes and auth are core/routes.c. The counters come as a snapshot from a
 * callback (main.c wires the pipeline's), so this module knows nothing of
 * the pipeline. Limits: a connection cap (the oldest connection still
 * sending its request head is evicted for a new one, else the new one is
 * closed), a deadline for the whole request head (a slowloris is cut, not
 * refreshed per byte), a reserve of descriptors that the admin port never
 * takes, and on EMFILE/ENFILE a paused accept that resumes after a backoff,
 * logged once per interval. Never blocks the loop; never exits after startup.
 */
#ifndef TRIAGED_HTTP_H
#define TRIAGED_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "db.h"
#include "metrics.h"

struct http;

/* Fill the counters of out (already initialised); arg is the callback's. */
typedef void http_snapshot_fn(void *arg, struct metrics_snapshot *out);

struct http_limits {
	int64_t max_connections; /* connections open at once */
	int64_t head_timeout_ms; /* from accept (or the head's first byte) to the end of the head */
	int64_t keepalive_timeout_ms; /* a kept-alive connection idle after an answer */
	int64_t fd_reserve;	 /* descriptors below RLIMIT_NOFILE never taken by the admin port */
	int64_t accept_backoff_ms; /* pause after EMFILE/ENFILE or hitting the reserve */
	int64_t dashboard_interval_ms; /* data.json snapshot lifetime */
};
/* The defaults of config.c, for tests. */
void http_limits_default(struct http_limits *l);

/*
 * Returns a new server bound to listen ("host:port", "[v6]:port"; port 0 =
 * ephemeral) that serves on base, or NULL with err (startup errors: bad
 * address, bind failure, a non-loopback address without a token). token may
 * be NULL or "" (no authentication). db: borrowed, for data.json (NULL: 503).
 * snap/snap_arg: the counters (NULL: zeros). lim NULL: the defaults.
 * Logs msg="http listening" addr=... port=...
 */
struct http *http_new(struct event_base *base, const char *listen, const char *token,
		      struct db *db, http_snapshot_fn *snap, void *snap_arg,
		      const struct http_limits *lim, char *err, size_t errlen);
/* Close every connection and free (after the loop has exited). Accepts NULL. */
void http_free(struct http *h);
/* The bound port (useful when listen asked for port 0). */
int http_port(const struct http *h);
/* Add the server's own counters to out. */
void http_fill_snapshot(const struct http *h, struct metrics_snapshot *out);

#endif

/*
 * http: the daemon's HTTP endpoint (evhttp on the daemon's event_base).
 *
 *   GET /healthz              200 "ok" while the loop runs (never needs a token)
 *   GET /readyz               200, or 503 with the failed checks as JSON (never needs a token)
 *   GET /metrics              Prometheus text format 0.0.4 from pipeline_get_stats/health
 *   GET /dashboard            one self-contained HTML page (inline CSS, JS and SVG charts)
 *   GET /dashboard/data.json  the supervisor views as one JSON document
 *
 * With a token, /metrics and /dashboard* need "Authorization: Bearer <token>"
 * or "?token=<token>". Without one, only loopback binds are allowed.
 * The dashboard data comes from its own libpq connection (opened on the
 * first request, non-blocking under the loop, reopened with backoff after a
 * failure); requests arriving while a query runs wait for its answer.
 * Never blocks the loop; never exits; per-request errors are HTTP errors.
 */
#ifndef TRIAGED_HTTP_H
#define TRIAGED_HTTP_H

#include <stddef.h>

#include <event2/event.h>

#include "pipeline.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct http;

/*
 * Returns a new endpoint bound to listen ("host:port", "[v6]:port"; port 0 =
 * ephemeral) that serves on base, or NULL with err (startup errors: bad
 * address, bind failure, a non-loopback address without a token). token may
 * be NULL or "" (no authentication). pg_conninfo: for the dashboard's data
 * queries (NULL or "": data.json answers 503). pl is borrowed and must
 * outlive the endpoint (NULL: metrics and checks read as zero, for tests).
 * Logs msg="http listening" addr=... port=...
 */
struct http *http_new(struct event_base *base, const char *listen, const char *token,
		      const char *pg_conninfo, struct pipeline *pl, char *err, size_t errlen);
/*
 * Close every connection and free (after the loop has exited). Requests
 * still waiting for dashboard data are answered 503 first, though with the
 * loop stopped the answer may not reach the client. Accepts NULL.
 */
void http_free(struct http *h);
/* The bound port (useful when listen asked for port 0). */
int http_port(const struct http *h);

/*
 * Render the metrics exposition (text format 0.0.4) for st and hl into out
 * (appended). Pure. Returns 0, or -1 when out's cap was reached (the output
 * is then incomplete).
 */
int http_render_metrics(struct buf *out, const struct pipeline_stats *st,
			const struct pipeline_health *hl) WUR;

#endif

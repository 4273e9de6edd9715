/*
 * dashboard: the supervisor dashboard of the admin server. Serves the
 * embedded page, script and style (service/io/dashboard/), and data.json:
 * computed at most once per interval through db.c's engine (a read round of
 * its own) and served to every client from that snapshot, errors included,
 * so that N clients cost one query round per interval. Never blocks; a
 * database problem is a 503 for data.json, nothing more.
 */
#ifndef TRIAGED_DASHBOARD_H
#define TRIAGED_DASHBOARD_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "buf.h"
#include "db.h"

struct dashboard;

/* db borrowed (NULL: data.json answers 503); interval_ms: snapshot lifetime. */
struct dashboard *dashboard_new(struct event_base *base, struct db *db, int64_t interval_ms);
/* Answers waiting requests 503 and frees. Accepts NULL. */
void dashboard_free(struct dashboard *d);
/* Serve an embedded file (index.html gets the CSP); 404 when unknown. */
void dashboard_serve_file(struct evhttp_request *req, const char *name);
/* Serve data.json from the snapshot, refreshing it when older than the interval. */
void dashboard_serve_data(struct dashboard *d, struct evhttp_request *req);
/*
 * Live figures of the daemon (issue #15.2: the flagship wait), added to
 * data.json as "key": <what fn appends, one JSON value> at each refresh.
 * fn returns 0, or -1 (the key is then null). key must be static.
 */
typedef int dashboard_live_fn(void *arg, struct buf *out);
void dashboard_set_live(struct dashboard *d, const char *key, dashboard_live_fn *fn, void *arg);
/* Query rounds sent. */
uint64_t dashboard_queries(const struct dashboard *d);

#endif

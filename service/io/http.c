/*
 * http: see http.h. Owns the evhttp server, its listening socket and the
 * table of connections (for the cap, the head deadline and the descriptor
 * reserve). Connections are seen through the bufferevent we create for
 * evhttp (evhttp_set_bevcb) and hold one reference to: it tells us the
 * socket while evhttp owns it, and that evhttp is done with it (callbacks
 * cleared). A connection is cut with shutdown(2), never freed here: evhttp
 * sees the end of the stream and frees it along its own path.
 * Must never block the loop and never exit after startup.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "dashboard.h"
#include "http_reply.h"
#include "log.h"
#include "routes.h"
#include "text.h"
#include "xmem.h"

#define HTTP_MAX_HEADERS_BYTES 8192
#define HTTP_MAX_BODY_BYTES 4096 /* every endpoint is a GET */
#define HTTP_IDLE_TIMEOUT_S 30
#define HTTP_SWEEP_MS 100	      /* head deadline resolution */
#define HTTP_LOG_INTERVAL_MS 10000 /* accept trouble: one log line per interval */
#define METRICS_CAP (1u << 20)
#define HTTP_PRODUCE_STUCK_S 30 /* /readyz: events failing to produce this long */

/* One client connection, as seen through its bufferevent. */
struct hconn {
	struct bufferevent *bev; /* our reference */
	struct evbuffer_cb_entry *rx; /* on_rx on bev's input: the first byte of a head */
	int64_t phase_ms; /* accept, the previous answer (idle) or the next head's first byte */
	int idle;	  /* kept alive after an answer, no byte of the next request yet */
	int busy;	  /* a request is being answered */
	int cut;		 /* shut down by us, waiting for evhttp to free it */
	int admitted;		 /* checked against the cap and the reserve */
	struct hconn *prev, *next;
};

struct http {
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct dashboard *dash;
	http_snapshot_fn *snap;
	void *snap_arg;
	struct http_limits lim;
	char *token; /* NULL: no authentication */
	int port;
	char addr[INET6_ADDRSTRLEN + 2];

	struct hconn *chead, *ctail;
	uint64_t nconn;
	struct event *ev_admit; /* deferred: new connections checked after evhttp set them up */
	struct event *ev_sweep;
	struct event *ev_resume;
	int paused;
	uint64_t ncut; /* connections cut, not yet freed by evhttp */
	int64_t last_log_ms;
	uint64_t suppressed;
	uint64_t accepted, head_cut, idle_cut, evicted, refused, accept_errors;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_limits_default(struct http_limits *l)
{
	l->max_connections = 256;
	l->head_timeout_ms = 10000;
	l->keepalive_timeout_ms = 30000;
	l->fd_reserve = 256;
	l->accept_backoff_ms = 1000;
	l->dashboard_interval_ms = 5000;
}

/* ------------------------------------------------------------ connections */

/* The connection's socket while evhttp still owns it; -1 once evhttp is done with it. */
static int conn_fd(const struct hconn *c)
{
	bufferevent_data_cb rcb = NULL, wcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *arg = NULL;
	bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, &arg);
	if (rcb == NULL && ecb == NULL)
		return -1;
	return bufferevent_getfd(c->bev);
}

static void conn_unlink(struct http *h, struct hconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		h->chead = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		h->ctail = c->prev;
	h->nconn--;
	if (c->cut)
		h->ncut--;
	if (c->rx)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->rx);
	bufferevent_decref(c->bev);
	free(c);
}

static void conn_cut(struct http *h, struct hconn *c)
{
	int fd = conn_fd(c);
	if (c->cut)
		return;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	c->cut = 1;
	h->ncut++;
}

static struct hconn *conn_of_req(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	for (struct hconn *c = h->chead; bev && c; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

/* Drop the connections evhttp has finished with. */
static void conns_reap(struct http *h)
{
	struct hconn *c, *cn;
	for (c = h->chead; c; c = cn) {
		cn = c->next;
		if (conn_fd(c) < 0 && c->admitted)
			conn_unlink(h, c);
	}
}

static void note_trouble(struct http *h, const char *msg, int err)
{
	int64_t now = mono_ms();
	if (h->last_log_ms != 0 && now - h->last_log_ms < HTTP_LOG_INTERVAL_MS) {
		h->suppressed++;
		return;
	}
	log_warn(msg, "error=\"%s\" open=%" PRIu64 " backoff_ms=%" PRId64
		      " suppressed=%" PRIu64,
		 err ? strerror(err) : "descriptor reserve reached", h->nconn,
		 h->lim.accept_backoff_ms, h->suppressed);
	h->last_log_ms = now;
	h->suppressed = 0;
}

static void accept_pause(struct http *h)
{
	struct timeval tv = {h->lim.accept_backoff_ms / 1000,
			     (h->lim.accept_backoff_ms % 1000) * 1000};
	if (!h->paused && h->listener)
		evconnlistener_disable(h->listener);
	h->paused = 1;
	evtimer_add(h->ev_resume, &tv);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	h->paused = 0;
	if (h->listener)
		evconnlistener_enable(h->listener);
}

/*
 * The listener's error callback gets the listener's user data, which is
 * evhttp's (evhttp installed its accept callback with it), not ours: the
 * server is found by its listener here. Servers are few (one per daemon).
 */
#define HTTP_MAX_SERVERS 16
static struct http *servers[HTTP_MAX_SERVERS];

static void on_accept_error(struct evconnlistener *lis, void *unused)
{
	struct http *h = NULL;
	int err = EVUTIL_SOCKET_ERROR();
	for (size_t i = 0; i < HTTP_MAX_SERVERS && h == NULL; i++)
		if (servers[i] && servers[i]->listener == lis)
			h = servers[i];
	if (h == NULL)
		return;
	h->accept_errors++;
	/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else that would repeat at
	 * once: the socket stays readable, so retrying now would spin the loop */
	note_trouble(h,
		     err == EMFILE || err == ENFILE ? "http accept paused: out of descriptors"
						    : "http accept paused",
		     err);
	accept_pause(h);
}

static int64_t nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return INT32_MAX;
	return (int64_t)rl.rlim_cur;
}

/*
 * Check new connections (the tail of the list: appended in accept order):
 * the descriptor reserve first, then the cap. O(connections) per loop pass,
 * however many were accepted in it.
 */
static void on_admit(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int64_t limit = nofile_limit();
	struct hconn *c, *first = NULL, *old = h->chead;

	conns_reap(h);
	for (c = h->ctail; c && !c->admitted; c = c->prev)
		first = c;
	for (c = first; c; c = c->next) {
		int cfd = conn_fd(c);
		int over_reserve;
		c->admitted = 1;
		if (cfd < 0)
			continue;
		/* the reserve keeps descriptors for the model and PostgreSQL connections */
		over_reserve = (int64_t)cfd >= limit - h->lim.fd_reserve;
		if (!over_reserve && (int64_t)(h->nconn - h->ncut) <= h->lim.max_connections)
			continue;
		/* over the reserve or the cap: evict the oldest connection still
		 * waiting for its head (accept order; a kept-alive one may be a little
		 * younger), so that a slowloris cannot lock out /healthz; else refuse
		 * this one, and at the reserve stop accepting for a while */
		while (old && (old->cut || old->busy || !old->admitted || old == c ||
			       conn_fd(old) < 0))
			old = old->next;
		if (old && old->phase_ms <= c->phase_ms) {
			h->evicted++;
			conn_cut(h, old);
			if (over_reserve)
				note_trouble(h, "http connection evicted: descriptor reserve reached", 0);
		} else {
			h->refused++;
			conn_cut(h, c);
			if (over_reserve) {
				note_trouble(h, "http accept paused: descriptor reserve reached", 0);
				accept_pause(h);
			}
		}
	}
}

/*
 * Bytes reached a connection's input: if it was idle after an answer, the
 * next request head starts now, and its deadline with it. A kept-alive
 * connection waits for its next request under http.keepalive_timeout_ms, not
 * the head deadline (a dashboard polling every 10 s keeps its connection).
 */
static void on_rx(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct hconn *c = arg;
	(void)buf;
	if (info->n_added > 0 && c->idle) {
		c->idle = 0;
		c->phase_ms = mono_ms();
	}
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct hconn *c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(base, -1, 0);
	if (c->bev == NULL)
		fatal("out of memory: bufferevent_socket_new", "%s", "");
	bufferevent_incref(c->bev);
	c->rx = evbuffer_add_cb(bufferevent_get_input(c->bev), on_rx, c);
	if (c->rx == NULL)
		fatal("out of memory: evbuffer_add_cb", "%s", "");
	c->phase_ms = mono_ms();
	c->prev = h->ctail;
	if (h->ctail)
		h->ctail->next = c;
	else
		h->chead = c;
	h->ctail = c;
	h->nconn++;
	h->accepted++;
	event_active(h->ev_admit, EV_TIMEOUT, 0);
	return c->bev;
}

/* Cut the connections whose request head is overdue, or idle too long after an answer. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int64_t now = mono_ms();
	conns_reap(h);
	for (struct hconn *c = h->chead; c; c = c->next) {
		int64_t limit = c->idle ? h->lim.keepalive_timeout_ms : h->lim.head_timeout_ms;
		if (c->busy || c->cut || !c->admitted)
			continue;
		if (now - c->phase_ms >= limit && conn_fd(c) >= 0) {
			if (c->idle)
				h->idle_cut++;
			else
				h->head_cut++;
			conn_cut(h, c);
		}
	}
}

static void on_complete(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct hconn *c = conn_of_req(h, req);
	if (c) {
		c->busy = 0;
		c->phase_ms = mono_ms();
		/* a pipelined request already (partly) here is a head, not idleness */
		c->idle = evbuffer_get_length(bufferevent_get_input(c->bev)) == 0;
	}
}

void http_fill_snapshot(const struct http *h, struct metrics_snapshot *out)
{
	uint64_t open = 0;
	for (struct hconn *c = h->chead; c; c = c->next)
		if (conn_fd(c) >= 0)
			open++;
	out->http_open = open;
	out->http_accepted = h->accepted;
	out->http_head_cut = h->head_cut;
	out->http_idle_cut = h->idle_cut;
	out->http_evicted = h->evicted;
	out->http_refused = h->refused;
	out->http_accept_errors = h->accept_errors;
	out->http_accept_paused = (uint64_t)h->paused;
	out->dash_queries = dashboard_queries(h->dash);
}

/* ------------------------------------------------------------ handlers */

static void take_snapshot(struct http *h, struct metrics_snapshot *s)
{
	metrics_snapshot_init(s);
	if (h->snap)
		h->snap(h->snap_arg, s);
	http_fill_snapshot(h, s);
}

/* data.json's "flagship": the flagship wait (issue #15.2). */
static int dash_flagship(void *arg, struct buf *out)
{
	struct metrics_snapshot *s = xcalloc(1, sizeof(*s));
	int r;
	take_snapshot(arg, s);
	r = metrics_flagship_json(out, s);
	free(s);
	return r;
}

static void on_readyz(struct http *h, struct evhttp_request *req)
{
	struct metrics_snapshot *s = xmalloc(sizeof(*s)); /* ~40 KiB: not on the stack */
	json_object *o = json_object_new_object(), *checks = json_object_new_object();
	json_object *failed = json_object_new_array();
	int ready;

	take_snapshot(h, s);
	json_object_object_add(checks, "partitions_assigned",
			       json_object_new_boolean(s->partitions > 0));
	json_object_object_add(checks, "db_up", json_object_new_boolean(s->db_up != 0));
	json_object_object_add(checks, "not_draining", json_object_new_boolean(!s->draining));
	if (s->partitions == 0)
		json_object_array_add(failed, json_object_new_string("partitions_assigned"));
	if (!s->db_up)
		json_object_array_add(failed, json_object_new_string("db_up"));
	if (s->draining)
		json_object_array_add(failed, json_object_new_string("not_draining"));
	/* budget.enforce with an unpriced model: that tier is refused until a price exists */
	json_object_object_add(checks, "budget_priced",
			       json_object_new_boolean(s->budget_no_price == NULL));
	if (s->budget_no_price) {
		json_object_array_add(failed, json_object_new_string("budget_priced"));
		json_object_object_add(o, "budget_no_price",
				       json_object_new_string(s->budget_no_price));
	}
	/* events that cannot be produced (a topic refused, a broker gone): the tickets'
	 * offsets wait for them, so intake stops; not ready after 30 s, and why */
	json_object_object_add(checks, "events_flowing",
			       json_object_new_boolean(s->produce_oldest_s < HTTP_PRODUCE_STUCK_S));
	if (s->produce_oldest_s >= HTTP_PRODUCE_STUCK_S) {
		json_object_array_add(failed, json_object_new_string("events_flowing"));
		json_object_object_add(o, "events_stuck", json_object_new_string(s->produce_stuck));
	}
	/* a tier held as misconfigured (#11.4): not ready, and the cause by name */
	{
		json_object *causes = json_object_new_array();
		for (int t = 0; t < METRICS_TIERS; t++)
			if (s->misconfigured[t][0])
				json_object_array_add(causes,
						      json_object_new_string(s->misconfigured[t]));
		json_object_object_add(
		    checks, "models_configured",
		    json_object_new_boolean(json_object_array_length(causes) == 0));
		if (json_object_array_length(causes) > 0)
			json_object_array_add(failed, json_object_new_string("models_configured"));
		json_object_object_add(o, "causes", causes);
	}
	ready = json_object_array_length(failed) == 0;
	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "failed", failed);
	json_object_object_add(o, "partitions", json_object_new_int64((int64_t)s->partitions));
	free(s);
	http_reply_json(req, ready ? 200 : 503, o);
}

static void on_metrics(struct http *h, struct evhttp_request *req)
{
	struct metrics_snapshot *s = xmalloc(sizeof(*s));
	struct buf b;

	buf_init(&b, METRICS_CAP);
	take_snapshot(h, s);
	if (metrics_render(&b, s) < 0) {
		log_warn("metrics exposition larger than its cap", "cap=%u", METRICS_CAP);
		http_reply_error(req, 500, "metrics too large", NULL);
	} else {
		http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			   b.data ? b.data : "", b.len, NULL);
	}
	buf_cleanup(&b);
	free(s);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct hconn *c = conn_of_req(h, req);
	struct route_decision d;

	if (c) {
		c->busy = 1;
		evhttp_request_set_on_complete_cb(req, on_complete, h);
	}
	d = routes_decide(http_req_path(req), cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD,
			  evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
			  uri ? evhttp_uri_get_query(uri) : NULL, h->token);
	switch (d.status) {
	case 0:
		break;
	case 405:
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		http_reply_error(req, 405, "method not allowed", NULL);
		return;
	case 401:
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"triaged\"");
		http_reply_error(req, 401, "unauthorized", "send Authorization: Bearer <http.token>");
		return;
	default:
		http_reply_error(req, 404, "not found", NULL);
		return;
	}
	switch (d.route) {
	case ROUTE_HEALTHZ:
		http_reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
		break;
	case ROUTE_READYZ:
		on_readyz(h, req);
		break;
	case ROUTE_METRICS:
		on_metrics(h, req);
		break;
	case ROUTE_DASHBOARD:
		dashboard_serve_file(req, "index.html");
		break;
	case ROUTE_DASH_ASSET:
		dashboard_serve_file(req, d.asset);
		break;
	case ROUTE_DASH_DATA:
		dashboard_serve_data(h->dash, req);
		break;
	case ROUTE_NONE:
		http_reply_error(req, 404, "not found", NULL);
		break;
	}
}

/* ------------------------------------------------------------ lifecycle */

static int addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127;
	}
	return 0;
}

/* "host:port" or "[v6]:port" -> host (without brackets) and port. */
static int split_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
			size_t errlen)
{
	const char *colon, *hs = listen, *he;
	int64_t p;

	if (listen[0] == '[') {
		hs = listen + 1;
		he = strchr(hs, ']');
		if (he == NULL || he[1] != ':') {
			set_err(err, errlen, "http.listen '%s': expected [address]:port", listen);
			return -1;
		}
		colon = he + 1;
	} else {
		colon = strrchr(listen, ':');
		he = colon;
	}
	if (colon == NULL || he == hs || parse_int64(colon + 1, 0, 65535, &p) < 0) {
		set_err(err, errlen, "http.listen '%s': expected host:port (port 0-65535)", listen);
		return -1;
	}
	if ((size_t)(he - hs) >= hostlen) {
		set_err(err, errlen, "http.listen '%s': host too long", listen);
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)p;
	return 0;
}

struct http *http_new(struct event_base *base, const char *listen, const char *token,
		      struct db *db, http_snapshot_fn *snap, void *snap_arg,
		      const struct http_limits *lim, char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof(*h));
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timeval sweep = {0, HTTP_SWEEP_MS * 1000};
	char host[256];
	int port;

	h->base = base;
	h->snap = snap;
	h->snap_arg = snap_arg;
	if (lim)
		h->lim = *lim;
	else
		http_limits_default(&h->lim);
	h->token = token && *token ? xstrdup(token) : NULL;
	if (split_listen(listen ? listen : "", host, sizeof(host), &port, err, errlen) < 0)
		goto fail;
	h->ev_admit = event_new(base, -1, 0, on_admit, h);
	h->ev_sweep = event_new(base, -1, EV_PERSIST, on_sweep, h);
	h->ev_resume = evtimer_new(base, on_resume, h);
	h->http = evhttp_new(base);
	if (h->ev_admit == NULL || h->ev_sweep == NULL || h->ev_resume == NULL || h->http == NULL) {
		set_err(err, errlen, "http: out of memory");
		goto fail;
	}
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS_BYTES);
	evhttp_set_max_body_size(h->http, HTTP_MAX_BODY_BYTES);
	/* evhttp's own read/write timeout stays behind the keep-alive limit, which the sweep keeps */
	evhttp_set_timeout(h->http,
			   (int)(h->lim.keepalive_timeout_ms / 1000 + 1 > HTTP_IDLE_TIMEOUT_S
				     ? h->lim.keepalive_timeout_ms / 1000 + 1
				     : HTTP_IDLE_TIMEOUT_S));
	/* every method reaches on_request, which answers 405 itself (evhttp would say 501) */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, on_request, h);
	evhttp_set_bevcb(h->http, on_new_bev, h);
	sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (sock == NULL) {
		set_err(err, errlen, "http.listen %s: cannot bind (address in use or not local?)",
			listen);
		goto fail;
	}
	h->listener = evhttp_bound_socket_get_listener(sock);
	for (size_t i = 0; i < HTTP_MAX_SERVERS && h->listener; i++)
		if (servers[i] == NULL) {
			servers[i] = h;
			evconnlistener_set_error_cb(h->listener, on_accept_error);
			break;
		}
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) < 0) {
		set_err(err, errlen, "http.listen %s: getsockname failed", listen);
		goto fail;
	}
	if (!addr_is_loopback(&ss) && h->token == NULL) {
		set_err(err, errlen,
			"http.listen %s is not a loopback address: set http.token "
			"(TRIAGED_HTTP_TOKEN) to expose it",
			listen);
		goto fail;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(h->addr, sizeof(h->addr), "[%s]", a);
		h->port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, h->addr, sizeof(h->addr));
		h->port = ntohs(in->sin_port);
	}
	h->dash = dashboard_new(base, db, h->lim.dashboard_interval_ms);
	dashboard_set_live(h->dash, "flagship", dash_flagship, h);
	evtimer_add(h->ev_sweep, &sweep);
	log_info("http listening",
		 "addr=%s port=%d auth=%s dashboard=%s max_connections=%" PRId64
		 " head_timeout_ms=%" PRId64 " keepalive_timeout_ms=%" PRId64 " fd_reserve=%" PRId64,
		 h->addr, h->port, h->token ? "token" : "none", db ? "on" : "off",
		 h->lim.max_connections, h->lim.head_timeout_ms, h->lim.keepalive_timeout_ms,
		 h->lim.fd_reserve);
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < HTTP_MAX_SERVERS; i++)
		if (servers[i] == h)
			servers[i] = NULL;
	dashboard_free(h->dash);
	if (h->http)
		evhttp_free(h->http); /* frees its connections: our references are the last */
	while (h->chead)
		conn_unlink(h, h->chead);
	if (h->ev_admit)
		event_free(h->ev_admit);
	if (h->ev_sweep)
		event_free(h->ev_sweep);
	if (h->ev_resume)
		event_free(h->ev_resume);
	free(h->token);
	free(h);
}

int http_port(const struct http *h)
{
	return h ? h->port : -1;
}

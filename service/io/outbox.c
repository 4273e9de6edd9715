/*
 * outbox: the review outbox relay (see outbox.h). One state machine on one
 * connection: CONNECTING -> LISTEN -> IDLE <-> FETCH -> (produce, wait for
 * every acknowledgement) -> MARK -> IDLE; a poll tick with nothing to
 * fetch goes IDLE -> BACKLOG -> IDLE (the /metrics gauges). A lost connection goes back to
 * CONNECTING after a backoff; a batch produced but not yet marked is kept
 * and marked after the reconnect (its acknowledgements keep arriving from
 * the producer meanwhile). Never PQexec, never a blocking call. At shutdown the
 * pipeline's final flush quiesces it (outbox_quiesce): no new batch, the one under
 * way acknowledged and marked on the loop.
 */
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "kafka_out.h"
#include "log.h"

enum ob_state {
	OB_DOWN,
	OB_CONNECTING,
	OB_LISTEN,
	OB_IDLE,
	OB_FETCH,
	OB_MARK,
	OB_BACKLOG,
	OB_LOCK /* asking for the relay's lock (OB_LOCK_SQL) */
};

/*
 * One relay at a time among the daemons of a database: the one whose session holds
 * this advisory lock. Without it every daemon's relay read the same unsent rows and
 * produced them, each review event once per daemon. A standby asks again every
 * review.poll_ms; a relay's crash or lost connection frees the lock with its session.
 */
#define OB_LOCK_SQL "SELECT pg_try_advisory_lock(29811, $1::integer)"
#define OB_LOCK_KEY "1"

enum ob_batch { OBB_NONE, OBB_PRODUCING };

struct outbox {
	struct event_base *base;
	const struct config *cfg;
	struct kout *kout;
	PGconn *conn;
	enum ob_state st;
	enum ob_batch batch;
	struct event *ev_sock, *ev_poll, *ev_retry;
	int64_t *ids;
	size_t nids, acked, cap;
	int wake;
	int backlog_due; /* the poll tick asks for the backlog gauges once the relay is idle */
	int backoff_ms;
	int quiescing; /* outbox_quiesce: the batch under way is finished, no new one fetched */
	int leader;    /* this session holds the relay's lock: it fetches */
	int lock_due;  /* a standby asks for the lock at the next idle moment */
	int standby_logged;
	struct outbox_stats stats;
};

static void on_sock(evutil_socket_t fd, short what, void *arg);
static void step(struct outbox *o);

static void arm_sock(struct outbox *o, short what)
{
	if (o->ev_sock) {
		event_free(o->ev_sock);
		o->ev_sock = NULL;
	}
	if (o->conn == NULL || PQsocket(o->conn) < 0)
		return;
	o->ev_sock = event_new(o->base, PQsocket(o->conn), what | EV_PERSIST, on_sock, o);
	event_add(o->ev_sock, NULL);
}

static void lost(struct outbox *o, const char *why)
{
	struct timeval tv;

	log_warn("outbox relay: database connection lost", "error=\"%.200s\" retry_ms=%d",
		 why ? why : "", o->backoff_ms);
	if (o->ev_sock) {
		event_free(o->ev_sock);
		o->ev_sock = NULL;
	}
	PQfinish(o->conn);
	o->conn = NULL;
	o->st = OB_DOWN;
	o->stats.up = 0;
	o->stats.reconnects++;
	if (o->leader)
		log_warn("outbox relay: the relay's lock went with the connection", "%s", "");
	o->leader = 0; /* the session's advisory lock is gone with it */
	o->standby_logged = 0;
	tv.tv_sec = o->backoff_ms / 1000;
	tv.tv_usec = (o->backoff_ms % 1000) * 1000;
	event_add(o->ev_retry, &tv);
	o->backoff_ms *= 2;
	if (o->backoff_ms > o->cfg->pg_reconnect_max_ms)
		o->backoff_ms = (int)o->cfg->pg_reconnect_max_ms;
}

static void connect_poll(struct outbox *o)
{
	switch (PQconnectPoll(o->conn)) {
	case PGRES_POLLING_READING:
		arm_sock(o, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		arm_sock(o, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		lost(o, PQerrorMessage(o->conn));
		return;
	}
	/* the server's keepalives on this session (PostgreSQL's default is the OS's, about 2 h):
	 * a relay whose host vanished loses its backend, and with it the relay's lock, within a
	 * minute or so, and a standby takes over (ignored on a Unix socket) */
	if (PQsetnonblocking(o->conn, 1) != 0 ||
	    !PQsendQuery(o->conn, "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; "
				  "SET tcp_keepalives_count = 4; LISTEN triaged_outbox")) {
		lost(o, PQerrorMessage(o->conn));
		return;
	}
	o->st = OB_LISTEN;
	arm_sock(o, EV_READ | (PQflush(o->conn) == 1 ? EV_WRITE : 0));
}

static void start_connect(struct outbox *o)
{
	o->conn = PQconnectStart(o->cfg->pg_conninfo);
	if (o->conn == NULL || PQstatus(o->conn) == CONNECTION_BAD) {
		lost(o, o->conn ? PQerrorMessage(o->conn) : "out of memory");
		return;
	}
	o->st = OB_CONNECTING;
	connect_poll(o);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_connect(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *o = arg;
	(void)fd;
	(void)what;
	o->wake = 1;
	o->backlog_due = 1;
	o->lock_due = !o->leader;
	step(o);
}

static int send_query(struct outbox *o, enum ob_state st, const char *sql, const char *param)
{
	const char *params[1] = {param};

	if (!PQsendQueryParams(o->conn, sql, 1, NULL, params, NULL, NULL, 0)) {
		lost(o, PQerrorMessage(o->conn));
		return -1;
	}
	o->st = st;
	arm_sock(o, EV_READ | (PQflush(o->conn) == 1 ? EV_WRITE : 0));
	return 0;
}

static void on_ack(void *arg)
{
	struct outbox *o = arg;

	o->acked++;
	if (o->acked == o->nids)
		step(o);
}

/* The rows of a fetch: produce each (one per ticket), keep the ids to mark. */
static void take_rows(struct outbox *o, PGresult *r)
{
	int n = PQntuples(r);

	if (n == 0)
		return;
	if ((size_t)n > o->cap) {
		o->cap = (size_t)n;
		o->ids = xrealloc(o->ids, o->cap * sizeof(*o->ids));
	}
	o->nids = (size_t)n;
	o->acked = 0;
	o->batch = OBB_PRODUCING;
	o->stats.rounds++;
	if (n == (int)o->cfg->review_batch)
		o->wake = 1; /* more may be waiting */
	for (int i = 0; i < n; i++) {
		const char *key = PQgetvalue(r, i, 1), *payload = PQgetvalue(r, i, 3);
		o->ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		kout_produce(o->kout, o->cfg->review_events_topic, key, strlen(key), payload,
			     (size_t)PQgetlength(r, i, 3), NULL, 0, on_ack, o);
	}
}

static void on_result(struct outbox *o, PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		log_warn("outbox relay: statement failed", "state=%d error=\"%.200s\"", (int)o->st,
			 PQresultErrorMessage(r));
		o->stats.errors++;
		return;
	}
	if (o->st == OB_BACKLOG) {
		if (PQntuples(r) == 1) {
			o->stats.backlog = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			o->stats.oldest_unsent_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		}
	} else if (o->st == OB_FETCH && !o->quiescing)
		take_rows(o, r); /* (quiescing: the rows stay unsent, for the next daemon) */
	else if (o->st == OB_MARK) {
		o->stats.sent += o->nids;
		o->batch = OBB_NONE;
		o->nids = o->acked = 0;
		o->wake = 1; /* the next event of the same tickets */
	} else if (o->st == OB_LISTEN) {
		if (strcmp(PQcmdStatus(r), "LISTEN") != 0)
			return; /* the SETs before it */
		log_info("outbox relay listening", "topic=%s", o->cfg->review_events_topic);
		o->stats.up = 1;
		o->backoff_ms = 100;
		o->wake = 1; /* whatever was written while we were away */
		o->lock_due = 1;
	} else if (o->st == OB_LOCK) {
		o->leader = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		if (o->leader) {
			log_info("outbox relay active: this daemon relays", "topic=%s",
				 o->cfg->review_events_topic);
			o->wake = 1;
			o->standby_logged = 0;
		} else if (!o->standby_logged) {
			log_info("outbox relay on standby: another daemon relays", "retry_ms=%lld",
				 (long long)o->cfg->review_poll_ms);
			o->standby_logged = 1;
		}
	}
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *o = arg;
	PGnotify *nf;
	(void)fd;

	if (o->st == OB_CONNECTING) {
		connect_poll(o);
		return;
	}
	if (what & EV_WRITE) {
		int f = PQflush(o->conn);
		if (f < 0) {
			lost(o, PQerrorMessage(o->conn));
			return;
		}
		if (f == 0)
			arm_sock(o, EV_READ);
	}
	if (!(what & EV_READ))
		return;
	if (!PQconsumeInput(o->conn)) {
		lost(o, PQerrorMessage(o->conn));
		return;
	}
	while ((nf = PQnotifies(o->conn)) != NULL) {
		o->wake = 1;
		o->stats.notifies++;
		PQfreemem(nf);
	}
	if (o->st != OB_IDLE) {
		PGresult *r;
		while (!PQisBusy(o->conn) && (r = PQgetResult(o->conn)) != NULL) {
			on_result(o, r);
			PQclear(r);
		}
		if (PQisBusy(o->conn))
			return;
		o->st = OB_IDLE;
	}
	if (PQstatus(o->conn) == CONNECTION_BAD) {
		lost(o, PQerrorMessage(o->conn));
		return;
	}
	step(o);
}

/* The next statement, when the connection is idle and there is work. */
static void step(struct outbox *o)
{
	char buf[64];

	if (o->st != OB_IDLE)
		return;
	if (o->batch == OBB_PRODUCING) {
		struct json_object *p, *ids;
		if (o->acked < o->nids)
			return;
		p = json_object_new_object();
		ids = json_object_new_array_ext((int)o->nids);
		for (size_t i = 0; i < o->nids; i++)
			json_object_array_add(ids, json_object_new_int64(o->ids[i]));
		json_object_object_add(p, "ids", ids);
		(void)send_query(o, OB_MARK, "SELECT * FROM triaged_outbox_sent($1::jsonb)",
				 json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
		json_object_put(p);
		return;
	}
	if (o->quiescing)
		return;
	if (!o->leader && o->lock_due) {
		o->lock_due = 0;
		(void)send_query(o, OB_LOCK, OB_LOCK_SQL, OB_LOCK_KEY);
		return;
	}
	if (!o->leader)
		o->wake = 0; /* a standby reads only the gauges */
	if (!o->wake) {
		if (o->backlog_due) {
			/* through a SECURITY DEFINER function: the daemon's role reads no table */
			o->backlog_due = 0;
			(void)send_query(o, OB_BACKLOG,
					 "SELECT unsent, oldest_ms FROM triaged_outbox_backlog($1::jsonb)",
					 "{}");
		}
		return;
	}
	o->wake = 0;
	snprintf(buf, sizeof(buf), "{\"limit\": %" PRId64 "}", o->cfg->review_batch);
	(void)send_query(o, OB_FETCH,
			 "SELECT id, ticket_id, seq, payload FROM triaged_outbox_next($1::jsonb)",
			 buf);
}

void outbox_quiesce(void *arg)
{
	struct outbox *o = arg;
	o->quiescing = 1;
}

int outbox_idle(const void *arg)
{
	const struct outbox *o = arg;
	/* a fetch under way is not taken (on_result): only a batch produced waits */
	return o->batch == OBB_NONE && o->st != OB_MARK;
}

struct outbox *outbox_new(struct event_base *base, const struct config *cfg, char *err,
			  size_t errlen)
{
	struct outbox *o = xcalloc(1, sizeof(*o));
	struct timeval tv = {.tv_sec = cfg->review_poll_ms / 1000,
			     .tv_usec = (cfg->review_poll_ms % 1000) * 1000};

	o->base = base;
	o->cfg = cfg;
	o->backoff_ms = 100;
	o->stats.backlog = -1;
	o->kout = kout_new(base, cfg, err, errlen);
	if (o->kout == NULL) {
		free(o);
		return NULL;
	}
	o->ev_poll = event_new(base, -1, EV_PERSIST, on_poll, o);
	o->ev_retry = evtimer_new(base, on_retry, o);
	event_add(o->ev_poll, &tv);
	start_connect(o);
	return o;
}

void outbox_free(struct outbox *o, int timeout_ms)
{
	if (o == NULL)
		return;
	/* acknowledgements during the flush only count; nothing is sent after */
	o->st = OB_DOWN;
	kout_free(o->kout, timeout_ms);
	log_info("outbox relay stopped",
		 "sent=%llu rounds=%llu notifies=%llu reconnects=%llu unmarked=%zu",
		 (unsigned long long)o->stats.sent, (unsigned long long)o->stats.rounds,
		 (unsigned long long)o->stats.notifies, (unsigned long long)o->stats.reconnects,
		 o->batch == OBB_PRODUCING ? o->nids : (size_t)0);
	if (o->ev_sock)
		event_free(o->ev_sock);
	event_free(o->ev_poll);
	event_free(o->ev_retry);
	PQfinish(o->conn);
	free(o->ids);
	free(o);
}

const struct kout *outbox_kout(const struct outbox *o)
{
	return o->kout;
}

void outbox_get_stats(const struct outbox *o, struct outbox_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (o) {
		*out = o->stats;
		out->produce_retries = kout_retries(o->kout);
		out->leader = o->leader;
	}
}

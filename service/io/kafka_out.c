/*
 * kafka_out: see kafka_out.h. Owns the producer handle and the copies of
 * messages not yet acknowledged. Must never block in the loop: delivery
 * reports are served with rd_kafka_poll(rk, 0) when the main queue's pipe
 * fires.
 */
#include "kafka_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_in.h"
#include "log.h"
#include "monotime.h" /* ages of undelivered messages */

#define KOUT_RETRY_MS 1000

struct kout_msg {
	struct kout *o;
	char *topic;
	char *key;
	size_t keylen;
	char *payload;
	size_t len;
	rd_kafka_headers_t *hdrs; /* our copy, never handed over */
	kout_done_fn *cb;
	void *arg;
	unsigned attempts;
	double produced_ms;   /* when kout_produce took it (monotonic clock) */
	int failed;	      /* an attempt failed (counted in the kout's failing) */
	const char *last_err; /* its last failure's name (static text) */
	struct event *ev_retry;
	/* on one of the kout's lists while its retry timer runs or librdkafka holds it */
	enum kout_where { KOUT_NOWHERE, KOUT_WAITING, KOUT_IN_RK, KOUT__WHERE } where;
	struct kout_msg *prev, *next;
};

struct kout {
	struct event_base *base;
	const struct config *cfg; /* to make the producer again after a fatal error */
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int pipefd[2];
	struct event *ev_pipe, *ev_tick;
	size_t pending;
	uint64_t retries; /* produce attempts that failed and were scheduled again */
	size_t failing;	  /* messages not delivered yet of which an attempt failed */
	uint64_t cut;	  /* messages sent cut to fit a size limit */
	/* [KOUT_WAITING]: retry timer running, freed at close; [KOUT_IN_RK]: held by the
	 * handle until its report, resent (or freed at close) when the handle is dropped */
	struct kout_msg *lists[KOUT__WHERE];
	size_t nwhere[KOUT__WHERE]; /* the lists' lengths */
	int closing;
	int quiescing;	 /* kout_quiesce: nothing more is sent */
	uint64_t unsent; /* dropped by kout_quiesce or produced after it */
	/* a fatal error (the idempotent producer's: its sequence broken, fenced) leaves
	 * the handle unusable for good: it is made again, and what was in it resent */
	int fatal;
	uint64_t remade;
	long remake_backoff_ms; /* before the next remake: 0, then 1 s doubling to 30 s */
	struct event *ev_remake;
	/* "produce failed" at most once a second: a topic refused to every message
	 * would log a line per message per retry */
	double warned_ms;
	uint64_t unwarned;
	rd_kafka_topic_t *known[2]; /* the topics we write to, looked up at start */
};

static void msg_move(struct kout_msg *m, enum kout_where to);

static void msg_free(struct kout_msg *m)
{
	if (m == NULL)
		return;
	if (m->failed)
		m->o->failing--;
	msg_move(m, KOUT_NOWHERE);
	if (m->ev_retry)
		event_free(m->ev_retry);
	rd_kafka_headers_destroy(m->hdrs);
	free(m->topic);
	free(m->key);
	free(m->payload);
	free(m);
}

static void send_msg(struct kout_msg *m);

/* Move m to the list of its new place (off any list: KOUT_NOWHERE). */
static void msg_move(struct kout_msg *m, enum kout_where to)
{
	struct kout *o = m->o;
	if (m->where == to)
		return;
	if (m->where != KOUT_NOWHERE) {
		if (m->prev)
			m->prev->next = m->next;
		else
			o->lists[m->where] = m->next;
		if (m->next)
			m->next->prev = m->prev;
		m->prev = m->next = NULL;
		o->nwhere[m->where]--;
	}
	m->where = to;
	if (to != KOUT_NOWHERE) {
		o->nwhere[to]++;
		m->next = o->lists[to];
		if (m->next)
			m->next->prev = m;
		o->lists[to] = m;
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct kout_msg *m = arg;
	msg_move(m, KOUT_NOWHERE);
	send_msg(m);
}

static double now_ms(struct event_base *base)
{
	struct timeval tv;
	event_base_gettimeofday_cached(base, &tv);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* Quiescing: a message not acknowledged is not sent again (no callback). */
static void drop_unsent(struct kout_msg *m)
{
	m->o->unsent++;
	m->o->pending--;
	msg_free(m);
}

static void schedule_retry(struct kout_msg *m, const char *why)
{
	struct timeval tv = {KOUT_RETRY_MS / 1000, (KOUT_RETRY_MS % 1000) * 1000};
	double now = now_ms(m->o->base);
	if (m->o->quiescing) {
		drop_unsent(m);
		return;
	}
	if (now - m->o->warned_ms >= 1000.0) {
		log_warn("produce failed, will retry", "topic=%s attempts=%u error=%s "
			 "failures_not_logged=%llu",
			 m->topic, m->attempts, why, (unsigned long long)m->o->unwarned);
		m->o->warned_ms = now;
		m->o->unwarned = 0;
	} else {
		m->o->unwarned++;
	}
	m->o->retries++;
	if (!m->failed) {
		m->failed = 1;
		m->o->failing++;
	}
	/* the broker's word stays the cause over what remaking the handle says */
	if (!m->last_err || (strcmp(why, "no producer") != 0 && strcmp(why, "_PURGE_QUEUE") != 0))
		m->last_err = why;
	if (m->ev_retry == NULL)
		m->ev_retry = evtimer_new(m->o->base, on_retry, m);
	evtimer_add(m->ev_retry, &tv);
	msg_move(m, KOUT_WAITING);
}

#define KOUT_CUT_MIN 1024 /* below this a size refusal is not about the payload */

/*
 * Refused for its size (the producer's message.max.bytes when queued, or the
 * broker's for the topic on delivery): such a message never fits, and retrying
 * it held its job for good, and with it every later offset of a dead letter's
 * partition (found by a review). A dead letter is cut: halve the payload
 * (again if still too large), say so in triaged.payload.truncated (the
 * original size) and send that; the whole message stays at its source offset,
 * which its triaged.original.* headers name. Anything else (an event, a review
 * decision) would arrive as broken JSON, and nothing keeps it whole elsewhere:
 * it is not cut. Returns -1 when the message is not cut.
 */
static int cut_to_fit(struct kout_msg *m)
{
	char orig[24];
	const void *v;
	size_t vlen;
	if (m->len <= KOUT_CUT_MIN ||
	    rd_kafka_header_get_last(m->hdrs, "triaged.original.offset", &v, &vlen) !=
		RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (rd_kafka_header_get_last(m->hdrs, "triaged.payload.truncated", &v, &vlen) ==
	    RD_KAFKA_RESP_ERR__NOENT) {
		snprintf(orig, sizeof(orig), "%zu", m->len);
		rd_kafka_header_add(m->hdrs, "triaged.payload.truncated", -1, orig, -1);
		m->o->cut++;
	}
	log_error("message too large for its topic, sent cut", "topic=%s bytes=%zu kept=%zu",
		  m->topic, m->len, m->len / 2);
	m->len /= 2;
	return 0;
}

/*
 * Make the handle again after remake_backoff_ms. A fatal error again and again (a
 * broker refusing the idempotent producer), or a handle that cannot be made: each
 * remake blocks the loop briefly (purge, destroy), so they are spaced out, at once
 * first, then 1 s doubling to 30 s; back to at once after a message is delivered.
 */
static void remake_later(struct kout *o)
{
	struct timeval tv = {o->remake_backoff_ms / 1000, (o->remake_backoff_ms % 1000) * 1000};
	event_add(o->ev_remake, &tv);
	o->remake_backoff_ms = o->remake_backoff_ms ? o->remake_backoff_ms * 2 : 1000;
	if (o->remake_backoff_ms > 30000)
		o->remake_backoff_ms = 30000;
}

/* The handle is unusable: make it again from the loop, not inside librdkafka's callback. */
static void fatal_seen(struct kout *o)
{
	if (o->fatal || o->closing || o->quiescing)
		return;
	o->fatal = 1;
	remake_later(o);
}

static void send_msg(struct kout_msg *m)
{
	rd_kafka_resp_err_t err;
	rd_kafka_headers_t *h;
	m->attempts++;
	if (m->o->rk == NULL) {
		/* no handle (it could not be made again yet): wait for it */
		schedule_retry(m, "no producer");
		return;
	}
	h = rd_kafka_headers_copy(m->hdrs);
	err = rd_kafka_producev(m->o->rk, RD_KAFKA_V_TOPIC(m->topic),
				RD_KAFKA_V_KEY(m->key, m->keylen),
				RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(h),
				RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
	if (!err)
		msg_move(m, KOUT_IN_RK);
	if (err) {
		rd_kafka_headers_destroy(h); /* only a successful producev takes them */
		if (err == RD_KAFKA_RESP_ERR__FATAL)
			fatal_seen(m->o);
		if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && cut_to_fit(m) == 0) {
			send_msg(m); /* each cut halves it: a bounded recursion */
			return;
		}
		schedule_retry(m, rd_kafka_err2name(err));
	}
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rm, void *opaque)
{
	struct kout_msg *m = rm->_private;
	msg_move(m, KOUT_NOWHERE);
	if (m->o->closing) {
		msg_free(m);
		return;
	}
	if (rm->err && m->o->quiescing) {
		drop_unsent(m);
		return;
	}
	if (rm->err) {
		if (rm->err == RD_KAFKA_RESP_ERR__FATAL)
			fatal_seen(m->o);
		if (rm->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && cut_to_fit(m) == 0)
			send_msg(m);
		else
			schedule_retry(m, rd_kafka_err2name(rm->err));
		return;
	}
	m->o->pending--;
	m->o->remake_backoff_ms = 0; /* the handle works */
	if (m->cb)
		m->cb(m->arg);
	msg_free(m);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct kout *o = arg;
	char tmp[256];
	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	if (o->rk)
		rd_kafka_poll(o->rk, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kout *o = arg;
	if (o->rk)
		rd_kafka_poll(o->rk, 0);
}

/* kafka.* keys that only mean something to a consumer (librdkafka warns about them). */
static int consumer_only(const char *key)
{
	static const char *const prefixes[] = {
		"group.", "auto.", "enable.auto.", "session.timeout.ms", "heartbeat.interval.ms",
		"max.poll.interval.ms", "fetch.", "queued.", "partition.assignment.strategy",
		"isolation.level", "check.crcs", "coordinator.", "enable.partition.eof",
		"allow.auto.create.topics", "consume.callback.max.messages", "offset.store.",
		"rebalance.",
	};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static int make_producer(struct kout *o, char *err, size_t errlen);
static void on_remake(evutil_socket_t fd, short what, void *arg);

struct kout *kout_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
	struct kout *o = xcalloc(1, sizeof(*o));
	struct timeval tick = {0, 250 * 1000};

	o->base = base;
	o->cfg = cfg;
	o->pipefd[0] = o->pipefd[1] = -1;
	if (pipe2(o->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		set_err(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (make_producer(o, err, errlen) < 0)
		goto fail;
	o->ev_pipe = event_new(base, o->pipefd[0], EV_READ | EV_PERSIST, on_pipe, o);
	o->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, o);
	o->ev_remake = event_new(base, -1, 0, on_remake, o);
	event_add(o->ev_pipe, NULL);
	event_add(o->ev_tick, &tick);
	return o;
fail:
	kout_free(o, 0);
	return NULL;
}

/* The handle, its main queue on the loop's pipe, and the topics we write to. */
static int make_producer(struct kout *o, char *err, size_t errlen)
{
	const struct config *cfg = o->cfg;
	rd_kafka_conf_t *conf;
	char e[512];
	/* ours, not overridable: a result's event is written once and durably */
	static const char *const prod[][2] = {{"enable.idempotence", "true"}, {"acks", "all"}};
	/* overridable (kafka.linger.ms): an event waits at most 1 ms for others
	 * to share its request; librdkafka's 5 ms was most of a ticket's added
	 * latency at 1,000 tickets/s */
	static const char *const prod_defaults[][2] = {{"linger.ms", "1"}};

	conf = rd_kafka_conf_new();
	for (size_t i = 0; i < ARRAY_SIZE(prod_defaults); i++)
		rd_kafka_conf_set(conf, prod_defaults[i][0], prod_defaults[i][1], e, sizeof(e));
	for (size_t i = 0; i < cfg->nkafka; i++) {
		if (consumer_only(cfg->kafka[i].key))
			continue;
		if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, e, sizeof(e)) !=
		    RD_KAFKA_CONF_OK) {
			set_err(err, errlen, "kafka.%s: %s", cfg->kafka[i].key, e);
			rd_kafka_conf_destroy(conf);
			return -1;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(prod); i++)
		rd_kafka_conf_set(conf, prod[i][0], prod[i][1], e, sizeof(e));
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	kin_conf_logging(conf);
	o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (o->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		set_err(err, errlen, "kafka producer: %s", e);
		return -1;
	}
	/* Ask for the topics' metadata now, not with the first message: in the
	 * benchmark the first events waited ~750 ms for it otherwise. */
	if (cfg->events_topic[0])
		o->known[0] = rd_kafka_topic_new(o->rk, cfg->events_topic, NULL);
	if (cfg->dlq_topic[0])
		o->known[1] = rd_kafka_topic_new(o->rk, cfg->dlq_topic, NULL);
	o->q = rd_kafka_queue_get_main(o->rk);
	rd_kafka_queue_io_event_enable(o->q, o->pipefd[1], "1", 1);
	return 0;
}

/* Let go of the handle: what it still holds comes back in delivery reports, to be
 * freed (closing) or sent again (a fatal error). */
static void drop_producer(struct kout *o)
{
	if (o->q) {
		rd_kafka_queue_io_event_enable(o->q, -1, NULL, 0);
		rd_kafka_queue_destroy(o->q);
		o->q = NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(o->known); i++)
		if (o->known[i]) {
			rd_kafka_topic_destroy(o->known[i]);
			o->known[i] = NULL;
		}
	if (o->rk) {
		rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(o->rk, 0);
		rd_kafka_destroy(o->rk);
		o->rk = NULL;
	}
	/* what no report came back for: freed at close, else sent again (never lost) */
	while (o->lists[KOUT_IN_RK]) {
		struct kout_msg *m = o->lists[KOUT_IN_RK];
		if (o->closing)
			msg_free(m);
		else
			schedule_retry(m, "_PURGE_QUEUE");
	}
}

/*
 * A fatal error: librdkafka's idempotent producer cannot go on (its sequence
 * broken, or fenced), and every later produce fails with _FATAL. Before, each
 * message was retried once a second for good, holding its job and its
 * partition's offsets (found by a review). The handle is made again; the
 * messages it held come back purged and are sent on the new one (a message the
 * broker already had may then be there twice: delivery is at least once).
 */
static void on_remake(evutil_socket_t fd, short what, void *arg)
{
	struct kout *o = arg;
	char why[512] = "", err[256];
	if (o->rk) {
		rd_kafka_resp_err_t fe = rd_kafka_fatal_error(o->rk, why, sizeof(why));
		log_error("producer fatal error, making it again",
			  "error=%s detail=\"%s\" pending=%zu remade=%llu", rd_kafka_err2name(fe), why,
			  o->pending, (unsigned long long)o->remade);
		drop_producer(o); /* its messages: back as purged, each scheduled again */
	}
	if (make_producer(o, err, sizeof(err)) < 0) {
		/* the settings made one at start (a certificate being replaced?): again later */
		log_error("producer could not be made again", "error=\"%s\" retry_ms=%ld", err,
			  o->remake_backoff_ms);
		remake_later(o);
		return;
	}
	o->fatal = 0;
	o->remade++;
	/* the waiting ones go at their timers; those purged just now were scheduled too */
}

void kout_free(struct kout *o, int timeout_ms)
{
	if (o == NULL)
		return;
	if (o->rk) {
		if (timeout_ms > 0 && !o->quiescing)
			rd_kafka_flush(o->rk, timeout_ms);
		/* sent, not acknowledged: the broker may have them; their jobs were not
		 * finished, so they are produced again after the restart (at least once) */
		if (o->pending)
			log_warn("producer closed with undelivered messages",
				 "pending=%zu sent_not_acknowledged=%zu", o->pending,
				 o->nwhere[KOUT_IN_RK]);
	}
	if (o->ev_pipe)
		event_free(o->ev_pipe);
	if (o->ev_tick)
		event_free(o->ev_tick);
	if (o->ev_remake)
		event_free(o->ev_remake);
	/* purge what is left so its opaques come back to us in delivery reports */
	o->closing = 1;
	drop_producer(o);
	while (o->lists[KOUT_WAITING])
		msg_free(o->lists[KOUT_WAITING]);
	if (o->pipefd[0] >= 0)
		close(o->pipefd[0]);
	if (o->pipefd[1] >= 0)
		close(o->pipefd[1]);
	free(o);
}

void kout_produce(struct kout *o, const char *topic, const void *key, size_t keylen,
		  const void *payload, size_t len, const struct kout_header *hdrs, size_t nhdrs,
		  kout_done_fn *cb, void *arg)
{
	struct kout_msg *m;
	if (o->quiescing) {
		o->unsent++;
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->o = o;
	m->topic = xstrdup(topic);
	if (key) {
		/* an empty key stays empty (a non-NULL pointer of length 0), not null */
		m->key = xmalloc(keylen ? keylen : 1);
		memcpy(m->key, key, keylen);
		m->keylen = keylen;
	}
	m->payload = xmalloc(len ? len : 1);
	if (len)
		memcpy(m->payload, payload, len);
	m->len = len;
	m->hdrs = rd_kafka_headers_new(nhdrs);
	for (size_t i = 0; i < nhdrs; i++)
		rd_kafka_header_add(m->hdrs, hdrs[i].name, -1, hdrs[i].value, -1);
	m->cb = cb;
	m->arg = arg;
	m->produced_ms = mono_ms();
	o->pending++;
	send_msg(m);
}

size_t kout_pending(const struct kout *o)
{
	return o->pending;
}

void kout_quiesce(struct kout *o)
{
	if (o == NULL || o->quiescing)
		return;
	o->quiescing = 1;
	event_del(o->ev_remake);
	while (o->lists[KOUT_WAITING])
		drop_unsent(o->lists[KOUT_WAITING]);
	/* not sent yet: back in delivery reports (_PURGE_QUEUE), dropped by dr_cb;
	 * what is in a request to the broker stays, and its report is served */
	if (o->rk) {
		rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE);
		rd_kafka_poll(o->rk, 0);
	}
}

size_t kout_in_flight(const struct kout *o)
{
	return o ? o->nwhere[KOUT_IN_RK] : 0;
}

uint64_t kout_unsent(const struct kout *o)
{
	return o ? o->unsent : 0;
}

uint64_t kout_cut(const struct kout *o)
{
	return o->cut;
}

uint64_t kout_remade(const struct kout *o)
{
	return o->remade;
}

rd_kafka_t *kout_handle(struct kout *o)
{
	return o->rk;
}

uint64_t kout_retries(const struct kout *o)
{
	return o->retries;
}

void kout_health_add(const struct kout *o, size_t *failing, double *oldest_s, char *cause,
		     size_t causelen)
{
	const struct kout_msg *old = NULL;
	double now = mono_ms();
	if (o == NULL)
		return;
	*failing += o->failing;
	for (int w = KOUT_WAITING; w < KOUT__WHERE; w++)
		for (const struct kout_msg *m = o->lists[w]; m; m = m->next)
			if (!old || m->produced_ms < old->produced_ms)
				old = m;
	if (old && (now - old->produced_ms) / 1000.0 > *oldest_s) {
		*oldest_s = (now - old->produced_ms) / 1000.0;
		snprintf(cause, causelen, "%s: %s for %.0f s", old->topic,
			 old->last_err ? old->last_err : "not acknowledged", *oldest_s);
	}
}

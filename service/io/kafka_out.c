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
#include <unistd.h>

#include "kafka_in.h"
#include "log.h"

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
	struct event *ev_retry;
	struct kout_msg *wprev, *wnext; /* on the kout's list while its retry timer runs */
};

struct kout {
	struct event_base *base;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int pipefd[2];
	struct event *ev_pipe, *ev_tick;
	size_t pending;
	uint64_t retries; /* produce attempts that failed and were scheduled again */
	uint64_t cut;	  /* messages sent cut to fit a size limit */
	struct kout_msg *waiting; /* messages whose retry timer runs: freed at close */
	int closing;
	rd_kafka_topic_t *known[2]; /* the topics we write to, looked up at start */
};

static void msg_free(struct kout_msg *m)
{
	if (m == NULL)
		return;
	if (m->ev_retry)
		event_free(m->ev_retry);
	rd_kafka_headers_destroy(m->hdrs);
	free(m->topic);
	free(m->key);
	free(m->payload);
	free(m);
}

static void send_msg(struct kout_msg *m);

static void unwait(struct kout_msg *m)
{
	if (m->wprev)
		m->wprev->wnext = m->wnext;
	else
		m->o->waiting = m->wnext;
	if (m->wnext)
		m->wnext->wprev = m->wprev;
	m->wprev = m->wnext = NULL;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct kout_msg *m = arg;
	unwait(m);
	send_msg(m);
}

static void schedule_retry(struct kout_msg *m, const char *why)
{
	struct timeval tv = {KOUT_RETRY_MS / 1000, (KOUT_RETRY_MS % 1000) * 1000};
	log_warn("produce failed, will retry", "topic=%s attempts=%u error=%s", m->topic, m->attempts,
		 why);
	m->o->retries++;
	if (m->ev_retry == NULL)
		m->ev_retry = evtimer_new(m->o->base, on_retry, m);
	evtimer_add(m->ev_retry, &tv);
	m->wprev = NULL;
	m->wnext = m->o->waiting;
	if (m->wnext)
		m->wnext->wprev = m;
	m->o->waiting = m;
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

static void send_msg(struct kout_msg *m)
{
	rd_kafka_resp_err_t err;
	rd_kafka_headers_t *h = rd_kafka_headers_copy(m->hdrs);
	m->attempts++;
	err = rd_kafka_producev(m->o->rk, RD_KAFKA_V_TOPIC(m->topic),
				RD_KAFKA_V_KEY(m->key, m->keylen),
				RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(h),
				RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
	if (err) {
		rd_kafka_headers_destroy(h); /* only a successful producev takes them */
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
	if (m->o->closing) {
		msg_free(m);
		return;
	}
	if (rm->err) {
		if (rm->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && cut_to_fit(m) == 0)
			send_msg(m);
		else
			schedule_retry(m, rd_kafka_err2name(rm->err));
		return;
	}
	m->o->pending--;
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
	rd_kafka_poll(o->rk, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kout *o = arg;
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

struct kout *kout_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
	struct kout *o = xcalloc(1, sizeof(*o));
	rd_kafka_conf_t *conf;
	char e[512];
	struct timeval tick = {0, 250 * 1000};
	/* ours, not overridable: a result's event is written once and durably */
	static const char *const prod[][2] = {{"enable.idempotence", "true"}, {"acks", "all"}};
	/* overridable (kafka.linger.ms): an event waits at most 1 ms for others
	 * to share its request; librdkafka's 5 ms was most of a ticket's added
	 * latency at 1,000 tickets/s */
	static const char *const prod_defaults[][2] = {{"linger.ms", "1"}};

	o->base = base;
	o->pipefd[0] = o->pipefd[1] = -1;
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
			goto fail;
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
		goto fail;
	}
	/* Ask for the topics' metadata now, not with the first message: in the
	 * benchmark the first events waited ~750 ms for it otherwise. */
	if (cfg->events_topic[0])
		o->known[0] = rd_kafka_topic_new(o->rk, cfg->events_topic, NULL);
	if (cfg->dlq_topic[0])
		o->known[1] = rd_kafka_topic_new(o->rk, cfg->dlq_topic, NULL);
	o->q = rd_kafka_queue_get_main(o->rk);
	if (pipe2(o->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		set_err(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	rd_kafka_queue_io_event_enable(o->q, o->pipefd[1], "1", 1);
	o->ev_pipe = event_new(base, o->pipefd[0], EV_READ | EV_PERSIST, on_pipe, o);
	o->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, o);
	event_add(o->ev_pipe, NULL);
	event_add(o->ev_tick, &tick);
	return o;
fail:
	kout_free(o, 0);
	return NULL;
}

void kout_free(struct kout *o, int timeout_ms)
{
	if (o == NULL)
		return;
	if (o->rk) {
		if (timeout_ms > 0)
			rd_kafka_flush(o->rk, timeout_ms);
		if (o->pending)
			log_warn("producer closed with undelivered messages", "pending=%zu",
				 o->pending);
	}
	if (o->ev_pipe)
		event_free(o->ev_pipe);
	if (o->ev_tick)
		event_free(o->ev_tick);
	if (o->q)
		rd_kafka_queue_destroy(o->q);
	for (size_t i = 0; i < ARRAY_SIZE(o->known); i++)
		if (o->known[i])
			rd_kafka_topic_destroy(o->known[i]);
	if (o->rk) {
		/* purge what is left so its opaques come back to us in delivery reports */
		o->closing = 1;
		rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(o->rk, 0);
		rd_kafka_destroy(o->rk);
	}
	while (o->waiting) {
		struct kout_msg *m = o->waiting;
		unwait(m);
		msg_free(m);
	}
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
	struct kout_msg *m = xcalloc(1, sizeof(*m));
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
	o->pending++;
	send_msg(m);
}

size_t kout_pending(const struct kout *o)
{
	return o->pending;
}

uint64_t kout_cut(const struct kout *o)
{
	return o->cut;
}

uint64_t kout_retries(const struct kout *o)
{
	return o->retries;
}

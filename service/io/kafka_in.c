/*
 * kafka_in: see kafka_in.h. Owns the consumer handle, the assigned
 * partitions and their offset trackers. Must never call
 * rd_kafka_consumer_poll with a timeout above zero, and never store an
 * offset past a ticket that is not durable.
 */
#include "kafka_in.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loopslice.h"
#include "offsets.h"

#define KIN_TICK_MS 250
/* A hold longer than this becomes a pause: rebalances must be served. */
#define KIN_HOLD_PAUSE_MS 1000

struct kin_part {
	int refs;
	int active;
	int dirty;          /* a new committable offset waits to be stored */
	int64_t committable;
	char *topic;
	int32_t partition;
	struct offsets *ot;
	struct kin *k;
	struct kin_part *next;
};

struct kin {
	struct event_base *base;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	int pipefd[2];
	struct event *ev_pipe, *ev_tick, *ev_again, *ev_store;
	kin_msg_fn *cb;
	void *cb_arg;
	struct kin_part *parts; /* assigned */
	size_t nparts;
	/* revoked, with tickets still in flight (one reference each): a partition
	 * assigned to us again must not start those tickets a second time */
	struct kin_part *retired;
	uint64_t adopted;        /* redelivered messages left to a job still running */
	unsigned store_failures; /* offset stores failed in a row (for the log) */
	int paused;
	int stopped;
	uint64_t dropped_at_stop; /* prefetched messages left for redelivery while stopped */
	/* backpressure: held = take no message (prefetched ones stay queued);
	 * hold_paused = the hold lasted long enough to become a pause */
	int held, hold_paused, held_ticks;
	int poll_batch;
	int64_t slice_us; /* a pass stops taking messages after this long (intake.loop_slice_ms) */
	uint64_t consumed;
	char *topic;
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	char q[1024];
	enum log_level l = level <= 3 ? LOG_L_ERROR : level <= 5 ? LOG_L_WARN : level == 6 ? LOG_L_INFO
											   : LOG_L_DEBUG;
	log_at(l, "librdkafka", "client=%s facility=%s detail=%s", rd_kafka_name(rk), fac,
	       log_quote(q, sizeof(q), buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char q[1024];
	log_warn("kafka error", "client=%s error=%s detail=%s", rd_kafka_name(rk),
		 rd_kafka_err2name(err), log_quote(q, sizeof(q), reason));
}

void kin_part_ref(struct kin_part *p)
{
	p->refs++;
}

void kin_part_unref(struct kin_part *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	offsets_free(p->ot);
	free(p->topic);
	free(p);
}

int kin_part_active(const struct kin_part *p)
{
	return p->active;
}

int32_t kin_part_partition(const struct kin_part *p)
{
	return p->partition;
}

const char *kin_part_topic(const struct kin_part *p)
{
	return p->topic;
}

static struct kin_part *find_part(struct kin *k, const char *topic, int32_t partition)
{
	for (struct kin_part *p = k->parts; p; p = p->next)
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	return NULL;
}

/*
 * Store every dirty partition's committable offset in one call. A partition
 * whose store failed stays dirty: the next tick tries again (before, the
 * offset waited for the partition's next finished ticket, which may never
 * come, and a restart then delivered the finished tickets again).
 */
static void store_offsets(struct kin *k)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int failed = 0;
	for (struct kin_part *p = k->parts; p; p = p->next) {
		if (!p->dirty || !p->active)
			continue;
		if (l == NULL)
			l = rd_kafka_topic_partition_list_new((int)k->nparts);
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->committable;
		p->dirty = 0;
	}
	if (l == NULL)
		return;
	rd_kafka_resp_err_t err = rd_kafka_offsets_store(k->rk, l);
	for (int i = 0; i < l->cnt; i++) {
		struct kin_part *p;
		if (!err && !l->elems[i].err)
			continue;
		failed++;
		p = find_part(k, l->elems[i].topic, l->elems[i].partition);
		if (p && p->committable == l->elems[i].offset)
			p->dirty = 1;
		/* once, then at 2, 4, 8... failures in a row: the tick retries every 250 ms */
		if ((k->store_failures & (k->store_failures + 1)) == 0)
			log_warn("offset store failed", "topic=%s partition=%d offset=%lld error=%s "
				 "in_a_row=%u",
				 l->elems[i].topic, (int)l->elems[i].partition,
				 (long long)l->elems[i].offset,
				 rd_kafka_err2name(err ? err : l->elems[i].err), k->store_failures + 1);
	}
	k->store_failures = failed ? k->store_failures + 1 : 0;
	rd_kafka_topic_partition_list_destroy(l);
}

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	store_offsets(arg);
}

static void advance(struct kin *k, struct kin_part *p)
{
	int64_t c = offsets_committable(p->ot);
	if (c >= 0) {
		p->committable = c;
		p->dirty = 1;
		event_active(k->ev_store, EV_TIMEOUT, 0);
	}
}

static int same_tp(const struct kin_part *a, const struct kin_part *b)
{
	return a->partition == b->partition && strcmp(a->topic, b->topic) == 0;
}

/* Let go of retired parts with nothing left in flight. */
static void retired_sweep(struct kin *k)
{
	struct kin_part **pp = &k->retired;
	while (*pp) {
		struct kin_part *r = *pp;
		if (offsets_pending(r->ot) == 0) {
			*pp = r->next;
			r->next = NULL;
			kin_part_unref(r);
		} else {
			pp = &r->next;
		}
	}
}

/* What the earlier assignments of p's partition still known to us did with offset:
 * PENDING when one still runs its ticket, DONE when one finished it, else UNKNOWN. */
static enum offsets_state state_before(const struct kin *k, const struct kin_part *p,
				       int64_t offset)
{
	enum offsets_state st = OFFSETS_UNKNOWN;
	for (const struct kin_part *r = k->retired; r; r = r->next) {
		if (!same_tp(r, p))
			continue;
		switch (offsets_state_at(r->ot, offset)) {
		case OFFSETS_PENDING:
			return OFFSETS_PENDING;
		case OFFSETS_DONE:
			st = OFFSETS_DONE;
			break;
		case OFFSETS_UNKNOWN:
			break;
		}
	}
	return st;
}

void kin_done(struct kin *k, struct kin_part *p, int64_t offset)
{
	if (offsets_done(p->ot, offset) < 0) {
		log_error("offset completed twice or unknown", "topic=%s partition=%d offset=%lld",
			  p->topic, (int)p->partition, (long long)offset);
		return;
	}
	if (p->active) {
		advance(k, p);
		return;
	}
	/*
	 * A ticket of a revoked assignment. If its partition came back to us,
	 * the new assignment left its redelivered message to this job (poll_some):
	 * the offset is done there too, and in any other retired assignment that
	 * took it over in the same way. Elsewhere the offset is unknown or done
	 * already (it was started afresh only once this job's offset was done).
	 */
	for (struct kin_part *a = k->parts; a; a = a->next)
		if (same_tp(a, p) && offsets_done(a->ot, offset) == 0)
			advance(k, a);
	for (struct kin_part *r = k->retired; r; r = r->next)
		if (r != p && same_tp(r, p) && offsets_done(r->ot, offset) == 0)
			log_debug("offset done for a later assignment", "partition=%d offset=%lld",
				  (int)p->partition, (long long)offset);
	retired_sweep(k);
}

static void set_pause(struct kin *k, rd_kafka_topic_partition_list_t *l, int pause)
{
	rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(k->rk, l)
					: rd_kafka_resume_partitions(k->rk, l);
	if (err)
		log_warn(pause ? "pause failed" : "resume failed", "error=%s", rd_kafka_err2name(err));
}

static rd_kafka_topic_partition_list_t *assigned_list(struct kin *k)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->nparts + 1);
	for (struct kin_part *p = k->parts; p; p = p->next)
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
	return l;
}

static void on_assign(struct kin *k, rd_kafka_topic_partition_list_t *parts, int cooperative)
{
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t err = 0;

	if (cooperative)
		e = rd_kafka_incremental_assign(k->rk, parts);
	else
		err = rd_kafka_assign(k->rk, parts);
	if (e) {
		log_error("assign failed", "error=%s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return;
	}
	if (err) {
		log_error("assign failed", "error=%s", rd_kafka_err2name(err));
		return;
	}
	for (int i = 0; i < parts->cnt; i++) {
		struct kin_part *p = xcalloc(1, sizeof(*p));
		p->refs = 1;
		p->active = 1;
		p->topic = xstrdup(parts->elems[i].topic);
		p->partition = parts->elems[i].partition;
		p->ot = offsets_new();
		p->k = k;
		p->next = k->parts;
		k->parts = p;
		k->nparts++;
	}
	/* librdkafka keeps a partition's pause flag across revoke and reassign: set it
	 * explicitly either way, or a partition revoked while paused stays paused */
	set_pause(k, parts, k->paused || k->stopped || k->hold_paused);
	log_info("partitions assigned", "count=%d total=%zu", parts->cnt, k->nparts);
}

static void on_revoke(struct kin *k, rd_kafka_topic_partition_list_t *parts, int cooperative,
		      int lost)
{
	/* store what is done while the partitions are still ours, then let go */
	if (!lost) {
		store_offsets(k);
		rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, NULL, 1);
		if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
			log_warn("commit on revoke failed", "error=%s", rd_kafka_err2name(err));
	}
	for (int i = 0; i < parts->cnt; i++) {
		struct kin_part **pp = &k->parts;
		while (*pp) {
			struct kin_part *p = *pp;
			if (p->partition == parts->elems[i].partition &&
			    strcmp(p->topic, parts->elems[i].topic) == 0) {
				*pp = p->next;
				k->nparts--;
				p->active = 0;
				if (offsets_pending(p->ot)) {
					log_info("partition revoked with tickets in flight",
						 "topic=%s partition=%d in_flight=%zu", p->topic,
						 (int)p->partition, offsets_pending(p->ot));
					/* kept until they finish (kin_done) */
					p->next = k->retired;
					k->retired = p;
				} else {
					kin_part_unref(p);
				}
				break;
			}
			pp = &p->next;
		}
	}
	if (cooperative) {
		rd_kafka_error_t *e = rd_kafka_incremental_unassign(k->rk, parts);
		if (e)
			rd_kafka_error_destroy(e);
	} else {
		rd_kafka_assign(k->rk, NULL);
	}
	log_info(lost ? "partitions lost" : "partitions revoked", "count=%d total=%zu", parts->cnt,
		 k->nparts);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kin *k = opaque;
	/* NULL when the group handle is gone: a revoke served inside
	 * rd_kafka_consumer_close (seen under valgrind in test_kin: a crash at close) */
	const char *proto = rd_kafka_rebalance_protocol(rk);
	int coop = proto != NULL && strcmp(proto, "COOPERATIVE") == 0;
	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		on_assign(k, parts, coop);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		on_revoke(k, parts, coop, rd_kafka_assignment_lost(rk));
		break;
	default:
		log_error("rebalance error", "error=%s", rd_kafka_err2name(err));
		on_revoke(k, parts, coop, 1);
		break;
	}
}

/* Held, not paused: messages stay in librdkafka's queue for later. */
static int holding(const struct kin *k)
{
	return k->held && !k->hold_paused;
}

/*
 * Take up to poll_batch messages, and stop sooner once this pass has run for
 * slice_us: a backlog taken in one go would hold every timer and socket for
 * its whole length (#16; each message's text work is the offload workers').
 * The rest waits for the next pass (loopslice.h).
 */
static void poll_some(struct kin *k)
{
	int i, more = 0;
	for (i = 0; i < k->poll_batch && !k->stopped && !holding(k); i++) {
		rd_kafka_message_t *m;
		struct kin_part *p;
		if (i > 0 && loopslice_spent(k->base, k->slice_us)) {
			more = 1;
			break;
		}
		m = rd_kafka_consumer_poll(k->rk, 0);
		if (m == NULL)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("consumer error", "error=%s detail=%s", rd_kafka_err2name(m->err),
					 rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		p = find_part(k, rd_kafka_topic_name(m->rkt), m->partition);
		if (p == NULL || offsets_add(p->ot, m->offset) < 0) {
			/* not ours any more, or already taken in this assignment: skip it */
			log_debug("message skipped", "partition=%d offset=%lld", (int)m->partition,
				  (long long)m->offset);
			rd_kafka_message_destroy(m);
			continue;
		}
		if (k->retired) {
			/*
			 * The partition came back to us (a rebalance) and fetched again
			 * from its committed offset, while tickets of the earlier
			 * assignment still run. Starting one again would pay the model
			 * twice and send its event twice: its offset stays pending here
			 * until that job finishes (kin_done), so nothing past it is
			 * committed before the ticket is durable. A ticket the earlier
			 * assignment finished (durable; its offset's commit may have
			 * failed in the rebalance) is done here at once.
			 */
			enum offsets_state was = state_before(k, p, m->offset);
			if (was != OFFSETS_UNKNOWN) {
				k->adopted++;
				log_debug("message taken by an earlier assignment", "partition=%d "
					  "offset=%lld running=%d", (int)m->partition,
					  (long long)m->offset, was == OFFSETS_PENDING);
				if (was == OFFSETS_DONE && offsets_done(p->ot, m->offset) == 0)
					advance(k, p);
				rd_kafka_message_destroy(m);
				continue;
			}
		}
		k->consumed++;
		k->cb(k->cb_arg, p, m); /* m is the callback's now */
	}
	/* the pipe only fires on empty->non-empty: a full pass comes back for the rest */
	if ((more || i == k->poll_batch) && !k->stopped && !holding(k))
		loopslice_next_pass(k->ev_again);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	char tmp[256];
	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	poll_some(arg);
}

static void on_again(evutil_socket_t fd, short what, void *arg)
{
	poll_some(arg);
}

/*
 * Stopped (draining): keep serving rebalances and errors without taking
 * tickets. The main queue is redirected to the consumer queue
 * (rd_kafka_poll_set_consumer), so rd_kafka_poll() must not be used on it:
 * it asserts on the first prefetched message (RD_KAFKA_OP_RES_PASS), which
 * is what aborted a SIGTERM during a backlog. Messages that still come out
 * (prefetched before the pause) are dropped unprocessed: their offsets are
 * never stored, so they are delivered again after the restart.
 */
static void serve_stopped(struct kin *k)
{
	for (int i = 0; i < k->poll_batch; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
		if (m == NULL)
			break;
		if (!m->err)
			k->dropped_at_stop++;
		rd_kafka_message_destroy(m);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kin *k = arg;
	store_offsets(k);
	if (!k->stopped && holding(k) && ++k->held_ticks * KIN_TICK_MS >= KIN_HOLD_PAUSE_MS) {
		/* Not polling delays rebalances and, past max.poll.interval.ms, costs
		 * the membership: pause instead, and keep polling. Pausing drops
		 * what librdkafka prefetched; it is fetched again on resume. */
		k->hold_paused = 1;
		if (!k->paused && k->nparts) {
			rd_kafka_topic_partition_list_t *l = assigned_list(k);
			set_pause(k, l, 1);
			rd_kafka_topic_partition_list_destroy(l);
		}
		log_info("intake paused", "reason=backpressure partitions=%zu", k->nparts);
	}
	if (k->stopped) {
		serve_stopped(k);
		return;
	}
	poll_some(k);
}

static int conf_set(rd_kafka_conf_t *c, const char *key, const char *val, char *err, size_t errlen)
{
	char e[512];
	if (rd_kafka_conf_set(c, key, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		set_err(err, errlen, "kafka.%s: %s", key, e);
		return -1;
	}
	return 0;
}

void kin_conf_logging(rd_kafka_conf_t *c)
{
	rd_kafka_conf_set_log_cb(c, log_cb);
	rd_kafka_conf_set_error_cb(c, error_cb);
}

rd_kafka_conf_t *kin_make_conf(const struct config *cfg, char *err, size_t errlen)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char min_msgs[24];
	/* prefetch: librdkafka fetches for a partition while the queue is below both
	 * (its defaults: 100,000 messages, 64 MiB; a fetch may add up to
	 * fetch.message.max.bytes per partition beyond them):
	 * - in bytes: 8 MiB keeps the 0 ms benchmark fed: 2 MiB halved its
	 *   throughput (3,325 vs 6,230 tickets/s; the dev broker answers a fetch
	 *   late), 16 MiB added nothing;
	 * - in tickets: two max_in_flight (at least 1,000). Intake holds at
	 *   max_in_flight, so a deeper queue only waits, in RSS: at 800 ms with
	 *   2,048 in flight, 8 MiB of small tickets was 8-11 MB of the daemon's
	 *   80. One max_in_flight starved the 0 ms run now and then (3,873 and
	 *   4,496 tickets/s against 4,389-4,971); two did not (deploy/BENCHMARK.md,
	 *   "The prefetch in tickets"). */
	const char *const defaults[][2] = {
		{"auto.offset.reset", "earliest"},
		{"auto.commit.interval.ms", "1000"},
		{"client.id", "triaged"},
		{"queued.max.messages.kbytes", "8192"},
		{"queued.min.messages", min_msgs},
	};
	snprintf(min_msgs, sizeof(min_msgs), "%lld",
		 (long long)(cfg->max_in_flight > 500 ? 2 * cfg->max_in_flight : 1000));
	/* ours, not overridable: offsets are stored only when tickets are durable */
	static const char *const fixed[][2] = {
		{"enable.auto.offset.store", "false"},
		{"enable.auto.commit", "true"},
		{"enable.partition.eof", "false"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (conf_set(c, defaults[i][0], defaults[i][1], err, errlen) < 0)
			goto fail;
	for (size_t i = 0; i < cfg->nkafka; i++)
		if (conf_set(c, cfg->kafka[i].key, cfg->kafka[i].value, err, errlen) < 0)
			goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (conf_set(c, fixed[i][0], fixed[i][1], err, errlen) < 0)
			goto fail;
	kin_conf_logging(c);
	return c;
fail:
	rd_kafka_conf_destroy(c);
	return NULL;
}

struct kin *kin_new(struct event_base *base, const struct config *cfg, kin_msg_fn *cb, void *arg,
		    char *err, size_t errlen)
{
	struct kin *k = xcalloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *sub = NULL;
	rd_kafka_resp_err_t rerr;
	char e[512];
	struct timeval tick = {0, KIN_TICK_MS * 1000};

	k->base = base;
	k->cb = cb;
	k->cb_arg = arg;
	k->poll_batch = (int)cfg->poll_batch;
	k->slice_us = cfg->loop_slice_ms * 1000;
	k->topic = xstrdup(cfg->topic);
	k->pipefd[0] = k->pipefd[1] = -1;

	conf = kin_make_conf(cfg, err, errlen);
	if (conf == NULL)
		goto fail;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
	if (k->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		set_err(err, errlen, "kafka consumer: %s", e);
		goto fail;
	}
	rd_kafka_poll_set_consumer(k->rk);
	k->q = rd_kafka_queue_get_consumer(k->rk);
	if (pipe2(k->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		set_err(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	rd_kafka_queue_io_event_enable(k->q, k->pipefd[1], "1", 1);
	k->ev_pipe = event_new(base, k->pipefd[0], EV_READ | EV_PERSIST, on_pipe, k);
	k->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, k);
	k->ev_again = event_new(base, -1, 0, on_again, k);
	k->ev_store = event_new(base, -1, 0, on_store, k);
	event_add(k->ev_pipe, NULL);
	event_add(k->ev_tick, &tick);

	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, cfg->topic, RD_KAFKA_PARTITION_UA);
	rerr = rd_kafka_subscribe(k->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (rerr) {
		set_err(err, errlen, "subscribe %s: %s", cfg->topic, rd_kafka_err2str(rerr));
		goto fail;
	}
	log_info("consumer started", "topic=%s", cfg->topic);
	/* anything already queued before the pipe was enabled */
	event_active(k->ev_again, EV_TIMEOUT, 0);
	return k;
fail:
	kin_free(k);
	return NULL;
}

void kin_commit_sync(struct kin *k)
{
	store_offsets(k);
	rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("commit failed", "error=%s", rd_kafka_err2name(err));
}

void kin_free(struct kin *k)
{
	struct kin_part *p, *pn;
	if (k == NULL)
		return;
	if (k->rk) {
		store_offsets(k);
		rd_kafka_consumer_close(k->rk); /* commits stored offsets; may serve a last rebalance */
	}
	for (p = k->parts; p; p = pn) {
		pn = p->next;
		p->active = 0;
		kin_part_unref(p);
	}
	k->parts = NULL;
	for (p = k->retired; p; p = pn) {
		pn = p->next;
		kin_part_unref(p);
	}
	k->retired = NULL;
	if (k->ev_pipe)
		event_free(k->ev_pipe);
	if (k->ev_tick)
		event_free(k->ev_tick);
	if (k->ev_again)
		event_free(k->ev_again);
	if (k->ev_store)
		event_free(k->ev_store);
	if (k->q)
		rd_kafka_queue_destroy(k->q);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	if (k->pipefd[0] >= 0)
		close(k->pipefd[0]);
	if (k->pipefd[1] >= 0)
		close(k->pipefd[1]);
	free(k->topic);
	free(k);
}

void kin_pause(struct kin *k, const char *reason)
{
	if (k->paused)
		return;
	k->paused = 1;
	if (k->nparts) {
		rd_kafka_topic_partition_list_t *l = assigned_list(k);
		set_pause(k, l, 1);
		rd_kafka_topic_partition_list_destroy(l);
	}
	log_info("intake paused", "reason=%s partitions=%zu", reason, k->nparts);
}

void kin_resume(struct kin *k)
{
	if (!k->paused || k->stopped)
		return;
	k->paused = 0;
	if (k->nparts && !k->hold_paused) {
		rd_kafka_topic_partition_list_t *l = assigned_list(k);
		set_pause(k, l, 0);
		rd_kafka_topic_partition_list_destroy(l);
	}
	log_info("intake resumed", "partitions=%zu", k->nparts);
	event_active(k->ev_again, EV_TIMEOUT, 0);
}

int kin_paused(const struct kin *k)
{
	return k->paused;
}

void kin_hold(struct kin *k, int hold)
{
	hold = hold != 0;
	if (hold == k->held)
		return;
	k->held = hold;
	k->held_ticks = 0;
	if (hold)
		return;
	if (k->hold_paused) {
		k->hold_paused = 0;
		if (!k->paused && !k->stopped && k->nparts) {
			rd_kafka_topic_partition_list_t *l = assigned_list(k);
			set_pause(k, l, 0);
			rd_kafka_topic_partition_list_destroy(l);
		}
		log_info("intake resumed", "reason=backpressure partitions=%zu", k->nparts);
	}
	if (!k->stopped)
		event_active(k->ev_again, EV_TIMEOUT, 0);
}

int kin_hold_paused(const struct kin *k)
{
	return k->hold_paused;
}

void kin_stop(struct kin *k)
{
	kin_pause(k, "shutdown");
	k->stopped = 1;
}

size_t kin_assigned(const struct kin *k)
{
	return k->nparts;
}

uint64_t kin_consumed(const struct kin *k)
{
	return k->consumed;
}

uint64_t kin_adopted(const struct kin *k)
{
	return k->adopted;
}

int64_t kin_lag(const struct kin *k)
{
	int64_t lag = 0;
	rd_kafka_topic_partition_list_t *l;
	if (k->nparts == 0)
		return -1;
	l = assigned_list((struct kin *)k);
	if (rd_kafka_position(k->rk, l) != 0) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo, hi;
		if (rd_kafka_get_watermark_offsets(k->rk, l->elems[i].topic, l->elems[i].partition, &lo,
						   &hi) != 0 ||
		    hi < 0)
			continue;
		if (l->elems[i].offset >= 0 && hi > l->elems[i].offset)
			lag += hi - l->elems[i].offset;
		else if (l->elems[i].offset < 0)
			lag += hi - lo;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return lag;
}

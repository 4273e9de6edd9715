/*
 * Unit tests for the intake consumer (io/kafka_in.c) against librdkafka's
 * own mock cluster (rd_kafka_mock_cluster_new: a real consumer group in
 * process, no broker process). rd_kafka_offsets_store is wrapped
 * (-Wl,--wrap, see CMakeLists.txt) to record what is stored and to fail on
 * demand; everything else is librdkafka itself.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka_in.h"

#define MAXP 2
#define MAXO 64

/* ---- rd_kafka_offsets_store, recorded and failed on demand ---------------- */

rd_kafka_resp_err_t __real_rd_kafka_offsets_store(rd_kafka_t *rk,
						  rd_kafka_topic_partition_list_t *l);
rd_kafka_resp_err_t __wrap_rd_kafka_offsets_store(rd_kafka_t *rk,
						  rd_kafka_topic_partition_list_t *l);

static int failing;           /* fail every call while set */
static int store_calls;       /* calls seen */
static int64_t stored[MAXP];  /* last offset stored per partition of t.in, -1 none */

rd_kafka_resp_err_t __wrap_rd_kafka_offsets_store(rd_kafka_t *rk,
						  rd_kafka_topic_partition_list_t *l)
{
	rd_kafka_resp_err_t err;
	store_calls++;
	if (failing) {
		for (int i = 0; i < l->cnt; i++)
			l->elems[i].err = RD_KAFKA_RESP_ERR__STATE;
		return RD_KAFKA_RESP_ERR__STATE;
	}
	err = __real_rd_kafka_offsets_store(rk, l);
	for (int i = 0; i < l->cnt; i++)
		if (!err && !l->elems[i].err && strcmp(l->elems[i].topic, "t.in") == 0 &&
		    l->elems[i].partition < MAXP)
			stored[l->elems[i].partition] = l->elems[i].offset;
	return err;
}

/* ---- the cluster, a producer, the messages the consumer handed over -------- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mc;
static char boot[256];

struct got {
	struct kin_part *part;
	int32_t partition;
	int64_t offset;
};
static struct got got[256];
static int ngot;
static int seen[MAXP][MAXO]; /* deliveries per (partition, offset) */

static void on_msg(void *arg, struct kin_part *part, rd_kafka_message_t *m)
{
	(void)arg;
	ck_assert_int_lt(ngot, 256);
	ck_assert(m->partition >= 0 && m->partition < MAXP && m->offset >= 0 && m->offset < MAXO);
	kin_part_ref(part);
	got[ngot++] = (struct got){part, m->partition, m->offset};
	seen[m->partition][m->offset]++;
	rd_kafka_message_destroy(m);
}

static void mock_up(int partitions)
{
	char e[256];
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), e, sizeof(e));
	ck_assert_msg(mock_rk != NULL, "%s", e);
	mc = rd_kafka_mock_cluster_new(mock_rk, 1);
	ck_assert(mc != NULL);
	ck_assert_int_eq(rd_kafka_mock_topic_create(mc, "t.in", partitions, 1), 0);
	ck_assert_int_eq(rd_kafka_mock_topic_create(mc, "t.other", 1, 1), 0);
	snprintf(boot, sizeof(boot), "%s", rd_kafka_mock_cluster_bootstraps(mc));
	for (int p = 0; p < MAXP; p++)
		stored[p] = -1;
	ngot = 0; /* also when the cases run in one process (CK_FORK=no) */
	memset(seen, 0, sizeof(seen));
	failing = 0;
	store_calls = 0;
}

static void produce(int partition, int n)
{
	char e[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *p;
	ck_assert_int_eq(rd_kafka_conf_set(c, "bootstrap.servers", boot, e, sizeof(e)), 0);
	p = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	ck_assert_msg(p != NULL, "%s", e);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("t.in"),
						   RD_KAFKA_V_PARTITION(partition),
						   RD_KAFKA_V_VALUE("{}", 2),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
				 0);
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
	rd_kafka_destroy(p);
}

/* A consumer in the same group: short session and heartbeat, so that the mock
 * coordinator's rebalances take seconds (it holds a rejoin for session - 1 s). */
static const char *const group_conf[][2] = {
	{"group.id", "g"},
	{"session.timeout.ms", "6000"},
	{"heartbeat.interval.ms", "300"},
};

static struct kin *kin_up(struct event_base *base, struct config *cfg)
{
	char text[1024], err[256];
	struct kin *k;
	snprintf(text, sizeof(text),
		 "[intake]\ntopic = t.in\n[kafka]\nbootstrap.servers = %s\ngroup.id = %s\n"
		 "session.timeout.ms = %s\nheartbeat.interval.ms = %s\n",
		 boot, group_conf[0][1], group_conf[1][1], group_conf[2][1]);
	config_init(cfg);
	ck_assert_msg(config_load_text(cfg, text, "t", NULL, err, sizeof(err)) == 0, "%s", err);
	k = kin_new(base, cfg, on_msg, NULL, err, sizeof(err));
	ck_assert_msg(k != NULL, "kin_new: %s", err);
	return k;
}

/* Let go of the messages handed over, the consumer and the cluster. */
static void kin_down(struct kin *k, struct config *cfg, struct event_base *base)
{
	for (int i = 0; i < ngot; i++)
		kin_part_unref(got[i].part);
	kin_free(k);
	config_cleanup(cfg);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mock_rk);
	event_base_free(base);
}

/* Another member of the group, subscribed to another topic: its joining and
 * leaving make the group rebalance, and the range assignor gives t.in back to
 * the consumer under test (eager protocol: revoked, then assigned again). */
static rd_kafka_t *member_up(void)
{
	char e[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *rk;
	ck_assert_int_eq(rd_kafka_conf_set(c, "bootstrap.servers", boot, e, sizeof(e)), 0);
	for (size_t i = 0; i < sizeof(group_conf) / sizeof(group_conf[0]); i++)
		ck_assert_int_eq(rd_kafka_conf_set(c, group_conf[i][0], group_conf[i][1], e, sizeof(e)),
				 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
	ck_assert_msg(rk != NULL, "%s", e);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_add(sub, "t.other", RD_KAFKA_PARTITION_UA);
	ck_assert_int_eq(rd_kafka_subscribe(rk, sub), 0);
	rd_kafka_topic_partition_list_destroy(sub);
	return rk;
}

static int member_assigned(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int n = 0;
	if (rd_kafka_assignment(rk, &l) == 0 && l) {
		n = l->cnt;
		rd_kafka_topic_partition_list_destroy(l);
	}
	return n;
}

/* Run the loop in 50 ms steps for ms, serving the other member when there is one. */
static void run_ms(struct event_base *base, rd_kafka_t *member, int ms)
{
	struct timeval step = {0, 50 * 1000};
	for (int t = 0; t < ms; t += 50) {
		event_base_loopexit(base, &step);
		event_base_dispatch(base);
		if (member) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(member, 0);
			if (m)
				rd_kafka_message_destroy(m);
		}
	}
}

#define RUN_UNTIL(base, member, cond, ms)                                                          \
	do {                                                                                       \
		for (int w_ = 0; w_ < (ms) && !(cond); w_ += 50)                                   \
			run_ms((base), (member), 50);                                              \
	} while (0)

static void done_range(struct kin *k, int from, int to, int64_t lo, int64_t hi)
{
	for (int i = from; i < to; i++)
		if (got[i].offset >= lo && got[i].offset < hi)
			kin_done(k, got[i].part, got[i].offset);
}

/*
 * The partitions come back to the same consumer (a rebalance: another member
 * joins the group) while tickets of the earlier assignment are in flight. The
 * new assignment fetches again from the committed offset; before, those
 * tickets were handed over a second time (found by a review: two jobs for one
 * ticket, the model paid twice, the event sent twice). Now each message is
 * handed over once, the running jobs' offsets hold the commit of the new
 * assignment until they finish, and new messages flow as before.
 */
START_TEST(test_reassigned_in_flight_not_started_twice)
{
	struct event_base *base = event_base_new();
	struct config cfg;
	struct kin *k;
	rd_kafka_t *member;
	int first;

	mock_up(2);
	produce(0, 10);
	produce(1, 10);
	k = kin_up(base, &cfg);
	RUN_UNTIL(base, NULL, ngot == 20, 30000);
	ck_assert_int_eq(ngot, 20);
	/* half of each partition done; offsets 5..9 stay in flight */
	done_range(k, 0, ngot, 0, 5);
	run_ms(base, NULL, 400);
	ck_assert_int_eq(stored[0], 5);
	ck_assert_int_eq(stored[1], 5);

	member = member_up();
	/* the rebalance: revoked, then assigned again, and fetched again from offset 5 */
	RUN_UNTIL(base, member,
		  member_assigned(member) > 0 && kin_assigned(k) == 2 &&
		      (kin_adopted(k) >= 10 || ngot > 20),
		  40000);
	ck_assert_msg(member_assigned(member) > 0, "the other member never got its assignment");
	ck_assert_uint_eq(kin_assigned(k), 2);
	run_ms(base, member, 500); /* anything else it would hand over */
	for (int p = 0; p < 2; p++)
		for (int o = 0; o < 10; o++)
			ck_assert_msg(seen[p][o] == 1, "partition %d offset %d handed over %d times", p,
				      o, seen[p][o]);
	ck_assert_int_eq(ngot, 20);
	/* at least the 10 in flight; the 10 done too when the commit at the revoke
	 * failed (the mock coordinator refuses it: a rebalance is in progress) */
	ck_assert_uint_ge(kin_adopted(k), 10);

	/* the earlier jobs finish: the new assignment's offsets move with them */
	done_range(k, 0, ngot, 5, 10);
	run_ms(base, member, 400);
	ck_assert_int_eq(stored[0], 10);
	ck_assert_int_eq(stored[1], 10);

	/* new messages: handed over once, by the new assignment */
	first = ngot;
	produce(0, 2);
	produce(1, 2);
	RUN_UNTIL(base, member, ngot == first + 4, 20000);
	ck_assert_int_eq(ngot, first + 4);
	for (int i = first; i < ngot; i++) {
		ck_assert(got[i].offset == 10 || got[i].offset == 11);
		for (int j = 0; j < 20; j++)
			ck_assert_ptr_ne(got[i].part, got[j].part);
	}
	done_range(k, first, ngot, 10, 12);
	run_ms(base, member, 400);
	ck_assert_int_eq(stored[0], 12);
	ck_assert_int_eq(stored[1], 12);

	rd_kafka_consumer_close(member);
	rd_kafka_destroy(member);
	kin_down(k, &cfg, base);
}
END_TEST

/*
 * An offset store that fails is tried again on the next tick. Before, the
 * partition's offset waited for its next finished ticket (found by a review):
 * with none coming, the finished tickets were delivered again after a restart.
 */
START_TEST(test_failed_store_is_retried)
{
	struct event_base *base = event_base_new();
	struct config cfg;
	struct kin *k;

	mock_up(1);
	produce(0, 3);
	k = kin_up(base, &cfg);
	RUN_UNTIL(base, NULL, ngot == 3, 30000);
	ck_assert_int_eq(ngot, 3);
	failing = 1;
	store_calls = 0;
	done_range(k, 0, ngot, 0, 3);
	/* the consumer's tick is 250 ms: tried at once, then again at each tick */
	run_ms(base, NULL, 700);
	ck_assert_int_eq(stored[0], -1);
	ck_assert_int_ge(store_calls, 2);
	failing = 0;
	run_ms(base, NULL, 400);
	ck_assert_int_eq(stored[0], 3);

	kin_down(k, &cfg, base);
}
END_TEST

/*
 * The prefetch is bounded in tickets as well as in bytes: two max_in_flight,
 * at least 1,000, unless [kafka] says otherwise. librdkafka's own bound is
 * 100,000 messages, so without it 8 MiB of small tickets waited in RSS.
 */
static void min_messages_is(const char *ini, const char *want)
{
	struct config cfg;
	char err[256], got_v[64];
	size_t n = sizeof(got_v);
	rd_kafka_conf_t *c;

	config_init(&cfg);
	ck_assert_msg(config_load_text(&cfg, ini, "t", NULL, err, sizeof(err)) == 0, "%s", err);
	c = kin_make_conf(&cfg, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(rd_kafka_conf_get(c, "queued.min.messages", got_v, &n) == RD_KAFKA_CONF_OK);
	ck_assert_msg(strcmp(got_v, want) == 0, "%s: queued.min.messages %s, want %s", ini,
		      got_v, want);
	n = sizeof(got_v);
	ck_assert(rd_kafka_conf_get(c, "queued.max.messages.kbytes", got_v, &n) ==
		  RD_KAFKA_CONF_OK);
	ck_assert_str_eq(got_v, "8192");
	rd_kafka_conf_destroy(c);
	config_cleanup(&cfg);
}

START_TEST(test_prefetch_bounded_in_tickets)
{
	min_messages_is("[intake]\ntopic = t.in\n", "4096");
	min_messages_is("[intake]\ntopic = t.in\nmax_in_flight = 5000\nlow_water = 10\n", "10000");
	min_messages_is("[intake]\ntopic = t.in\nmax_in_flight = 64\nlow_water = 10\n", "1000");
	min_messages_is("[intake]\ntopic = t.in\nmax_in_flight = 501\nlow_water = 10\n", "1002");
	min_messages_is("[intake]\ntopic = t.in\n[kafka]\nqueued.min.messages = 30000\n", "30000");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kin");
	TCase *tc = tcase_create("consumer");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, test_reassigned_in_flight_not_started_twice);
	tcase_add_test(tc, test_failed_store_is_retried);
	tcase_add_test(tc, test_prefetch_bounded_in_tickets);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

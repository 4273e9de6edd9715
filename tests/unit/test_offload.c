/*
 * offload (service/io/offload.c): work on worker threads, results back on
 * the loop. Checks that every item comes back exactly once, in submission
 * order with one thread, that the work ran off the loop's thread, that a
 * slice splits the hand-back over loop passes, that offload_free()
 * gives back what was never handed out, and that discards are freed once,
 * off the loop. Uses a private event_base and no
 * network.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "loopslice.h"
#include "offload.h"

#define N 2000

struct item {
	struct offload_item it; /* first: the queues link it */
	int seq;
	pthread_t worked_on;
	int done_seen;
	int dropped;
	unsigned long sum; /* some CPU work, checked on the loop */
};

struct ctx {
	struct event_base *base;
	int expected; /* items the loop waits for */
	int got;      /* done() calls */
	int next_seq; /* the order check (one thread) */
	int in_order; /* 1 while done() saw seq in submission order */
	int passes;   /* loop passes in which done() ran */
	int pass_got; /* done() calls in the current pass */
	int max_per_pass;
	useconds_t work_us;
};

static void work(struct offload_item *it, void *arg)
{
	struct item *x = (struct item *)it;
	const struct ctx *c = arg;

	x->worked_on = pthread_self();
	for (int i = 0; i <= x->seq; i++)
		x->sum += (unsigned long)i;
	if (c->work_us)
		usleep(c->work_us);
}

static void done(struct offload_item *it, void *arg)
{
	struct item *x = (struct item *)it;
	struct ctx *c = arg;

	x->done_seen++;
	if (x->seq != c->next_seq)
		c->in_order = 0;
	c->next_seq = x->seq + 1;
	c->pass_got++;
	c->got++;
}

static void drop(struct offload_item *it, void *arg)
{
	(void)arg;
	((struct item *)it)->dropped++;
}

static struct item *items_new(int n)
{
	struct item *v = calloc((size_t)n, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	for (int i = 0; i < n; i++)
		v[i].seq = i;
	return v;
}

/* Run the loop one pass at a time (EVLOOP_ONCE) until every item is back. */
static void run_loop(struct ctx *c)
{
	while (c->got < c->expected) {
		c->pass_got = 0;
		ck_assert_int_ge(event_base_loop(c->base, EVLOOP_ONCE), 0);
		if (c->pass_got > 0)
			c->passes++;
		if (c->pass_got > c->max_per_pass)
			c->max_per_pass = c->pass_got;
	}
}

/*
 * Submit n items to threads workers (slice_ms, done_fn), run the loop until
 * all are back, and check each came back once, worked on off the loop's
 * thread, with its work done; with one thread, in submission order. The
 * pass counts are left in *c.
 */
static void run_items(struct ctx *c, int threads, int slice_ms, int n, offload_fn *done_fn)
{
	struct item *v = items_new(n);
	char err[128];
	struct offload *o;

	memset(c, 0, sizeof(*c));
	c->base = loopslice_base_new();
	c->expected = n;
	c->in_order = 1;
	o = offload_new(c->base, threads, slice_ms, work, done_fn, c, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	for (int i = 0; i < n; i++)
		offload_submit(o, &v[i].it);
	ck_assert_uint_eq(offload_pending(o), (size_t)n);
	run_loop(c);
	ck_assert_int_eq(c->got, n);
	ck_assert_uint_eq(offload_pending(o), 0);
	if (threads == 1)
		ck_assert_int_eq(c->in_order, 1);
	for (int i = 0; i < n; i++) {
		unsigned long want = (unsigned long)v[i].seq * (unsigned long)(v[i].seq + 1) / 2;
		ck_assert_int_eq(v[i].done_seen, 1);
		ck_assert_int_eq(v[i].dropped, 0);
		ck_assert_uint_eq(v[i].sum, want);
		ck_assert_msg(!pthread_equal(v[i].worked_on, pthread_self()),
			      "item %d was worked on the loop's thread", i);
	}
	offload_free(o, drop);
	event_base_free(c->base);
	free(v);
}

START_TEST(test_one_thread_in_order)
{
	struct ctx c;
	run_items(&c, 1, 0, N, done);
}
END_TEST

START_TEST(test_threads_all_back)
{
	struct ctx c;
	run_items(&c, 4, 2, N, done);
}
END_TEST

/* A done() that takes 1 ms: with a 3 ms slice, no pass hands out everything. */
static void slow_done(struct offload_item *it, void *arg)
{
	usleep(1000);
	done(it, arg);
}

START_TEST(test_slice_splits_passes)
{
	struct ctx c;
	run_items(&c, 1, 3, 60, slow_done);
	/* a slice of 3 ms at 1 ms an item: at most 4 per pass (the one that crosses it) */
	ck_assert_msg(c.max_per_pass <= 4, "%d handed out in one pass", c.max_per_pass);
	ck_assert_int_ge(c.passes, 15);
}
END_TEST

/* Stopped with work queued: each item is either handed out or dropped, once. */
START_TEST(test_free_drops_the_rest)
{
	struct ctx c = {0};
	struct item *v = items_new(200);
	char err[128];
	struct offload *o;

	c.base = loopslice_base_new();
	c.expected = 200;
	c.work_us = 2000; /* 0.4 s in all: most are still queued when we stop */
	o = offload_new(c.base, 1, 0, work, done, &c, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	for (int i = 0; i < 200; i++)
		offload_submit(o, &v[i].it);
	usleep(20000);
	offload_free(o, drop);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(v[i].done_seen + v[i].dropped, 1);
	ck_assert_int_eq(c.got, 0); /* the loop never ran */
	event_base_free(c.base);
	free(v);
}
END_TEST

/* Discards (#16): each freed once, on a worker; what is left at offload_free, there; o NULL: at once. */
struct rec {
	int freed;
	pthread_t by;
};

static void rec_free(void *p)
{
	struct rec *r = p;
	r->by = pthread_self();
	__atomic_add_fetch(&r->freed, 1, __ATOMIC_RELAXED);
}

START_TEST(test_discards)
{
	enum { ND = 1000, NLEFT = 10 };
	struct rec *r = calloc(ND + NLEFT + 1, sizeof(*r));
	struct ctx c = {0};
	char err[128];
	struct offload *o;
	int waited = 0;

	c.base = loopslice_base_new();
	o = offload_new(c.base, 2, 0, work, done, &c, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	for (int i = 0; i < ND; i++)
		offload_discard(o, rec_free, &r[i]);
	offload_discard(o, rec_free, NULL); /* nothing to free: ignored */
	offload_discard_flush(o);	   /* the last, partly filled batch (1000 = 15 x 64 + 40) */
	/* the handover retries on the loop when the lock was busy */
	while (offload_discarded(o) < ND && waited++ < 5000) {
		event_base_loop(c.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert_uint_eq(offload_discarded(o), ND);
	for (int i = 0; i < ND; i++) {
		ck_assert_int_eq(r[i].freed, 1);
		ck_assert(!pthread_equal(r[i].by, pthread_self()));
	}
	/* batches are reused: a second round allocates none (not observable) but must work */
	for (int i = ND; i < ND + NLEFT; i++)
		offload_discard(o, rec_free, &r[i]);
	offload_free(o, drop); /* never flushed: freed here, once */
	for (int i = ND; i < ND + NLEFT; i++)
		ck_assert_int_eq(r[i].freed, 1);
	offload_discard(NULL, rec_free, &r[ND + NLEFT]);
	ck_assert_int_eq(r[ND + NLEFT].freed, 1);
	ck_assert(pthread_equal(r[ND + NLEFT].by, pthread_self()));
	event_base_free(c.base);
	free(r);
}
END_TEST

START_TEST(test_bad_threads)
{
	char err[128] = "";
	struct event_base *b = loopslice_base_new();
	ck_assert_ptr_null(offload_new(b, 0, 0, work, done, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "offload: 0 threads (1..16)");
	ck_assert_ptr_null(
	    offload_new(b, OFFLOAD_MAX_THREADS + 1, 0, work, done, NULL, err, sizeof(err)));
	offload_free(NULL, drop);
	event_base_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_one_thread_in_order);
	tcase_add_test(tc, test_threads_all_back);
	tcase_add_test(tc, test_slice_splits_passes);
	tcase_add_test(tc, test_free_drops_the_rest);
	tcase_add_test(tc, test_discards);
	tcase_add_test(tc, test_bad_threads);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

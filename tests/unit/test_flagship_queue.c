/*
 * Unit tests for flagship_queue: the order (urgency, tier, age) as a table,
 * removal from the middle, and a randomised comparison with a sorted list.
 */
#include <check.h>
#include <stdlib.h>

#include "flagship_queue.h"

struct order_case {
	struct fq_item a, b;
	int a_first;
};

static const struct order_case order_cases[] = {
    {{3, 0, 10, 0}, {2, 3, 1, 0}, 1}, /* urgency first, whatever the tier or age */
    {{1, 0, 1, 0}, {2, 0, 10, 0}, 0}, {{2, 2, 10, 0}, {2, 1, 1, 0}, 1}, /* then the customer tier */
    {{2, 1, 1, 0}, {2, 2, 10, 0}, 0}, {{2, 1, 1, 0}, {2, 1, 2, 0}, 1},	/* then the older ticket */
    {{2, 1, 2, 0}, {2, 1, 1, 0}, 0},  {{2, 1, 1, 0}, {2, 1, 1, 0}, 0},	/* equal: not before */
};

START_TEST(test_order)
{
	const struct order_case *c = &order_cases[_i];
	ck_assert_int_eq(flagship_queue_before(&c->a, &c->b), c->a_first);
}
END_TEST

START_TEST(test_push_pop_remove)
{
	struct flagship_queue q;
	struct fq_item it[5] = {
	    {1, 0, 5, 0}, {3, 0, 4, 0}, {2, 1, 3, 0}, {3, 1, 9, 0}, {2, 1, 1, 0}};
	flagship_queue_init(&q);
	ck_assert_ptr_null(flagship_queue_pop(&q));
	for (int i = 0; i < 5; i++)
		flagship_queue_push(&q, &it[i]);
	ck_assert_uint_eq(flagship_queue_len(&q), 5);
	flagship_queue_remove(&q, &it[1]); /* urgency 3, tier 0 leaves */
	flagship_queue_remove(&q, &it[1]); /* twice: a no-op */
	ck_assert_uint_eq(flagship_queue_len(&q), 4);
	ck_assert_ptr_eq(flagship_queue_pop(&q), &it[3]);
	ck_assert_ptr_eq(flagship_queue_pop(&q), &it[4]);
	ck_assert_ptr_eq(flagship_queue_pop(&q), &it[2]);
	ck_assert_ptr_eq(flagship_queue_pop(&q), &it[0]);
	ck_assert_ptr_null(flagship_queue_pop(&q));
	flagship_queue_cleanup(&q);
}
END_TEST

START_TEST(test_random_against_sort)
{
	enum { N = 500 };
	static struct fq_item it[N];
	struct flagship_queue q;
	struct fq_item *prev = NULL;
	unsigned seed = 12345;
	size_t popped = 0;
	flagship_queue_init(&q);
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		it[i].urgency = (int)(seed >> 16) % 4;
		it[i].tier = (int)(seed >> 8) % 4;
		it[i].received_ms = (double)((seed >> 4) % 1000);
		flagship_queue_push(&q, &it[i]);
	}
	for (int i = 0; i < N; i += 7)
		flagship_queue_remove(&q, &it[i]);
	for (struct fq_item *x; (x = flagship_queue_pop(&q)) != NULL; prev = x, popped++)
		if (prev)
			ck_assert(!flagship_queue_before(x, prev));
	ck_assert_uint_eq(popped, N - (N + 6) / 7);
	flagship_queue_cleanup(&q);
}
END_TEST

/* Intake under load (issue #15.2): parked escalations are outside max_in_flight. */
static const struct {
	uint64_t in_flight, parked;
	size_t queued;
	int hold_paused;
	enum fq_intake want;
} intake_cases[] = {
    /* limits below: max_in_flight 100, low_water 75, max_queue 40 */
    {0, 0, 0, 0, FQ_INTAKE_GO},
    {99, 0, 0, 0, FQ_INTAKE_GO},
    {100, 0, 0, 0, FQ_INTAKE_HOLD},
    /* 130 in flight, 39 of them parked: the mini path has 91, intake goes on */
    {130, 39, 30, 0, FQ_INTAKE_GO},
    /* parked tickets holding flagship slots are outside too (queued < parked) */
    {150, 60, 20, 0, FQ_INTAKE_GO},
    {160, 60, 20, 0, FQ_INTAKE_HOLD},
    /* the queue at its own limit holds intake, whatever the mini path */
    {45, 40, 40, 0, FQ_INTAKE_FULL},
    {45, 44, 44, 0, FQ_INTAKE_FULL},
    /* a paused hold: resumes at low_water and three quarters of the queue */
    {90, 0, 0, 1, FQ_INTAKE_KEEP},
    {75, 0, 0, 1, FQ_INTAKE_GO},
    {70, 35, 35, 1, FQ_INTAKE_KEEP},
    {70, 30, 30, 1, FQ_INTAKE_GO},
    /* more parked than in flight cannot happen; never wraps around */
    {3, 5, 0, 0, FQ_INTAKE_GO},
};

START_TEST(test_intake)
{
	const struct fq_limits lim = {100, 75, 40};
	struct fq_load l = {intake_cases[_i].in_flight, intake_cases[_i].parked,
			    intake_cases[_i].queued, intake_cases[_i].hold_paused};
	ck_assert_int_eq(flagship_queue_intake(&l, &lim), intake_cases[_i].want);
}
END_TEST

START_TEST(test_active)
{
	struct fq_load l = {130, 39, 30, 0};
	ck_assert_uint_eq(flagship_queue_active(&l), 91);
	l.parked = 200;
	ck_assert_uint_eq(flagship_queue_active(&l), 0);
}
END_TEST

static Suite *fq_suite(void)
{
	Suite *s = suite_create("flagship_queue");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_order, 0, (int)(sizeof(order_cases) / sizeof(order_cases[0])));
	tcase_add_test(tc, test_push_pop_remove);
	tcase_add_test(tc, test_random_against_sort);
	tcase_add_loop_test(tc, test_intake, 0,
			    (int)(sizeof(intake_cases) / sizeof(intake_cases[0])));
	tcase_add_test(tc, test_active);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int failed;
	SRunner *sr = srunner_create(fq_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

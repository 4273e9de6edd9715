/* Unit tests for breaker: opening, cool-down, half-open probe, closing. */
#include <check.h>
#include <stdlib.h>

#include "breaker.h"

START_TEST(test_opens_after_consecutive_failures)
{
	struct breaker b;
	double w = -1;
	breaker_init(&b, 3, 1000);
	ck_assert(breaker_allow(&b, 0, &w));
	ck_assert_int_eq(breaker_failure(&b, 0), BRK_CLOSED);
	ck_assert_int_eq(breaker_failure(&b, 1), BRK_CLOSED);
	/* a success in between resets the count */
	ck_assert_int_eq(breaker_success(&b, 2), BRK_CLOSED);
	ck_assert_int_eq(breaker_failure(&b, 3), BRK_CLOSED);
	ck_assert_int_eq(breaker_failure(&b, 4), BRK_CLOSED);
	ck_assert_int_eq(breaker_failure(&b, 5), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 1);
	ck_assert(!breaker_allow(&b, 6, &w));
	ck_assert_double_eq(w, 999);
	ck_assert_uint_eq(b.denied, 1);
}
END_TEST

START_TEST(test_half_open_probe)
{
	struct breaker b;
	double w = -1;
	breaker_init(&b, 1, 500);
	ck_assert_int_eq(breaker_failure(&b, 100), BRK_OPEN);
	ck_assert(!breaker_allow(&b, 599, &w));
	/* after the cool-down exactly one probe goes */
	ck_assert(breaker_allow(&b, 600, &w));
	ck_assert_int_eq(b.state, BRK_HALF_OPEN);
	ck_assert(!breaker_allow(&b, 601, &w));
	ck_assert_double_le(w, 500);
	/* the probe fails: open for another cool-down */
	ck_assert_int_eq(breaker_failure(&b, 700), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 2);
	ck_assert(!breaker_allow(&b, 1199, &w));
	ck_assert(breaker_allow(&b, 1200, &w));
	/* the probe succeeds: closed, everything goes */
	ck_assert_int_eq(breaker_success(&b, 1300), BRK_CLOSED);
	ck_assert(breaker_allow(&b, 1301, &w));
	ck_assert(breaker_allow(&b, 1302, &w));
}
END_TEST

START_TEST(test_late_failures_while_open)
{
	struct breaker b;
	double w;
	breaker_init(&b, 2, 1000);
	breaker_failure(&b, 0);
	ck_assert_int_eq(breaker_failure(&b, 0), BRK_OPEN);
	/* answers of calls sent before it opened do not extend the cool-down */
	ck_assert_int_eq(breaker_failure(&b, 500), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 1);
	ck_assert(breaker_allow(&b, 1000, &w));
}
END_TEST

START_TEST(test_bounded_calls_to_dead_endpoint)
{
	/* a dead endpoint for 60 s with callers asking every 10 ms: calls stay bounded */
	struct breaker b;
	unsigned calls = 0;
	breaker_init(&b, 5, 5000);
	for (double t = 0; t < 60000; t += 10) {
		double w;
		if (breaker_allow(&b, t, &w)) {
			calls++;
			breaker_failure(&b, t);
		}
	}
	/* 5 to open, then one probe per cool-down: 5 + 60000/5000 */
	ck_assert_uint_le(calls, 5 + 12);
	ck_assert_uint_ge(calls, 5 + 11);
}
END_TEST

/* A misconfigured tier: open at once, probe after the cool-down, a failed probe reopens. */
START_TEST(test_trip)
{
	struct breaker b;
	double w = 0;
	breaker_init(&b, 10, 1000);
	ck_assert_int_eq(breaker_trip(&b, 0), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 1);
	ck_assert_int_eq(breaker_trip(&b, 10), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 1); /* already open: not counted again */
	ck_assert_int_eq(breaker_allow(&b, 500, &w), 0);
	ck_assert_double_eq_tol(w, 500, 0.001);
	ck_assert_int_eq(breaker_allow(&b, 1000, &w), 1);
	ck_assert_int_eq(b.state, BRK_HALF_OPEN);
	ck_assert_int_eq(breaker_failure(&b, 1000), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 2);
	ck_assert_int_eq(breaker_allow(&b, 2000, &w), 1);
	ck_assert_int_eq(breaker_success(&b, 2000), BRK_CLOSED);
}
END_TEST

START_TEST(test_names_and_init_bounds)
{
	struct breaker b;
	double w;
	ck_assert_str_eq(breaker_state_name(BRK_CLOSED), "closed");
	ck_assert_str_eq(breaker_state_name(BRK_OPEN), "open");
	ck_assert_str_eq(breaker_state_name(BRK_HALF_OPEN), "half_open");
	breaker_init(&b, 0, 0); /* clamped: one failure opens, 1 ms cool-down */
	ck_assert_int_eq(breaker_failure(&b, 0), BRK_OPEN);
	ck_assert(breaker_allow(&b, 1, &w));
}
END_TEST

/* A probe answered 429 (or refused for its parameters): open again, never stuck half-open. */
START_TEST(test_neutral_probe)
{
	struct breaker b;
	double w = -1;
	breaker_init(&b, 1, 5000);
	/* closed or open: a neutral answer changes nothing */
	ck_assert_int_eq(breaker_neutral(&b, 0, 1000), BRK_CLOSED);
	ck_assert_int_eq(breaker_failure(&b, 0), BRK_OPEN);
	ck_assert_int_eq(breaker_neutral(&b, 10, 1000), BRK_OPEN);
	ck_assert_double_eq(b.next_probe_at, 5000);
	ck_assert(breaker_allow(&b, 5000, &w));
	ck_assert_int_eq(b.state, BRK_HALF_OPEN);
	/* the probe gets a 429 with Retry-After 2 s: open, next probe in 2 s, no failure counted */
	ck_assert_int_eq(breaker_neutral(&b, 5100, 2000), BRK_OPEN);
	ck_assert_uint_eq(b.opens, 1);
	ck_assert(!breaker_allow(&b, 7099, &w));
	ck_assert_double_eq(w, 1);
	ck_assert(breaker_allow(&b, 7100, &w));
	/* without a Retry-After: the cool-down */
	ck_assert_int_eq(breaker_neutral(&b, 7200, 0), BRK_OPEN);
	ck_assert(!breaker_allow(&b, 12199, &w));
	ck_assert(breaker_allow(&b, 12200, &w));
	/* and the next probe's success closes it */
	ck_assert_int_eq(breaker_success(&b, 12300), BRK_CLOSED);
	ck_assert(breaker_allow(&b, 12301, &w));
}
END_TEST

/* A probe whose answer never comes (cancelled with its ticket): another after the deadline. */
START_TEST(test_lost_probe)
{
	struct breaker b;
	double w = -1;
	breaker_init(&b, 1, 1000);
	ck_assert_double_eq(b.probe_deadline_ms, 1000); /* the cool-down unless set */
	breaker_set_probe_deadline(&b, 90000);
	ck_assert_int_eq(breaker_failure(&b, 0), BRK_OPEN);
	ck_assert(breaker_allow(&b, 1000, &w)); /* the probe */
	ck_assert(!breaker_allow(&b, 1001, &w));
	ck_assert(!breaker_allow(&b, 90999, &w));
	ck_assert_uint_eq(b.lost_probes, 0);
	ck_assert(breaker_allow(&b, 91000, &w)); /* its answer never came: a new probe */
	ck_assert_int_eq(b.state, BRK_HALF_OPEN);
	ck_assert_uint_eq(b.lost_probes, 1);
	ck_assert(!breaker_allow(&b, 91001, &w)); /* one at a time still */
	ck_assert_int_eq(breaker_success(&b, 92000), BRK_CLOSED);
	/* a bad deadline falls back to the cool-down */
	breaker_set_probe_deadline(&b, 0);
	ck_assert_double_eq(b.probe_deadline_ms, 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, test_opens_after_consecutive_failures);
	tcase_add_test(tc, test_half_open_probe);
	tcase_add_test(tc, test_late_failures_while_open);
	tcase_add_test(tc, test_bounded_calls_to_dead_endpoint);
	tcase_add_test(tc, test_names_and_init_bounds);
	tcase_add_test(tc, test_trip);
	tcase_add_test(tc, test_neutral_probe);
	tcase_add_test(tc, test_lost_probe);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests for hist: quantiles within bucket resolution, counts, edges. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "hist.h"

START_TEST(test_empty)
{
	struct hist h;
	hist_init(&h);
	ck_assert_double_eq(hist_quantile(&h, 0.5), 0);
	ck_assert_uint_eq(hist_count_le(&h, 1000), 0);
}
END_TEST

START_TEST(test_uniform_quantiles)
{
	struct hist h;
	hist_init(&h);
	/* 1..10000 ms: p50 ~ 5000, p99 ~ 9900 */
	for (int i = 1; i <= 10000; i++)
		hist_add(&h, (double)i);
	ck_assert_uint_eq(h.count, 10000);
	double p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
	ck_assert_msg(p50 >= 5000 && p50 <= 5000 * 1.0625 + 1, "p50=%f", p50);
	ck_assert_msg(p99 >= 9900 && p99 <= 10000, "p99=%f", p99);
	ck_assert_double_eq(hist_quantile(&h, 1.0), 10000);
	ck_assert_double_eq_tol(h.sum_ms, 10000.0 * 10001.0 / 2.0, 1e-6);
}
END_TEST

START_TEST(test_small_values_exact)
{
	struct hist h;
	hist_init(&h);
	for (int i = 0; i < 100; i++)
		hist_add(&h, 0.005); /* 5 us, exact bucket */
	hist_add(&h, 2.0);
	ck_assert_double_le(hist_quantile(&h, 0.5), 0.005 + 1e-9);
	ck_assert_double_eq(hist_quantile(&h, 1.0), 2.0);
	ck_assert_uint_eq(hist_count_le(&h, 0.01), 100);
	ck_assert_uint_eq(hist_count_le(&h, 5.0), 101);
}
END_TEST

START_TEST(test_negative_and_huge)
{
	struct hist h;
	hist_init(&h);
	hist_add(&h, -3);
	hist_add(&h, 1e12);
	ck_assert_uint_eq(h.count, 2);
	ck_assert_double_eq(hist_quantile(&h, 0.5), 0);
	ck_assert(hist_quantile(&h, 0.99) > 1e5);
}
END_TEST

START_TEST(test_relative_error_bound)
{
	struct hist h;
	/* a single value v: the reported quantile is v rounded up by < 6.25% (or v as max) */
	for (double v = 0.02; v < 1e6; v *= 1.37) {
		hist_init(&h);
		hist_add(&h, v);
		hist_add(&h, v);
		hist_add(&h, 1e7);
		double q = hist_quantile(&h, 0.5);
		ck_assert_msg(q >= v * 0.999 && q <= v * 1.0625 + 0.001, "v=%f q=%f", v, q);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_uniform_quantiles);
	tcase_add_test(tc, test_small_values_exact);
	tcase_add_test(tc, test_negative_and_huge);
	tcase_add_test(tc, test_relative_error_bound);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests for evalreport: the page is self-contained (no external
 * reference, no script), escapes names, and shows the figures it is given.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "evalreport.h"

#define IT(g, m, conf, f) {g, m, conf, f, false, 1.0, 10.0, 100.0, 1000.0}
static const struct evalstats_item items[] = {
	IT(1, 0, 0.85, 1), IT(0, 0, 0.90, 0), IT(1, 1, 0.60, 1), IT(1, 1, 0.70, 1), IT(1, 1, 0.80, 1),
};

START_TEST(test_report)
{
	struct evalstats_calibration c;
	const char *names[] = {"billing", "a<b&c"};
	int gold[5], pred[5];
	unsigned m[2 * 3];
	char err[128];
	struct buf b;

	ck_assert_int_eq(evalstats_calibrate(items, 5, 2, 0.0, &c, err, sizeof(err)), 0);
	evalstats_cascade(items, 5, 2, c.threshold, pred, &c.per_category);
	for (int i = 0; i < 5; i++)
		gold[i] = items[i].gold;
	evalstats_confusion(gold, pred, 5, 2, m);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(evalreport_html(&c, NULL, m, names, 2, "Lab <test>", &b), 0);
	ck_assert_ptr_null(strstr(b.data, "Held-out check"));
	ck_assert_ptr_nonnull(strstr(b.data, "<title>Lab &lt;test&gt;</title>"));
	ck_assert_ptr_nonnull(strstr(b.data, "<th>a&lt;b&amp;c</th>"));
	ck_assert_ptr_null(strstr(b.data, "a<b"));
	ck_assert_ptr_null(strstr(b.data, "<script"));
	ck_assert_ptr_null(strstr(b.data, "src="));
	ck_assert_ptr_null(strstr(b.data, "href="));
	ck_assert_ptr_nonnull(strstr(b.data, "<svg "));
	ck_assert_ptr_nonnull(strstr(b.data, "<polyline"));
	/* per category: 100% at 3,000 per 1,000, share 20% */
	ck_assert_ptr_nonnull(
		strstr(b.data, "<tr><td>calibrated, per category</td><td>100.00%</td><td>1.0000</td><td>20.0%</td>"
			       "<td>3000</td>"));
	/* per-category accuracy: a<b&c has 4 tickets, all right */
	ck_assert_ptr_nonnull(strstr(b.data, "<tr><td>a&lt;b&amp;c</td><td>4</td><td>100.0%</td></tr>"));
	/* confusion: billing row is 1 right, 0 wrong, 0 invalid */
	ck_assert_ptr_nonnull(strstr(b.data, "<tr><td>billing</td><td class=\"d\">1</td><td>0</td><td>0</td></tr>"));
	ck_assert_ptr_nonnull(strstr(b.data, "</html>\n"));
	buf_cleanup(&b);
	/* too small a cap is an error */
	buf_init(&b, 256);
	ck_assert_int_eq(evalreport_html(&c, NULL, m, names, 2, "x", &b), -1);
	buf_cleanup(&b);
	/* with a held-out check: fitted on items 0-2, scored on 3 and 4 (both right by the mini) */
	{
		const bool held[] = {false, false, false, true, true};
		struct evalstats_holdout *h = calloc(1, sizeof(*h));
		ck_assert_int_eq(evalstats_calibrate_holdout(items, 5, 2, 0.0, held, h, err, sizeof(err)), 0);
		buf_init(&b, 1 << 20);
		ck_assert_int_eq(evalreport_html(&c, h, m, names, 2, "x", &b), 0);
		ck_assert_ptr_nonnull(strstr(b.data, "<h2>Held-out check</h2>\n<p>Thresholds fitted on 3 tickets, "
						     "scored on 2 others"));
		/* mini only: fit 1/3 wrong -> 66.67%, held out 100% at 1,000 per 1,000 */
		ck_assert_ptr_nonnull(strstr(b.data, "<tr><td>mini only</td><td>66.67%</td><td>1000</td>"
						     "<td>100.00%</td><td>1000</td><td>0.0%</td></tr>"));
		ck_assert_ptr_nonnull(strstr(b.data, "</html>\n"));
		buf_cleanup(&b);
		free(h);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("evalreport");
	TCase *tc = tcase_create("html");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_report);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

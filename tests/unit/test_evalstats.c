/*
 * Unit tests for evalstats: every expected value below was computed by hand
 * (the comments show the arithmetic). Tables for the label metrics; small
 * hand-built result sets for the cascade replay and the calibration, one of
 * them built so that per-category thresholds beat any global one.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evalstats.h"
#include "rules.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TOL 1e-4

/* ---- accuracy and macro-F1 ---- */

struct label_case {
	const char *name;
	int gold[8], pred[8];
	size_t n, ncat;
	double accuracy, macro_f1;
};

static const struct label_case label_cases[] = {
	/* c0: tp1 fn1 -> 2/3; c1: tp2 fp1 -> 4/5; mean 0.7333 */
	{"two classes", {0, 0, 1, 1}, {0, 1, 1, 1}, 4, 2, 0.75, (2.0 / 3 + 0.8) / 2},
	/* invalid prediction: fn of its gold only. c0: tp1 fp1 -> 2/3; c1, c2: fn1 -> 0 */
	{"invalid answer", {0, 1, 2}, {0, -1, 0}, 3, 3, 1.0 / 3, (2.0 / 3) / 3},
	/* an unlabelled item counts for nothing, its prediction included */
	{"unlabelled", {-1, 0}, {1, 0}, 2, 2, 1.0, 1.0},
	/* a class only predicted still counts: c0 2/3, c1 0 */
	{"predicted only", {0, 0}, {0, 1}, 2, 2, 0.5, 1.0 / 3},
	{"empty", {0}, {0}, 0, 2, 0.0, 0.0},
	/* all right over 3 classes */
	{"perfect", {2, 1, 0, 2}, {2, 1, 0, 2}, 4, 3, 1.0, 1.0},
};

START_TEST(test_label_table)
{
	const struct label_case *c = &label_cases[_i];

	ck_assert_msg(fabs(evalstats_accuracy(c->gold, c->pred, c->n) - c->accuracy) < TOL, "%s: accuracy %f",
		      c->name, evalstats_accuracy(c->gold, c->pred, c->n));
	ck_assert_msg(fabs(evalstats_macro_f1(c->gold, c->pred, c->n, c->ncat) - c->macro_f1) < TOL,
		      "%s: macro-F1 %f", c->name, evalstats_macro_f1(c->gold, c->pred, c->n, c->ncat));
}
END_TEST

START_TEST(test_confusion_agreement_percentile)
{
	int gold[] = {0, 0, 1, 2, -1}, pred[] = {0, 1, -1, 2, 0};
	unsigned m[3 * 4];
	/* rows gold 0..2, columns pred 0..2 then "invalid" */
	unsigned want[3 * 4] = {1, 1, 0, 0, /**/ 0, 0, 0, 1, /**/ 0, 0, 1, 0};
	int a[] = {0, 1, -1, 2}, b[] = {0, 2, -1, 2};
	double v[] = {5, 1, 4, 2, 3}, cost[] = {0.001, 0.003};

	evalstats_confusion(gold, pred, 5, 3, m);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ck_assert_msg(m[i] == want[i], "m[%zu] = %u, want %u", i, m[i], want[i]);
	/* two invalid answers do not agree */
	ck_assert_double_eq_tol(evalstats_agreement(a, b, 4), 0.5, TOL);
	ck_assert_double_eq_tol(evalstats_agreement(a, b, 0), 0.0, TOL);
	/* nearest rank: p50 of 5 is rank 3, p95 rank 5, p20 rank 1 */
	ck_assert_double_eq_tol(evalstats_percentile(v, 5, 50), 3, TOL);
	ck_assert_double_eq_tol(evalstats_percentile(v, 5, 95), 5, TOL);
	ck_assert_double_eq_tol(evalstats_percentile(v, 5, 20), 1, TOL);
	ck_assert_double_eq_tol(evalstats_percentile(v, 0, 50), 0, TOL);
	ck_assert_double_eq_tol(v[0], 5, TOL); /* not sorted in place */
	ck_assert_double_eq_tol(evalstats_per_1000(cost, 2), 2.0, TOL);
}
END_TEST

/* ---- cascade replay ---- */

/* mini costs 1 and takes 100 ms; flagship 10 and 1000 ms */
#define IT(g, m, conf, f) {g, m, conf, f, false, 1.0, 10.0, 100.0, 1000.0}
static const struct evalstats_item set1[] = {
	IT(0, 0, 0.90, 0),  /* both right */
	IT(0, 1, 0.50, 0),  /* mini wrong, unsure */
	IT(1, 1, 0.80, 1),  /* both right */
	IT(1, 1, 0.95, 0),  /* mini right, flagship wrong */
	IT(0, 0, 0.70, 0),  /* both right */
	IT(1, -1, 0.0, 1),  /* mini invalid: always escalated */
};

struct cascade_case {
	double th[2];
	double accuracy, share, cost_per_1000, p50, p95;
};

static const struct cascade_case cascade_cases[] = {
	/* only the invalid one escalates: 5/6 right; cost (6 + 10) / 6 * 1000 */
	{{0, 0}, 5.0 / 6, 1.0 / 6, 16000.0 / 6, 100, 1100},
	/* + item 1 (0.50 < 0.60): all right; (6 + 20) / 6 */
	{{0.6, 0.6}, 1.0, 2.0 / 6, 26000.0 / 6, 100, 1100},
	/* + item 4 (0.70 < 0.75) and item 2 (0.80 < 0.90): still all right; (6 + 40) / 6; p50 rank 3 of
	 * {100, 100, 1100, 1100, 1100, 1100} */
	{{0.75, 0.9}, 1.0, 4.0 / 6, 46000.0 / 6, 1100, 1100},
	/* category 1 always: item 1 is fixed, item 3 takes the flagship's wrong answer. 5/6; (6 + 40) / 6 */
	{{0, EVALSTATS_ALWAYS}, 5.0 / 6, 4.0 / 6, 46000.0 / 6, 1100, 1100},
	/* a threshold equal to the confidence does not escalate (0.50 < 0.50 is false) */
	{{0, 0.5}, 5.0 / 6, 1.0 / 6, 16000.0 / 6, 100, 1100},
};

START_TEST(test_cascade_table)
{
	const struct cascade_case *c = &cascade_cases[_i];
	struct evalstats_point p;
	int pred[6];

	evalstats_cascade(set1, 6, 2, c->th, pred, &p);
	ck_assert_int_eq(p.n, 6);
	ck_assert_msg(fabs(p.accuracy - c->accuracy) < TOL, "case %d accuracy %f", _i, p.accuracy);
	ck_assert_msg(fabs(p.flagship_share - c->share) < TOL, "case %d share %f", _i, p.flagship_share);
	ck_assert_msg(fabs(p.cost_per_1000 - c->cost_per_1000) < TOL, "case %d cost %f", _i, p.cost_per_1000);
	ck_assert_msg(fabs(p.p50_ms - c->p50) < TOL && fabs(p.p95_ms - c->p95) < TOL, "case %d p50 %f p95 %f", _i,
		      p.p50_ms, p.p95_ms);
	ck_assert_int_eq(pred[5], 1);
}
END_TEST

START_TEST(test_ends)
{
	struct evalstats_point p;

	/* mini only: items 0, 2, 3, 4 right; 6 mini calls */
	evalstats_mini_only(set1, 6, 2, &p);
	ck_assert_double_eq_tol(p.accuracy, 4.0 / 6, TOL);
	ck_assert_double_eq_tol(p.cost_per_1000, 1000.0, TOL);
	ck_assert_double_eq_tol(p.flagship_share, 0.0, TOL);
	ck_assert_double_eq_tol(p.p95_ms, 100.0, TOL);
	/* flagship only: all but item 3; no mini call */
	evalstats_flagship_only(set1, 6, 2, &p);
	ck_assert_double_eq_tol(p.accuracy, 5.0 / 6, TOL);
	ck_assert_double_eq_tol(p.cost_per_1000, 10000.0, TOL);
	ck_assert_double_eq_tol(p.flagship_share, 1.0, TOL);
	ck_assert_double_eq_tol(p.p50_ms, 1000.0, TOL);
	/* macro-F1 of flagship only: preds {0,0,1,0,0,1}; c0 tp3 fp1 -> 6/7; c1 tp2 fn1 -> 4/5 */
	ck_assert_double_eq_tol(p.macro_f1, (6.0 / 7 + 0.8) / 2, TOL);
}
END_TEST

/* ---- calibration ---- */

START_TEST(test_calibrate_simple)
{
	struct evalstats_calibration c;
	char err[128];

	/* tolerance 0: target 5/6 (flagship only); threshold 0 already gets 5 right at 16000/6 */
	ck_assert_int_eq(evalstats_calibrate(set1, 6, 2, 0.0, &c, err, sizeof(err)), 0);
	ck_assert(c.global_found);
	ck_assert_double_eq_tol(c.global_threshold, 0.0, TOL);
	ck_assert_double_eq_tol(c.global.cost_per_1000, 16000.0 / 6, TOL);
	ck_assert(c.per_category_found);
	ck_assert_double_eq_tol(c.per_category.cost_per_1000, 16000.0 / 6, TOL);
	/* a target above flagship only (tolerance -0.1: 0.9333, so 6 of 6) needs item 1 escalated: the
	 * cheapest grid step above 0.50 is 0.51 */
	ck_assert_int_eq(evalstats_calibrate(set1, 6, 2, -0.1, &c, err, sizeof(err)), 0);
	ck_assert(c.global_found);
	ck_assert_double_eq_tol(c.global_threshold, 0.51, TOL);
	ck_assert_double_eq_tol(c.global.accuracy, 1.0, TOL);
	ck_assert_double_eq_tol(c.global.cost_per_1000, 26000.0 / 6, TOL);
	ck_assert_double_eq_tol(c.threshold[0], 0.0, TOL);
	ck_assert_double_eq_tol(c.threshold[1], 0.51, TOL);
	/* curve ends: step 0 escalates only the invalid one; "always" escalates all */
	ck_assert_double_eq_tol(c.curve[0].flagship_share, 1.0 / 6, TOL);
	ck_assert_double_eq_tol(c.curve[EVALSTATS_NSTEPS - 1].flagship_share, 1.0, TOL);
	ck_assert_double_eq_tol(c.curve[EVALSTATS_NSTEPS - 1].accuracy, 5.0 / 6, TOL);
	/* out of reach: no labelled item */
	struct evalstats_item none = IT(-1, 0, 0.5, 0);
	ck_assert_int_eq(evalstats_calibrate(&none, 1, 2, 0.0, &c, err, sizeof(err)), -1);
	ck_assert_int_eq(evalstats_calibrate(set1, 6, 0, 0.0, &c, err, sizeof(err)), -1);
}
END_TEST

/* Category 0's mistake is confident (0.85); category 1 is always right but less sure. */
static const struct evalstats_item set2[] = {
	IT(1, 0, 0.85, 1), IT(0, 0, 0.90, 0), IT(1, 1, 0.60, 1), IT(1, 1, 0.70, 1), IT(1, 1, 0.80, 1),
};

START_TEST(test_calibrate_per_category_beats_global)
{
	struct evalstats_calibration c;
	struct buf b;
	struct rules *r;
	char err[256];
	const char *names[] = {"billing", "technical"};

	ck_assert_int_eq(evalstats_calibrate(set2, 5, 2, 0.0, &c, err, sizeof(err)), 0);
	/* target 100%: globally 0.86 escalates items 0, 2, 3, 4: (5 + 40) / 5 * 1000 */
	ck_assert(c.global_found);
	ck_assert_double_eq_tol(c.global_threshold, 0.86, TOL);
	ck_assert_double_eq_tol(c.global.cost_per_1000, 9000.0, TOL);
	ck_assert_double_eq_tol(c.global.flagship_share, 0.8, TOL);
	/* per category: 0.86 for category 0 only: (5 + 10) / 5 * 1000 */
	ck_assert(c.per_category_found);
	ck_assert_double_eq_tol(c.threshold[0], 0.86, TOL);
	ck_assert_double_eq_tol(c.threshold[1], 0.0, TOL);
	ck_assert_double_eq_tol(c.per_category.accuracy, 1.0, TOL);
	ck_assert_double_eq_tol(c.per_category.cost_per_1000, 3000.0, TOL);
	ck_assert_double_eq_tol(c.per_category.flagship_share, 0.2, TOL);

	/* the suggested lines are valid rules.conf, one rule, for billing only */
	buf_init(&b, 65536);
	ck_assert_int_eq(evalstats_rules_conf(&c, names, 2, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "[rule calibrated_billing]\ncategory = billing\n"
					     "confidence_below = 0.86\naction = escalate\n"));
	ck_assert_ptr_null(strstr(b.data, "calibrated_technical"));
	r = rules_parse(b.data, "calibrated.conf", err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(rules_count(r), 1);
	rules_free(r);

	/* "always" becomes a category-only rule */
	c.threshold[1] = EVALSTATS_ALWAYS;
	buf_reset(&b);
	ck_assert_int_eq(evalstats_rules_conf(&c, names, 2, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "[rule calibrated_technical]\ncategory = technical\naction = escalate\n"));
	r = rules_parse(b.data, "calibrated.conf", err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(rules_count(r), 2);
	rules_free(r);

	/* the curve: a header and one line per grid step */
	buf_reset(&b);
	ck_assert_int_eq(evalstats_curve_text(&c, &b), 0);
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	ck_assert_int_eq(lines, 1 + EVALSTATS_NSTEPS);
	ck_assert_ptr_nonnull(strstr(b.data, "\n     0.86     20.0%     80.0%   100.00%"));
	ck_assert_ptr_nonnull(strstr(b.data, "\n   always "));
	/* a cap too small is an error, not a cut */
	buf_cleanup(&b);
	buf_init(&b, 64);
	ck_assert_int_eq(evalstats_curve_text(&c, &b), -1);
	buf_cleanup(&b);
}
END_TEST

/* ---- held-out calibration ---- */

START_TEST(test_heldout_split)
{
	char key[32];
	size_t half = 0, fifth = 0;

	ck_assert(!evalstats_heldout("web:t-1", 0.0));
	ck_assert(evalstats_heldout("web:t-1", 1.0));
	for (int i = 0; i < 10000; i++) {
		bool a, b;
		snprintf(key, sizeof(key), "web:t-%d", i);
		a = evalstats_heldout(key, 0.5);
		b = evalstats_heldout(key, 0.2);
		/* deterministic, and nested: held out at 20% implies held out at 50% */
		ck_assert(a == evalstats_heldout(key, 0.5));
		ck_assert(!b || a);
		half += a;
		fifth += b;
	}
	ck_assert_msg(half > 4800 && half < 5200, "50%%: %zu of 10000", half);
	ck_assert_msg(fifth > 1800 && fifth < 2200, "20%%: %zu of 10000", fifth);
}
END_TEST

/*
 * set2 (fit: per category 0.86 for category 0, global 0.86) followed by three
 * held-out items the thresholds treat differently from set2's.
 */
static const struct evalstats_item set3[] = {
	IT(1, 0, 0.85, 1), IT(0, 0, 0.90, 0), IT(1, 1, 0.60, 1), IT(1, 1, 0.70, 1), IT(1, 1, 0.80, 1),
	IT(1, 0, 0.50, 1), /* held out: category 0 unsure, escalated by both, mini wrong */
	IT(0, 0, 0.95, 1), /* held out: confident and right; the flagship is wrong */
	IT(0, 1, 0.65, 0), /* held out: category 1, wrong; only the global threshold escalates it */
};

START_TEST(test_calibrate_holdout)
{
	const bool held[] = {false, false, false, false, false, true, true, true};
	const bool all[] = {true, true, true, true, true, true, true, true};
	struct evalstats_holdout *h = calloc(1, sizeof(*h));
	char err[256];

	ck_assert_int_eq(evalstats_calibrate_holdout(set3, 8, 2, 0.0, held, h, err, sizeof(err)), 0);
	ck_assert_int_eq(h->n_fit, 5);
	ck_assert_int_eq(h->n_test, 3);
	/* fitted on set2 alone: the same thresholds as in test_calibrate_per_category_beats_global */
	ck_assert(h->fit.per_category_found && h->fit.global_found);
	ck_assert_double_eq_tol(h->fit.threshold[0], 0.86, TOL);
	ck_assert_double_eq_tol(h->fit.threshold[1], 0.0, TOL);
	ck_assert_double_eq_tol(h->fit.per_category.accuracy, 1.0, TOL); /* in-sample */
	ck_assert_double_eq_tol(h->fit.per_category.cost_per_1000, 3000.0, TOL);
	/* held out only: 3 items. mini only: item 6 right = 1/3; flagship only: 5, 7 = 2/3 */
	ck_assert_int_eq(h->test_mini_only.n, 3);
	ck_assert_double_eq_tol(h->test_mini_only.accuracy, 1.0 / 3, TOL);
	ck_assert_double_eq_tol(h->test_flagship_only.accuracy, 2.0 / 3, TOL);
	ck_assert_double_eq_tol(h->test_flagship_only.cost_per_1000, 10000.0, TOL);
	/* per category: item 5 escalates (right), 6 stays (right), 7 stays (wrong): 2/3, (3 + 10) / 3 */
	ck_assert_int_eq(h->test_per_category.n, 3);
	ck_assert_double_eq_tol(h->test_per_category.accuracy, 2.0 / 3, TOL);
	ck_assert_double_eq_tol(h->test_per_category.flagship_share, 1.0 / 3, TOL);
	ck_assert_double_eq_tol(h->test_per_category.cost_per_1000, 13000.0 / 3, TOL);
	/* global 0.86: items 5 and 7 escalate: all right, (3 + 20) / 3 */
	ck_assert_double_eq_tol(h->test_global.threshold, 0.86, TOL);
	ck_assert_double_eq_tol(h->test_global.accuracy, 1.0, TOL);
	ck_assert_double_eq_tol(h->test_global.cost_per_1000, 23000.0 / 3, TOL);
	/* nothing to fit on: an error, not figures */
	ck_assert_int_eq(evalstats_calibrate_holdout(set3, 8, 2, 0.0, all, h, err, sizeof(err)), -1);
	free(h);
}
END_TEST

/* ---- per-rule report ---- */

START_TEST(test_rule_report)
{
	/* set1: rule 0 escalated items 1 and 5, rule 1 item 3, rule 2 nothing */
	const int rule[] = {-1, 0, -1, 1, -1, 0};
	/* item 5 was escalated by another rule too (mini invalid): only item 1 is rule 0's alone */
	const bool sole[] = {false, true, false, true, false, false};
	struct evalstats_rule_row r[3];

	evalstats_rule_report(set1, rule, sole, 6, 3, r);
	/* item 1: mini 1 -> flagship 0 = gold; item 5: invalid -> 1 = gold */
	ck_assert_int_eq(r[0].sent, 2);
	ck_assert_int_eq(r[0].changed, 2);
	ck_assert_int_eq(r[0].labelled, 2);
	ck_assert_int_eq(r[0].mini_correct, 0);
	ck_assert_int_eq(r[0].flagship_correct, 2);
	ck_assert_double_eq_tol(r[0].gain, 2.0 / 6, TOL);
	ck_assert_double_eq_tol(r[0].cost_per_1000, 20000.0 / 6, TOL);
	ck_assert_double_eq_tol(r[0].cost_per_gain, 10.0, TOL);
	/* its margin: item 1 alone, +1 right, one flagship call */
	ck_assert_int_eq(r[0].sole_sent, 1);
	ck_assert_double_eq_tol(r[0].sole_gain, 1.0 / 6, TOL);
	ck_assert_double_eq_tol(r[0].sole_cost_per_1000, 10000.0 / 6, TOL);
	/* item 3: the mini was right, the flagship changes it to wrong: a loss */
	ck_assert_int_eq(r[1].sent, 1);
	ck_assert_int_eq(r[1].changed, 1);
	ck_assert_int_eq(r[1].mini_correct, 1);
	ck_assert_int_eq(r[1].flagship_correct, 0);
	ck_assert_double_eq_tol(r[1].gain, -1.0 / 6, TOL);
	ck_assert_double_eq_tol(r[1].cost_per_1000, 10000.0 / 6, TOL);
	ck_assert(r[1].cost_per_gain < 0);
	ck_assert_int_eq(r[1].sole_sent, 1);
	ck_assert_double_eq_tol(r[1].sole_gain, -1.0 / 6, TOL);
	ck_assert_int_eq(r[2].sent, 0);
	ck_assert_double_eq_tol(r[2].gain, 0.0, TOL);
	ck_assert_double_eq_tol(r[2].cost_per_1000, 0.0, TOL);
	/* without sole, no margin is claimed */
	evalstats_rule_report(set1, rule, NULL, 6, 3, r);
	ck_assert_int_eq(r[0].sole_sent, 0);
	ck_assert_int_eq(r[0].sent, 2);
}
END_TEST

static Suite *evalstats_suite(void)
{
	Suite *s = suite_create("evalstats");
	TCase *tc = tcase_create("labels");

	tcase_add_loop_test(tc, test_label_table, 0, ARRAY_SIZE(label_cases));
	tcase_add_test(tc, test_confusion_agreement_percentile);
	suite_add_tcase(s, tc);
	tc = tcase_create("cascade");
	tcase_add_loop_test(tc, test_cascade_table, 0, ARRAY_SIZE(cascade_cases));
	tcase_add_test(tc, test_ends);
	suite_add_tcase(s, tc);
	tc = tcase_create("calibrate");
	tcase_add_test(tc, test_calibrate_simple);
	tcase_add_test(tc, test_calibrate_per_category_beats_global);
	tcase_add_test(tc, test_heldout_split);
	tcase_add_test(tc, test_calibrate_holdout);
	tcase_add_test(tc, test_rule_report);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(evalstats_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

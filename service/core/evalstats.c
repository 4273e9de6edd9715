/*
 * evalstats: the model-mix lab's arithmetic. See evalstats.h for the contract.
 *
 * Calibration per category is exact: items are grouped by the mini's category
 * (the one a rules.conf `category =` condition sees), each group's choice of
 * threshold is independent of the others, so the cheapest combination reaching
 * k correct answers is a small knapsack over k (dynamic programming, with the
 * chosen grid step kept per category and k to walk back).
 */
#include "evalstats.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define EPS 1e-9

static double step_threshold(int j)
{
	return j >= EVALSTATS_NSTEPS - 1 ? EVALSTATS_ALWAYS : (double)j / 100.0;
}

double evalstats_accuracy(const int *gold, const int *pred, size_t n)
{
	size_t total = 0, ok = 0;

	for (size_t i = 0; i < n; i++) {
		if (gold[i] < 0)
			continue;
		total++;
		ok += pred[i] == gold[i];
	}
	return total ? (double)ok / (double)total : 0.0;
}

double evalstats_macro_f1(const int *gold, const int *pred, size_t n, size_t ncat)
{
	size_t *tp = xcalloc(ncat ? ncat : 1, sizeof(size_t)), *fp = xcalloc(ncat ? ncat : 1, sizeof(size_t)),
	       *fn = xcalloc(ncat ? ncat : 1, sizeof(size_t));
	double sum = 0.0;
	size_t classes = 0;

	for (size_t i = 0; i < n; i++) {
		int g = gold[i], p = pred[i];
		if (g < 0 || (size_t)g >= ncat)
			continue;
		if (p == g) {
			tp[g]++;
		} else {
			fn[g]++;
			if (p >= 0 && (size_t)p < ncat)
				fp[p]++;
		}
	}
	for (size_t c = 0; c < ncat; c++) {
		size_t d = 2 * tp[c] + fp[c] + fn[c];
		if (d == 0)
			continue; /* the class occurs nowhere */
		classes++;
		sum += 2.0 * (double)tp[c] / (double)d;
	}
	free(tp);
	free(fp);
	free(fn);
	return classes ? sum / (double)classes : 0.0;
}

void evalstats_confusion(const int *gold, const int *pred, size_t n, size_t ncat, unsigned *m)
{
	memset(m, 0, ncat * (ncat + 1) * sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		int g = gold[i], p = pred[i];
		if (g < 0 || (size_t)g >= ncat)
			continue;
		if (p < 0 || (size_t)p >= ncat)
			p = (int)ncat;
		m[(size_t)g * (ncat + 1) + (size_t)p]++;
	}
}

double evalstats_agreement(const int *a, const int *b, size_t n)
{
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		same += a[i] >= 0 && a[i] == b[i];
	return n ? (double)same / (double)n : 0.0;
}

double evalstats_per_1000(const double *cost, size_t n)
{
	double sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += cost[i];
	return n ? sum * 1000.0 / (double)n : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double evalstats_percentile(const double *v, size_t n, double p)
{
	double *s, r;
	size_t rank;

	if (n == 0)
		return 0.0;
	s = xmalloc(n * sizeof(*s));
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	rank = (size_t)ceil(p / 100.0 * (double)n - EPS);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	r = s[rank - 1];
	free(s);
	return r;
}

/* Fills out from the final labels, per-item costs and latencies of one configuration. */
static void finish_point(const struct evalstats_item *items, size_t n, size_t ncat, const int *pred,
			 const double *cost, const double *ms, size_t escalated, struct evalstats_point *out)
{
	int *gold = xmalloc((n ? n : 1) * sizeof(int));

	for (size_t i = 0; i < n; i++) {
		gold[i] = items[i].gold;
		if (gold[i] >= 0) {
			out->n++;
			out->correct += pred[i] == gold[i];
		}
	}
	out->accuracy = out->n ? (double)out->correct / (double)out->n : 0.0;
	out->macro_f1 = evalstats_macro_f1(gold, pred, n, ncat);
	out->flagship_share = n ? (double)escalated / (double)n : 0.0;
	out->cost_per_1000 = evalstats_per_1000(cost, n);
	out->p50_ms = evalstats_percentile(ms, n, 50);
	out->p95_ms = evalstats_percentile(ms, n, 95);
	free(gold);
}

static bool escalates(const struct evalstats_item *it, size_t ncat, const double *threshold)
{
	if (it->forced || it->mini < 0 || (size_t)it->mini >= ncat)
		return true;
	return it->mini_conf < threshold[it->mini];
}

/* mode 0: cascade under threshold; 1: mini only; 2: flagship only. */
static void replay(const struct evalstats_item *items, size_t n, size_t ncat, const double *threshold, int mode,
		   int *pred_out, struct evalstats_point *out)
{
	size_t m = n ? n : 1, escalated = 0;
	int *pred = xmalloc(m * sizeof(int));
	double *cost = xmalloc(m * sizeof(double)), *ms = xmalloc(m * sizeof(double));
	double th = out->threshold;

	memset(out, 0, sizeof(*out));
	out->threshold = th;
	for (size_t i = 0; i < n; i++) {
		const struct evalstats_item *it = &items[i];
		bool esc = mode == 2 || (mode == 0 && escalates(it, ncat, threshold));
		if (mode == 2) {
			pred[i] = it->flagship;
			cost[i] = it->flagship_cost;
			ms[i] = it->flagship_ms;
		} else if (esc) {
			pred[i] = it->flagship;
			cost[i] = it->mini_cost + it->flagship_cost;
			ms[i] = it->mini_ms + it->flagship_ms;
		} else {
			pred[i] = it->mini;
			cost[i] = it->mini_cost;
			ms[i] = it->mini_ms;
		}
		escalated += esc;
	}
	finish_point(items, n, ncat, pred, cost, ms, escalated, out);
	if (pred_out)
		memcpy(pred_out, pred, n * sizeof(int));
	free(pred);
	free(cost);
	free(ms);
}

void evalstats_cascade(const struct evalstats_item *items, size_t n, size_t ncat, const double *threshold,
		       int *pred, struct evalstats_point *out)
{
	out->threshold = 0;
	replay(items, n, ncat, threshold, 0, pred, out);
}

void evalstats_mini_only(const struct evalstats_item *items, size_t n, size_t ncat, struct evalstats_point *out)
{
	out->threshold = 0;
	replay(items, n, ncat, NULL, 1, NULL, out);
}

void evalstats_flagship_only(const struct evalstats_item *items, size_t n, size_t ncat,
			     struct evalstats_point *out)
{
	out->threshold = 0;
	replay(items, n, ncat, NULL, 2, NULL, out);
}

/* Is a better than b as an answer meeting the target: cheaper, or as cheap and more accurate. */
static bool cheaper(const struct evalstats_point *a, const struct evalstats_point *b)
{
	if (a->cost_per_1000 < b->cost_per_1000 - EPS)
		return true;
	return fabs(a->cost_per_1000 - b->cost_per_1000) <= EPS && a->correct > b->correct;
}

static int calibrate_per_category(const struct evalstats_item *items, size_t n, size_t ncat, size_t need,
				  struct evalstats_calibration *out)
{
	size_t nl = 0, base_correct = 0, k, best_k = SIZE_MAX;
	double base_cost = 0.0, *dp = NULL, *next = NULL;
	size_t (*cor)[EVALSTATS_NSTEPS] = xcalloc(ncat, sizeof(*cor));
	double (*cost)[EVALSTATS_NSTEPS] = xcalloc(ncat, sizeof(*cost));
	bool *present = xcalloc(ncat, sizeof(bool));
	unsigned char *choice = NULL;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		const struct evalstats_item *it = &items[i];
		bool labelled = it->gold >= 0;
		nl += labelled;
		if (it->forced || it->mini < 0 || (size_t)it->mini >= ncat) {
			base_correct += labelled && it->flagship == it->gold;
			base_cost += it->mini_cost + it->flagship_cost;
			continue;
		}
		present[it->mini] = true;
		for (int j = 0; j < EVALSTATS_NSTEPS; j++) {
			bool esc = it->mini_conf < step_threshold(j);
			int p = esc ? it->flagship : it->mini;
			cor[it->mini][j] += labelled && p == it->gold;
			cost[it->mini][j] += it->mini_cost + (esc ? it->flagship_cost : 0.0);
		}
	}
	dp = xmalloc((nl + 1) * sizeof(double));
	next = xmalloc((nl + 1) * sizeof(double));
	choice = xcalloc(ncat * (nl + 1), 1);
	for (k = 0; k <= nl; k++)
		dp[k] = INFINITY;
	dp[base_correct] = base_cost;
	for (size_t c = 0; c < ncat; c++) {
		if (!present[c])
			continue;
		for (k = 0; k <= nl; k++)
			next[k] = INFINITY;
		for (k = 0; k <= nl; k++) {
			if (isinf(dp[k]))
				continue;
			for (int j = 0; j < EVALSTATS_NSTEPS; j++) {
				size_t nk = k + cor[c][j];
				double v = dp[k] + cost[c][j];
				if (v < next[nk] - EPS) {
					next[nk] = v;
					choice[c * (nl + 1) + nk] = (unsigned char)j;
				}
			}
		}
		memcpy(dp, next, (nl + 1) * sizeof(double));
	}
	for (k = nl + 1; k-- > need;)
		if (!isinf(dp[k]) && (best_k == SIZE_MAX || dp[k] < dp[best_k] - EPS))
			best_k = k;
	if (best_k == SIZE_MAX) {
		out->per_category_found = false;
		rc = 0;
		goto out;
	}
	/* Walk back through the categories in reverse order. */
	k = best_k;
	for (size_t c = ncat; c-- > 0;) {
		out->threshold[c] = 0.0;
		if (!present[c])
			continue;
		int j = choice[c * (nl + 1) + k];
		out->threshold[c] = step_threshold(j);
		k -= cor[c][j];
	}
	out->per_category_found = true;
	evalstats_cascade(items, n, ncat, out->threshold, NULL, &out->per_category);
	rc = 0;
out:
	free(cor);
	free(cost);
	free(present);
	free(dp);
	free(next);
	free(choice);
	return rc;
}

int evalstats_calibrate(const struct evalstats_item *items, size_t n, size_t ncat, double tolerance,
			struct evalstats_calibration *out, char *err, size_t errlen)
{
	double th[EVALSTATS_MAX_CATS];
	size_t need;

	memset(out, 0, sizeof(*out));
	if (ncat == 0 || ncat > EVALSTATS_MAX_CATS) {
		set_err(err, errlen, "%zu categories: expected 1..%d", ncat, EVALSTATS_MAX_CATS);
		return -1;
	}
	out->tolerance = tolerance;
	evalstats_mini_only(items, n, ncat, &out->mini_only);
	evalstats_flagship_only(items, n, ncat, &out->flagship_only);
	if (out->flagship_only.n == 0) {
		set_err(err, errlen, "no labelled item among %zu", n);
		return -1;
	}
	out->target = out->flagship_only.accuracy - tolerance;
	need = (size_t)ceil((out->target - EPS) * (double)out->flagship_only.n);
	if (out->target <= 0)
		need = 0;
	for (int j = 0; j < EVALSTATS_NSTEPS; j++) {
		struct evalstats_point *p = &out->curve[j];
		for (size_t c = 0; c < ncat; c++)
			th[c] = step_threshold(j);
		evalstats_cascade(items, n, ncat, th, NULL, p);
		p->threshold = step_threshold(j);
		if (p->correct >= need && (!out->global_found || cheaper(p, &out->global))) {
			out->global_found = true;
			out->global = *p;
			out->global_threshold = p->threshold;
		}
	}
	return calibrate_per_category(items, n, ncat, need, out);
}

int evalstats_rules_conf(const struct evalstats_calibration *c, const char *const *names, size_t ncat,
			 struct buf *out)
{
	const struct evalstats_point *p = &c->per_category;

	if (!c->per_category_found)
		return buf_appendf(out, "# No per-category cascade reaches %.2f%% accuracy: keep the current rules.\n",
				   100.0 * c->target);
	if (buf_appendf(out,
			"# Calibrated on %zu labelled tickets: accuracy %.2f%% (flagship only %.2f%%, target %.2f%%),\n"
			"# flagship share %.1f%%, cost per 1,000 tickets %.4g (flagship only %.4g, mini only %.4g).\n"
			"# These rules replace [rule low_confidence]; the keyword, category and tier rules stay.\n",
			p->n, 100.0 * p->accuracy, 100.0 * c->flagship_only.accuracy, 100.0 * c->target,
			100.0 * p->flagship_share, p->cost_per_1000, c->flagship_only.cost_per_1000,
			c->mini_only.cost_per_1000) != 0)
		return -1;
	for (size_t i = 0; i < ncat; i++) {
		double t = c->threshold[i];
		int rc;
		if (t <= 0.0)
			continue;
		if (t > 1.0)
			rc = buf_appendf(out,
					 "\n[rule calibrated_%s]\ncategory = %s\naction = escalate\n"
					 "reason = calibrated: %s always escalated\npriority = 40\n",
					 names[i], names[i], names[i]);
		else
			rc = buf_appendf(out,
					 "\n[rule calibrated_%s]\ncategory = %s\nconfidence_below = %.2f\n"
					 "action = escalate\nreason = calibrated: %s confidence below %.2f\npriority = 40\n",
					 names[i], names[i], t, names[i], t);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int evalstats_curve_text(const struct evalstats_calibration *c, struct buf *out)
{
	if (buf_appendf(out, "%9s %9s %9s %9s %9s %13s\n", "threshold", "coverage", "flagship", "accuracy", "macro_f1",
			"cost_per_1000") != 0)
		return -1;
	for (int j = 0; j < EVALSTATS_NSTEPS; j++) {
		const struct evalstats_point *p = &c->curve[j];
		char th[16];
		if (p->threshold > 1.0)
			snprintf(th, sizeof(th), "always");
		else
			snprintf(th, sizeof(th), "%.2f", p->threshold);
		if (buf_appendf(out, "%9s %8.1f%% %8.1f%% %8.2f%% %9.4f %13.4g\n", th, 100.0 * (1.0 - p->flagship_share),
				100.0 * p->flagship_share, 100.0 * p->accuracy, p->macro_f1, p->cost_per_1000) != 0)
			return -1;
	}
	return 0;
}

/* ---- held-out calibration ---------------------------------------------------- */

bool evalstats_heldout(const char *key, double fraction)
{
	static const char salt[] = "evalsplit";
	uint64_t h = 1469598103934665603ULL;

	if (!(fraction > 0))
		return false;
	if (fraction >= 1)
		return true;
	for (size_t i = 0; i < sizeof(salt); i++) /* the salt's NUL included */
		h = (h ^ (unsigned char)salt[i]) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)key; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	/* FNV's low bits mix poorly for short keys: fold the high half in */
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (double)(h >> 11) / 9007199254740992.0 < fraction;
}

int evalstats_calibrate_holdout(const struct evalstats_item *items, size_t n, size_t ncat, double tolerance,
				const bool *heldout, struct evalstats_holdout *out, char *err, size_t errlen)
{
	struct evalstats_item *fit = xmalloc((n ? n : 1) * sizeof(*fit)), *test = xmalloc((n ? n : 1) * sizeof(*test));
	double th[EVALSTATS_MAX_CATS];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (heldout[i])
			test[out->n_test++] = items[i];
		else
			fit[out->n_fit++] = items[i];
	}
	if (evalstats_calibrate(fit, out->n_fit, ncat, tolerance, &out->fit, err, errlen) != 0)
		goto out;
	evalstats_mini_only(test, out->n_test, ncat, &out->test_mini_only);
	evalstats_flagship_only(test, out->n_test, ncat, &out->test_flagship_only);
	if (out->test_flagship_only.n == 0) {
		set_err(err, errlen, "no labelled item among the %zu held out", out->n_test);
		goto out;
	}
	if (out->fit.global_found) {
		for (size_t c = 0; c < ncat; c++)
			th[c] = out->fit.global_threshold;
		evalstats_cascade(test, out->n_test, ncat, th, NULL, &out->test_global);
		out->test_global.threshold = out->fit.global_threshold;
	}
	if (out->fit.per_category_found)
		evalstats_cascade(test, out->n_test, ncat, out->fit.threshold, NULL, &out->test_per_category);
	rc = 0;
out:
	free(fit);
	free(test);
	return rc;
}

/* ---- per-rule report ---------------------------------------------------------- */

void evalstats_rule_report(const struct evalstats_item *items, const int *rule, const bool *sole, size_t n,
			   size_t nrules, struct evalstats_rule_row *out)
{
	size_t nl = 0;
	double *cost = xcalloc(nrules ? nrules : 1, sizeof(double));
	double *sole_cost = xcalloc(nrules ? nrules : 1, sizeof(double));
	long *sole_net = xcalloc(nrules ? nrules : 1, sizeof(long));

	memset(out, 0, nrules * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct evalstats_item *it = &items[i];
		struct evalstats_rule_row *r;
		nl += it->gold >= 0;
		if (rule[i] < 0 || (size_t)rule[i] >= nrules)
			continue;
		r = &out[rule[i]];
		r->sent++;
		r->changed += it->flagship != it->mini;
		cost[rule[i]] += it->flagship_cost;
		if (sole && sole[i]) {
			r->sole_sent++;
			sole_cost[rule[i]] += it->flagship_cost;
		}
		if (it->gold < 0)
			continue;
		{
			bool m_ok = it->mini >= 0 && it->mini == it->gold;
			bool f_ok = it->flagship >= 0 && it->flagship == it->gold;
			r->labelled++;
			r->mini_correct += m_ok;
			r->flagship_correct += f_ok;
			if (sole && sole[i])
				sole_net[rule[i]] += (long)f_ok - (long)m_ok;
		}
	}
	for (size_t k = 0; k < nrules; k++) {
		struct evalstats_rule_row *r = &out[k];
		double net = (double)r->flagship_correct - (double)r->mini_correct;
		r->gain = nl ? net / (double)nl : 0.0;
		r->cost_per_1000 = n ? cost[k] * 1000.0 / (double)n : 0.0;
		r->cost_per_gain = net > 0 ? cost[k] / net : -1.0;
		r->sole_gain = nl ? (double)sole_net[k] / (double)nl : 0.0;
		r->sole_cost_per_1000 = n ? sole_cost[k] * 1000.0 / (double)n : 0.0;
	}
	free(cost);
	free(sole_cost);
	free(sole_net);
}
